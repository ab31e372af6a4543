"""Database models: datasets, step logs, reports, mode usage, graphs, API tokens."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import Enum

from sqlalchemy import JSON, Index

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns: they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class Status(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class Stage(str, Enum):
    LOADING = "loading"
    CLEANING = "cleaning"
    EDA = "eda"
    OUTLIERS = "outliers"
    FEATURES = "features"
    SAVING = "saving"


class Mode(str, Enum):
    FAST = "fast"
    SMART = "smart"
    DEEP = "deep"


class LogStep(str, Enum):
    CLEANING = "cleaning"
    OUTLIERS = "outliers"
    FEATURES = "features"


LOG_STEPS = tuple(step.value for step in LogStep)


TZ = db.DateTime(timezone=True)


class Dataset(db.Model):
    __tablename__ = "datasets"

    id = db.Column(db.String(32), primary_key=True, default=new_id)
    user_id = db.Column(db.String(128), nullable=False, default="anonymous")
    collaboration_id = db.Column(db.String(128), nullable=True)
    mode = db.Column(db.String(16), nullable=False, default=Mode.FAST.value)
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
    created_at = db.Column(TZ, nullable=False, default=utcnow)
    updated_at = db.Column(TZ, nullable=False, default=utcnow, onupdate=utcnow)
    started_at = db.Column(TZ, nullable=True)
    completed_at = db.Column(TZ, nullable=True)

    __table_args__ = (
        Index("ix_datasets_user_created", "user_id", "created_at", "id"),
        Index("ix_datasets_collab_created", "collaboration_id", "created_at", "id"),
        Index("ix_datasets_status_updated", "status", "updated_at"),
    )

    @property
    def imputed_key(self) -> str:
        """Where the worker saves the cells it filled in (row, column, value, action)."""
        return f"datasets/{self.id}/imputed.csv"


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
    created_at = db.Column(TZ, nullable=False, default=utcnow)
    last_used_at = db.Column(TZ, nullable=True)
    revoked_at = db.Column(TZ, nullable=True)
