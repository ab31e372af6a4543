"""Health endpoints: the database, Redis and the workers, each alone and together."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from jobs.queues import QUEUE_NAMES

from ..extensions import db
from .openapi import documented
from .schemas import Health

bp = Blueprint("health", __name__)


def check_database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True, "dialect": db.engine.dialect.name}
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"ok": False, "error": type(exc).__name__}


def check_redis() -> dict:
    try:
        current_app.extensions["redis"].ping()
        return {"ok": True}
    except RedisError as exc:
        return {"ok": False, "error": type(exc).__name__}


def check_workers() -> dict:
    try:
        workers = Worker.all(connection=current_app.extensions["redis"])
    except RedisError as exc:
        return {"ok": False, "error": type(exc).__name__, "workers": 0}
    queues = {name: {"workers": 0, "busy": 0} for name in QUEUE_NAMES}
    for worker in workers:
        for name in worker.queue_names():
            if name in queues:
                queues[name]["workers"] += 1
                queues[name]["busy"] += worker.get_state() == "busy"
    return {"ok": bool(workers), "workers": len(workers), "queues": queues}


def _answer(parts: dict, extra: dict | None = None):
    failing = [name for name, result in parts.items() if not result["ok"]]
    body = {"status": "ok" if not failing else "unavailable", "failing": failing, **parts, **(extra or {})}
    return jsonify(body), 200 if not failing else 503


@bp.get("/health")
@documented("health", {200: Health, 503: (Health, "A part is failing (named in failing)")})
def health():
    """The service: the database and Redis (workers are reported, not required)."""
    # Workers are reported but do not fail the service: jobs wait safely in the queue.
    return _answer({"database": check_database(), "redis": check_redis()}, {"workers": check_workers()})


@bp.get("/health/database")
@documented("health", {200: Health, 503: (Health, "A part is failing (named in failing)")})
def health_database():
    """The database alone."""
    return _answer({"database": check_database()})


@bp.get("/health/redis")
@documented("health", {200: Health, 503: (Health, "A part is failing (named in failing)")})
def health_redis():
    """Redis alone."""
    return _answer({"redis": check_redis()})


@bp.get("/health/workers")
@documented("health", {200: Health, 503: (Health, "A part is failing (named in failing)")})
def health_workers():
    """The workers: how many, per queue, and how many busy."""
    return _answer({"workers": check_workers()})
