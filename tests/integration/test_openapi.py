"""The OpenAPI document: valid 3.1, every JSON route in it, bearer security in token mode; docs pages offline."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from app import create_app
from tests.conftest import make_config

UNDOCUMENTED = ("pages.", "docs.", "static")  # HTML pages and the description itself


@pytest.fixture()
def token_client(settings, db, tmp_path):
    return create_app(make_config(settings, tmp_path, AUTH_MODE="token")).test_client()


def _operations(doc: dict) -> dict[tuple[str, str], dict]:
    return {(method.upper(), path): op for path, ops in doc["paths"].items() for method, op in ops.items()}


def _openapi_path(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)


def test_document_is_valid_and_covers_every_json_route(app, client):
    doc = client.get("/openapi.json").get_json()
    validate(doc)  # openapi-spec-validator: the 3.1 meta-schema and its own rules
    assert doc["openapi"].startswith("3.1")
    operations = _operations(doc)
    routes = {(method, _openapi_path(rule)) for rule in app.url_map.iter_rules()
              if not rule.endpoint.startswith(UNDOCUMENTED) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == set(operations), routes ^ set(operations)
    for (method, path), op in operations.items():
        assert op["summary"] and not op["summary"].endswith(">"), f"{method} {path} has no docstring summary"
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
        assert {"400", "500", "503"} <= set(op["responses"]), f"{method} {path}"
    assert "security" not in operations[("GET", "/dataset/{dataset_id}/status")]
    assert doc["security"] == []


def test_upload_is_described_with_both_bodies_and_links(client):
    op = _operations(client.get("/openapi.json").get_json())[("POST", "/dataset/upload")]
    content = op["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json"}
    assert {"202", "413", "415", "422", "429"} <= set(op["responses"])
    links = op["responses"]["202"]["links"]
    assert links["status"]["parameters"] == {"dataset_id": "$response.body#/dataset_id"}
    assert "Location" in op["responses"]["202"]["headers"]


def test_file_routes_name_their_media_types(client):
    ops = _operations(client.get("/openapi.json").get_json())
    cleaned = ops[("GET", "/dataset/{dataset_id}/cleaned")]["responses"]
    assert set(cleaned["200"]["content"]) == {"text/csv", "application/vnd.apache.parquet"}
    assert "302" in cleaned
    assert set(ops[("GET", "/dataset/{dataset_id}/graph/{graph_id}")]["responses"]["200"]["content"]) == {"image/png"}
    diff = ops[("GET", "/dataset/{dataset_id}/diff")]["responses"]["200"]["content"]
    assert diff["application/json"]["schema"]["$ref"].endswith("/Diff") and "text/csv" in diff


def test_token_mode_requires_bearer_except_health_and_docs(token_client):
    response = token_client.get("/openapi.json")  # no token: the description holds no data
    assert response.status_code == 200
    doc = response.get_json()
    validate(doc)
    assert doc["security"] == [{"bearer": []}]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    ops = _operations(doc)
    assert ops[("GET", "/health")]["security"] == []
    assert "401" in ops[("GET", "/dataset/{dataset_id}/status")]["responses"]
    assert "401" not in ops[("GET", "/health")]["responses"]
    for page in ("/docs", "/redoc", "/docs/assets/swagger-ui-bundle.js"):
        assert token_client.get(page).status_code == 200
    assert token_client.get("/dataset/" + "0" * 32 + "/status").status_code == 401


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_elsewhere(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "a docs page refers to another origin"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for asset in re.findall(r"(?:src|href)=\"(/[^\"]+)\"", html):
        served = client.get(asset)
        assert served.status_code == 200 and served.data, asset


def test_unknown_asset_is_404(client):
    assert client.get("/docs/assets/secret.py").status_code == 404


def test_method_not_allowed_names_the_allowed_methods(client):
    response = client.put("/dataset/upload")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"
