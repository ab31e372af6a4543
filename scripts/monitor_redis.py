"""Show the dataset queues, their workers, the autoscaler's last decision and Redis health."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from redis import Redis
from redis.exceptions import RedisError

from app.config import Config, shown_url
from jobs.scaling.monitor import render, snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="Redis URL (default: REDIS_URL)")
    parser.add_argument("--json", action="store_true", help="one JSON object per snapshot")
    parser.add_argument("--watch", action="store_true", help="refresh until interrupted")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between snapshots with --watch")
    args = parser.parse_args(argv)
    url = args.url or Config().REDIS_URL
    print(f"reading {shown_url(url)}", file=sys.stderr)  # which Redis: the usual question after a fault
    connection = Redis.from_url(url, socket_connect_timeout=3)
    try:
        while True:
            data = snapshot(connection)
            if args.json:
                print(json.dumps(data), flush=True)
            else:
                if args.watch and sys.stdout.isatty():
                    os.system("clear")
                print(render(data), flush=True)
            if not args.watch:
                return 0
            time.sleep(args.interval)
    except RedisError as exc:
        print(f"Redis unavailable at {shown_url(url)}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
