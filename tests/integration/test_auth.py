"""Token mode: 401 without a good token, the token decides the user, others' datasets answer 404, pages' sessions."""
from __future__ import annotations

import json

import pytest

from app import create_app
from app.models import ApiToken
from tests.conftest import accepted, make_config, upload
from tests.integration.conftest import bearer, make_token

CSV = b"a,b,c\n1,2,x\n3,,y\n5,6,\n7,8,x\n"


@pytest.mark.parametrize("method,path", [
    ("post", "/dataset/upload"), ("get", "/dataset/0123456789abcdef0123456789abcdef/status"),
    ("get", "/datasets?user_id=alice"), ("get", "/datasets/status"), ("get", "/collaboration/lab/graphs"),
    ("get", "/dataset/0123456789abcdef0123456789abcdef/raw"), ("get", "/metrics"),
])
def test_every_route_wants_a_token(tc, method, path):
    for headers in ({}, bearer("wrt_not-a-real-token"), {"Authorization": "Basic YWxpY2U6eA=="}):
        response = getattr(tc, method)(path, headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.json["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_health_stays_open_for_platform_probes(tc):
    assert tc.get("/health").status_code in (200, 503)
    assert tc.get("/health").status_code != 401


def test_the_token_decides_the_user(token_app, tc):
    alice = make_token(token_app, "alice", "lab")
    body = accepted(tc, CSV, headers=bearer(alice))
    assert tc.get(f"/dataset/{body['dataset_id']}/status", headers=bearer(alice)).json["user_id"] == "alice"
    assert upload(tc, CSV, headers=bearer(alice), user_id="bob").status_code == 403  # cannot upload as someone else
    # nor into a collaboration it is not in
    assert upload(tc, CSV, headers=bearer(alice), collaboration_id="other-lab").status_code == 403
    assert upload(tc, CSV, headers=bearer(alice), collaboration_id="lab").status_code == 202


def test_others_datasets_answer_404_and_collaborators_see_shared_ones(token_app, tc):
    alice, bob, carol = make_token(token_app, "alice", "lab"), make_token(token_app, "bob"), \
        make_token(token_app, "carol", "lab")
    private = upload(tc, CSV, headers=bearer(alice)).json
    shared = upload(tc, CSV, headers=bearer(alice), collaboration_id="lab").json
    for path in ("status", "raw", "cleaned", "eda/graphs", "logs/cleaning", "features", "view"):
        assert tc.get(f"/dataset/{private['dataset_id']}/{path}", headers=bearer(bob)).status_code == 404, path
        assert tc.get(f"/dataset/{private['dataset_id']}/{path}", headers=bearer(carol)).status_code == 404, path
    assert tc.get(f"/dataset/{shared['dataset_id']}/status", headers=bearer(carol)).status_code == 200
    assert tc.get(f"/dataset/{shared['dataset_id']}/status", headers=bearer(bob)).status_code == 404

    def listed(token, query=""):
        return {d["dataset_id"] for d in tc.get(f"/datasets{query}", headers=bearer(token)).json["datasets"]}
    assert listed(alice) == {private["dataset_id"], shared["dataset_id"]}
    assert listed(carol) == {shared["dataset_id"]}
    assert listed(bob) == set() and listed(bob, "?user_id=alice") == set()
    assert {d["dataset_id"] for d in tc.get("/datasets/status", headers=bearer(carol)).json["datasets"]} == \
        {shared["dataset_id"]}
    assert tc.get("/collaboration/lab/datasets/cleaned", headers=bearer(carol)).status_code == 200
    assert tc.get("/collaboration/lab/graphs", headers=bearer(bob)).status_code == 404


def test_tokens_are_stored_hashed_listed_without_secret_and_revocable(token_app, tc):
    token = make_token(token_app, "dora")
    row = ApiToken.query.filter_by(user_id="dora").one()
    assert token not in (row.token_hash, row.shown) and len(row.token_hash) == 64
    listing = token_app.test_cli_runner().invoke(args=["tokens", "list"]).output
    assert "dora" in listing and token not in listing
    assert tc.get("/datasets", headers=bearer(token)).status_code == 200
    assert token_app.test_cli_runner().invoke(args=["tokens", "revoke", str(row.id)]).exit_code == 0
    assert tc.get("/datasets", headers=bearer(token)).status_code == 401
    assert token_app.test_cli_runner().invoke(args=["tokens", "revoke", "999999"]).exit_code != 0


def test_bad_names_are_refused_by_the_cli(token_app, tc):
    result = token_app.test_cli_runner().invoke(args=["tokens", "create", "../etc"])
    assert result.exit_code != 0 and "user_id must be" in result.output


def test_quotas_count_per_token_user(token_app, tc):
    alice, bob = make_token(token_app, "alice"), make_token(token_app, "bob")
    assert upload(tc, CSV, headers=bearer(alice), mode="smart").status_code == 202
    assert upload(tc, CSV, headers=bearer(alice), mode="smart").status_code == 429
    assert upload(tc, CSV, headers=bearer(bob), mode="smart").status_code == 202  # bob's quota is his own


def test_pages_ask_for_a_token_and_remember_it_in_a_strict_cookie(token_app, tc):
    page = tc.get("/")
    assert page.status_code == 401 and b'name="token"' in page.data
    assert tc.post("/login", data={"token": "wrt_wrong"}).status_code == 401
    token = make_token(token_app, "erin")
    signed_in = tc.post("/login", data={"token": token})
    cookie = set_session_cookie(signed_in)
    assert signed_in.status_code == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie and "Expires=" in cookie  # plain http here; LOGIN_COOKIE_DAYS
    behind_router = tc.post("/login", data={"token": token}, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in set_session_cookie(behind_router)  # https ended at Heroku's router: still Secure
    tc.post("/login", data={"token": token})  # the plain-http cookie again (a Secure one is not sent over http)
    index = tc.get("/")
    assert index.status_code == 200 and b'value="erin"' in index.data
    tc.post("/logout")
    assert tc.get("/").status_code == 401


def test_cookie_requests_from_other_sites_are_refused(token_app, tc):
    token = make_token(token_app, "fred")
    forged_login = tc.post("/login", data={"token": token}, headers={"Sec-Fetch-Site": "cross-site"})
    assert forged_login.status_code == 403  # login CSRF: another site cannot sign a browser in as someone
    assert tc.post("/login", data={"token": token}, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303
    forged = upload(tc, CSV, path="/upload", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    api = upload(tc, CSV, headers={**bearer(token), "Origin": "https://evil.example"})
    assert api.status_code == 202  # bearer calls carry no ambient credentials: no CSRF to fear


def test_token_mode_fails_closed_where_no_principal_was_set(token_app):
    from app.auth import principal
    from app.errors import APIError
    with token_app.test_request_context("/"), pytest.raises(APIError) as info:
        principal()
    assert info.value.status == 401


def set_session_cookie(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("wrangler_session="))


def session_cookie(tc) -> str:
    cookie = tc.get_cookie("wrangler_session")
    return cookie.value if cookie else ""


def test_the_session_cookie_names_the_token_and_revoking_it_signs_out(token_app, tc):
    token = make_token(token_app, "gina")
    assert tc.post("/login", data={"token": token}).status_code == 303
    value = session_cookie(tc)
    assert value and token not in value and tc.get_cookie("wrangler_token") is None
    row = ApiToken.query.filter_by(user_id="gina").one()
    loaded = token_app.session_interface.get_signing_serializer(token_app).loads(value)
    assert loaded["token"]["token_id"] == row.id and token not in str(loaded)  # a signed reference only
    assert tc.get("/").status_code == 200 and tc.get("/datasets").status_code == 200  # the pages' JSON calls too

    tc.set_cookie("wrangler_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert tc.get("/").status_code == 401  # a tampered signature is no session
    tc.set_cookie("wrangler_session", value)
    assert tc.get("/").status_code == 200
    tc.set_cookie("wrangler_token", token)
    tc.delete_cookie("wrangler_session")
    assert tc.get("/").status_code == 401  # the raw token in the old cookie is no longer a way in

    tc.set_cookie("wrangler_session", value)
    assert token_app.test_cli_runner().invoke(args=["tokens", "revoke", str(row.id)]).exit_code == 0
    ended = tc.get("/")
    assert ended.status_code == 401 and b"revoked" in ended.data
    assert tc.get("/datasets").status_code == 401


def test_pages_cannot_sign_in_without_a_secret_key(settings, tmp_path, db):
    app = create_app(make_config(settings, tmp_path, AUTH_MODE="token", SECRET_KEY=None))
    with app.app_context():
        token = make_token(app, "hank")
        client = app.test_client()
        refused = client.post("/login", data={"token": token})
        assert refused.status_code == 503 and b"SECRET_KEY" in refused.data
        assert "Set-Cookie" not in refused.headers
        assert client.get("/datasets", headers=bearer(token)).status_code == 200  # the API does not need it


def test_metrics_totals_are_for_operator_tokens(token_app, tc):
    user, operator = make_token(token_app, "ivan"), make_token(token_app, "prometheus", operator=True)
    refused = tc.get("/metrics", headers=bearer(user))
    assert refused.status_code == 403 and "--operator" in refused.json["error"]["message"]
    scraped = tc.get("/metrics", headers=bearer(operator))
    assert scraped.status_code == 200 and b"wrangler_datasets" in scraped.data
    listing = token_app.test_cli_runner().invoke(args=["tokens", "list", "--json"]).output
    assert {t["user_id"]: t["operator"] for t in json.loads(listing)} == {"ivan": False, "prometheus": True}
