"""Database models: datasets and their runs, step logs, reports, mode usage, graphs, API tokens, cleaning plans."""
from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import JSON, Index

from jobs.clock import as_utc, iso, utcnow  # noqa: F401 - imported from here by the web side
from jobs.pipeline.names import LOG_STEPS, MODES, LogStep, Mode, Stage  # noqa: F401 - likewise

from .extensions import db
from .layout import beside, run_number


def new_id() -> str:
    return uuid.uuid4().hex


class Status(StrEnum):
    AWAITING_FILE = "awaiting_file"  # a direct upload's reservation: the client is sending the file to storage
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = (Status.COMPLETED.value, Status.FAILED.value, Status.CANCELLED.value)


TZ = db.DateTime(timezone=True)


class Dataset(db.Model):
    __tablename__ = "datasets"

    id = db.Column(db.String(32), primary_key=True, default=new_id)
    user_id = db.Column(db.String(128), nullable=False, default="anonymous")
    collaboration_id = db.Column(db.String(128), nullable=True)
    mode = db.Column(db.String(16), nullable=False, default=Mode.FAST)
    target = db.Column(db.String(256), nullable=True)
    status = db.Column(db.String(16), nullable=False, default=Status.QUEUED.value)
    stage = db.Column(db.String(16), nullable=True)
    progress = db.Column(db.Integer, nullable=False, default=0)
    progress_info = db.Column(db.Text, nullable=True)
    filename = db.Column(db.String(512), nullable=False)
    database_name = db.Column(db.String(256), nullable=False)
    file_format = db.Column(db.String(16), nullable=False)
    encoding = db.Column(db.String(32), nullable=True)
    delimiter = db.Column(db.String(4), nullable=True)
    size_bytes = db.Column(db.BigInteger, nullable=False, default=0)
    source_url = db.Column(db.Text, nullable=True)
    rows = db.Column(db.Integer, nullable=False, default=0)
    columns = db.Column(db.Integer, nullable=False, default=0)
    cleaned_rows = db.Column(db.Integer, nullable=True)
    cleaned_columns = db.Column(db.Integer, nullable=True)
    raw_key = db.Column(db.String(512), nullable=False)
    raw_purged_at = db.Column(TZ, nullable=True)  # the retention setting removed the original file
    cleaned_key = db.Column(db.String(512), nullable=True)
    job_id = db.Column(db.String(64), nullable=True)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    error = db.Column(db.Text, nullable=True)
    summary = db.Column(JSON, nullable=True)
    features = db.Column(JSON, nullable=True)
    statistics = db.Column(JSON, nullable=True)
    options = db.Column(JSON, nullable=True)  # per-upload cleaning options (app.options); None before 0005
    features_key = db.Column(db.String(512), nullable=True)
    run = db.Column(db.Integer, nullable=False, default=1, server_default="1")  # the latest run's number
    upload_secret = db.Column(db.String(64), nullable=True)  # a direct upload's, to local storage, until complete
    created_at = db.Column(TZ, nullable=False, default=utcnow)
    updated_at = db.Column(TZ, nullable=False, default=utcnow, onupdate=utcnow)
    started_at = db.Column(TZ, nullable=True)
    completed_at = db.Column(TZ, nullable=True)  # of the run whose outputs are served (a re-run keeps them)

    __table_args__ = (
        Index("ix_datasets_user_created", "user_id", "created_at", "id"),
        Index("ix_datasets_collab_created", "collaboration_id", "created_at", "id"),
        Index("ix_datasets_status_updated", "status", "updated_at"),
    )

    def current_run(self) -> Run | None:
        """The latest run's record (None for a run recorded before runs were)."""
        return Run.query.filter_by(dataset_id=self.id, number=self.run).one_or_none()

    @property
    def imputed_key(self) -> str | None:
        """The served run's list of cells it filled in (row, column, value, action), beside its cleaned CSV."""
        return beside(self.cleaned_key, "imputed.csv") if self.cleaned_key else None


