"""GET /dataset/{id}/correlations and the dataset page's correlation table, through a real worker."""
from __future__ import annotations


import numpy as np
import pandas as pd

from app.extensions import db
from app.models import Dataset
from tests.conftest import accepted


def pairs_csv() -> bytes:
    rng = np.random.default_rng(3)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "y": 2 * x + rng.normal(0, 0.2, 300), "noise": rng.normal(size=300),
                          "band": np.where(x > 0, "up", "down")})
    return frame.to_csv(index=False).encode()


def test_correlations_are_served_and_shown(client, run_worker):
    dataset_id = accepted(client, pairs_csv(), "pairs.csv")["dataset_id"]
    early = client.get(f"/dataset/{dataset_id}/correlations")
    assert early.status_code == 409 and early.json["error"]["code"] == "not_ready"
    run_worker()
    body = client.get(f"/dataset/{dataset_id}/correlations").json
    top = body["pairs"][0]
    assert set(top["columns"]) == {"x", "y"} and top["measure"] in ("pearson", "spearman")
    assert top["strength"] == "strong" and top["n"] == 300 and top["p_value"] < 1e-10
    assert any(p["measure"] == "correlation_ratio" and "band" in p["columns"] for p in body["pairs"])
    assert body["rule"] and body["numeric_columns"] == ["x", "y", "noise"]
    graphs = client.get(f"/dataset/{dataset_id}/eda/graphs").json
    assert graphs["statistics"]["correlations"]["pairs"][0] == top
    page = client.get(f"/dataset/{dataset_id}/view").get_data(as_text=True)
    assert 'id="correlations"' in page and "correlation ratio" in page


def test_a_dataset_cleaned_before_the_analysis_existed_says_so(client, run_worker, app):
    dataset_id = accepted(client, pairs_csv(), "pairs.csv")["dataset_id"]
    run_worker()
    with app.app_context():
        dataset = db.session.get(Dataset, dataset_id)
        dataset.statistics = {k: v for k, v in dataset.statistics.items() if k != "correlations"}
        db.session.commit()
    response = client.get(f"/dataset/{dataset_id}/correlations")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get(f"/dataset/{dataset_id}/view").status_code == 200
    assert client.get("/dataset/nope/correlations").status_code == 404
