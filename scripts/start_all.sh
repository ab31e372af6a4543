#!/usr/bin/env bash
# `make run`: find or start Redis, migrate the database, then run web + autoscaler (which runs the workers) under honcho.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
REDIS_URL="$(scripts/ensure_redis.sh)"
export REDIS_URL PORT="${PORT:-8000}"
flask --app wsgi db upgrade
cat <<MSG

  Wrangler is starting on http://localhost:${PORT}  (Redis: ${REDIS_URL})
  Try it:
    curl -F file=@samples/sales.csv -F user_id=me http://localhost:${PORT}/dataset/upload
    curl http://localhost:${PORT}/dataset/<dataset_id>/status
    curl -o cleaned.csv http://localhost:${PORT}/dataset/<dataset_id>/cleaned

MSG
exec honcho start -f Procfile web autoscaler
