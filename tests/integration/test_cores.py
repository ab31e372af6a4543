"""cores_to_spare: a job takes a second core only when the machine's other workers leave it one."""
from __future__ import annotations

import socket

from rq import Worker

from jobs.limits import cores_to_spare


def _registered(redis_conn, name: str, state: str, host: str | None = None) -> Worker:
    worker = Worker(["cores_test"], connection=redis_conn, name=name)
    worker.register_birth()
    worker.set_state(state)
    if host:
        worker.hostname = host
        redis_conn.hset(worker.key, "hostname", host)
    return worker


def test_a_lone_job_on_two_cores_may_fork_and_two_jobs_may_not(redis_conn):
    me = _registered(redis_conn, "cores-me", "busy")
    try:
        assert cores_to_spare(redis_conn, me.name, cores=2)
        _registered(redis_conn, "cores-idle", "idle")
        _registered(redis_conn, "cores-elsewhere", "busy", host=socket.gethostname() + "-other")
        assert cores_to_spare(redis_conn, me.name, cores=2)  # idle here and busy on another machine: no matter
        _registered(redis_conn, "cores-busy", "busy")
        assert not cores_to_spare(redis_conn, me.name, cores=2)
        assert cores_to_spare(redis_conn, me.name, cores=4)
        assert not cores_to_spare(redis_conn, me.name, cores=1)
    finally:
        for worker in Worker.all(connection=redis_conn):
            if worker.name.startswith("cores-"):
                worker.register_death()
