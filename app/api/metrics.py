"""GET /metrics: queues, workers, job outcomes and durations, datasets and the autoscaler, for Prometheus."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from redis.exceptions import RedisError

from jobs.overview import status_counts
from jobs.queues import QUEUE_NAMES
from jobs.scaling.counters import durations, outcomes
from jobs.scaling.monitor import last_decision
from jobs.scaling.stats import queue_stats

from ..auth import principal
from ..errors import APIError
from ..models import Mode
from .openapi import documented

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)


class WranglerCollector:
    """Reads everything fresh at scrape time: the numbers live in Redis and the database, not here."""

    def __init__(self, connection):
        self.connection = connection

    def collect(self):
        try:
            queued = list(self._from_redis())  # all or nothing: a half-read scrape would mislead
        except RedisError as exc:
            log.warning("/metrics without the queue metrics: Redis is unavailable (%s)", exc)
            queued = []
        up = GaugeMetricFamily("wrangler_redis_up", "1 when Redis answered this scrape; 0: the queue, worker and "
                               "job metrics are missing from it.")
        up.add_metric([], 1 if queued else 0)
        yield up
        yield from queued
        datasets = GaugeMetricFamily("wrangler_datasets", "Datasets by status.", labels=["status"])
        for status, count in status_counts().items():
            datasets.add_metric([status], count)
        yield datasets

    def _from_redis(self):
        depth = GaugeMetricFamily("wrangler_queue_depth", "Jobs waiting in the queue.", labels=["queue"])
        age = GaugeMetricFamily("wrangler_queue_oldest_job_age_seconds", "Wait of the oldest queued job.",
                                labels=["queue"])
        workers = GaugeMetricFamily("wrangler_workers", "RQ workers by queue and state.", labels=["queue", "state"])
        jobs = CounterMetricFamily("wrangler_jobs", "Jobs by queue and outcome.", labels=["queue", "outcome"])
        for name in QUEUE_NAMES:
            stats = queue_stats(self.connection, name)
            depth.add_metric([name], stats.depth)
            age.add_metric([name], stats.oldest_age)
            workers.add_metric([name, "busy"], stats.busy)
            workers.add_metric([name, "idle"], stats.idle)
            for outcome, count in outcomes(self.connection, name).items():
                jobs.add_metric([name, outcome], count)
        yield from (depth, age, workers, jobs)

        duration = HistogramMetricFamily("wrangler_job_duration_seconds", "Processing time of completed jobs.",
                                         labels=["mode"])
        for mode in Mode:
            buckets, total, _count = durations(self.connection, mode.value)
            duration.add_metric([mode.value], buckets, total)
        yield duration

        target = GaugeMetricFamily("wrangler_autoscaler_target_workers", "The autoscaler's latest target.",
                                   labels=["queue"])
        for decision in (last_decision(self.connection) or {}).get("decisions", []):
            target.add_metric([decision["queue"]], decision["target"])
        yield target


@bp.get("/metrics")
@documented("operations", {200: (None, "Prometheus text format")}, {403: "forbidden: not an operator token "
            "(token mode)"}, files={"200": ["text/plain"]})
def metrics():
    """Queue, job and dataset metrics for Prometheus (token mode: operator tokens only)."""
    who = principal()  # token mode: every tenant's totals are for operator tokens only
    if who is not None and not who.operator:
        raise APIError(403, "forbidden", "/metrics shows every tenant's totals: it needs an operator token "
                       "(flask tokens create USER --operator).")
    registry = CollectorRegistry()
    registry.register(WranglerCollector(current_app.extensions["redis"]))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
