"""Security headers on every response, the Host check (DNS rebinding) and open mode's cross-site refusal."""
from __future__ import annotations


import pytest

from app import create_app
from app.models import Dataset
from tests.conftest import make_config, stored_files, upload

CSV = b"a,b\n1,2\n3,4\n"
HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def assert_hardened(response, images: str = "'self'"):
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (response.request.path, name)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["img-src"] == images and policy["object-src"] == "'none'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_every_kind_of_response_carries_the_headers(client):
    dataset_id = upload(client, CSV, user_id="hx").json["dataset_id"]
    responses = {
        "json": client.get(f"/dataset/{dataset_id}/status"), "json error": client.get("/dataset/nope/status"),
        "html": client.get("/"), "html page": client.get(f"/dataset/{dataset_id}/view"),
        "script": client.get("/static/app.js"), "metrics": client.get("/metrics"), "health": client.get("/health"),
        "bad host": client.get("/", headers={"Host": "evil.example"}),
        "405": client.put("/dataset/upload"),
    }
    assert responses["json error"].status_code == 404 and responses["html page"].status_code == 200
    assert responses["json"].mimetype == "application/json" and responses["html"].mimetype == "text/html"
    for response in responses.values():
        assert_hardened(response)


def test_pages_need_no_inline_script_or_style(client):
    page = client.get("/").data.decode()
    assert "<script src=" in page and "<script>" not in page and "<style" not in page and "style=" not in page


@pytest.mark.parametrize("host,status", [
    ("localhost", 200), ("localhost:8000", 200), ("127.0.0.1:8000", 200), ("[::1]:8000", 200), ("LOCALHOST", 200),
    ("evil.example", 400), ("attacker.example:8000", 400), ("127.0.0.2", 400), ("localhost.evil.example", 400),
    ("bad host", 400), ("localhost:99999", 400),
])
def test_open_mode_answers_only_to_loopback_host_names(client, host, status):
    response = client.get("/datasets?user_id=hx", headers={"Host": host})
    assert response.status_code == status, host
    if status == 400:
        assert response.json["error"]["code"] == "bad_host" and "ALLOWED_HOSTS" in response.json["error"]["message"]


def test_allowed_hosts_in_token_mode_are_optional(settings, tmp_path, db):
    anywhere = create_app(make_config(settings, tmp_path, AUTH_MODE="token")).test_client()
    assert anywhere.get("/health", headers={"Host": "wrangler.example.com"}).status_code == 200
    listed = create_app(make_config(settings, tmp_path, AUTH_MODE="token",
                                    ALLOWED_HOSTS=["wrangler.example.com"])).test_client()
    assert listed.get("/health", headers={"Host": "wrangler.example.com:443"}).status_code == 200
    assert listed.get("/health", headers={"Host": "evil.example"}).status_code == 400
    assert listed.get("/health", headers={"Host": "localhost"}).status_code == 400  # the list replaces the default


def test_open_mode_refuses_cross_site_posts(app, client):
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "https://evil.example"}, {"Origin": "null"}):
        refused = upload(client, CSV, headers=headers, user_id="hx")
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden", headers
    form = upload(client, CSV, path="/upload", headers={"Origin": "http://attacker.example"})
    assert form.status_code == 403
    assert Dataset.query.count() == 0 and not [f for f in stored_files(app) if f.startswith("datasets/")]

    same_origin = {"Sec-Fetch-Site": "same-origin"}  # our own page's form
    assert upload(client, CSV, headers=same_origin, user_id="hx").status_code == 202
    assert upload(client, CSV, headers={"Origin": "http://localhost"}, user_id="hx").status_code == 202
    dataset_id = upload(client, CSV, user_id="hx").json["dataset_id"]  # curl sends neither header
    assert client.delete(f"/dataset/{dataset_id}?user_id=hx", headers={"Sec-Fetch-Site": "cross-site"}
                         ).status_code == 403
    assert client.get(f"/dataset/{dataset_id}/status", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_plots_by_s3_redirect_are_allowed_images(settings, tmp_path, db, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    s3 = create_app(make_config(settings, tmp_path, STORAGE_BACKEND="s3", S3_BUCKET="plots",
                                S3_ENDPOINT_URL="http://objects.example:9000", AWS_REGION="us-east-1"))
    assert_hardened(s3.test_client().get("/datasets?user_id=hx"), images="'self' http://objects.example:9000")
