"""The project skeleton: settings defaults, entry points, health check, Campaign Manager shell."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

from tests.factories import UserFactory

REPO_ROOT = Path(__file__).resolve().parent.parent

# Prints, as JSON, the settings that a process configured only by `env` would run with.
SETTINGS_SNAPSHOT = """
import json
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

try:
    secret_key = settings.SECRET_KEY
except ImproperlyConfigured:
    secret_key = None
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": secret_key,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "DB_ENGINE": db["ENGINE"],
    "DB_NAME": str(db["NAME"]),
    "CACHE_BACKEND": settings.CACHES["default"]["BACKEND"],
    "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
    "TIME_ZONE": settings.TIME_ZONE,
    "USE_TZ": settings.USE_TZ,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
}))
"""


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter whose environment holds only `env` (and PATH)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "talonone.settings",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings_in(**env: str) -> dict[str, object]:
    result = run_python(SETTINGS_SNAPSHOT, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_clean_environment_gets_safe_embedded_defaults(tmp_path: Path) -> None:
    snapshot = settings_in(DJANGO_VAR_DIR=str(tmp_path))

    assert snapshot["DEBUG"] is False
    assert snapshot["SECRET_KEY"] is None  # empty: Django refuses to use it
    assert snapshot["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert snapshot["DB_ENGINE"] == "django.db.backends.sqlite3"
    assert snapshot["DB_NAME"] == str(tmp_path / "db.sqlite3")
    assert snapshot["CACHE_BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert snapshot["CELERY_BROKER_URL"] == "filesystem://"
    assert snapshot["CELERY_RESULT_BACKEND"] == f"file://{tmp_path / 'celery' / 'results'}"
    assert (tmp_path / "celery" / "broker").is_dir()
    assert snapshot["TIME_ZONE"] == "UTC"
    assert snapshot["USE_TZ"] is True


def test_local_data_defaults_to_var_in_the_repository() -> None:
    snapshot = settings_in()

    assert snapshot["DB_NAME"] == str(REPO_ROOT / "var" / "db.sqlite3")


def test_debug_needs_an_explicit_switch_and_then_uses_a_dev_only_key(tmp_path: Path) -> None:
    assert settings_in(DJANGO_VAR_DIR=str(tmp_path), DJANGO_DEBUG="0")["DEBUG"] is False
    assert settings_in(DJANGO_VAR_DIR=str(tmp_path), DJANGO_DEBUG="yes-please")["DEBUG"] is False

    snapshot = settings_in(DJANGO_VAR_DIR=str(tmp_path), DJANGO_DEBUG="1")

    assert snapshot["DEBUG"] is True
    assert str(snapshot["SECRET_KEY"]).startswith("django-insecure-dev-only")


def test_urls_in_the_environment_switch_to_postgres_and_redis(tmp_path: Path) -> None:
    snapshot = settings_in(
        DJANGO_VAR_DIR=str(tmp_path),
        DATABASE_URL="postgres://someone@db.invalid:5432/promotions",
        REDIS_URL="redis://cache.invalid:6379/3",
        DJANGO_ALLOWED_HOSTS="promo.example.com, api.example.com",
        DJANGO_HTTPS="1",
    )

    assert snapshot["DB_ENGINE"] == "django.db.backends.postgresql"
    assert snapshot["DB_NAME"] == "promotions"
    assert snapshot["CACHE_BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert snapshot["CELERY_BROKER_URL"] == "redis://cache.invalid:6379/3"
    assert snapshot["CELERY_RESULT_BACKEND"] == "redis://cache.invalid:6379/3"
    assert snapshot["ALLOWED_HOSTS"] == ["promo.example.com", "api.example.com"]
    assert snapshot["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("module", ["talonone.wsgi", "talonone.asgi"])
def test_the_server_refuses_to_start_without_a_secret_key(tmp_path: Path, module: str) -> None:
    refused = run_python(f"import {module}", DJANGO_VAR_DIR=str(tmp_path))
    started = run_python(
        f"import {module}", DJANGO_VAR_DIR=str(tmp_path), DJANGO_SECRET_KEY="s3cret-" * 8
    )

    assert refused.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in refused.stderr
    assert started.returncode == 0, started.stderr


@pytest.mark.django_db
def test_healthz_reports_the_database_reachable(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert "no-cache" in response["Cache-Control"]


def test_the_root_sends_visitors_to_the_campaign_manager(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/app/"


@pytest.mark.django_db
def test_the_campaign_manager_sends_anonymous_visitors_to_log_in(client: Client) -> None:
    response = client.get("/app/")

    assert response.status_code == 302
    assert response["Location"] == "/app/login/?next=/app/"


@pytest.mark.django_db
def test_the_login_page_logs_a_user_in(client: Client) -> None:
    UserFactory.create(username="marketer", password="a long enough password")

    page = client.get("/app/login/?next=/app/")
    response = client.post(
        "/app/login/",
        {"username": "marketer", "password": "a long enough password", "next": "/app/"},
    )

    assert page.status_code == 200
    assert b'name="password"' in page.content
    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert client.get("/app/").status_code == 200


@pytest.mark.django_db
def test_the_login_page_rejects_a_wrong_password(client: Client) -> None:
    UserFactory.create(username="marketer", password="a long enough password")

    response = client.post("/app/login/", {"username": "marketer", "password": "nope"})

    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert client.get("/app/").status_code == 302


@pytest.mark.django_db
def test_the_campaign_manager_renders_for_a_logged_in_user(client: Client) -> None:
    client.force_login(UserFactory.create(username="marketer"))

    response = client.get("/app/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert "Welcome, marketer" in html
    assert 'id="system-status"' in html
    assert "reachable" in html
    # htmx comes from our own static files, never from a CDN.
    assert '<script src="/static/vendor/htmx/htmx.min.js"' in html
    assert "https://" not in html


@pytest.mark.django_db
def test_htmx_gets_only_the_status_partial(client: Client) -> None:
    client.force_login(UserFactory.create())

    response = client.get("/app/", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="system-status"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_the_vendored_htmx_is_found_by_the_static_files_finders() -> None:
    found = finders.find("vendor/htmx/htmx.min.js")

    assert found is not None
    assert Path(str(found)).read_text().startswith("var htmx=function()")


@pytest.mark.django_db
def test_every_model_change_has_a_migration() -> None:
    # Exits with SystemExit(1) when `makemigrations` would write a migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
