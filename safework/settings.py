"""SafeWork settings: one module; every deployment value comes from the environment.

The embedded defaults (SQLite under var/, huey on SQLite, console mail) simply run; README.md lists
every variable.
"""

import os
import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


def env_flag(name: str, *, default: bool) -> bool:
    """A strict boolean: unlike env.bool, a typo such as "ture" is an error, not False."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise environ.ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def secret_from(path: Path, nbytes: int = 48) -> str:
    """Read a secret from a 0600 file, creating it on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


VAR_DIR = Path(env.str("SAFEWORK_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)

DEBUG = env_flag("SAFEWORK_DEBUG", default=False)
SECRET_KEY = env.str("SAFEWORK_SECRET_KEY", default="") or secret_from(VAR_DIR / "secret_key")
# The audit key never lives in the database: a row rewritten with database access alone is detected.
AUDIT_KEY = env.str("SAFEWORK_AUDIT_KEY", default="") or secret_from(VAR_DIR / "audit_key")
AUDIT_CHECKPOINT_FILE = Path(
    env.str("SAFEWORK_AUDIT_CHECKPOINTS", default=str(VAR_DIR / "audit-checkpoints.log"))
)
ALLOWED_HOSTS = env.list("SAFEWORK_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("SAFEWORK_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves Swagger UI from local static files, so /api/v1/docs works offline
    "pgtrigger",
    "huey.contrib.djhuey",
    "safework.core",
    "safework.org",
    "safework.people",
    "safework.accounts",
    "safework.certs",
    "safework.demo",  # synthetic demo and bench data (`safework seed`); last: imports every app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "safework.core.middleware.AuditContextMiddleware",
]

ROOT_URLCONF = "safework.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "safework" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "safework.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR}/safework.sqlite3")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # BEGIN IMMEDIATE takes the write lock at once: the audit chain allows one writer at a time.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "safework" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# Deployment limits (administrators' rules are database settings, see core.models.Setting).
UPLOAD_MAX_BYTES = env.int("SAFEWORK_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Background work: huey embedded on its own SQLite file; Redis at scale (SAFEWORK_HUEY=redis).
HUEY_IMMEDIATE = env_flag("SAFEWORK_TASKS_IMMEDIATE", default=False)
if env.str("SAFEWORK_HUEY", default="sqlite") == "redis":
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "safework",
        "url": env.str("REDIS_URL", default="redis://127.0.0.1:6379/0"),
        "immediate": HUEY_IMMEDIATE,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "safework",
        "filename": str(VAR_DIR / "tasks.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
    }

# Job leases (core.jobs): a running job's worker renews its lease; one not renewed for this long
# has lost its worker and is retried or failed. A queued job not started within the queue timeout
# is queued again (a few times), then failed.
JOB_LEASE_SECONDS = env.int("SAFEWORK_JOB_LEASE_SECONDS", default=120)
JOB_QUEUE_TIMEOUT_SECONDS = env.int("SAFEWORK_JOB_QUEUE_TIMEOUT_SECONDS", default=900)

# `safework serve` (the end of `make run`): the web server's port and the demo registry's.
SERVE_PORT = env.int("SAFEWORK_PORT", default=8000)
REGISTRY_PORT = env.int("SAFEWORK_REGISTRY_PORT", default=8001)

# The certificate registry (the national query platform through an adapter; the demo fake).
REGISTRY_URL = env.str("SAFEWORK_REGISTRY_URL", default=f"http://127.0.0.1:{REGISTRY_PORT}")
REGISTRY_TIMEOUT = env.float("SAFEWORK_REGISTRY_TIMEOUT", default=5.0)
REGISTRY_RETRIES = env.int("SAFEWORK_REGISTRY_RETRIES", default=3)
# The circuit breaker: after this many failed look-ups in a row, stop asking for a while.
REGISTRY_BREAKER_THRESHOLD = env.int("SAFEWORK_REGISTRY_BREAKER_THRESHOLD", default=5)
REGISTRY_BREAKER_COOLDOWN = env.float("SAFEWORK_REGISTRY_BREAKER_COOLDOWN", default=30.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("SAFEWORK_LOG_LEVEL", default="WARNING")},
    # The task worker reports what it starts and runs (`safework serve` shows it as "tasks | …").
    "loggers": {"huey": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
