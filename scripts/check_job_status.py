"""Datasets by status from the database, and the ones stuck in queued or processing."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stuck-after", type=int, default=900, help="seconds without change that count as stuck")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from app import create_app
    from jobs.overview import dataset_overview, render
    with create_app().app_context():
        overview = dataset_overview(args.stuck_after)
    print(json.dumps(overview) if args.json else render(overview))
    return 1 if overview["stuck"] else 0  # non-zero lets cron or a health check alert on stuck work


if __name__ == "__main__":
    sys.exit(main())
