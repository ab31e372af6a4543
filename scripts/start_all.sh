#!/usr/bin/env bash
# `make run`: find or start Redis, migrate the database, then run web + autoscaler (which runs the workers) under honcho.
# The web process binds BIND_HOST, 127.0.0.1 here unless given (the Procfile's own default, 0.0.0.0, is for PaaS routers).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
REDIS_URL="$(scripts/ensure_redis.sh)"
export REDIS_URL PORT="${PORT:-8000}" BIND_HOST="${BIND_HOST:-127.0.0.1}"
flask --app wsgi db upgrade
shown_redis=$(sed -E 's#//[^/]*@#//***@#' <<<"$REDIS_URL")  # never print a password
case "$BIND_HOST" in
  127.*|localhost|::1) ;;
  *) [ "${AUTH_MODE:-open}" = token ] || echo "WARNING: AUTH_MODE=open on ${BIND_HOST}: anyone who reaches this port acts as any user." >&2 ;;
esac
cat <<MSG

  Wrangler is starting on http://${BIND_HOST}:${PORT}  (Redis: ${shown_redis})
  Try it:
    curl -F file=@samples/sales.csv -F user_id=me http://localhost:${PORT}/dataset/upload
    curl http://localhost:${PORT}/dataset/<dataset_id>/status
    curl -o cleaned.csv http://localhost:${PORT}/dataset/<dataset_id>/cleaned

MSG
exec honcho start -f Procfile web autoscaler
