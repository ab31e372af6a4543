"""S3Storage through the real boto3 client against moto's server on loopback, alone and behind the API."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import requests

from app import create_app
from app.storage import MissingObject, S3Storage
from tests.conftest import make_config, upload
from tests.integration.conftest import BUCKET, keys, run_jobs

CSV = b"a,b,c\n1,2,x\n3,,y\n5,6,\n7,8,x\n9,10,y\n"


def test_objects_round_trip_under_the_prefix(s3_url, raw_s3, tmp_path):
    store = S3Storage(BUCKET, "env/prod", endpoint_url=s3_url, region="us-east-1", scratch_root=tmp_path)
    source = tmp_path / "x.csv"
    source.write_bytes(CSV)
    store.put_file("datasets/d1/raw.csv", source)
    assert not source.exists()  # consumed, like a local move
    assert store.put_stream("datasets/d1/graphs/1.png", io.BytesIO(b"\x89PNG" * 10)) == 40
    assert keys(raw_s3) == ["env/prod/datasets/d1/graphs/1.png", "env/prod/datasets/d1/raw.csv"]
    assert store.open("datasets/d1/raw.csv").read() == CSV
    assert store.exists("datasets/d1/raw.csv") and not store.exists("datasets/d1/nope.csv")
    assert store.size("datasets/d1/raw.csv") == len(CSV)
    with store.local_path("datasets/d1/raw.csv") as path:
        assert Path(path).read_bytes() == CSV
    assert list(Path(store.scratch_dir()).iterdir()) == []  # the download's temp file is gone
    with pytest.raises(MissingObject):
        store.open("datasets/d1/nope.csv")
    store.delete("datasets/d1/raw.csv")
    assert keys(raw_s3) == ["env/prod/datasets/d1/graphs/1.png"]
    for n in range(30):
        store.put_stream(f"datasets/d2/graphs/{n}.png", io.BytesIO(b"x"))
    store.delete_prefix("datasets/d2")
    store.delete_prefix("datasets/d1")
    assert keys(raw_s3) == []


def test_boto3_failures_become_storage_errors(s3_url, tmp_path):
    from app.storage import StorageError
    store = S3Storage("no-such-bucket", endpoint_url=s3_url, region="us-east-1", scratch_root=tmp_path)
    source = tmp_path / "x.csv"
    source.write_bytes(CSV)
    with pytest.raises(StorageError, match="upload"):
        store.put_file("datasets/d/raw.csv", source)  # boto3's S3UploadFailedError, not botocore's
    with pytest.raises(StorageError):
        store.put_stream("datasets/d/raw.csv", io.BytesIO(CSV))


def test_large_files_go_up_in_parts(s3_url, raw_s3, tmp_path):
    store = S3Storage(BUCKET, endpoint_url=s3_url, region="us-east-1", scratch_root=tmp_path, part_size_mb=5)
    big = tmp_path / "big.csv"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    store.put_file("datasets/big/raw.csv", big)
    etag = raw_s3.head_object(Bucket=BUCKET, Key="datasets/big/raw.csv")["ETag"].strip('"')
    assert etag.endswith("-3")  # S3's multipart ETag: three 5 MB-or-less parts


def test_presigned_urls_use_signature_v4_and_name_the_download(s3_url, raw_s3, tmp_path):
    store = S3Storage(BUCKET, endpoint_url=s3_url, region="us-east-1", scratch_root=tmp_path, presign_seconds=60)
    store.put_stream("datasets/d/cleaned.csv", io.BytesIO(CSV))
    url = store.url("datasets/d/cleaned.csv", filename="sales_cleaned.csv")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=60" in url
    response = requests.get(url, timeout=10)
    assert response.content == CSV and 'filename="sales_cleaned.csv"' in response.headers["Content-Disposition"]
    # (moto does not verify signatures, so a tampered URL cannot be tested here)
    odd = requests.get(store.url("datasets/d/cleaned.csv", filename='données "q1".csv'), timeout=10)
    assert odd.headers["Content-Disposition"] == \
        'attachment; filename="donnes q1.csv"; filename*=UTF-8\'\'donn%C3%A9es%20%22q1%22.csv'
    assert S3Storage(BUCKET, endpoint_url=s3_url, scratch_root=tmp_path, redirect=False).url("datasets/d/x") is None


def test_the_service_on_s3_uploads_processes_redirects_and_deletes(s3_app, raw_s3, redis_conn, tmp_path):
    application = s3_app()
    client = application.test_client()
    body = upload(client, CSV, "sales.csv", user_id="u").json
    dataset_id = body["dataset_id"]
    assert keys(raw_s3) == [f"w/datasets/{dataset_id}/raw.csv"]
    run_jobs(application, redis_conn)
    stored = keys(raw_s3)
    assert f"w/datasets/{dataset_id}/runs/1/cleaned.parquet" in stored and any("/graphs/" in k for k in stored)

    cleaned = client.get(f"/dataset/{dataset_id}/cleaned")
    assert cleaned.status_code == 302 and "X-Amz-Signature=" in cleaned.headers["Location"]
    assert requests.get(cleaned.headers["Location"], timeout=10).text.splitlines()[0] == '"a","b","c"'
    graph_url = client.get(f"/dataset/{dataset_id}/eda/graphs").json["graphs"][0]["url"]
    png = requests.get(client.get(graph_url).headers["Location"], timeout=10)
    assert png.content.startswith(b"\x89PNG")

    streaming = s3_app(S3_DOWNLOADS="stream").test_client()
    relayed = streaming.get(f"/dataset/{dataset_id}/raw")
    assert relayed.status_code == 200 and relayed.data == CSV

    assert client.delete(f"/dataset/{dataset_id}?user_id=u").status_code == 204
    assert keys(raw_s3) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".db")] == []


def test_bad_s3_settings_are_refused_at_start(s3_app):
    with pytest.raises(Exception, match="S3_DOWNLOADS"):
        s3_app(S3_DOWNLOADS="maybe")
    with pytest.raises(Exception, match="S3_BUCKET"):
        s3_app(S3_BUCKET=None)


def test_start_up_warns_about_local_storage_on_a_dyno_and_about_open_mode(s3_app, settings, tmp_path, caplog):
    with caplog.at_level("WARNING", logger="wrangler"):
        create_app(make_config(settings, tmp_path, DYNO="web.1"))
    assert "STORAGE_BACKEND=local on a dyno" in caplog.text and "AUTH_MODE=open" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="wrangler"):
        s3_app(DYNO="web.1", AUTH_MODE="token")
    assert caplog.text == ""
