"""Configuration: the only module that reads environment variables."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer; got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def shown_url(url: str) -> str:
    """A service URL fit for output: its password replaced (redis://:secret@host → redis://:***@host)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def normalize_database_url(url: str) -> str:
    """Accept `postgres://` as Heroku writes it, and use psycopg2 when no driver is named.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3; we ship psycopg2.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


class Config:
    """Settings read from the environment once, at app creation."""

    def __init__(self) -> None:  # noqa: PLR0915 - one statement per setting
        env = os.environ
        self.PORT = _int("PORT", 8000)
        self.STORAGE_BACKEND = env.get("STORAGE_BACKEND", "local")
        self.STORAGE_DIR = str(Path(env.get("STORAGE_DIR", str(ROOT / "storage"))).resolve())
        default_db = f"sqlite:///{Path(self.STORAGE_DIR) / 'wrangler.db'}"
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(env.get("DATABASE_URL", default_db))
        self.REDIS_URL = env.get("REDIS_URL", "redis://localhost:6379/0")
        self.S3_BUCKET = env.get("S3_BUCKET")
        self.S3_ENDPOINT_URL = env.get("S3_ENDPOINT_URL")
        self.S3_PREFIX = env.get("S3_PREFIX", "")
        self.S3_PRESIGN_SECONDS = _int("S3_PRESIGN_SECONDS", 3600)
        self.S3_DOWNLOADS = env.get("S3_DOWNLOADS", "redirect")  # or "stream": the API relays the bytes
        self.AWS_REGION = env.get("AWS_REGION")
        self.GEMINI_API_KEY = env.get("GEMINI_API_KEY")
        self.GEMINI_MODEL = env.get("GEMINI_MODEL", "gemini-2.5-flash")
        self.GEMINI_BASE_URL = env.get("GEMINI_BASE_URL")
        self.GEMINI_TIMEOUT = _int("GEMINI_TIMEOUT", 30)
        self.AUTH_MODE = env.get("AUTH_MODE", "open")
        self.RAW_RETENTION_DAYS = _int("RAW_RETENTION_DAYS", 0)  # 0 keeps original uploads forever
        # Proxies in front (Heroku's router: 1) whose X-Forwarded-For/-Proto we believe; 0 = none.
        self.PROXY_HOPS = _int("PROXY_HOPS", 1)
        self.LOGIN_COOKIE_DAYS = _int("LOGIN_COOKIE_DAYS", 7)  # token mode: how long the pages remember a token
        self.SECRET_KEY = env.get("SECRET_KEY") or None  # signs the pages' session cookie (token mode)
        # Host names served (Host header, DNS rebinding); None = open mode's loopback names, any in token mode.
        hosts = [h.strip() for h in env.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
        self.ALLOWED_HOSTS = hosts or None
        self.MAX_UPLOAD_MB = _int("MAX_UPLOAD_MB", 200)
        self.MAX_ROWS = _int("MAX_ROWS", 1_000_000)
        self.MAX_COLUMNS = _int("MAX_COLUMNS", 500)
        # Intake (jobs.pipeline.bounds): a column name's length; the cells an .xlsx sheet may make a
        # reader materialise, empty ones between filled ones included (its XML: 64 bytes a cell at most).
        self.MAX_COLUMN_NAME = _int("MAX_COLUMN_NAME", 256)
        self.MAX_XLSX_CELLS = _int("MAX_XLSX_CELLS", 5_000_000)
        # Bounded jobs (jobs.limits). Text decodes to about 2x its size, so 4x admits any plain upload;
        # the largest result (features CSV) measured 1.6x the decoded table; a 200 MB CSV job maps ~3.1 GB.
        self.MAX_DECODED_MB = _int("MAX_DECODED_MB", 4 * self.MAX_UPLOAD_MB)
        self.MAX_OUTPUT_MB = _int("MAX_OUTPUT_MB", 2 * self.MAX_DECODED_MB)
        self.JOB_MEMORY_MB = _int("JOB_MEMORY_MB", 4096)  # RLIMIT_AS of each forked job; 0 = no ceiling
        # A job alone on its machine forks children for half its column work and for EDA (jobs.limits.cores_to_spare).
        self.JOB_PARALLEL = _bool("JOB_PARALLEL", (os.cpu_count() or 1) > 1)
        self.SMART_QUOTA = _int("SMART_QUOTA", 3)
        self.DEEP_QUOTA = _int("DEEP_QUOTA", 1)
        self.QUOTA_WINDOW_HOURS = _int("QUOTA_WINDOW_HOURS", 0)
        # Per-user fairness (app.limits, app.quotas); "off" / 0 switches one off.
        rate = env.get("UPLOAD_RATE_LIMIT", "").strip() or "30/minute;300/hour"
        self.UPLOAD_RATE_LIMIT = "" if rate.lower() == "off" else rate
        self.USER_STORAGE_MB = _int("USER_STORAGE_MB", 2048)  # originals a user keeps stored
        self.MAX_JOBS_IN_FLIGHT = _int("MAX_JOBS_IN_FLIGHT", 10)  # a user's datasets queued or processing
        self.ALLOW_PRIVATE_URLS = _bool("ALLOW_PRIVATE_URLS", False)
        self.URL_FETCH_TIMEOUT = _int("URL_FETCH_TIMEOUT", 60)
        # Worker liveness: how often a worker checks its job, reclaims abandoned jobs and
        # re-enqueues datasets whose job vanished. Small values make crash recovery fast.
        self.WORKER_MONITOR_INTERVAL = _int("WORKER_MONITOR_INTERVAL", 5)
        self.WORKER_MAINTENANCE_INTERVAL = _int("WORKER_MAINTENANCE_INTERVAL", 15)
        self.RECONCILE_GRACE_SECONDS = _int("RECONCILE_GRACE_SECONDS", 30)
        # After SIGTERM a running job gets this long, then goes back on its queue (Heroku kills at 30 s).
        self.WORKER_SHUTDOWN_GRACE = _int("WORKER_SHUTDOWN_GRACE", 20)
        # Direct uploads (POST /dataset/upload-url): how long the client has to send the file and complete.
        self.UPLOAD_URL_SECONDS = _int("UPLOAD_URL_SECONDS", 3600)
        # Completion webhooks (jobs.webhooks): the signing secret when the token has none of its own.
        self.WEBHOOK_SECRET = env.get("WEBHOOK_SECRET") or None
        self.WEBHOOK_TIMEOUT = _int("WEBHOOK_TIMEOUT", 10)
        # Live progress (GET /dataset/{id}/events): each stream holds a web thread, so a process serves at most
        # EVENTS_MAX_STREAMS of its WEB_THREADS as streams; the rest stay free for uploads and status calls.
        self.WEB_THREADS = _int("WEB_THREADS", 16)
        self.EVENTS_MAX_STREAMS = _int("EVENTS_MAX_STREAMS", max(1, self.WEB_THREADS - 4))
        self.EVENTS_HEARTBEAT_SECONDS = _int("EVENTS_HEARTBEAT_SECONDS", 15)
        self.EVENTS_MAX_SECONDS = _int("EVENTS_MAX_SECONDS", 300)
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO")
        # One JSON object per line on a dyno (log drains parse it); readable text on a laptop.
        self.LOG_FORMAT = env.get("LOG_FORMAT") or ("json" if env.get("DYNO") else "text")
        # Heroku: the dyno's name (e.g. "worker.3") names its RQ worker; the autoscaler's
        # heroku backend scales formations through the Platform API.
        self.DYNO = env.get("DYNO")
        self.HEROKU_API_KEY = env.get("HEROKU_API_KEY")
        self.HEROKU_APP_NAME = env.get("HEROKU_APP_NAME")
        self.HEROKU_API_URL = env.get("HEROKU_API_URL", "https://api.heroku.com")
        self.HEROKU_PROCESS_TYPES = env.get("HEROKU_PROCESS_TYPES", "")
        self._derive()

    def _derive(self) -> None:
        # Multipart framing adds a little to the body; the exact file-size limit is
        # enforced while the upload streams to storage.
        self.MAX_CONTENT_LENGTH = self.MAX_UPLOAD_MB * 1024 * 1024 + 1024 * 1024
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.JSON_SORT_KEYS = False
        # The pages' signed session cookie: a token reference, never the token (Secure is set per request).
        self.SESSION_COOKIE_NAME = "wrangler_session"
        self.SESSION_COOKIE_SAMESITE = "Strict"
        self.PERMANENT_SESSION_LIFETIME = timedelta(days=self.LOGIN_COOKIE_DAYS)

    def override(self, **values) -> "Config":
        for key, value in values.items():
            setattr(self, key, value)
        self._derive()
        return self


class TestConfig(Config):
    """Settings for the test suite: its own database, Redis db and storage folder."""

    TESTING = True

    def __init__(self, *, database_url: str, redis_url: str, storage_dir: str, **values) -> None:
        super().__init__()
        self.TESTING = True
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(database_url)
        self.REDIS_URL = redis_url
        self.STORAGE_DIR = storage_dir
        self.GEMINI_API_KEY = None
        self.SECRET_KEY = "test-secret-key"  # token mode's pages sign in as in production
        self.override(**values)


def test_settings() -> dict[str, str]:
    """Where the test suite's database and Redis live (TEST_DATABASE_URL, TEST_REDIS_URL)."""
    return {
        "database_url": os.environ.get("TEST_DATABASE_URL", ""),
        "redis_url": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13"),
    }
