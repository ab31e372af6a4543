"""Every Redis key the service owns (RQ's own `rq:*` keys are RQ's): one place to see what lives in Redis."""
from __future__ import annotations

PREFIX = "wrangler"  # also the rate limiter's key prefix (app.limits)
EVENTS_KEY = f"{PREFIX}:events:{{dataset_id}}"  # stream: a dataset's progress and state events (jobs.events)
COMPLETIONS_KEY = f"{PREFIX}:completions:{{queue}}:{{minute}}"  # counter: jobs finished per queue and minute
OUTCOME_KEY = f"{PREFIX}:jobs:{{queue}}"  # hash: outcome → count (jobs.scaling.counters)
DURATION_KEY = f"{PREFIX}:duration:{{mode}}"  # hash: bucket upper bound → count, plus sum and count
DECISION_KEY = f"{PREFIX}:autoscaler:last"  # the autoscaler's latest decisions (read by the monitor, /metrics)
RECOVERY_LOCK_KEY = f"{PREFIX}:recovery-lock"  # one recovery pass at a time, whichever process runs it
RETENTION_KEY = f"{PREFIX}:retention:last-run"  # the retention purge runs at most once an interval
