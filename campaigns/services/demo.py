"""The demo data that ``manage.py demo_setup`` (run by ``bin/run``) creates.

Each step converges: running it again leaves one demo of each thing, as described.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction


@dataclass(frozen=True)
class DemoLogin:
    """The outcome of ensuring the demo superuser."""

    username: str
    created: bool
    updated: bool


@transaction.atomic
def demo_superuser_ensure(*, username: str, password: str) -> DemoLogin:
    """Make sure an active superuser ``username`` exists and logs in with ``password``."""
    user_model = get_user_model()
    user, created = user_model._default_manager.select_for_update().get_or_create(
        **{user_model.USERNAME_FIELD: username},
        defaults={
            "password": make_password(password),
            "is_staff": True,
            "is_superuser": True,
            "is_active": True,
        },
    )
    if created:
        return DemoLogin(username=username, created=True, updated=False)

    changed_fields: list[str] = []
    for flag in ("is_staff", "is_superuser", "is_active"):
        if not getattr(user, flag):
            setattr(user, flag, True)
            changed_fields.append(flag)
    if not user.check_password(password):
        user.set_password(password)
        changed_fields.append("password")
    if changed_fields:
        user.save(update_fields=changed_fields)
    return DemoLogin(username=username, created=False, updated=bool(changed_fields))
