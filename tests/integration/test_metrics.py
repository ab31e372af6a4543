"""GET /metrics after real jobs: parsed with prometheus-client's own parser."""
from __future__ import annotations


from prometheus_client.parser import text_string_to_metric_families

from app.models import Dataset
from tests.conftest import upload


def samples(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.data.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_after_jobs(client, run_worker, app, db):
    for _ in range(2):
        upload(client, b"a,b\n1,2\n,3\n")
    broken = upload(client, b"a,b\n1,2\n", "e.csv", mode="deep").json["dataset_id"]
    app.extensions["storage"].delete(db.session.get(Dataset, broken).raw_key)
    before = samples(client)
    assert before[("wrangler_queue_depth", (("queue", "eda_fast"),))] == 2
    assert before[("wrangler_datasets", (("status", "queued"),))] == 3
    run_worker()
    after = samples(client)
    assert after[("wrangler_queue_depth", (("queue", "eda_fast"),))] == 0
    assert after[("wrangler_jobs_total", (("outcome", "completed"), ("queue", "eda_fast")))] == 2
    assert after[("wrangler_jobs_total", (("outcome", "retried"), ("queue", "eda_deep")))] == 1
    assert after[("wrangler_job_duration_seconds_count", (("mode", "fast"),))] == 2
    assert after[("wrangler_job_duration_seconds_bucket", (("le", "+Inf"), ("mode", "fast")))] == 2
    assert after[("wrangler_datasets", (("status", "completed"),))] == 2
    assert ("wrangler_workers", (("queue", "eda_fast"), ("state", "idle"))) in after
