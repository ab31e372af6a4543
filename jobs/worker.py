"""Worker setup: one app per process, heavy imports preloaded, fast crash recovery, a memory ceiling per job."""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import threading
import uuid

from redis.exceptions import RedisError
from rq import Worker, worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler
from sqlalchemy.exc import SQLAlchemyError

from .context import get_app
from .limits import MB, address_space_bytes, limit_memory
from .queues import WEBHOOK_QUEUE

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def preload() -> None:
    """Import what every job needs in the parent and run the pipeline once, so each forked job starts warm."""
    import jobs.process  # noqa: F401  (pulls in pandas, pyarrow and the pipeline)
    from jobs.pipeline.runner import warm_up
    get_app()
    warm_up()


def _die_with_parent() -> None:
    # A horse orphaned by a SIGKILLed worker would race the job's reclaimed re-run.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        log.debug("prctl unavailable; orphaned horses are not killed automatically")


class WranglerScheduler(RQScheduler):
    """RQ's scheduler process, which also dies with its worker instead of living on orphaned."""

    def work(self):
        _die_with_parent()
        super().work()


class WranglerWorker(Worker):
    """An RQ worker that reclaims abandoned jobs and re-enqueues lost datasets as it idles.

    On SIGTERM (a platform stopping the dyno, the autoscaler scaling down) the running job gets
    `shutdown_grace` seconds to finish; after that the worker kills it and puts it back on its
    queue without spending a retry, and exits before the platform's SIGKILL (Heroku: 30 s).
    Each job's forked process gets an address-space ceiling (`job_memory_mb`, RLIMIT_AS).
    """

    def __init__(self, *args, recovery_grace: int = 30, shutdown_grace: float = 20.0, job_memory_mb: int = 0,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.recovery_grace = recovery_grace
        self.shutdown_grace = shutdown_grace
        self.job_memory_mb = job_memory_mb
        self._giving_up = False

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if pipeline is None:
            self._register_again_if_forgotten()

    def _register_again_if_forgotten(self) -> None:
        """Redis restarted empty: a worker that only heartbeats stays invisible to the monitor, /health/workers
        and the autoscaler (its key holds just the heartbeat, it is in no registry), so it registers again."""
        try:
            if self.connection.hexists(self.key, "birth"):
                return
            with self.connection.pipeline() as pipe:
                pipe.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, pipe)
                pipe.expire(self.key, self.worker_ttl + 60)
                pipe.execute()
        except RedisError as exc:
            log.debug("could not check the worker's registration: %s", exc)
            return
        log.warning("worker %s registered again: Redis had forgotten it (restarted empty?)", self.name)

    def setup_work_horse_signals(self):
        # Platforms signal every process of a dyno; the horse leaves the decision to its parent.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def handle_warm_shutdown_request(self):
        super().handle_warm_shutdown_request()
        if self.horse_pid:
            timer = threading.Timer(self.shutdown_grace, self._give_up_job)
            timer.daemon = True
            timer.start()

    def _give_up_job(self):
        pid = self.horse_pid  # read once: 0 once the job is done, and killpg(0) would hit our own group
        if not pid:
            return
        log.warning("job still running %.0f s after the stop request: putting it back for another worker",
                    self.shutdown_grace)
        self._giving_up = True
        try:
            os.killpg(pid, signal.SIGKILL)  # RQ's horse leads its own process group
        except ProcessLookupError:
            pass

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        if self._giving_up or not (ret_val and os.WIFSIGNALED(ret_val)):
            return
        # Not our signal: the OOM killer, or C code that crashed (often an allocation refused under the
        # ceiling). The same input does it again, so record a final failure; RQ then skips its retries.
        from jobs.process import record_horse_death  # imported late: the worker's parent is kept light
        peak_mb = rusage.ru_maxrss / 1024 if rusage else None  # Linux reports KiB
        with get_app().app_context():
            try:
                record_horse_death(job, os.WTERMSIG(ret_val), peak_mb)
            except (RedisError, SQLAlchemyError):  # not recorded: RQ's retry policy decides as before
                log.exception("could not record the killed job %s", job.id)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string="", execution=None):
        if not self._giving_up:
            return super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
        from jobs.recovery import requeue_interrupted
        with get_app().app_context():  # our own job, taken back as a dead worker's would be: no retry spent
            requeue_interrupted(self.connection, self.name)

    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=DEFAULT_LOGGING_DATE_FORMAT,
                         log_format=DEFAULT_LOGGING_FORMAT):
        # RQ's own version, with our scheduler class (RQ offers no hook for it).
        self.scheduler = WranglerScheduler(self.queues, connection=self.connection,
                                           logging_level=logging_level or self.log.level, date_format=date_format,
                                           log_format=log_format, serializer=self.serializer)
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()

    def main_work_horse(self, job, queue):
        _die_with_parent()
        limit_memory(self.job_memory_mb)  # the horse only: the worker itself must outlive its jobs
        get_app()
        super().main_work_horse(job, queue)

    def run_maintenance_tasks(self):
        from jobs.recovery import recover
        with get_app().app_context():
            try:
                outcome = recover(self.connection, self.recovery_grace)
            except Exception:  # recovery must never take the worker down
                log.exception("recovery pass failed")
            else:
                if outcome["reclaimed"] or outcome["enqueued"]:
                    log.warning("recovery: %s", outcome)
            try:
                from app.retention import purge_if_due
                purge_if_due(self.connection, get_app().config["RAW_RETENTION_DAYS"])
            except Exception:  # retention must never take the worker down either
                log.exception("retention pass failed")
        super().run_maintenance_tasks()


