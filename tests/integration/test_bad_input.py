"""Malformed and hostile uploads: the right status, a JSON error, and nothing left behind."""
from __future__ import annotations

import io
import json

import pytest

from app.models import Dataset
from tests.conftest import stored_files, upload

WIDE = (",".join(f"c{i}" for i in range(501)) + "\n" + ",".join("1" for _ in range(501)) + "\n").encode()
TALL = b"a\n" + b"1\n" * 1001
BIG = b"a,b\n" + b"1,2\n" * 600_000  # 2.4 MB against a 2 MB limit


def multipart(content: bytes, name: str, **fields):
    return {"data": {"file": (io.BytesIO(content), name), **fields}, "content_type": "multipart/form-data"}


CASES = [
    ("empty file", multipart(b"", "e.csv"), 422, "unparseable"),
    ("whitespace only", multipart(b"  \n\n ", "w.csv"), 422, "unparseable"),
    ("header only", multipart(b"a,b,c\n", "h.csv"), 422, "unparseable"),
    ("binary as csv", multipart(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "img.csv"), 422, "unparseable"),
    ("executable extension", multipart(b"MZ\x90\x00", "run.exe"), 415, "unsupported_format"),
    ("zip named csv", multipart(b"PK\x03\x04" + b"\x00" * 50, "z.csv"), 415, "unsupported_format"),
    ("csv named xlsx", multipart(b"a,b\n1,2\n", "sheet.xlsx"), 422, "unparseable"),
    ("csv named parquet", multipart(b"a,b\n1,2\n", "t.parquet"), 422, "unparseable"),
    ("bad json", multipart(b'[{"a": 1}, {"a": ', "d.json"), 422, "unparseable"),
    ("json scalar list", multipart(b"[1, 2, 3]", "d.json"), 422, "unparseable"),
    ("ragged rows", multipart(b"a,b\n1,2\n3,4,5,6\n7,8\n", "r.csv"), 422, "unparseable"),
    ("too many columns", multipart(WIDE, "wide.csv"), 422, "too_many_columns"),
    ("too many rows", multipart(TALL, "tall.csv"), 422, "too_many_rows"),
    ("oversize", multipart(BIG, "big.csv"), 413, "too_large"),
    ("bad mode", multipart(b"a\n1\n", "m.csv", mode="turbo"), 400, "invalid_mode"),
    ("unknown target", multipart(b"a\n1\n", "t.csv", target="price"), 422, "unknown_target"),
    ("hostile user id", multipart(b"a\n1\n", "u.csv", user_id="../../etc"), 400, "invalid_parameter"),
    ("no file, no url", {"data": {"user_id": "x"}}, 400, "missing_file"),
    ("file and url", multipart(b"a\n1\n", "b.csv", dataset_url="https://example.com/x.csv"), 400, "bad_request"),
    ("file:// url", {"json": {"dataset_url": "file:///etc/passwd"}}, 400, "invalid_url"),
    ("private url", {"json": {"dataset_url": "http://10.0.0.8/x.csv"}}, 400, "forbidden_url"),
    ("loopback url", {"json": {"dataset_url": "http://127.0.0.1:6379/x.csv"}}, 400, "forbidden_url"),
    ("metadata url", {"json": {"dataset_url": "http://169.254.169.254/latest/"}}, 400, "forbidden_url"),
    ("ftp url", {"data": {"dataset_url": "ftp://example.com/x.csv"}}, 400, "invalid_url"),
]


@pytest.fixture()
def limited_client(app, db, configure):
    configure(MAX_ROWS=1000, MAX_COLUMNS=500, MAX_UPLOAD_MB=2, MAX_CONTENT_LENGTH=3 * 1024 * 1024)
    return app.test_client()


@pytest.mark.parametrize("label,request_kwargs,status,code", CASES, ids=[c[0] for c in CASES])
def test_rejected_upload_leaves_nothing(limited_client, app, db, redis_conn, label, request_kwargs, status, code):
    response = limited_client.post("/dataset/upload", **request_kwargs)
    assert response.status_code == status, response.data[:300]
    error = json.loads(response.data)["error"]
    assert error["code"] == code and error["message"]
    assert Dataset.query.count() == 0
    assert stored_files(app) == []  # neither the raw file nor a scratch file remains
    assert redis_conn.llen("rq:queue:eda_fast") == 0


def test_body_over_the_request_limit_is_json_413(limited_client):
    response = upload(limited_client, b"a\n" + b"1\n" * 2_000_000, "huge.csv")
    assert response.status_code == 413 and response.json["error"]["code"] == "too_large"


def test_unknown_route_and_method_are_json(client):
    assert client.get("/nope").json["error"]["code"] == "not_found"
    assert client.get("/dataset/upload").json["error"]["code"] == "method_not_allowed"
