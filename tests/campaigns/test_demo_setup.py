"""`manage.py demo_setup`: the demo login exists, is printed, and survives re-runs."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from pytest_django import Settings

LOGIN_LINE = re.compile(r"Demo login \((\w+)\): username demo, password (.+)$", re.MULTILINE)


def run_demo_setup() -> tuple[str, str]:
    """Run the command; return the state it reports and the password it prints."""
    out = StringIO()
    call_command("demo_setup", stdout=out)
    match = LOGIN_LINE.search(out.getvalue())
    assert match, out.getvalue()
    return match.group(1), match.group(2)


@pytest.fixture
def var_dir(settings: Settings, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.mark.django_db
def test_it_creates_a_superuser_with_a_generated_password_kept_for_next_time(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)

    state, password = run_demo_setup()

    user = authenticate(username="demo", password=password)
    assert state == "created"
    assert user is not None
    assert user.is_superuser
    assert user.is_staff
    assert (var_dir / "demo_password").read_text().strip() == password
    assert (var_dir / "demo_password").stat().st_mode & 0o077 == 0


@pytest.mark.django_db
def test_running_it_again_changes_nothing(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    _, first_password = run_demo_setup()

    state, second_password = run_demo_setup()

    assert state == "unchanged"
    assert second_password == first_password
    assert get_user_model().objects.filter(username="demo").count() == 1


@pytest.mark.django_db
def test_demo_password_from_the_environment_wins_and_restores_the_login(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "first password")
    run_demo_setup()
    demo = get_user_model().objects.get(username="demo")
    demo.is_active = False
    demo.save(update_fields=["is_active"])
    monkeypatch.setenv("DEMO_PASSWORD", "second password")

    state, password = run_demo_setup()

    assert state == "restored"
    assert password == "second password"
    assert authenticate(username="demo", password="second password") is not None
    assert authenticate(username="demo", password="first password") is None
