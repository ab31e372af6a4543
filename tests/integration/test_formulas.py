"""Downloads safe to open in a spreadsheet, and long cells cut outside the data: real job runs through the API."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from app.models import Dataset
from jobs.pipeline.export import safe_path, write_csv
from tests.conftest import accepted, upload
from tests.integration.conftest import run_jobs

PAYLOADS = ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", " =1+1"]
TRIMMED = ["=1+1", "+1", "-1+2", "@SUM(A1)", "=1", "=1", " =1+1"]  # trimming keeps the inert one inert
LIVE = ["'" + t for t in TRIMMED[:-1]] + [TRIMMED[-1]]
N = 100


def table_bytes() -> bytes:
    """A text column of formula payloads and numbers as text, negative numbers, a header starting with '='."""
    rng = np.random.default_rng(3)
    shift = rng.normal(0, 5, N).round(2)
    shift[rng.permutation(N)[:10]] = np.nan  # imputed: the imputed-cells list names the '=shift' column
    note = [PAYLOADS[i] if i < len(PAYLOADS) else "-5" if i == len(PAYLOADS) else f"note {i}" for i in range(N)]
    flag = ["@SUM(A1)" if i % 12 else None for i in range(N)]  # one value: its gaps are filled with it
    frame = pd.DataFrame({"=shift": shift, "amount": rng.integers(-50, 50, N), "note": note, "flag": flag})
    return frame.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode()


def run(client, run_worker, data: bytes, **fields) -> str:
    body = accepted(client, data, "hostile.csv", **{"user_id": "mallory", **fields})
    assert run_worker()
    status = client.get(f"/dataset/{body['dataset_id']}/status").json
    assert status["status"] == "completed", status["error"]
    return body["dataset_id"]


def download(client, path: str) -> pd.DataFrame:
    response = client.get(path)
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "text/csv"
    return pd.read_csv(io.BytesIO(response.data), dtype=str, keep_default_na=False)


@pytest.fixture()
def hostile(client, run_worker) -> str:
    return run(client, run_worker, table_bytes())


def test_cleaned_csv_neutralises_formulas_and_keeps_numbers(client, hostile):
    safe = download(client, f"/dataset/{hostile}/cleaned")
    raw = download(client, f"/dataset/{hostile}/cleaned?formulas=keep")
    assert list(safe.columns) == ["'=shift", "amount", "note", "flag"] and list(raw.columns)[0] == "=shift"
    assert safe["note"].tolist()[:8] == LIVE + ["-5"]  # a text "-5" is a number: kept
    assert raw["note"].tolist()[:8] == TRIMMED + ["-5"]
    assert safe["note"].iloc[8:].tolist() == raw["note"].iloc[8:].tolist()  # harmless text is untouched
    assert set(safe["flag"]) == {"'@SUM(A1)"} and set(raw["flag"]) == {"@SUM(A1)"}
    # numbers stay numbers: the numeric columns are the same text in both downloads, negatives included
    assert safe["amount"].tolist() == raw["amount"].tolist() and (raw["amount"].astype(int) < 0).any()
    assert safe["'=shift"].tolist() == raw["=shift"].tolist() and raw["=shift"].str.startswith("-").any()
    parquet = pd.read_parquet(io.BytesIO(client.get(f"/dataset/{hostile}/cleaned?format=parquet").data))
    assert parquet["note"].iloc[0] == "=1+1" and "=shift" in parquet.columns  # typed data for programs, as is


def test_features_csv_neutralises_headers(client, hostile):
    safe = download(client, f"/dataset/{hostile}/features.csv")
    raw = download(client, f"/dataset/{hostile}/features.csv?formulas=keep")
    assert "'=shift" in safe.columns and "=shift" in raw.columns and "=shift" not in safe.columns
    assert not [c for c in safe.columns if c[:1] in "=+-@\t\r"]
    assert safe.to_numpy().tolist() == raw.to_numpy().tolist()  # values are numbers: unchanged
    assert (raw["=shift"].astype(float) < 0).any()


def test_imputed_csv_neutralises_names_and_values(client, hostile):
    safe = download(client, f"/dataset/{hostile}/imputed")
    raw = download(client, f"/dataset/{hostile}/imputed?formulas=keep")
    assert list(safe.columns) == ["row", "column", "value", "action"]
    assert set(raw["column"]) == {"=shift", "flag"} and set(safe["column"]) == {"'=shift", "flag"}
    assert set(safe.loc[safe["column"] == "flag", "value"]) == {"'@SUM(A1)"}
    assert set(raw.loc[raw["column"] == "flag", "value"]) == {"@SUM(A1)"}
    shifts = safe.loc[safe["column"] == "'=shift", "value"]
    assert shifts.tolist() == raw.loc[raw["column"] == "=shift", "value"].tolist()  # a filled -0.3 stays a number


def test_counts_are_recorded_and_bad_choices_refused(client, hostile, app, db):
    # cleaned: the header, 6 live note cells (" =1+1" stays inert), every flag cell; imputed: 10 '=shift' names, 9 flag fills; features: a header
    assert db.session.get(Dataset, hostile).summary["formulas_neutralised"] == {"cleaned": 107, "imputed": 19,
                                                                                "features": 1}
    for key in ("cleaned.safe.csv", "imputed.safe.csv", "features.safe.csv"):
        assert app.extensions["storage"].exists(f"datasets/{hostile}/runs/1/{key}")
    response = client.get(f"/dataset/{hostile}/cleaned?formulas=run")
    assert response.status_code == 400 and response.json["error"]["details"] == {"field": "formulas"}


def test_a_csv_with_nothing_to_neutralise_is_served_as_stored(client, run_worker, app, db):
    dataset_id = run(client, run_worker, b"a,b\n1,x\n-2,y\n3,z\n")
    assert db.session.get(Dataset, dataset_id).summary["formulas_neutralised"] == {"cleaned": 0, "imputed": 0,
                                                                                   "features": 0}
    assert not app.extensions["storage"].exists(f"datasets/{dataset_id}/runs/1/cleaned.safe.csv")
    assert client.get(f"/dataset/{dataset_id}/cleaned").data == client.get(
        f"/dataset/{dataset_id}/cleaned?formulas=keep").data


def test_every_route_neutralises_a_csv_stored_before_safe_copies(client, hostile, app, db):
    """A dataset finished before the job wrote safe copies: each route makes its copy once, on first download."""
    dataset = db.session.get(Dataset, hostile)
    dataset.summary = {k: v for k, v in dataset.summary.items() if k != "formulas_neutralised"}
    db.session.commit()
    storage, scratch = app.extensions["storage"], Path(app.extensions["storage"].scratch_dir())
    old = pd.DataFrame({"=h": PAYLOADS + ["-5", "ok"], "n": [-3, -1.5, 0, 2, -7, 1, -2, -5, 4]})
    routes = {dataset.cleaned_key: "cleaned", dataset.imputed_key: "imputed", dataset.features_key: "features.csv"}
    for key, route in routes.items():
        storage.delete(safe_path(key))
        write_csv(old, scratch / "old.csv")  # as a job wrote it then
        storage.put_file(key, scratch / "old.csv")
        safe = download(client, f"/dataset/{hostile}/{route}")
        raw = download(client, f"/dataset/{hostile}/{route}?formulas=keep")
        assert storage.exists(safe_path(key))
        assert list(safe.columns) == ["'=h", "n"] and list(raw.columns) == ["=h", "n"]
        assert safe["'=h"].tolist() == ["'" + p for p in PAYLOADS[:-1]] + [" =1+1", "-5", "ok"]  # inert: kept
        assert raw["=h"].tolist() == PAYLOADS + ["-5", "ok"]
        assert safe["n"].astype(float).tolist() == old["n"].tolist() == raw["n"].astype(float).tolist()


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_a_100_kb_cell_is_cut_in_logs_statistics_and_pages_never_in_data(client, run_worker):
    big = "x" * 100_000
    rows = "".join(f"{i},{big if i % 9 else ''},{i % 3}\n" for i in range(150))
    dataset_id = run(client, run_worker, f"n,label,k\n{rows}".encode(), mode="deep")
    logs = {step: client.get(f"/dataset/{dataset_id}/logs/{step}").json["entries"]
            for step in ("cleaning", "outliers", "features")}
    assert any(big[:150] in s for s in _strings(logs))  # the value is quoted, cut
    assert max(map(len, _strings(logs))) <= 1000
    statistics = client.get(f"/dataset/{dataset_id}/eda/graphs").json["statistics"]
    top = statistics["columns"]["label"]["top_values"][0]["value"]
    assert len(top) == 200 and top.endswith("…") and max(map(len, _strings(statistics))) <= 1000
    report = client.get(f"/dataset/{dataset_id}/report").json
    assert max(map(len, _strings(report))) <= 2200
    page = client.get(f"/dataset/{dataset_id}/view").get_data(as_text=True)
    assert big[:1001] not in page and len(page) < 100_000
    cleaned = download(client, f"/dataset/{dataset_id}/cleaned")  # the data keeps the whole value
    assert set(cleaned["label"]) == {big}
    imputed = download(client, f"/dataset/{dataset_id}/imputed")
    assert set(imputed["value"]) == {big}


def test_on_s3_the_safe_copy_is_a_presigned_download(s3_app, redis_conn):  # noqa: F811 - fixture
    application = s3_app()
    client = application.test_client()
    body = upload(client, table_bytes(), "hostile.csv", user_id="u").json
    run_jobs(application, redis_conn)
    safe, raw = client.get(f"/dataset/{body['dataset_id']}/cleaned"), client.get(
        f"/dataset/{body['dataset_id']}/cleaned?formulas=keep")
    assert safe.status_code == raw.status_code == 302
    assert "/cleaned.safe.csv?" in safe.headers["Location"] and "/cleaned.csv?" in raw.headers["Location"]
    text = requests.get(safe.headers["Location"], timeout=10).text
    assert text.startswith('"\'=shift"') and '"\'=1+1"' in text
    assert requests.get(raw.headers["Location"], timeout=10).text.startswith('"=shift"')
