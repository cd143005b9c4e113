"""``manage.py demo_setup``: create (or bring back) the demo data and print the login.

Idempotent: run it as often as you like. The password is ``DEMO_PASSWORD`` when set;
otherwise one is generated on the first run and kept in ``<var>/demo_password`` so that every
later run prints (and restores) the same login.
"""

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from campaigns.services.demo import demo_superuser_ensure

DEMO_USERNAME = "demo"


def _demo_password() -> str:
    from_env = os.environ.get("DEMO_PASSWORD", "")
    if from_env:
        return from_env
    password_file = Path(settings.VAR_DIR) / "demo_password"
    if password_file.exists():
        kept = password_file.read_text().strip()
        if kept:
            return kept
    password = secrets.token_urlsafe(12)
    # Readable by the owner only: it logs in as a superuser.
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


class Command(BaseCommand):
    help = "Create or restore the demo data and print the demo login (safe to repeat)."

    def handle(self, *args: Any, **options: Any) -> None:
        password = _demo_password()
        login = demo_superuser_ensure(username=DEMO_USERNAME, password=password)
        if login.created:
            state = "created"
        elif login.updated:
            state = "restored"
        else:
            state = "unchanged"
        self.stdout.write(f"Demo login ({state}): username {login.username}, password {password}")
