"""Fixtures shared by the whole suite.

Keep this small: fixtures that one area needs belong in that area's own conftest.py.
"""

import pytest
from django.conf import settings as django_settings
from pytest_django import Settings


def pytest_configure(config: pytest.Config) -> None:
    # A throw-away key for the whole session, so that tests need no DJANGO_SECRET_KEY in the
    # environment. Set directly rather than through the `settings` fixture, which cannot
    # restore a SECRET_KEY that was empty (Django refuses to read an empty one).
    django_settings.SECRET_KEY = "test-only-secret-key-not-for-production"
    # No background writer of the access log: it would write on its own connection, outside
    # the tests' transactions (tests call integration.access_log.flush()).
    django_settings.ACCESS_LOG_WRITER = False


@pytest.fixture(autouse=True)
def _test_settings(settings: Settings) -> None:
    """Settings every test runs with, whatever the environment says."""
    # Hashing passwords at full strength would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Hashed static file names need `collectstatic` first; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> None:
    """Each test starts with no compiled rules, schemas or applications kept in the process: a
    test's rolled-back rows can give the next test's application the same id and version
    (SQLite reuses ids whose insert was rolled back)."""
    from campaigns.compiled import compiled_campaigns_forget

    compiled_campaigns_forget()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test marked ``race`` (``tests.concurrency.race``) several times."""
    if metafunc.definition.get_closest_marker("race") is not None:
        from tests.concurrency import RUNS

        metafunc.fixturenames.append("race_run")
        metafunc.parametrize("race_run", range(RUNS), ids=lambda run: f"run{run + 1}")
