"""The database's view of the work: datasets by status, and those stuck in queued or processing."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func

from app.extensions import db
from app.models import Dataset, Status, utcnow
from jobs.clock import iso


def status_counts() -> dict[str, int]:
    counts = dict(db.session.query(Dataset.status, func.count()).group_by(Dataset.status).all())
    return {s.value: counts.get(s.value, 0) for s in Status}


def dataset_overview(stuck_after_seconds: int = 900, limit: int = 50) -> dict:
    cutoff = utcnow() - timedelta(seconds=stuck_after_seconds)
    stuck = (Dataset.query.filter(Dataset.status.in_([Status.QUEUED.value, Status.PROCESSING.value]),
                                  Dataset.updated_at < cutoff)
             .order_by(Dataset.updated_at).limit(limit).all())
    return {"by_status": status_counts(), "stuck_after_s": stuck_after_seconds,
            "stuck": [{"dataset_id": d.id, "status": d.status, "stage": d.stage, "progress": d.progress,
                       "attempts": d.attempts, "mode": d.mode, "user_id": d.user_id,
                       "updated_at": iso(d.updated_at), "progress_info": d.progress_info} for d in stuck]}


def render(overview: dict) -> str:
    lines = ["  ".join(f"{status}: {count}" for status, count in overview["by_status"].items())]
    stuck = overview["stuck"]
    lines.append(f"{len(stuck)} dataset(s) queued or processing with no change for {overview['stuck_after_s']} s"
                 + (":" if stuck else "."))
    lines += [f"  {d['dataset_id']}  {d['status']:<10} {d['stage'] or '-':<9} {d['progress']:>3}%  "
              f"attempts {d['attempts']}  since {d['updated_at']}" for d in stuck]
    return "\n".join(lines)
