#!/usr/bin/env bash
# Print a reachable Redis URL: $REDIS_URL when it answers, else a private redis-server started here.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${VENV:-.venv}/bin/python"
url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
shown=$(sed -E 's#//[^/]*@#//***@#' <<<"$url")  # messages never carry a password
port="${WRANGLER_REDIS_PORT:-6390}"
private="redis://127.0.0.1:${port}/0"

answers() {
  "$py" -c 'import sys, redis; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()' "$1" 2>/dev/null
}

if answers "$url"; then echo "$url"; exit 0; fi
if answers "$private"; then echo "$private"; exit 0; fi
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Redis is not reachable at $shown; installing Debian's redis-server..." >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
  else
    echo "Redis is not reachable at $shown and redis-server is not installed." >&2
    echo "Install it (sudo apt-get install redis-server) or set REDIS_URL to a running Redis." >&2
    exit 1
  fi
fi
mkdir -p storage/run
echo "Starting a private redis-server on 127.0.0.1:${port} (nothing kept on disk)..." >&2
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
  --pidfile "$PWD/storage/run/redis.pid" --logfile "$PWD/storage/run/redis.log" >&2
for _ in $(seq 50); do
  if answers "$private"; then echo "$private"; exit 0; fi
  sleep 0.1
done
echo "redis-server did not start; see storage/run/redis.log" >&2
exit 1
