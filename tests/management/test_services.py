"""The Management API's services: keys, memberships and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from integration.keys import key_hash
from management.models import ManagementKey, ManagementToken, Membership, Role
from management.services import (
    applications_visible,
    management_key_authenticate,
    management_key_create,
    management_key_revoke,
    membership_set,
    role_allows,
    role_in,
    session_create,
    session_revoke,
    token_authenticate,
)
from tests.factories import ApplicationFactory, UserFactory
from tests.management.factories import MembershipFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def test_a_session_token_is_shown_once_and_authenticates_until_revoked() -> None:
    user = UserFactory()

    returned_user, raw, token = session_create(email=user.email.upper(), password=PASSWORD)

    assert returned_user == user
    assert ManagementToken.objects.get().token_hash == key_hash(raw)
    assert token_authenticate(raw_token=raw, now=timezone.now()) == token
    session_revoke(token=token)
    assert token_authenticate(raw_token=raw, now=timezone.now()) is None
    user.refresh_from_db()
    assert user.last_login == token.created


def test_a_management_key_is_created_for_its_creators_applications() -> None:
    admin, shop = UserFactory(), ApplicationFactory()
    MembershipFactory(user=admin, application=shop, role=Role.ADMIN)

    key, raw = management_key_create(
        name=" Nightly export ",
        created_by=admin,
        expires_at=timezone.now() + timedelta(days=30),
        allowed_endpoints=["getApplications", "getApplication", "getApplications"],
        applications=[shop],
    )

    assert key.name == "Nightly export"
    assert key.key_hash == key_hash(raw)
    assert key.prefix == raw[:8]
    assert key.allowed_endpoints == ["getApplication", "getApplications"]
    assert list(applications_visible(key)) == [shop]
    assert management_key_authenticate(raw_key=raw, now=timezone.now()) == key
    management_key_revoke(key=key)
    assert management_key_authenticate(raw_key=raw, now=timezone.now()) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, "expires_at"),
        ({"expires_at": datetime(2999, 1, 1)}, "expires_at"),
        ({"allowed_endpoints": ["get applications"]}, "allowed_endpoints"),
        ({"role": Role.EDITOR}, "applications"),
    ],
)
def test_a_management_key_is_refused_when_not_valid(changes: dict[str, object], field: str) -> None:
    creator, shop = UserFactory(), ApplicationFactory()
    MembershipFactory(user=creator, application=shop, role=changes.pop("role", Role.ADMIN))
    arguments: dict[str, object] = {
        "name": "Script",
        "created_by": creator,
        "expires_at": timezone.now() + timedelta(days=1),
        "allowed_endpoints": ["getApplications"],
        "applications": [shop],
        **changes,
    }

    with pytest.raises(ValidationError) as refused:
        management_key_create(**arguments)  # type: ignore[arg-type]

    assert set(refused.value.message_dict) == {field}
    assert not ManagementKey.objects.exists()


def test_membership_set_adds_changes_and_removes_a_role() -> None:
    user, shop = UserFactory(), ApplicationFactory()

    membership_set(user=user, application=shop, role=Role.VIEWER)
    assert role_in(user, shop) == Role.VIEWER
    membership_set(user=user, application=shop, role=Role.ADMIN)
    assert role_in(user, shop.pk) == Role.ADMIN
    assert Membership.objects.count() == 1
    membership_set(user=user, application=shop, role=None)
    assert role_in(user, shop) is None
    with pytest.raises(ValidationError):
        membership_set(user=user, application=shop, role="owner")


def test_the_database_refuses_two_memberships_of_one_user_in_one_application() -> None:
    membership = MembershipFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            user=membership.user, application=membership.application, role=Role.ADMIN
        )


def test_a_superuser_is_admin_everywhere_and_an_inactive_user_nowhere() -> None:
    shop = ApplicationFactory()
    inactive = UserFactory(is_active=False)
    MembershipFactory(user=inactive, application=shop, role=Role.ADMIN)

    assert role_in(UserFactory(is_superuser=True), shop) == Role.ADMIN
    assert role_in(inactive, shop) is None
    assert not applications_visible(inactive).exists()


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.ADMIN, Role.EDITOR, True),
        (Role.EDITOR, Role.EDITOR, True),
        (Role.VIEWER, Role.EDITOR, False),
        (Role.EDITOR, Role.ADMIN, False),
        (None, Role.VIEWER, False),
    ],
)
def test_roles_rank_viewer_editor_admin(role: str | None, needed: str, allowed: bool) -> None:
    assert role_allows(role, needed) is allowed
