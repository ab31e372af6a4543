"""Per-user fairness: upload rate limit (Redis), storage quota and jobs-in-flight cap; 429 stores nothing."""
from __future__ import annotations

import logging
import threading

import pytest

from app import create_app
from app.extensions import db as _db
from app.models import Dataset
from tests.conftest import make_config, stored_files, upload

CSV = b"a,b,c\n1,2,x\n3,,y\n5,6,\n7,8,x\n"


def big_csv(kib: int) -> bytes:
    line = b"123456,654321,abcdefghijklmnopqrstu\n"  # 37 bytes
    return b"a,b,c\n" + line * (kib * 1024 // len(line))


def refusal(response, code: str, setting: str) -> dict:
    assert response.status_code == 429, response.json
    error = response.json["error"]
    assert error["code"] == code and error["details"]["setting"] == setting and setting in error["message"]
    assert int(response.headers["Retry-After"]) == error["details"]["retry_after"] >= 1
    return error


def test_rate_limit_is_429_with_retry_after(client, app, configure):
    configure(UPLOAD_RATE_LIMIT="3/minute;100/hour")
    assert [upload(client, CSV, user_id="r").status_code for _ in range(3)] == [202] * 3
    error = refusal(upload(client, CSV, user_id="r"), "rate_limited", "UPLOAD_RATE_LIMIT")
    assert error["details"]["limit"] == "3 per 1 minute" and error["details"]["retry_after"] <= 60
    assert upload(client, CSV, path="/upload", user_id="r").status_code == 429  # the HTML form shares the budget
    assert upload(client, CSV, user_id="other").status_code == 202  # another user is unaffected
    # open mode: user_id is only a claim, so the key is user_id at the client's address
    assert upload(client, CSV, environ_base={"REMOTE_ADDR": "10.0.0.7"}, user_id="r").status_code == 202
    assert Dataset.query.filter_by(user_id="r").count() == 4 and len(stored_files(app)) == 5
    configure(UPLOAD_RATE_LIMIT="")  # off
    assert upload(client, CSV, user_id="r").status_code == 202


def test_token_mode_counts_the_token_user_from_any_address(settings, app, db, tmp_path):
    token_app = create_app(make_config(settings, tmp_path, AUTH_MODE="token", UPLOAD_RATE_LIMIT="2/minute"))
    result = token_app.test_cli_runner().invoke(args=["tokens", "create", "tina"])
    token = result.output.strip().splitlines()[-1].split()[-1]
    client = token_app.test_client()
    codes = [upload(client, CSV, headers={"Authorization": f"Bearer {token}"},
                    environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code for n in range(3)]
    assert codes == [202, 202, 429]
    with token_app.app_context():
        _db.engine.dispose()


def test_in_flight_cap(client, app, configure, run_worker):
    configure(MAX_JOBS_IN_FLIGHT=2)
    assert [upload(client, CSV, user_id="busy").status_code for _ in range(2)] == [202, 202]
    before = stored_files(app)
    error = refusal(upload(client, CSV, user_id="busy"), "too_many_jobs", "MAX_JOBS_IN_FLIGHT")
    assert (error["details"]["limit"], error["details"]["in_flight"]) == (2, 2)
    assert stored_files(app) == before and Dataset.query.filter_by(user_id="busy").count() == 2
    assert upload(client, CSV, user_id="idle").status_code == 202
    run_worker()  # both finish: no longer in flight
    assert upload(client, CSV, user_id="busy").status_code == 202


def test_storage_quota(client, app, configure):
    configure(USER_STORAGE_MB=1)
    first = upload(client, big_csv(600), user_id="hoard")
    assert first.status_code == 202
    before = stored_files(app)
    error = refusal(upload(client, big_csv(600), user_id="hoard"), "storage_quota_exceeded", "USER_STORAGE_MB")
    assert error["details"]["used_bytes"] == Dataset.query.one().size_bytes and error["details"]["limit_mb"] == 1
    assert stored_files(app) == before and Dataset.query.count() == 1  # nothing stored on refusal
    assert upload(client, CSV, user_id="hoard").status_code == 202  # a small one still fits
    assert upload(client, big_csv(600), user_id="else").status_code == 202  # per user
    dataset_id = first.json["dataset_id"]
    assert client.delete(f"/dataset/{dataset_id}?user_id=hoard").status_code == 204  # frees the space
    assert upload(client, big_csv(600), user_id="hoard").status_code == 202


@pytest.mark.parametrize("overrides,accepted,code", [
    ({"MAX_JOBS_IN_FLIGHT": 10, "UPLOAD_RATE_LIMIT": "1000/minute"}, 10, "too_many_jobs"),
    ({"MAX_JOBS_IN_FLIGHT": 0, "UPLOAD_RATE_LIMIT": "20/minute"}, 20, "rate_limited"),
])
def test_fifty_concurrent_uploads_cannot_exceed_the_limit(app, db, configure, overrides, accepted, code):
    configure(**overrides)
    results: list[tuple[str, int, str | None]] = []
    barrier = threading.Barrier(51)

    def one(user: str):
        client = app.test_client()
        barrier.wait()
        response = upload(client, CSV, user_id=user)
        results.append((user, response.status_code, response.json.get("error", {}).get("code")))

    threads = [threading.Thread(target=one, args=("burst",)) for _ in range(50)]
    threads.append(threading.Thread(target=one, args=("calm",)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    burst = sorted((status, error) for user, status, error in results if user == "burst")
    assert burst == [(202, None)] * accepted + [(429, code)] * (50 - accepted), burst
    assert [status for user, status, _ in results if user == "calm"] == [202]
    assert Dataset.query.filter_by(user_id="burst").count() == accepted
    assert len(stored_files(app)) == accepted + 1


def test_rate_limit_fails_open_to_memory_when_redis_is_down(settings, db, tmp_path, caplog):
    down = create_app(make_config(settings, tmp_path, REDIS_URL="redis://127.0.0.1:1/0", UPLOAD_RATE_LIMIT="2/minute"))
    client = down.test_client()
    with caplog.at_level(logging.WARNING):
        first = upload(client, CSV, user_id="d")
    assert first.status_code == 202 and first.json["enqueued"] is False  # accepted, enqueued by recovery later
    assert "Rate limit storage unreachable" in caplog.text
    assert [upload(client, CSV, user_id="d").status_code for _ in range(2)] == [202, 429]  # still counted, per process
    with down.app_context():
        _db.engine.dispose()


def test_bad_rate_limit_setting_stops_the_start(settings, tmp_path):
    with pytest.raises(ValueError, match="UPLOAD_RATE_LIMIT"):
        create_app(make_config(settings, tmp_path, UPLOAD_RATE_LIMIT="lots"))