def served_run(dataset: Dataset) -> int | None:
    """The run whose outputs the downloads serve (a dataset cleaned before runs kept them beside its raw file)."""
    return None if dataset.cleaned_key is None else run_number(dataset.id, dataset.cleaned_key)


class Run(db.Model):
    """One run of the pipeline over a dataset's raw file (1: the upload, then each reprocess), with its attempts."""
    __tablename__ = "runs"

    id = db.Column(db.Integer, primary_key=True)
    dataset_id = db.Column(db.String(32), db.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False)
    number = db.Column(db.Integer, nullable=False)
    trigger = db.Column(db.String(16), nullable=False, default="upload")  # upload | reprocess
    mode = db.Column(db.String(16), nullable=False)
    target = db.Column(db.String(256), nullable=True)
    options = db.Column(JSON, nullable=True)
    queue = db.Column(db.String(32), nullable=False)
    usage_id = db.Column(db.Integer, nullable=True)  # its ModeUsage: given back when cancelled before it started
    outcome = db.Column(db.String(16), nullable=True)  # a final status; None while queued or processing
    error = db.Column(db.Text, nullable=True)
    # [{attempt, worker, started_at, ended_at, outcome, error}], outcome: completed, failed, retrying,
    # interrupted (a crash or a shutdown put it back), crashed, cancelled
    attempts = db.Column(JSON, nullable=False, default=list)
    callback_url = db.Column(db.Text, nullable=True)  # POSTed to when the run ends (jobs.webhooks)
    webhook_token_id = db.Column(db.Integer, nullable=True)  # whose webhook secret signs; None: WEBHOOK_SECRET
    # [{delivery, attempt, at, status_code, error, outcome}]: every POST to callback_url
    deliveries = db.Column(JSON, nullable=True)
    created_at = db.Column(TZ, nullable=False, default=utcnow)
    started_at = db.Column(TZ, nullable=True)
    ended_at = db.Column(TZ, nullable=True)

    __table_args__ = (Index("ix_runs_dataset_number", "dataset_id", "number", unique=True),)

    def begin_attempt(self, attempt: int, worker: str | None) -> None:
        """A worker took the run: an attempt left open was interrupted (its worker died or shut down)."""
        now = utcnow().isoformat()
        attempts = [dict(a, outcome="interrupted", ended_at=now) if a.get("ended_at") is None else a
                    for a in self.attempts or []]
        attempts.append({"attempt": attempt, "worker": worker, "started_at": now, "ended_at": None,
                         "outcome": None, "error": None})
        self.attempts = attempts  # a new list: JSON columns only save on assignment
        self.started_at = self.started_at or utcnow()

    def end_attempt(self, outcome: str, error: str | None = None, final: bool = True) -> None:
        """Close the open attempt; a final one ends the run with the same outcome."""
        now = utcnow()
        attempts = list(self.attempts or [])
        if attempts and attempts[-1].get("ended_at") is None:
            attempts[-1] = dict(attempts[-1], outcome=outcome, error=error, ended_at=now.isoformat())
        self.attempts = attempts
        if final:
            self.outcome, self.error, self.ended_at = outcome, error, now


