"""SafeWork settings: one module; every deployment value comes from the environment.

The embedded defaults (SQLite under var/, huey on SQLite, console mail) simply run; README.md lists
every variable.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.utils.csp import CSP

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
    "django_htmx",
    "rules",  # the plain app (template tags); each app imports its permissions.py in ready()
    "safework.core",
    "safework.org",
    "safework.work",
    "safework.people",
    "safework.accounts",
    "safework.notify",
    "safework.certs",
    "safework.registry",
    "safework.ledger",
    "safework.qualification",
    "safework.rosters",
    "safework.permits",
    "safework.reports",
    "safework.web",
    "safework.demo",  # synthetic demo and bench data (`safework seed`); last: imports every app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "safework.core.middleware.ApiErrorMiddleware",  # errors under /api/ as JSON, whoever wrote them
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # request.htmx: pages answer htmx with a partial
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
                "safework.web.context_processors.navigation",
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
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Server-side parameters and prepared statements: a statement run a second time on a
    # connection skips PostgreSQL's parse and plan (a permit's lifecycle: 170 -> 137 ms, see
    # bench/permits_bench.py). Behind a transaction-pooling PgBouncer, set
    # SAFEWORK_PG_PREPARE_THRESHOLD= (empty: never prepare). Such a cursor runs one statement
    # per call: a statement list needs a client-side cursor (qualification.facts), and
    # pgtrigger.ignore (which prefixes every query with a statement) does not work.
    _prepare = env.str("SAFEWORK_PG_PREPARE_THRESHOLD", default="1").strip()
    if _prepare and not _prepare.isdigit():
        raise environ.ImproperlyConfigured(
            f"SAFEWORK_PG_PREPARE_THRESHOLD={_prepare!r}: a whole number, or empty (never prepare)"
        )
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=int(_prepare) if _prepare else None
    )
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

# The web pages (safework.web): log in there; the admin keeps its own login page. Paths, not URL
# names: a URL configuration without the pages (tests mount their own) still redirects.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

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
# Front-end packages from npm (package.json + lock, `npm ci` in `make install`), served from
# node_modules as static files under vendor/: never committed, never from a CDN.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
    ("vendor/noto-sans-sc", NODE_MODULES / "@fontsource" / "noto-sans-sc"),
]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# Deployment limits (administrators' rules are database settings, see core.models.Setting).
UPLOAD_MAX_BYTES = env.int("SAFEWORK_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Hostile uploads (ledger imports, rosters): bounds checked before a workbook is read, and on what
# an import keeps of its findings (core/tabular.py, ledger/errorfile.py).
IMPORT_MAX_CELL_CHARS = env.int("SAFEWORK_IMPORT_MAX_CELL_CHARS", default=32_767)
IMPORT_MAX_TEXT_CHARS = env.int("SAFEWORK_IMPORT_MAX_TEXT_CHARS", default=50_000_000)
IMPORT_MAX_UNPACKED_BYTES = env.int("SAFEWORK_IMPORT_MAX_UNPACKED_BYTES", default=500 * 1024**2)
IMPORT_MAX_ZIP_ENTRIES = env.int("SAFEWORK_IMPORT_MAX_ZIP_ENTRIES", default=1_000)
IMPORT_MAX_ZIP_RATIO = env.int("SAFEWORK_IMPORT_MAX_ZIP_RATIO", default=100)
IMPORT_MAX_LINE_CHARS = env.int("SAFEWORK_IMPORT_MAX_LINE_CHARS", default=1024**2)
IMPORT_MAX_STORED_ERRORS = env.int("SAFEWORK_IMPORT_MAX_STORED_ERRORS", default=50_000)
IMPORT_MAX_STORED_ERROR_CHARS = env.int("SAFEWORK_IMPORT_MAX_STORED_ERROR_CHARS", default=2_000_000)

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

# Background work goes through Django's task API (`django.tasks`: `@task`, `.enqueue()`), run by
# huey (above, in immediate mode for tests). Periodic jobs stay huey's `db_periodic_task`s: the
# task API has no schedules. See core.jobs.
TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend"}}

# Job leases (core.jobs): a running job's worker renews its lease; one not renewed for this long
# has lost its worker and is retried or failed. A queued job not started within the queue timeout
# is queued again (a few times), then failed.
JOB_LEASE_SECONDS = env.int("SAFEWORK_JOB_LEASE_SECONDS", default=120)
JOB_QUEUE_TIMEOUT_SECONDS = env.int("SAFEWORK_JOB_QUEUE_TIMEOUT_SECONDS", default=900)

# The public URL: links in notifications and the permits' QR codes start with it (empty: QR codes
# take the address of the request that printed them).
# Notifications (safework.notify): links in messages start with the public URL; mail goes through
# the default mailer: SMTP (SAFEWORK_SMTP_HOST/PORT/USER/PASSWORD/TLS), or another backend named
# by SAFEWORK_MAIL_BACKEND. A delivery claimed by a worker that died is taken again after the
# lease; robots and webhooks time out after NOTIFY_HTTP_TIMEOUT seconds.
SAFEWORK_PUBLIC_URL = env.str("SAFEWORK_PUBLIC_URL", default="http://127.0.0.1:8000")
_MAIL_BACKEND = env.str(
    "SAFEWORK_MAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend"
)
_MAIL_OPTIONS = (
    {
        "host": env.str("SAFEWORK_SMTP_HOST", default="127.0.0.1"),
        "port": env.int("SAFEWORK_SMTP_PORT", default=25),
        "username": env.str("SAFEWORK_SMTP_USER", default=""),
        "password": env.str("SAFEWORK_SMTP_PASSWORD", default=""),
        "use_tls": env_flag("SAFEWORK_SMTP_TLS", default=False),
        "timeout": 10,
    }
    if _MAIL_BACKEND.endswith("smtp.EmailBackend")
    else {}
)
MAILERS = {"default": {"BACKEND": _MAIL_BACKEND, "OPTIONS": _MAIL_OPTIONS}}
DEFAULT_FROM_EMAIL = env.str("SAFEWORK_MAIL_FROM", default="safework@localhost")
NOTIFY_LEASE_SECONDS = env.int("SAFEWORK_NOTIFY_LEASE_SECONDS", default=60)
NOTIFY_BATCH = env.int("SAFEWORK_NOTIFY_BATCH", default=200)
NOTIFY_HTTP_TIMEOUT = env.float("SAFEWORK_NOTIFY_HTTP_TIMEOUT", default=10.0)
# Requests a delivery worker has in flight at once (its sending threads).
NOTIFY_CONCURRENCY = env.int("SAFEWORK_NOTIFY_CONCURRENCY", default=4)
# How long a scan or delivery run may hold its lock before another process may take over.
NOTIFY_LOCK_SECONDS = env.int("SAFEWORK_NOTIFY_LOCK_SECONDS", default=300)

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

# The chemical park's data exchange (AQ 3064.2-2025 §8.2, Annex A; permits.park): permit and
# alarm records pushed to the park's endpoint, signed with HMAC-SHA256 under the secret. With no
# URL, pushes stay pending (nothing is lost) and `safework park push` says so.
PARK_URL = env.str("SAFEWORK_PARK_URL", default="")
PARK_SECRET = env.str("SAFEWORK_PARK_SECRET", default="")
# The enterprise as the national hazardous-chemical registration system knows it (AQ 3064.1).
PARK_COMPANY_NAME = env.str("SAFEWORK_PARK_COMPANY_NAME", default="")
PARK_COMPANY_CODE = env.str("SAFEWORK_PARK_COMPANY_CODE", default="")
PARK_TIMEOUT_SECONDS = env.float("SAFEWORK_PARK_TIMEOUT_SECONDS", default=10.0)
PARK_MAX_ATTEMPTS = env.int("SAFEWORK_PARK_MAX_ATTEMPTS", default=12)
PARK_BACKOFF_SECONDS = env.int("SAFEWORK_PARK_BACKOFF_SECONDS", default=30)
PARK_BACKOFF_MAX_SECONDS = env.int("SAFEWORK_PARK_BACKOFF_MAX_SECONDS", default=3600)
PARK_BATCH = env.int("SAFEWORK_PARK_BATCH", default=20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # A 403 is logged as one line: no traceback for a user who lacks a right (issue 17 #16).
    "filters": {"expected_refusals": {"()": "safework.core.log_filters.ExpectedRefusalFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["expected_refusals"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("SAFEWORK_LOG_LEVEL", default="WARNING")},
    # The task worker reports what it starts and runs (`safework serve` shows it as "tasks | …");
    # huey names every Django task "djtasks.run", django.tasks names the task and its state.
    "loggers": {
        name: {"handlers": ["console"], "level": "INFO", "propagate": False}
        for name in ("huey", "django.tasks")
    },
}

# --- Login protection, API tokens and HTTPS (README: "Production behind HTTPS") -----------------
# django-axes counts failed logins (admin form and HTTP Basic, both through authenticate()) and
# refuses further attempts with 429 until the cool-off has passed or an administrator unlocks.
# SAFEWORK_LOGIN_LOCKOUT lists what is counted: comma-separated sets, "+" within a set. The
# default counts per account *and* address together, so nobody elsewhere can lock a user out.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += [
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as axes asks: turns a lockout into its answer
]
AUTHENTICATION_BACKENDS.insert(0, "safework.accounts.lockout.LockoutBackend")
AXES_FAILURE_LIMIT = env.int("SAFEWORK_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SAFEWORK_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [
    s.split("+") if "+" in s else s
    for s in env.list("SAFEWORK_LOGIN_LOCKOUT", default=["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True  # each refused attempt restarts the cool-off
AXES_LOCKOUT_CALLABLE = "safework.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "safework.core.net.client_address"
AXES_ENABLE_ADMIN = False  # unlocking goes through the audited user admin action instead
# Behind a reverse proxy: how many proxies append to X-Forwarded-For (0: use the peer address).
PROXY_COUNT = env.int("SAFEWORK_PROXY_COUNT", default=0)

HTTPS = env_flag("SAFEWORK_HTTPS", default=False)  # served over HTTPS (a proxy terminates TLS)
SECURE_SSL_REDIRECT = env_flag("SAFEWORK_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SAFEWORK_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SAFEWORK_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env_flag("SAFEWORK_HSTS_PRELOAD", default=HTTPS)
SESSION_COOKIE_SECURE = env_flag("SAFEWORK_SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env_flag("SAFEWORK_CSRF_COOKIE_SECURE", default=HTTPS)
if env_flag("SAFEWORK_PROXY_SSL_HEADER", default=HTTPS):
    # Only behind a proxy that sets this header itself and drops a client's.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy: scripts, styles and everything else from SafeWork itself only (the
# admin and the Swagger page need nothing else); inline code only with the request's nonce.
_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
TEMPLATES[0]["OPTIONS"]["context_processors"].append("django.template.context_processors.csp")
if env_flag("SAFEWORK_CSP_REPORT_ONLY", default=False):
    SECURE_CSP_REPORT_ONLY = _CSP
else:
    SECURE_CSP = _CSP
# API tokens: a random secret checked by HMAC-SHA256 keyed with this (fast; never a password hash).
API_TOKEN_KEY = env.str("SAFEWORK_API_TOKEN_KEY", default="") or secret_from(VAR_DIR / "token_key")

# --- Permits: QR codes and printed permits (permits.verification, permits.printing) -----------
# QR codes print SAFEWORK_PUBLIC_URL (above): the public verification page must open from a phone
# on site.
# Front-end packages installed by `make install` (npm ci); the PDFs embed the CJK font from here.
SAFEWORK_NODE_MODULES = Path(
    env.str("SAFEWORK_NODE_MODULES", default=str(BASE_DIR / "node_modules"))
).resolve()
