#!/usr/bin/env bash
# Is Redis (REDIS_URL) reachable, and how is it doing? Exit 1 when it is down.
set -uo pipefail
url="${1:-${REDIS_URL:-redis://localhost:6379/0}}"
command -v redis-cli >/dev/null || { echo "redis-cli is not installed (apt-get install redis-tools)" >&2; exit 2; }
# redis://[user]:password@host: the password goes to redis-cli in REDISCLI_AUTH (percent-decoded), never
# on a command line (ps) or in output; the URL kept without it is the one shown.
userinfo=$(sed -nE 's#^[a-z]+://([^/]*)@.*#\1#p' <<<"$url")  # up to the last @, as redis-py reads it
url=$(sed -E 's#^([a-z]+://)[^/]*@#\1#' <<<"$url")
user=()
if [ -n "$userinfo" ]; then
  password=${userinfo#*:}
  [ "$userinfo" = "$password" ] || [ -z "${userinfo%%:*}" ] || user=(--user "${userinfo%%:*}")
  password=${password//\\/\\\\}  # a backslash stays a backslash; %XX becomes its byte
  REDISCLI_AUTH=$(printf '%b' "${password//%/\\x}")
  export REDISCLI_AUTH
fi
cli() { redis-cli -u "$url" "${user[@]}" --no-auth-warning "$@"; }

if ! pong=$(cli PING 2>&1) || [ "$pong" != "PONG" ]; then
  echo "DOWN  $url: ${pong:-no answer}" >&2
  exit 1
fi
info() { cli INFO "$1" | tr -d '\r' | grep -E "^($2):" ; }
echo "UP    $url $(info server 'redis_version|uptime_in_seconds' | paste -sd' ')"
echo "mem   $(info memory 'used_memory_human|used_memory_peak_human|maxmemory_human|maxmemory_policy' | paste -sd' ')"
echo "load  $(info clients 'connected_clients|blocked_clients' | paste -sd' ') $(info stats 'instantaneous_ops_per_sec|keyspace_hits|keyspace_misses|evicted_keys' | paste -sd' ')"
echo "disk  $(info persistence 'rdb_last_bgsave_status|aof_enabled' | paste -sd' ')"
# An eviction policy other than noeviction can silently drop queued jobs (the database reconcile brings them back).
policy=$(info memory maxmemory_policy | cut -d: -f2)
[ "$policy" = "noeviction" ] || echo "WARN  maxmemory_policy is $policy: Redis may evict queued jobs; use noeviction" >&2
# Queue names from jobs/queues.py (the one place for them), else those RQ has registered in this Redis.
root="$(dirname "$0")/.."
py="$root/.venv/bin/python"; [ -x "$py" ] || py=python3  # the checkout's environment, else the deployed one
queues=$(cd "$root" && "$py" -c 'from jobs.queues import QUEUE_NAMES; print(*QUEUE_NAMES)' 2>/dev/null) \
  || queues=$(cli SMEMBERS rq:queues | sed 's#^rq:queue:##')
for queue in $queues; do
  echo "queue $queue: $(cli LLEN "rq:queue:$queue") waiting, $(cli ZCARD "rq:wip:$queue") started, $(cli ZCARD "rq:failed:$queue") failed"
done
echo "workers $(cli SCARD rq:workers)"