class StepLog(db.Model):
    __tablename__ = "step_logs"

    id = db.Column(db.Integer, primary_key=True)
    dataset_id = db.Column(db.String(32), db.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False)
    step = db.Column(db.String(16), nullable=False)
    seq = db.Column(db.Integer, nullable=False)
    column = db.Column(db.String(512), nullable=True)
    action = db.Column(db.String(64), nullable=False)
    count = db.Column(db.Integer, nullable=False, default=0)
    params = db.Column(JSON, nullable=True)
    source = db.Column(db.String(16), nullable=False, default="heuristic")
    before = db.Column(JSON, nullable=True)
    after = db.Column(JSON, nullable=True)
    message = db.Column(db.Text, nullable=True)
    created_at = db.Column(TZ, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_step_logs_dataset_step_seq", "dataset_id", "step", "seq"),)


class CleaningReport(db.Model):
    __tablename__ = "cleaning_reports"

    id = db.Column(db.Integer, primary_key=True)
    dataset_id = db.Column(
        db.String(32), db.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    mode = db.Column(db.String(16), nullable=False)
    source = db.Column(db.String(16), nullable=False, default="heuristic")
    reasoning = db.Column(JSON, nullable=True)
    summary = db.Column(db.Text, nullable=True)
    recommendations = db.Column(JSON, nullable=True)
    # {"changed": [...], "flagged": [...], "left_alone": [...]}, items {column, action, count, why, examples};
    # None for reports recorded before 0005
    details = db.Column(JSON, nullable=True)
    created_at = db.Column(TZ, nullable=False, default=utcnow)

    def listed(self, kind: str) -> list[dict]:
        """One of the report's three lists ('changed', 'flagged', 'left_alone'); empty for older reports."""
        items = (self.details or {}).get(kind) if isinstance(self.details, dict) else None
        return items if isinstance(items, list) else []

    @property
    def changed(self) -> list[dict]:
        return self.listed("changed")

    @property
    def flagged(self) -> list[dict]:
        return self.listed("flagged")

    @property
    def left_alone(self) -> list[dict]:
        return self.listed("left_alone")


class ModeUsage(db.Model):
    __tablename__ = "mode_usage"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.String(128), nullable=False)
    mode = db.Column(db.String(16), nullable=False)
    dataset_id = db.Column(db.String(32), db.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=True)
    created_at = db.Column(TZ, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_mode_usage_user_mode_created", "user_id", "mode", "created_at"),)


class SavedPlan(db.Model):
    """A named cleaning plan: each save of a name is its next version, owned like a dataset."""

    __tablename__ = "plans"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(128), nullable=False)
    version = db.Column(db.Integer, nullable=False)
    user_id = db.Column(db.String(128), nullable=False)
    collaboration_id = db.Column(db.String(128), nullable=True)
    source_dataset_id = db.Column(db.String(32), nullable=True)  # no foreign key: the plan outlives its dataset
    document = db.Column(JSON, nullable=False)
    created_at = db.Column(TZ, nullable=False, default=utcnow)
    deleted_at = db.Column(TZ, nullable=True)  # a deleted version keeps its row (emptied): numbers are not reused

    __table_args__ = (db.UniqueConstraint("user_id", "name", "version", name="uq_plans_user_name_version"),)


class QuotaLock(db.Model):
    """One row per (user, mode): updating it serialises concurrent quota checks on any database."""

    __tablename__ = "quota_locks"

    user_id = db.Column(db.String(128), primary_key=True)
    mode = db.Column(db.String(16), primary_key=True)
    touched_at = db.Column(TZ, nullable=False, default=utcnow)


class Graph(db.Model):
    __tablename__ = "graphs"

    id = db.Column(db.Integer, primary_key=True)
    dataset_id = db.Column(db.String(32), db.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False)
    kind = db.Column(db.String(32), nullable=False)
    column = db.Column(db.String(512), nullable=True)
    title = db.Column(db.String(512), nullable=False)
    storage_key = db.Column(db.String(512), nullable=False)
    width = db.Column(db.Integer, nullable=False)
    height = db.Column(db.Integer, nullable=False)
    created_at = db.Column(TZ, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_graphs_dataset", "dataset_id"),)


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.String(128), nullable=False)
    name = db.Column(db.String(128), nullable=True)
    token_hash = db.Column(db.String(128), nullable=False, unique=True)
    shown = db.Column(db.String(16), nullable=False, default="")  # the token's first characters, for listings
    collaborations = db.Column(JSON, nullable=False, default=list)
    operator = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())  # sees /metrics
    callback_url = db.Column(db.Text, nullable=True)  # the webhook of this token's uploads unless one is given
    webhook_secret = db.Column(db.String(128), nullable=True)  # signs them (kept: signing needs it)
    created_at = db.Column(TZ, nullable=False, default=utcnow)
    last_used_at = db.Column(TZ, nullable=True)
    revoked_at = db.Column(TZ, nullable=True)
