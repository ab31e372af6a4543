"""What a user is told when a job fails: a plain reason, never a path, endpoint, bucket or SQL."""
from __future__ import annotations

import re
import signal
import uuid

from redis.exceptions import RedisError
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import SQLAlchemyError

from app.storage import MissingObject, StorageError
from jobs.pipeline.cleaning_plan import PlanError, PlanViolation
from jobs.pipeline.load import LoadError

from .limits import OverLimit
from .queues import raised_from

# File-system paths and storage keys ("/tmp/x/raw.csv", "datasets/<id>/raw.csv"): two slashes or more.
_PATH = re.compile(r"(?<![\w/])[\w.~-]*(?:/[\w.~@%+=-]+){2,}/?")
MESSAGE_CHARS = 500


class JobGaveUp(RuntimeError):
    """The dataset crashed its worker too many times; it is marked failed."""


class HorseKilled(Exception):
    """The job's process died from a signal nobody asked for: the kernel's OOM killer, or C code that
    crashed (often an allocation refused under the memory ceiling). The same input does it again."""

    def __init__(self, signum: int, peak_mb: float | None):
        self.signum, self.peak_mb = signum, peak_mb
        super().__init__(f"work horse killed by signal {signum}, peak RSS {peak_mb} MB")


def memory_error_in(exc: BaseException | None) -> bool:
    """A MemoryError, or an error raised because of one (pyarrow and pandas sometimes wrap them)."""
    return raised_from(exc, frozenset({"MemoryError"}))


def scrub(text: str) -> str:
    """Our own messages, made safe to show: paths and keys out, length bounded (a parser's message
    can quote a whole cell)."""
    text = _PATH.sub("<file>", text)
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def user_message(exc: BaseException, *, memory_mb: int, timeout: int | None) -> tuple[str, str | None]:
    """The plain reason for the dataset's `error`, and an error id when only the operator's logs can
    say more (unknown errors: the id is logged with the traceback)."""
    ceiling = f" (JOB_MEMORY_MB = {memory_mb:,} MB)" if memory_mb > 0 else ""
    if isinstance(exc, HorseKilled):
        peak = f", after using {exc.peak_mb:,.0f} MB" if exc.peak_mb else ""
        return (f"The job's process was killed ({_signal_name(exc.signum)}{peak}), most likely for running "
                f"out of memory{ceiling}. A file this large or complex cannot be processed here.", None)
    if memory_error_in(exc):
        return (f"The job ran out of memory: processing this file needs more than one job may use{ceiling}. "
                "Split it or upload fewer rows or columns.", None)
    if isinstance(exc, JobTimeoutException):
        limit = f" of {timeout / 60:.0f} minutes" if timeout else ""
        return (f"Processing took longer than the time limit{limit}; a file this large or complex does not "
                "finish in time. Split it or upload fewer rows or columns.", None)
    if isinstance(exc, (OverLimit, LoadError, JobGaveUp, PlanViolation, PlanError)):
        return scrub(str(exc)), None
    if isinstance(exc, MissingObject):
        return "MissingObject: no such object in storage: the dataset's file was deleted or purged.", None
    if isinstance(exc, StorageError):
        return "StorageError: reading or writing the dataset's files in storage failed.", None
    if isinstance(exc, OSError):  # strerror alone: str(exc) would add the file's path
        return f"{type(exc).__name__}: [Errno {exc.errno}] {exc.strerror or 'a file operation failed'}", None
    if isinstance(exc, RedisError):
        return "The queue service (Redis) was unavailable.", None
    if isinstance(exc, SQLAlchemyError):
        return "The database was unavailable.", None
    error_id = uuid.uuid4().hex[:12]
    return (f"Processing failed ({type(exc).__name__}); the operator's logs have the details "
            f"(error id {error_id}).", error_id)
