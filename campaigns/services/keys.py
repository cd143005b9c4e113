"""An application's Integration API credentials: API keys and signing secrets.

An API key is generated here and returned in clear once, to be shown to the administrator who
creates it; only its first characters and its SHA-256 are stored (``integration.keys``
defines the format). A signing secret is stored as it is, since computing an HMAC needs it.

``integration_key_authenticate`` and ``active_signing_secrets`` are the reads that
authentication makes on every request, so each is one indexed query; the key's
``last_used_at`` is written at most once a minute, not on every request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.compiled import application_at_version
from campaigns.models import Application, CustomerSession, IntegrationApiKey, SigningSecret
from campaigns.rows import api_key_find, api_key_session_locked
from integration.keys import generate_api_key, key_hash

#: How stale ``IntegrationApiKey.last_used_at`` may be: it is rewritten only when older, so
#: that a busy shop costs one write a minute rather than one per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)

#: Random bytes of a generated signing secret; the secret is their hex form.
SIGNING_SECRET_BYTES = 32

#: Signing secrets an application may have active at once: the current one and, during a
#: rotation, its successor.
MAX_ACTIVE_SIGNING_SECRETS = 2


def integration_key_create(
    *, application: Application, name: str, expires_at: datetime
) -> tuple[IntegrationApiKey, str]:
    """Create an API key for ``application``; return it with the raw key, which only the caller
    ever sees (only its prefix and hash are stored).

    Raises ``ValidationError`` for a blank name or an expiry that is naive or not in the future.
    """
    name = name.strip()
    if not name:
        raise ValidationError(
            {"name": ValidationError("An API key needs a name.", code="required")}
        )
    _check_expiry(expires_at)
    generated = generate_api_key()
    key = IntegrationApiKey.objects.create(
        application=application,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.hashed,
        expires_at=expires_at,
    )
    return key, generated.raw


def integration_key_authenticate(*, raw_key: str, now: datetime) -> Application | None:
    """The application whose unexpired API key ``raw_key`` is, or ``None``.

    One statement (the key by its unique hash, with its application's ``rules_version``; the
    application itself comes from the process's copy at that version,
    ``campaigns.compiled.application_at_version``); and, when the key's ``last_used_at`` is
    more than ``LAST_USED_RESOLUTION`` old, one conditional update, which concurrent requests
    cannot repeat within the minute.
    """
    found = api_key_find(hashed=key_hash(raw_key), now=now)
    if found is None:
        return None
    key_id, last_used_at, application_id, rules_version = found
    _mark_used(key_id=key_id, last_used_at=last_used_at, now=now)
    return application_at_version(pk=application_id, rules_version=rules_version)


@dataclass(frozen=True, slots=True)
class KeyedSession:
    """What ``integration_key_session_lock`` found: the key's application, and its session
    (locked; ``None`` when the application has no such session yet)."""

    application: Application
    session: CustomerSession | None
    key_id: int
    last_used_at: datetime | None


def integration_key_session_lock(
    *, raw_key: str, integration_id: str, now: datetime
) -> KeyedSession | None:
    """``integration_key_authenticate`` and the lock of the application's session
    ``integration_id`` in one statement (``campaigns.rows.api_key_session_locked``): the
    session endpoint's hot path, which would otherwise spend a round trip on each. ``None``
    when the key is unknown or expired; then nothing is locked.

    It must run in a transaction (the lock lasts until it ends), and leaves the key's
    ``last_used_at`` to ``integration_key_used``, to be called after that transaction: a
    dry run rolls its transaction back, and the key's row is not to stay locked meanwhile.
    """
    found = api_key_session_locked(hashed=key_hash(raw_key), now=now, integration_id=integration_id)
    if found is None:
        return None
    (key_id, last_used_at, application_id, rules_version), session = found
    application = application_at_version(pk=application_id, rules_version=rules_version)
    return KeyedSession(application, session, key_id, last_used_at)


def integration_key_used(found: KeyedSession, *, now: datetime) -> None:
    """Record the use of the key of ``integration_key_session_lock`` (at most once a minute)."""
    _mark_used(key_id=found.key_id, last_used_at=found.last_used_at, now=now)


def _mark_used(*, key_id: int, last_used_at: datetime | None, now: datetime) -> None:
    """Set the key's ``last_used_at`` to ``now`` when it is more than ``LAST_USED_RESOLUTION``
    old: one conditional update, which concurrent requests cannot repeat within the minute."""
    stale_before = now - LAST_USED_RESOLUTION
    if last_used_at is None or last_used_at < stale_before:
        IntegrationApiKey.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale_before), pk=key_id
        ).update(last_used_at=now)


@transaction.atomic
def signing_secret_create(
    *, application: Application, expires_at: datetime | None = None
) -> SigningSecret:
    """Generate a new signing secret for ``application`` (64 hex digits), active until
    ``expires_at`` (or until it is given an expiry, when ``None``).

    Raises ``ValidationError`` when the application already has ``MAX_ACTIVE_SIGNING_SECRETS``
    active secrets (retire one first) or for an expiry that is naive or not in the future.
    """
    if expires_at is not None:
        _check_expiry(expires_at)
    # The application's row lock orders concurrent creations, so that two of them cannot both
    # see one active secret and make three.
    Application.objects.select_for_update().get(pk=application.pk)
    if _active_signing_secrets(application=application, now=timezone.now()).count() >= (
        MAX_ACTIVE_SIGNING_SECRETS
    ):
        raise ValidationError(
            f"An application has at most {MAX_ACTIVE_SIGNING_SECRETS} active signing secrets: "
            f"give the old one an expiry first.",
            code="too_many_signing_secrets",
        )
    return SigningSecret.objects.create(
        application=application,
        secret=secrets.token_hex(SIGNING_SECRET_BYTES),
        expires_at=expires_at,
    )


def active_signing_secrets(*, application: Application, now: datetime) -> list[str]:
    """The secrets a request signed for ``application`` may be signed with at ``now``."""
    return list(
        _active_signing_secrets(application=application, now=now).values_list("secret", flat=True)
    )


def _active_signing_secrets(*, application: Application, now: datetime) -> QuerySet[SigningSecret]:
    return SigningSecret.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now), application=application
    )


def _check_expiry(expires_at: datetime) -> None:
    if timezone.is_naive(expires_at):
        problem = ValidationError("The expiry needs a time zone.", code="naive_datetime")
    elif expires_at <= timezone.now():
        problem = ValidationError("The expiry must be in the future.", code="expired")
    else:
        return
    raise ValidationError({"expires_at": problem})
