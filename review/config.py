"""Configuration classes for the three environments of DESIGN §6.

Embedded runs with no services at all (SQLite, eager tasks) so that `make run` works on a bare laptop;
Production takes every secret and address from the environment and refuses to start without them.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from celery.schedules import crontab

from review.clock import DEFAULT_ZONE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REGISTER_MIN_KEY_LENGTH = 32


def register_keyring(text: str) -> dict[str, str]:
    """Retired register keys, `id:key` pairs separated by commas, still trusted to verify what they signed."""
    pairs = (item.strip().partition(":") for item in text.split(",") if item.strip())
    return {key_id: key for key_id, _, key in pairs}


def instance_secret(name: str) -> str:
    """A secret kept in instance/<name>, made on first use, so the embedded run signs with a key of its own."""
    path = PROJECT_ROOT / "instance" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(secrets.token_hex(32))
    except FileExistsError:
        pass  # made by an earlier start (or by a process starting at the same moment)
    return path.read_text().strip()


class BaseConfig:
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    WTF_CSRF_TIME_LIMIT = None  # a reviewer may keep a scoresheet open for hours
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = DEFAULT_ZONE
    LANGUAGES = ("en", "zh_CN")
    MAX_CONTENT_LENGTH = 1024 * 1024
    """Every request body not given its own limit below (forms, the API's GETs); refused before it is read."""
    API_MAX_JSON_BYTES = 2 * 1024 * 1024
    """A JSON body sent to the hospital API (a batch of MAX_CASES cases fits)."""
    UPLOAD_MAX_BYTES = 40 * 1024 * 1024
    UPLOAD_MAX_REQUEST_BYTES = 5 * UPLOAD_MAX_BYTES
    """One evidence form post, which may carry several files (each still within UPLOAD_MAX_BYTES)."""
    UPLOAD_MAX_FILES_PER_ITEM = 30
    IMPORT_MAX_BYTES = 200 * 1024 * 1024
    IMPORT_MAX_ROWS = 200_000
    IMPORT_WORKERS = int(os.environ.get("IMPORT_WORKERS", os.cpu_count() or 1))  # processes checking rows
    RATELIMIT_STORAGE_URI = "memory://"
    # Redis down must not take the login with it: the throttle falls back to per-process memory (logged as a
    # warning by Flask-Limiter) and goes back to Redis when it answers again.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    RATELIMIT_HEADERS_ENABLED = True
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", 30))
    """A session unused this long is over; checked on the server from the time kept in the session."""
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", 12))
    """A session is over this long after its login, however active."""
    LOGIN_RATE_LIMIT = "10 per minute"
    """Failed logins from one address (successful ones do not count)."""
    LOGIN_USERNAME_RATE_LIMIT = "5 per minute"
    """Failed logins for one user name, from any address: guessing one account from many machines."""
    VERIFY_RATE_LIMIT = "30 per minute"
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", 0))
    """Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none, served directly)."""
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    INVITATION_HOURS = int(os.environ.get("INVITATION_HOURS", "72"))
    """How long a one-time link to set a password stays valid (review/services/users.py)."""
    """The bureau's public address, printed on letters before /verify/<code> (relative when empty)."""
    ASSIGNMENT_CANDIDATES_PER_ITEM = int(os.environ.get("ASSIGNMENT_CANDIDATES_PER_ITEM", 50))
    """Per item and specialty tier, the lowest-noise candidates the solver considers (0: all)."""
    DRG_WEIGHTS_FILE = str(PROJECT_ROOT / "review" / "data" / "ms_drg_v43_fy2026_weights.csv")
    JOB_STALE_AFTER_SECONDS = float(os.environ.get("JOB_STALE_AFTER_SECONDS", 300))
    """A running job whose heartbeat is older than this lost its worker; far above the slowest single step."""
    JOB_LOST_AFTER_SECONDS = float(os.environ.get("JOB_LOST_AFTER_SECONDS", 1800))
    """A job sent this long ago and not started is presumed lost with its message; above the longest queue wait."""
    JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", 5))
    JOB_SWEEP_SECONDS = float(os.environ.get("JOB_SWEEP_SECONDS", 60))
    """How often Celery beat runs the sweeper (review.sweep_jobs)."""
    CELERY: dict = {
        "timezone": DEFAULT_ZONE,
        "beat_schedule": {
            "calendar-daily": {"task": "review.run_calendar", "schedule": crontab(hour=0, minute=15)},
            # a sweep not run within its period is dropped: the next one does the same work
            "jobs-sweep": {"task": "review.sweep_jobs", "schedule": JOB_SWEEP_SECONDS,
                           "options": {"expires": JOB_SWEEP_SECONDS}},
            "register-anchor": {"task": "review.anchor_register", "schedule": crontab(hour=23, minute=55)},
        },
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,  # a killed pool child hands its message back instead of losing it
        "worker_prefetch_multiplier": 1,
    }
    PAGE_SIZE = 25
    REGISTER_HMAC_KEY_ID = os.environ.get("REGISTER_HMAC_KEY_ID", "1")
    """The id stored with every register row and head it signs, so the key can rotate (REGISTER_HMAC_KEYS)."""
    REGISTER_HMAC_KEYS: dict[str, str] = register_keyring(os.environ.get("REGISTER_HMAC_KEYS", ""))
    """Retired register keys by id: they verify the rows they signed and sign nothing new."""
    REGISTER_ANCHOR_DIR = os.environ.get("REGISTER_ANCHOR_DIR", str(PROJECT_ROOT / "instance" / "anchors"))
    """Where the daily signed anchors of the register's heads are appended; best a store the database's
    administrators cannot rewrite."""


class EmbeddedConfig(BaseConfig):
    """First run on one machine: SQLite under instance/, tasks run in-process."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "embedded-demo-only-secret")
    INSTANCE_DIR = str(PROJECT_ROOT / "instance")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'instance' / 'review.sqlite'}"
    )
    UPLOAD_DIR = str(PROJECT_ROOT / "instance" / "uploads")
    OUTBOX_DIR = str(PROJECT_ROOT / "instance" / "outbox")
    CELERY = {**BaseConfig.CELERY, "task_always_eager": True, "task_eager_propagates": True,
              "broker_url": "memory://"}

    def __init__(self) -> None:
        self.REGISTER_HMAC_KEY = os.environ.get("REGISTER_HMAC_KEY") or instance_secret("register-hmac.key")
        self.REGISTER_ANCHOR_KEY = os.environ.get("REGISTER_ANCHOR_KEY") or instance_secret("register-anchor.key")


class TestConfig(BaseConfig):
    """Each test gets its own database URL and upload folder from the fixtures."""

    TESTING = True
    SECRET_KEY = "test-secret"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    UPLOAD_DIR = ""
    REGISTER_HMAC_KEY = "test-register-hmac-key-of-32-chars"
    REGISTER_ANCHOR_KEY = "test-register-anchor-key-32-chars"
    CELERY = {**BaseConfig.CELERY, "task_always_eager": True, "task_eager_propagates": True,
              "broker_url": "memory://"}


class ProductionConfig(BaseConfig):
    """Several web and worker processes share PostgreSQL and Redis; nothing lives in process memory."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    def __init__(self) -> None:
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "UPLOAD_DIR", "REGISTER_HMAC_KEY",
                                     "REGISTER_ANCHOR_KEY") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"production configuration needs environment variables: {', '.join(missing)}")
        short = [name for name in ("REGISTER_HMAC_KEY", "REGISTER_ANCHOR_KEY")
                 if len(os.environ[name]) < REGISTER_MIN_KEY_LENGTH]
        if short:
            raise RuntimeError(f"{', '.join(short)}: at least {REGISTER_MIN_KEY_LENGTH} characters of random")
        if not os.environ.get("PUBLIC_BASE_URL", "").startswith(("https://", "http://")):
            # printed on every letter as the verification address: a relative one cannot be typed or scanned
            raise RuntimeError("production configuration needs PUBLIC_BASE_URL, the bureau's public address "
                               "(https://…) printed on letters before /verify/<code>")
        self.PUBLIC_BASE_URL = os.environ["PUBLIC_BASE_URL"]
        self.SECRET_KEY = os.environ["SECRET_KEY"]
        self.REGISTER_HMAC_KEY = os.environ["REGISTER_HMAC_KEY"]
        self.REGISTER_ANCHOR_KEY = os.environ["REGISTER_ANCHOR_KEY"]
        self.SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]
        self.UPLOAD_DIR = os.environ["UPLOAD_DIR"]
        self.RATELIMIT_STORAGE_URI = os.environ["REDIS_URL"]
        self.CELERY = {**BaseConfig.CELERY, "broker_url": os.environ["REDIS_URL"],
                       "task_default_queue": os.environ.get("CELERY_QUEUE", "review")}


CONFIGS = {"embedded": EmbeddedConfig, "test": TestConfig, "production": ProductionConfig}