class _QuietMaintenance(logging.Filter):
    """RQ logs every maintenance pass at INFO; ours run every few seconds, so keep them at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "cleaning registries" in message or "cleaning group registries" in message:
            return log.isEnabledFor(logging.DEBUG)
        return True


QUIET_MAINTENANCE = _QuietMaintenance()


def build_worker(queues: list[str], name: str | None = None) -> WranglerWorker:
    from redis import Redis

    app = get_app()
    config = app.config
    logging.getLogger("rq.worker").addFilter(QUIET_MAINTENANCE)  # one instance: addFilter skips repeats
    connection = Redis.from_url(config["REDIS_URL"])
    monitor = config["WORKER_MONITOR_INTERVAL"]
    baseline = address_space_bytes()  # a forked job starts with the worker's whole address space
    if 0 < config["JOB_MEMORY_MB"] * MB < 2 * baseline:
        log.warning("JOB_MEMORY_MB=%s leaves jobs little room: the worker alone maps %.0f MB",
                    config["JOB_MEMORY_MB"], baseline / MB)
    queues = [*queues, WEBHOOK_QUEUE] if WEBHOOK_QUEUE not in queues else list(queues)  # every worker delivers
    suffix = uuid.uuid4().hex[:6]
    # On Heroku the dyno's name leads (worker.3.<random>): the heroku backend matches workers to dynos by it.
    name = name or (f"{config['DYNO']}.{suffix}" if config["DYNO"] else
                    f"wrangler-{socket.gethostname()}-{os.getpid()}-{suffix}")
    return WranglerWorker(
        queues, connection=connection, name=name,
        job_monitoring_interval=monitor,
        maintenance_interval=config["WORKER_MAINTENANCE_INTERVAL"],
        # Idle workers wake every (worker_ttl - 15) s: that bounds how late recovery runs.
        worker_ttl=max(config["WORKER_MAINTENANCE_INTERVAL"] + 15, 30),
        recovery_grace=config["RECONCILE_GRACE_SECONDS"],
        shutdown_grace=config["WORKER_SHUTDOWN_GRACE"],
        job_memory_mb=config["JOB_MEMORY_MB"],
    )
