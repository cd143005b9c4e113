"""Django settings, read from the environment.

Every value has a default that is safe to run with: ``DEBUG`` is off unless ``DJANGO_DEBUG=1``,
and without ``DJANGO_SECRET_KEY`` the web entry points refuse to start (see
``talonone.checks.require_secret_key``) unless ``DEBUG`` is on, in which case a dev-only key is
used. With nothing else set, the project runs on embedded defaults that need no server:

- SQLite at ``var/db.sqlite3``; ``DATABASE_URL`` switches to anything dj-database-url reads;
- a per-process memory cache and a Celery broker on the file system (kombu's ``filesystem://``
  transport, folders under ``var/celery/``); ``REDIS_URL`` switches both to Redis.

Environment variables:

=============================  ===============================================================
``DJANGO_DEBUG``               ``1``/``true``/``yes``/``on`` turns debug mode on (never in prod)
``DJANGO_SECRET_KEY``          the signing key; required when ``DEBUG`` is off
``DJANGO_ALLOWED_HOSTS``       comma-separated; default ``localhost,127.0.0.1,[::1]``
``DJANGO_CSRF_TRUSTED_ORIGINS``  comma-separated origins, e.g. ``https://promo.example.com``
``DJANGO_HTTPS``               ``1`` when served over HTTPS (secure cookies, trust
                               ``X-Forwarded-Proto`` from the proxy)
``DJANGO_VAR_DIR``             where local data lives; default ``<repo>/var``
``DJANGO_LOG_LEVEL``           root log level; default ``INFO``
``DATABASE_URL``               e.g. ``postgres://user@127.0.0.1:5432/talonone``
``DATABASE_CONN_MAX_AGE``      seconds a database connection is kept; default 60
``REDIS_URL``                  e.g. ``redis://127.0.0.1:6379/0``: Celery broker, results, cache
``MANAGEMENT_TOKEN_LIFETIME_DAYS``  days a Management API bearer token lasts; default 90
``MANAGEMENT_LOGIN_MAX_FAILURES``  failed logins of one email that lock it out; default 5,
                               counted over ``MANAGEMENT_LOGIN_WINDOW_MINUTES`` (15) and locking
                               it for ``MANAGEMENT_LOGIN_LOCKOUT_MINUTES`` (15)
``MANAGEMENT_KEY_RATE_PER_MINUTE``  requests a management key may make a minute; default 180
``ACCESS_LOG_RETENTION_DAYS``  days the Integration API's access log is kept; default 30
``ACCESS_LOG_WRITER``          ``0`` starts no background writer of the access log (tests)
=============================  ===============================================================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def env_bool(name: str, *, default: bool = False) -> bool:
    """Read a yes/no switch; anything but a recognised "yes" word counts as no."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in _TRUE_WORDS


def env_list(name: str, *, default: list[str]) -> list[str]:
    """Read a comma-separated list, ignoring blanks."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, *, default: int) -> int:
    """Read a whole number."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return int(value)


# --- Core -------------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG")

# Used only when DEBUG is on and no key is given: it is public, so nothing signed with it can
# be trusted.
DEV_ONLY_SECRET_KEY = "django-insecure-dev-only-do-not-use-in-production"  # noqa: S105

# Left empty when missing and DEBUG is off: Django then refuses every use of it, and the WSGI
# and ASGI entry points refuse to start (talonone.checks). Commands that sign nothing (mypy's
# Django plugin, migrations, the worker) still work.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "") or (DEV_ONLY_SECRET_KEY if DEBUG else "")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Local data (SQLite database, secret key and demo password written by bin/run, the embedded
# broker's folders, collected static files). Created here so that every entry point
# (manage.py, gunicorn, the Celery worker) finds it.
VAR_DIR = Path(os.environ.get("DJANGO_VAR_DIR") or BASE_DIR / "var").resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "campaigns.apps.CampaignsConfig",
    "rules.apps.RulesConfig",
    "integration.apps.IntegrationConfig",
    "management.apps.ManagementConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside the middleware that can refuse a request (a bad Host, in CommonMiddleware), so
    # that the API's every error answer, Django's own included, is JSON in Talon.One's shape.
    # Outside ApiErrorMiddleware, so that it records the answers the client gets.
    "integration.access_log.AccessLogMiddleware",
    "integration.errors.ApiErrorMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "talonone.urls"
WSGI_APPLICATION = "talonone.wsgi.application"
ASGI_APPLICATION = "talonone.asgi.application"

# template_partials' app config wraps these loaders with its partial loader (and Django's
# cached loader), so APP_DIRS is set and no "loaders" option is given.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database ---------------------------------------------------------------------------------

