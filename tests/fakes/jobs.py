"""A job a test holds busy on a real worker for as long as it needs, whatever the machine's speed."""
from __future__ import annotations

import time

from rq import get_current_job


def hold(release_key: str, limit: float = 120.0) -> str:
    """Run until `release_key` exists in the job's Redis (or `limit` seconds pass, so nothing hangs)."""
    connection = get_current_job().connection
    deadline = time.monotonic() + limit
    while not connection.exists(release_key):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{release_key} was never set")
        time.sleep(0.05)
    return "released"
