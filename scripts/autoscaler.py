"""Start and stop workers (local processes or Heroku dynos) by queue depth and job age; one JSON line per tick."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.config import shown_url
from jobs.queues import QUEUE_NAMES
from jobs.scaling.autoscaler import Autoscaler
from jobs.scaling.heroku import HerokuBackend, HerokuError, parse_process_types
from jobs.scaling.local import LocalBackend
from jobs.scaling.policy import DEFAULT_POLICIES, ScalingPolicy

BASE = ScalingPolicy(0, 0)  # the thresholds' defaults: the flags' defaults are the policy's own


def _limits(field: str) -> str:
    return ", ".join(f"{queue} {getattr(policy, field)}" for queue, policy in DEFAULT_POLICIES.items())


def limits(values: list[str] | None) -> dict[str, int]:
    """'eda_fast=2' pairs; a bare number applies to every queue."""
    out: dict[str, int] = {}
    for value in values or []:
        queue, _, number = value.rpartition("=")
        if queue and queue not in QUEUE_NAMES:
            raise argparse.ArgumentTypeError(f"unknown queue {queue!r}")
        for name in ([queue] if queue else QUEUE_NAMES):
            out[name] = int(number)
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale-up", type=int, default=BASE.scale_up_depth, help="scale up when more jobs than this wait")
    p.add_argument("--scale-down", type=int, default=BASE.scale_down_depth, help="scale down when fewer jobs than this wait")
    p.add_argument("--workers-per-scale", type=int, default=BASE.step, help="workers added or removed per step")
    p.add_argument("--interval", type=float, default=3.0, help="seconds between ticks")
    p.add_argument("--target-age", type=float, default=BASE.target_age, help="scale up when the oldest job waited longer")
    p.add_argument("--up-cooldown", type=float, default=BASE.up_cooldown)
    p.add_argument("--down-cooldown", type=float, default=BASE.down_cooldown)
    p.add_argument("--min", action="append", metavar="[QUEUE=]N", help=f"minimum workers ({_limits('min_workers')})")
    p.add_argument("--max", action="append", metavar="[QUEUE=]N", help=f"maximum workers ({_limits('max_workers')})")
    p.add_argument("--stop-deadline", type=float, default=60.0, help="seconds a stopping worker gets")
    p.add_argument("--backend", choices=["local", "heroku"], default="local",
                   help="local: worker processes here; heroku: the worker formation (HEROKU_API_KEY, HEROKU_APP_NAME)")
    p.add_argument("--dry-run", action="store_true", help="decide and print, start or stop nothing")
    p.add_argument("--once", action="store_true", help="one tick, then exit")
    p.add_argument("--json", action="store_true",
                   help="a JSON decision line every tick (default: only when a queue's action or worker count changes)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from jobs.context import get_app
    app = get_app()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    low, high = limits(args.min), limits(args.max)
    policies = {q: ScalingPolicy(low.get(q, DEFAULT_POLICIES[q].min_workers), high.get(q, DEFAULT_POLICIES[q].max_workers),
                               args.scale_up, args.scale_down, args.target_age, args.workers_per_scale,
                               args.up_cooldown, args.down_cooldown) for q in QUEUE_NAMES}
    connection = Redis.from_url(app.config["REDIS_URL"])
    logging.getLogger("autoscaler").info("reading %s", shown_url(app.config["REDIS_URL"]))
    backend = make_backend(args, app.config, connection)

    def recover(dead_workers: list[str]) -> dict:
        from jobs.recovery import recover as run
        with app.app_context():
            return run(connection, app.config["RECONCILE_GRACE_SECONDS"], dead_workers=dead_workers)

    scaler = Autoscaler(connection, backend, policies, dry_run=args.dry_run, recover=recover,
                        report=Printer(every_tick=args.json or args.once))
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    scaler.run(args.interval, lambda: bool(stopping), once=args.once,
               transient=(RedisError, SQLAlchemyError, HerokuError))
    return 0


class Printer:
    """A tick's record as a JSON line: every tick, or only when a queue's action, count or target changes."""

    def __init__(self, every_tick: bool):
        self.every_tick, self.last = every_tick, None

    def __call__(self, record: dict) -> None:
        shape = [(d["queue"], d["action"], d["current"], d["target"]) for d in record["decisions"]]
        if self.every_tick or shape != self.last:
            print(json.dumps(record), flush=True)
            self.last = shape


def make_backend(args: argparse.Namespace, config, connection: Redis):
    if args.backend == "local":
        return LocalBackend(connection, stop_deadline=args.stop_deadline)
    if not (config["HEROKU_API_KEY"] and config["HEROKU_APP_NAME"]):
        sys.exit("--backend heroku needs HEROKU_API_KEY and HEROKU_APP_NAME")
    return HerokuBackend(connection, config["HEROKU_API_KEY"], config["HEROKU_APP_NAME"],
                         parse_process_types(config["HEROKU_PROCESS_TYPES"], QUEUE_NAMES),
                         base_url=config["HEROKU_API_URL"])


if __name__ == "__main__":
    sys.exit(main())
