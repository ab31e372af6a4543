"""Run one RQ worker on the dataset queues, with pandas and the pipeline preloaded."""
from __future__ import annotations

import argparse
import logging
import os
import sys

# Read by pyarrow as it loads: its default pool (jemalloc) reserves ~1 GB of address space on first use, which
# every job's RLIMIT_AS (JOB_MEMORY_MB) would count; the system allocator was no slower (measured).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from jobs.queues import QUEUE_NAMES
from jobs.worker import build_worker, preload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queue", "-q", action="append", choices=QUEUE_NAMES,
                        help="queue to listen on (repeatable; default: all, fast first)")
    parser.add_argument("--name", help="worker name (default: wrangler-<host>-<pid>-<random>)")
    parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    parser.add_argument("--max-jobs", type=int, default=None, help="quit after this many jobs")
    args = parser.parse_args(argv)

    preload()
    worker = build_worker(args.queue or list(QUEUE_NAMES), name=args.name)
    logging.getLogger(__name__).info("worker %s listening on %s", worker.name, ", ".join(worker.queue_names()))
    # The scheduler moves retried jobs (with backoff) back onto their queue when due.
    worker.work(burst=args.burst, max_jobs=args.max_jobs, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
