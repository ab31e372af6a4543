"""The heroku backend through its real HTTP client against a loopback Platform API and real Redis."""
from __future__ import annotations

import pytest
from rq import Queue, Worker

from jobs.queues import QUEUE_NAMES, enqueue_dataset
from jobs.scaling.autoscaler import Autoscaler
from jobs.scaling.heroku import HerokuBackend, HerokuError, parse_process_types
from jobs.scaling.policy import ScalingPolicy
from tests.fakes.heroku import FakeHeroku

KEY = "hrku-test-key"


@pytest.fixture()
def heroku():
    fake = FakeHeroku("wrangler-prod", KEY, {"worker": 3, "deepworker": 0})
    yield fake
    fake.close()


@pytest.fixture()
def dynos(db, redis_conn):
    """Register RQ workers named as dynos name them (`worker.N.<random>`) with a given state."""
    made = []

    def register(states: dict[int, str], process_type: str = "worker", queues=("eda_fast",)):
        for number, state in states.items():
            worker = Worker([Queue(q, connection=redis_conn) for q in queues], connection=redis_conn,
                            name=f"{process_type}.{number}.{len(made):06x}")
            worker.register_birth()
            worker.set_state(state)
            made.append(worker)
    yield register
    for worker in made:
        worker.register_death()


def backend(fake, redis_conn, key=KEY, types="eda_fast=worker,eda_deep=deepworker") -> HerokuBackend:
    return HerokuBackend(redis_conn, key, "wrangler-prod", parse_process_types(types, QUEUE_NAMES),
                         base_url=fake.url)


def test_states_match_dynos_by_number(heroku, dynos, redis_conn):
    dynos({1: "busy", 2: "idle"})
    dynos({4: "idle"})  # above the formation: a dyno on its way out
    assert backend(heroku, redis_conn).states("eda_fast") == {"worker.1": "busy", "worker.2": "idle",
                                                              "worker.3": "starting"}


def test_start_patches_the_formation_with_key_and_version(heroku, redis_conn, db):
    scaler = backend(heroku, redis_conn)
    assert scaler.start("eda_fast", 2) == ["worker.4", "worker.5"]
    assert heroku.formation["worker"] == 5 and heroku.patches() == [5]
    assert heroku.requests[-1]["path"] == "/apps/wrangler-prod/formation/worker"


def test_busy_top_dyno_is_never_cut(heroku, dynos, redis_conn):
    dynos({1: "idle", 2: "idle", 3: "busy"})  # Heroku would remove worker.3 first
    assert backend(heroku, redis_conn).stop_idle("eda_fast", 2) == []
    assert heroku.patches() == [] and heroku.formation["worker"] == 3


def test_idle_top_dynos_are_removed_down_to_the_first_busy_one(heroku, dynos, redis_conn):
    dynos({1: "idle", 2: "busy", 3: "idle"})
    assert backend(heroku, redis_conn).stop_idle("eda_fast", 2) == ["worker.3"]
    assert heroku.formation["worker"] == 2


def test_queues_sharing_a_process_type_get_the_larger_wish(heroku, dynos, redis_conn):
    dynos({1: "idle", 2: "idle", 3: "idle"}, queues=QUEUE_NAMES)
    scaler = backend(heroku, redis_conn, types="")  # both queues on `worker`, as the Procfile has it
    scaler.start("eda_fast", 1)
    assert heroku.formation["worker"] == 4
    assert scaler.stop_idle("eda_deep", 4) == []  # deep has no work, but fast still wants 4
    assert heroku.formation["worker"] == 4


def test_refusals_raise_a_clear_error(heroku, redis_conn, db):
    with pytest.raises(HerokuError, match="401.*Invalid credentials"):
        backend(heroku, redis_conn, key="wrong").start("eda_fast", 1)
    with pytest.raises(HerokuError, match="404"):
        backend(heroku, redis_conn, types="eda_fast=nosuchtype").states("eda_fast")
    heroku.close()
    with pytest.raises(HerokuError, match="unreachable"):
        backend(heroku, redis_conn).states("eda_fast")


def test_bad_process_type_mapping_is_refused():
    with pytest.raises(ValueError, match="QUEUE=TYPE"):
        parse_process_types("eda_fast", QUEUE_NAMES)
    with pytest.raises(ValueError, match="QUEUE=TYPE"):
        parse_process_types("nosuchqueue=worker", QUEUE_NAMES)


def test_autoscaler_tick_scales_the_formation_under_a_burst(heroku, dynos, redis_conn):
    dynos({1: "busy", 2: "busy", 3: "busy"})
    for n in range(8):
        enqueue_dataset(redis_conn, f"burst-{n}", "fast")
    policies = {"eda_fast": ScalingPolicy(1, 10, scale_up_depth=5, scale_down_depth=1, step=2),
                "eda_deep": ScalingPolicy(0, 2, scale_up_depth=5, scale_down_depth=1)}
    decisions = Autoscaler(redis_conn, backend(heroku, redis_conn), policies).tick()
    fast = next(d for d in decisions if d.queue == "eda_fast")
    assert (fast.action, fast.current, fast.target) == ("up", 3, 5)
    assert heroku.formation == {"worker": 5, "deepworker": 0} and heroku.patches() == [5]
