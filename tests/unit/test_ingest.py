"""Intake rules that need no network: URL schemes and addresses, file names, queue routing."""
from __future__ import annotations

import pytest

from app.errors import APIError
from app.ingest import check_url, clean_filename, database_name
from jobs.queues import POLICIES, job_id_for, queue_for_mode


@pytest.mark.parametrize("url,code", [
    ("file:///etc/passwd", "invalid_url"), ("ftp://example.com/x.csv", "invalid_url"),
    ("gopher://x/", "invalid_url"), ("http:///nohost", "invalid_url"),
    ("http://127.0.0.1/x.csv", "forbidden_url"), ("http://localhost:8000/x.csv", "forbidden_url"),
    ("http://10.1.2.3/x.csv", "forbidden_url"), ("http://192.168.0.1/x.csv", "forbidden_url"),
    ("http://169.254.169.254/latest/meta-data/", "forbidden_url"), ("http://[::1]/x.csv", "forbidden_url"),
    ("http://0.0.0.0/x.csv", "forbidden_url"), ("http://[fd00::1]/x.csv", "forbidden_url"),
    ("http://example.com:abc/x.csv", "invalid_url"),
])
def test_urls_refused(url, code):
    with pytest.raises(APIError) as info:
        check_url(url, allow_private=False)
    assert info.value.code == code and info.value.status == 400


def test_private_allowed_when_configured():
    check_url("http://127.0.0.1:9/x.csv", allow_private=True)


@pytest.mark.parametrize("raw,name", [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\data.csv", "data.csv"), ("", "dataset"),
    (None, "dataset"), ("a\x00b.csv", "ab.csv"), ("/abs/path/sales.csv", "sales.csv"),
])
def test_filenames_are_names_not_paths(raw, name):
    assert clean_filename(raw) == name


def test_database_name_is_the_stem():
    assert database_name("x.csv") == "x" and database_name("sales.2024.parquet") == "sales.2024"


def test_queue_routing_and_policy():
    assert [queue_for_mode(m) for m in ("fast", "smart", "deep")] == ["eda_fast", "eda_fast", "eda_deep"]
    assert POLICIES["eda_fast"].timeout == 600 and POLICIES["eda_deep"].timeout == 1800
    assert POLICIES["eda_fast"].retries == 3 and POLICIES["eda_fast"].backoff == (60, 120, 300)
    assert POLICIES["eda_fast"].result_ttl == 0 and POLICIES["eda_deep"].failure_ttl == 86400
    assert job_id_for("abc") == "dataset-abc"
    with pytest.raises(ValueError):
        queue_for_mode("turbo")