DATABASES: dict[str, dict[str, Any]] = {
    "default": dict(
        dj_database_url.config(
            env="DATABASE_URL",
            default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", default=60),
            conn_health_checks=True,
        )
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django binds parameters on the client, so every query text psycopg sees holds its values
    # and is new: psycopg's automatic preparation would never prepare one, yet it counted each
    # in its cache (hashing the whole text) on every execute. The hot path prepares its own
    # statements (``campaigns.rows``).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", None)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file rather than SQLite's default in-memory test database, so that a Celery worker
    # started by a test (another process) sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")

CELERY_DIR = VAR_DIR / "celery"

if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "talonone",
        },
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The file-system transport: producer and worker exchange messages as files in one
    # folder, so a single machine needs no broker server.
    _broker_dir = CELERY_DIR / "broker"
    _control_dir = CELERY_DIR / "control"
    _results_dir = CELERY_DIR / "results"
    for _folder in (_broker_dir, _control_dir, _results_dir):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = f"file://{_results_dir}"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        # Exchange tables; kombu's default is ./control in whatever folder the process runs.
        "control_folder": str(_control_dir),
        "store_processed": False,
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# Tasks are written to be safe to run twice, so a task is acknowledged only once it has run:
# a worker that dies mid-task leaves it for another worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 24 * 60 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic tasks, for a `celery beat` process.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "access-log-prune": {
        "task": "management.tasks.access_log_prune_task",
        "schedule": 24 * 60 * 60,
    },
    "webhook-deliveries-sweep": {
        "task": "campaigns.tasks.webhook_deliveries_sweep",
        "schedule": 60,
    },
}

# --- Authentication ---------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The Management API (``management``): bearer tokens last about three months, as Talon.One's
# do; a login is refused for LOCKOUT minutes once an email has had MAX_FAILURES failed logins
# within WINDOW minutes; a management key may make RATE_PER_MINUTE requests a minute.
MANAGEMENT_TOKEN_LIFETIME_DAYS = env_int("MANAGEMENT_TOKEN_LIFETIME_DAYS", default=90)
MANAGEMENT_LOGIN_MAX_FAILURES = env_int("MANAGEMENT_LOGIN_MAX_FAILURES", default=5)
MANAGEMENT_LOGIN_WINDOW_MINUTES = env_int("MANAGEMENT_LOGIN_WINDOW_MINUTES", default=15)
MANAGEMENT_LOGIN_LOCKOUT_MINUTES = env_int("MANAGEMENT_LOGIN_LOCKOUT_MINUTES", default=15)
MANAGEMENT_KEY_RATE_PER_MINUTE = env_int("MANAGEMENT_KEY_RATE_PER_MINUTE", default=180)

# The Integration API's access log (integration.access_log): a background thread of each web
# process writes the requests every FLUSH_SECONDS (unless WRITER is off: then only explicit
# flushes do); entries older than RETENTION_DAYS are deleted daily.
ACCESS_LOG_WRITER = env_bool("ACCESS_LOG_WRITER", default=True)
ACCESS_LOG_FLUSH_SECONDS = 1.0
ACCESS_LOG_RETENTION_DAYS = env_int("ACCESS_LOG_RETENTION_DAYS", default=30)

# Webhooks (campaigns.services.webhooks): a request may take TIMEOUT_SECONDS; a network error,
# a 429 or a 5xx is tried again, at most MAX_ATTEMPTS tries in all, after RETRY_BASE_SECONDS,
# then twice as long each time (never more than an hour). A webhook may not reach an address
# that is not public (loopback, private, link-local such as cloud metadata, …) unless it is in
# one of ALLOWED_PRIVATE_NETWORKS (comma-separated CIDRs, e.g. ``10.1.0.0/16,127.0.0.1/32``).
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
WEBHOOK_ALLOWED_PRIVATE_NETWORKS = env_list("WEBHOOK_ALLOWED_PRIVATE_NETWORKS", default=[])

LOGIN_URL = "campaigns:login"
LOGIN_REDIRECT_URL = "campaigns:home"
LOGOUT_REDIRECT_URL = "campaigns:login"

# --- HTTP and security ------------------------------------------------------------------------

HTTPS = env_bool("DJANGO_HTTPS")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Deny by default: every API view names the authentication it accepts (ApiKey-v1,
# Content-Signature, management bearer tokens) and the permission it needs. Errors of both
# APIs are answered in Talon.One's shape ({message, errors, StatusCode}).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "integration.errors.exception_handler",
    # Talon.One's operationIds, tags and error answers (talonone.schema).
    "DEFAULT_SCHEMA_CLASS": "talonone.schema.TalonOneAutoSchema",
}

# The OpenAPI schemas of the two APIs, one per API as Talon.One publishes them, served at
# /openapi/integration.json and /openapi/management.json with Swagger UI and Redoc beside them
# (talonone.urls). The UIs' assets come from drf-spectacular-sidecar, never from a CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "Talon.One-compatible API",
    "DESCRIPTION": "The Integration API and the Management API, in Talon.One's shapes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Separate components for requests and answers (read-only fields, required fields).
    "COMPONENT_SPLIT_REQUEST": True,
    "SORT_OPERATIONS": False,
    "ENUM_NAME_OVERRIDES": {
        "AttributeEntityEnum": "campaigns.models.attributes.AttributeEntity",
        "AttributeTypeEnum": "campaigns.models.attributes.AttributeType",
        "SessionResponseContentEnum": "integration.schema.SESSION_CONTENT",
        "ProfileResponseContentEnum": "integration.schema.PROFILE_CONTENT",
        "ReturnResponseContentEnum": "integration.schema.RETURN_CONTENT",
        "CustomerSessionStateEnum": "campaigns.models.customers.SessionState",
        # As the campaign serializers list them (values without labels).
        "CampaignStateEnum": ["enabled", "disabled", "archived"],
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at start-up when it is missing
# WhiteNoise serves the collected files (hashed names, compressed, cached forever); bin/run
# runs collectstatic before starting the server.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Logging ----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
