"""Intake rules that need no network: URL schemes and addresses, file names, queue routing."""
from __future__ import annotations

import pytest

from app.errors import APIError
from app.ingest import check_address, check_content_type, check_url, clean_filename, database_name
from jobs.queues import POLICIES, job_id_for, queue_for_mode


@pytest.mark.parametrize("url,code", [
    ("file:///etc/passwd", "invalid_url"), ("ftp://example.com/x.csv", "invalid_url"),
    ("gopher://x/", "invalid_url"), ("http:///nohost", "invalid_url"),
    ("http://127.0.0.1/x.csv", "forbidden_url"), ("http://localhost:8000/x.csv", "forbidden_url"),
    ("http://10.1.2.3/x.csv", "forbidden_url"), ("http://192.168.0.1/x.csv", "forbidden_url"),
    ("http://169.254.169.254/latest/meta-data/", "forbidden_url"), ("http://[::1]/x.csv", "forbidden_url"),
    ("http://0.0.0.0/x.csv", "forbidden_url"), ("http://[fd00::1]/x.csv", "forbidden_url"),
    ("http://example.com:abc/x.csv", "invalid_url"),
    # the loopback address in other spellings: decimal, octal, hex, short form, IPv4-mapped IPv6
    ("http://2130706433/x.csv", "forbidden_url"), ("http://0177.0.0.1/x.csv", "forbidden_url"),
    ("http://0x7f.0.0.1/x.csv", "forbidden_url"), ("http://0x7f000001/x.csv", "forbidden_url"),
    ("http://127.1/x.csv", "forbidden_url"), ("http://[::ffff:127.0.0.1]/x.csv", "forbidden_url"),
    ("http://[::ffff:a9fe:a9fe]/latest/", "forbidden_url"), ("http://[64:ff9b::a9fe:a9fe]/", "forbidden_url"),
    ("http://224.0.0.1/x.csv", "forbidden_url"), ("http://240.0.0.1/x.csv", "forbidden_url"),
    ("http://100.64.0.1/x.csv", "forbidden_url"), ("http://[2002:7f00:1::]/x.csv", "forbidden_url"),
    ("javascript:alert(1)", "invalid_url"), ("HTTP://127.0.0.1/x.csv", "forbidden_url"),
])
def test_urls_refused(url, code):
    with pytest.raises(APIError) as info:
        check_url(url, allow_private=False)
    assert info.value.code == code and info.value.status == 400


def test_private_allowed_when_configured():
    check_url("http://127.0.0.1:9/x.csv", allow_private=True)
    for ip in ("::1", "::ffff:127.0.0.1", "10.0.0.1", "fd00::1"):  # localhost may resolve to ::1
        check_address(ip, allow_private=True, host="h")


@pytest.mark.parametrize("ip", ["169.254.169.254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "fe80::1",
                                "224.0.0.251", "ff02::1", "240.0.0.1", "0.0.0.0", "::"])
def test_never_allowed_even_with_private_urls(ip):
    with pytest.raises(APIError):
        check_address(ip, allow_private=True, host="h")


@pytest.mark.parametrize("ip", ["8.8.8.8", "2001:4860:4860::8888", "1.1.1.1"])
def test_public_addresses_pass(ip):
    check_address(ip, allow_private=False, host="h")


@pytest.mark.parametrize("ctype,refused", [
    ("text/html; charset=utf-8", True), ("image/png", True), ("application/pdf", True),
    ("application/xhtml+xml", True), ("text/csv", False), ("text/plain", False), ("", False),
    ("application/octet-stream", False), ("application/json", False),
])
def test_content_type_sanity(ctype, refused):
    if refused:
        with pytest.raises(APIError) as info:
            check_content_type(ctype)
        assert info.value.status == 415
    else:
        check_content_type(ctype)


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


@pytest.mark.parametrize("content,name,status,code", [
    (b'[{"a": ' + b"[" * 100 + b"]" * 100 + b"}]", "d.json", 422, "too_deep"),
    (b"a," + b"n" * 300 + b"\n1,2\n", "n.csv", 422, "column_name_too_long"),
    (b"PK\x03\x04 not a sheet", "z.csv", 415, "unsupported_format"),
    (b"a,b\n1,2\n3,4\n", "t.csv", 422, "too_many_rows"),
])
def test_validate_maps_load_errors_to_statuses(tmp_path, caplog, content, name, status, code):
    from flask import Flask

    from app.ingest import Intake, validate
    path = tmp_path / "upload"
    path.write_bytes(content)
    with Flask(__name__).app_context() as ctx:
        ctx.app.config.update(MAX_COLUMN_NAME=256, MAX_XLSX_CELLS=1000)
        with pytest.raises(APIError) as info, caplog.at_level("INFO", logger="app.ingest"):
            validate(Intake(tmp_path=str(path), filename=name, size=len(content)), max_rows=1, max_columns=10)
    assert (info.value.status, info.value.code) == (status, code)
    assert f"({code})" in caplog.text  # the operator's log names the refusal and its cause
