"""factory_boy factories of the Management API's models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from campaigns.models import Application
from integration.keys import key_hash
from management.models import ManagementKey, ManagementToken, Membership, Role
from tests.factories import ApplicationFactory, UserFactory


class ManagementTokenFactory(factory.django.DjangoModelFactory[ManagementToken]):
    """A live bearer token whose raw value is ``raw_token`` (a factory parameter; only its hash
    is stored)."""

    class Meta:
        model = ManagementToken

    class Params:
        raw_token = factory.Sequence(lambda n: f"test-token-{n:032d}")

    user = factory.SubFactory(UserFactory)
    token_hash = factory.LazyAttribute(lambda token: key_hash(token.raw_token))
    created = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda token: token.created + timedelta(days=90))


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    application = factory.SubFactory(ApplicationFactory)
    role = Role.VIEWER


class ManagementKeyFactory(factory.django.DjangoModelFactory[ManagementKey]):
    """A live management key whose raw value is ``raw_key``; ``applications=[...]`` lists the
    applications it may use."""

    class Meta:
        model = ManagementKey
        skip_postgeneration_save = True

    class Params:
        raw_key = factory.Sequence(lambda n: f"{n:064x}")

    name = factory.Sequence(lambda n: f"Script {n}")
    prefix = factory.LazyAttribute(lambda key: key.raw_key[: ManagementKey.PREFIX_LENGTH])
    key_hash = factory.LazyAttribute(lambda key: key_hash(key.raw_key))
    created_by = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    allowed_endpoints: Any = factory.LazyFunction(list)

    @factory.post_generation
    def applications(
        obj: Any, create: bool, extracted: list[Application] | None, **kwargs: Any
    ) -> None:
        if create and extracted:
            obj.applications.set(extracted)


def bearer(raw_token: str) -> dict[str, str]:
    """The ``Authorization`` header of a bearer token."""
    return {"Authorization": f"Bearer {raw_token}"}


def key_auth(raw_key: str) -> dict[str, str]:
    """The ``Authorization`` header of a management key."""
    return {"Authorization": f"ManagementKey-v1 {raw_key}"}


def member_headers(application: Application, role: str, *, raw_token: str) -> dict[str, str]:
    """The ``Authorization`` header of a new user with ``role`` in ``application``."""
    user = UserFactory()
    ManagementTokenFactory(raw_token=raw_token, user=user)
    MembershipFactory(user=user, application=application, role=role)
    return bearer(raw_token)
