"""Plots, collaboration views and HTML pages through the API with a real worker."""
from __future__ import annotations


import numpy as np
import pandas as pd

from app.models import Graph
from tests.conftest import stored_files, upload


def csv_bytes(n: int = 300) -> bytes:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"id": range(n), "price": rng.lognormal(3, 1, n).round(2), "qty": rng.poisson(4, n),
                          "city": rng.choice(["Oslo", "Rome", "Lima"], n), "const": "x"})
    frame.loc[rng.random(n) < 0.1, "qty"] = np.nan
    return frame.to_csv(index=False).encode()


def test_graphs_listed_and_served_with_cache_headers(client, run_worker):
    dataset_id = upload(client, csv_bytes(), "shop.csv", user_id="g").json["dataset_id"]
    assert client.get(f"/dataset/{dataset_id}/eda/graphs").json["graphs"] == []
    run_worker()
    body = client.get(f"/dataset/{dataset_id}/eda/graphs").json
    kinds = sorted(g["kind"] for g in body["graphs"])
    assert kinds == ["boxplot", "boxplot", "countplot", "heatmap", "histogram", "histogram", "missing"]
    assert {g["column"] for g in body["graphs"]} >= {"price", "qty", "city"}
    assert "id" not in {g["column"] for g in body["graphs"]}  # identifiers get a note, not a chart
    assert body["statistics"]["columns"]["id"]["note"]
    first = body["graphs"][0]
    png = client.get(first["url"])
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert "max-age" in png.headers["Cache-Control"] and png.headers["ETag"]
    again = client.get(first["url"], headers={"If-None-Match": png.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(f"/dataset/{dataset_id}/graph/999999").status_code == 404


def test_rerun_replaces_graphs(client, run_worker, app, db):
    from jobs.process import process_dataset
    dataset_id = upload(client, csv_bytes(), "shop.csv").json["dataset_id"]
    run_worker()
    before = {g.storage_key for g in Graph.query.filter_by(dataset_id=dataset_id)}
    process_dataset(dataset_id)
    after = {g.storage_key for g in Graph.query.filter_by(dataset_id=dataset_id)}
    assert len(after) == len(before) and not before & after
    files = [f for f in stored_files(app) if "/graphs/" in f]
    assert len(files) == len(after)  # the previous run's PNGs are gone


def test_collaboration_views(client, run_worker):
    a = upload(client, csv_bytes(), "shop.csv", user_id="ann", collaboration_id="lab").json["dataset_id"]
    b = upload(client, csv_bytes(), "shop.csv", user_id="bob", collaboration_id="lab").json["dataset_id"]
    upload(client, csv_bytes(), "shop.csv", user_id="cid", collaboration_id="other")
    run_worker()
    graphs = client.get("/collaboration/lab/graphs").json
    assert {g["dataset_id"] for g in graphs["graphs"]} == {a, b} and graphs["graphs"][0]["database_name"] == "shop"
    cleaned = client.get("/collaboration/lab/datasets/cleaned").json
    assert {d["dataset_id"] for d in cleaned["datasets"]} == {a, b}
    link = cleaned["datasets"][0]["links"]["csv"]
    assert client.get(link).status_code == 200
    assert client.get("/collaboration/../graphs").status_code in (400, 404)


def test_pages(client, run_worker):
    assert b"Clean a dataset" in client.get("/").data
    response = upload(client, csv_bytes(), "shop.csv", path="/upload", user_id="web", mode="fast")
    assert response.status_code == 303 and "/view" in response.headers["Location"]
    page = client.get(response.headers["Location"]).data.decode()
    assert 'id="progress"' in page and "http-equiv=\"refresh\"" in page  # live while queued
    run_worker()
    page = client.get(response.headers["Location"]).data.decode()
    assert 'id="progress"' not in page and 'id="plots"' in page and "<img" in page
    assert 'id="log-cleaning"' in page and "Cleaned CSV" in page and "shop" in page
    assert "shop" in client.get("/?user_id=web").data.decode()


def test_form_errors_are_shown_on_the_page(client):
    response = upload(client, b"", "empty.csv", path="/upload", user_id="web")
    assert response.status_code == 422 and "The file is empty" in response.data.decode()
    response = client.post("/upload", data={"user_id": "web"}, content_type="multipart/form-data")
    assert response.status_code == 400 and "missing file" in response.data.decode()
