"""Upload many datasets at once over HTTP, follow each to the end, report latencies and failures."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.loadtest import LoadRun, render, stderr_progress
from jobs.pipeline.names import MODES, Mode


def sample_csv(rows: int) -> bytes:
    """A small messy table: currency text, gaps and a category, so every job does real cleaning."""
    lines = ["id,price,city,score"]
    lines += [f"{i},\"${(i * 37) % 5000:,}\",{['Paris', 'paris ', 'Rome', ''][i % 4]},{'' if i % 9 == 0 else i % 97}"
              for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", default="http://localhost:8000", help="the service's base URL")
    p.add_argument("--num", type=int, default=50, help="datasets to upload")
    p.add_argument("--concurrent", type=int, default=10, help="requests in flight at once")
    p.add_argument("--mode", choices=MODES, default=Mode.FAST)
    p.add_argument("--file", type=Path, help="file to upload (default: a generated messy CSV)")
    p.add_argument("--rows", type=int, default=500, help="rows of the generated CSV")
    p.add_argument("--user-id", default="load-test")
    p.add_argument("--token", help="bearer token (AUTH_MODE=token)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for every dataset to finish")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    if args.num < 1 or args.concurrent < 1:
        p.error("--num and --concurrent must be at least 1")

    data = args.file.read_bytes() if args.file else sample_csv(args.rows)
    run = LoadRun(args.url.rstrip("/"), data, filename=args.file.name if args.file else "load.csv", mode=args.mode,
                  user_id=args.user_id, timeout=args.timeout,
                  headers={"Authorization": f"Bearer {args.token}"} if args.token else {})
    report = run.run(args.num, args.concurrent, progress=stderr_progress)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
