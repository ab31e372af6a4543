"""GET /dataset/{id}/events: the state first, every stage a real worker reports, resume, heartbeat, the cap."""
from __future__ import annotations

import json

import pytest

from app import create_app
from tests.conftest import make_config
from tests.integration.conftest import upload_orders


def read(response) -> list[tuple[str | None, dict | str]]:
    """(id, data) per event and (None, comment) per comment line, from a streamed response, until it ends."""
    out, event_id = [], None
    for chunk in response.response:
        for block in chunk.decode().split("\n\n"):
            for line in block.splitlines():
                if line.startswith(":"):
                    out.append((None, line[1:].strip()))
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    out.append((event_id, json.loads(line[6:])))
    response.close()
    return out


def test_a_finished_dataset_sends_its_state_and_ends(client, run_worker):
    dataset_id = upload_orders(client).json["dataset_id"]
    run_worker()
    events = read(client.get(f"/dataset/{dataset_id}/events", buffered=False))
    assert [data["status"] for _id, data in events] == ["completed"]


def test_resume_from_the_start_replays_every_stage_in_order(client, run_worker):
    dataset_id = upload_orders(client).json["dataset_id"]
    run_worker()
    events = read(client.get(f"/dataset/{dataset_id}/events", headers={"Last-Event-ID": "0-0"}, buffered=False))
    ids = [event_id for event_id, _data in events]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) and len(set(ids)) == len(ids)
    statuses = [data["status"] for _id, data in events]
    assert statuses[0] == "queued" and statuses[-1] == "completed" and "processing" in statuses
    stages = [data["stage"] for _id, data in events if data["stage"]]
    assert stages[0] == "loading" and stages[-1] == "saving" and "eda" in stages
    middle = ids[len(ids) // 2]
    rest = read(client.get(f"/dataset/{dataset_id}/events", headers={"Last-Event-ID": middle}, buffered=False))
    assert [i for i, _d in rest] == ids[ids.index(middle) + 1:]  # after that event, nothing twice


def test_a_quiet_stream_sends_heartbeats_and_ends_in_time(settings, db, tmp_path):
    app = create_app(make_config(settings, tmp_path, EVENTS_HEARTBEAT_SECONDS=1, EVENTS_MAX_SECONDS=2))
    client = app.test_client()
    dataset_id = upload_orders(client).json["dataset_id"]  # queued: no worker runs it
    events = read(client.get(f"/dataset/{dataset_id}/events", buffered=False))
    assert events[0][1]["status"] == "queued"
    beats = [data for _event_id, data in events[1:]]
    assert beats and set(beats) == {"heartbeat"}  # one a second until the stream's two seconds are up


def test_streams_are_capped_per_process_and_a_closed_one_frees_its_slot(settings, db, tmp_path):
    app = create_app(make_config(settings, tmp_path, EVENTS_MAX_STREAMS=1, EVENTS_MAX_SECONDS=1,
                                 EVENTS_HEARTBEAT_SECONDS=1))
    client = app.test_client()
    dataset_id = upload_orders(client).json["dataset_id"]
    held = client.get(f"/dataset/{dataset_id}/events", buffered=False)  # open, never read
    refused = client.get(f"/dataset/{dataset_id}/events", buffered=False)
    assert refused.status_code == 503 and refused.json["error"]["code"] == "too_many_streams"
    assert refused.headers["Retry-After"] == "5"
    held.close()
    again = client.get(f"/dataset/{dataset_id}/events", buffered=False)
    assert again.status_code == 200
    again.close()


@pytest.mark.parametrize("bad", ["x", "1-2-3", "9" * 30 + "-0"])
def test_a_malformed_last_event_id_starts_afresh(client, app, monkeypatch, bad):
    dataset_id = upload_orders(client).json["dataset_id"]
    monkeypatch.setitem(app.config, "EVENTS_MAX_SECONDS", 0)
    events = read(client.get(f"/dataset/{dataset_id}/events", headers={"Last-Event-ID": bad}, buffered=False))
    assert [data["status"] for _id, data in events] == ["queued"]
