"""The Management API's sessions, keys and memberships, and who may see which application.

Sessions: ``session_create`` checks an email and password (Django's ``authenticate``) and
issues a bearer token, shown once and stored as its SHA-256 (``integration.keys.key_hash``: a
token carries 256 random bits, so a fast unsalted hash is enough); ``token_authenticate`` finds
the unexpired, unrevoked token of a request; ``session_revoke`` ends it.

Logins are throttled per email address, whether or not a user has it (so the throttle says
nothing about which addresses exist): each attempt takes a slot in its email's window *before*
its password is checked, by one conditional ``UPDATE`` that PostgreSQL re-evaluates on the
locked row, so however many attempts arrive at once at most ``MANAGEMENT_LOGIN_MAX_FAILURES``
of them reach the password check in a window. A success gives the slots back; a failure that
fills the window locks the email for ``MANAGEMENT_LOGIN_LOCKOUT_MINUTES``.

Access: ``applications_visible`` is the one place that says which applications a caller (a
user or a management key) may see; ``role_in`` what a user may do in one. Superusers are admins
of every application; other users act through their ``Membership`` rows; a key may act on the
applications it lists, within its allowed endpoints.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from campaigns.models import Application
from integration.keys import generate_api_key, key_hash
from management.models import ROLE_RANK, LoginThrottle, ManagementKey, ManagementToken, Membership

#: Random bytes of a bearer token; the token is their URL-safe base64 form (43 characters, as
#: in Talon.One's examples).
TOKEN_BYTES = 32

#: The longest password ``session_create`` checks: hashing a megabyte would cost the server
#: more than it costs the caller to send it.
MAX_PASSWORD_LENGTH = 4096

#: Whoever calls the Management API: a user (with a bearer token) or a management key.
Caller: TypeAlias = User | AnonymousUser | ManagementKey


class LoginRefused(Exception):
    """A login that did not give a token."""


class InvalidCredentials(LoginRefused):
    """No active user has this email and password."""


@dataclass
class LoginLocked(LoginRefused):
    """Too many failed logins for this email: try again in ``retry_after`` seconds."""

    retry_after: int


# ---------------------------------------------------------------------------------------------
# Sessions


def session_create(
    *, email: str, password: str, now: datetime | None = None
) -> tuple[User, str, ManagementToken]:
    """Log ``email`` in with ``password``: the user, the raw bearer token (for the caller's
    eyes only, once) and the stored token.

    Raises ``LoginLocked`` when the email is locked out or its window is full, without checking
    the password; ``InvalidCredentials`` when no active user has this email and password.
    """
    now = now or timezone.now()
    email = email.strip().lower()
    _login_slot_take(email=email, now=now)
    user = _user_authenticated(email=email, password=password)
    if user is None:
        _login_failed(email=email, now=now)
        raise InvalidCredentials
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    lifetime = timedelta(days=settings.MANAGEMENT_TOKEN_LIFETIME_DAYS)
    with transaction.atomic():
        token = ManagementToken.objects.create(
            user=user, token_hash=key_hash(raw), created=now, expires_at=now + lifetime
        )
        User.objects.filter(pk=user.pk).update(last_login=now)
        # A success forgets the failures before it.
        LoginThrottle.objects.filter(email=email).update(
            failures=0, window_started=now, locked_until=None
        )
    return user, raw, token


def session_revoke(*, token: ManagementToken, now: datetime | None = None) -> None:
    """End ``token``'s session: it authenticates nothing from now on. Revoking a revoked token
    does nothing."""
    ManagementToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )


def token_authenticate(*, raw_token: str, now: datetime) -> ManagementToken | None:
    """The unexpired, unrevoked token ``raw_token`` of an active user, with its user; or
    ``None``. One indexed query."""
    return (
        ManagementToken.objects.select_related("user")
        .filter(
            token_hash=key_hash(raw_token),
            revoked_at__isnull=True,
            expires_at__gt=now,
            user__is_active=True,
        )
        .first()
    )


def _user_authenticated(*, email: str, password: str) -> User | None:
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    users = list(User.objects.filter(email__iexact=email)[:2])
    if len(users) != 1:
        # No user (or no single one) has this email: hash the password all the same, as
        # Django's ModelBackend does for an unknown username, so that the time taken does not
        # say whether the address is known.
        User().set_password(password)
        return None
    user = authenticate(username=users[0].get_username(), password=password)
    return user if isinstance(user, User) else None


def _login_slot_take(*, email: str, now: datetime) -> None:
    """Count an attempt for ``email`` before its password is checked, or raise ``LoginLocked``.

    One conditional update, which PostgreSQL re-evaluates on the row once it holds its lock: of
    attempts arriving together, only as many as the window has room for find a row to update.
    """
    LoginThrottle.objects.bulk_create(
        [LoginThrottle(email=email, window_started=now)], ignore_conflicts=True
    )
    window_over = Q(window_started__lte=now - _login_window())
    taken = (
        LoginThrottle.objects.filter(email=email)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .filter(window_over | Q(failures__lt=settings.MANAGEMENT_LOGIN_MAX_FAILURES))
        .update(
            failures=Case(When(window_over, then=Value(1)), default=F("failures") + 1),
            window_started=Case(When(window_over, then=Value(now)), default=F("window_started")),
        )
    )
    if taken:
        return
    throttle = LoginThrottle.objects.get(email=email)
    if throttle.locked_until is not None and throttle.locked_until > now:
        until = throttle.locked_until
    else:
        # The window is full of attempts still being checked; it empties when they succeed or
        # when it ends.
        until = throttle.window_started + _login_window()
    raise LoginLocked(retry_after=max(1, int((until - now).total_seconds()) + 1))


def _login_failed(*, email: str, now: datetime) -> None:
    """Lock ``email`` out when its failures have filled the window (unless it already is)."""
    lockout = timedelta(minutes=settings.MANAGEMENT_LOGIN_LOCKOUT_MINUTES)
    LoginThrottle.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        email=email,
        failures__gte=settings.MANAGEMENT_LOGIN_MAX_FAILURES,
    ).update(locked_until=now + lockout)


def _login_window() -> timedelta:
    return timedelta(minutes=settings.MANAGEMENT_LOGIN_WINDOW_MINUTES)


# ---------------------------------------------------------------------------------------------
# Management keys


def management_key_create(
    *,
    name: str,
    created_by: User,
    expires_at: datetime,
    allowed_endpoints: Iterable[str],
    applications: Iterable[Application],
) -> tuple[ManagementKey, str]:
    """Create a management key; return it with the raw key, which only the caller ever sees.

    ``created_by`` must be an admin of each of ``applications``: a key never allows more than
    its creator could do. Raises ``ValidationError`` for a blank name, an expiry that is naive
    or not in the future, an endpoint that is not an operationId, or an application its creator
    does not administer.
    """
    name = name.strip()
    endpoints = list(allowed_endpoints)
    applications = list(applications)
    problems: dict[str, ValidationError] = {}
    if not name:
        problems["name"] = ValidationError("A management key needs a name.", code="required")
    if timezone.is_naive(expires_at):
        problems["expires_at"] = ValidationError("The expiry needs a time zone.", code="naive")
    elif expires_at <= timezone.now():
        problems["expires_at"] = ValidationError("The expiry must be in the future.", code="past")
    if not all(isinstance(endpoint, str) and endpoint.isalnum() for endpoint in endpoints):
        problems["allowed_endpoints"] = ValidationError(
            "Endpoints are operationIds, such as getApplications.", code="invalid"
        )
    if any(
        role_in(created_by, application) != Membership.Role.ADMIN for application in applications
    ):
        problems["applications"] = ValidationError(
            "A key may only allow applications its creator is an admin of.", code="forbidden"
        )
    if problems:
        raise ValidationError(problems)
    generated = generate_api_key()
    with transaction.atomic():
        key = ManagementKey.objects.create(
            name=name,
            prefix=generated.prefix,
            key_hash=generated.hashed,
            created_by=created_by,
            expires_at=expires_at,
            allowed_endpoints=sorted(set(endpoints)),
        )
        key.applications.set(applications)
    return key, generated.raw


def management_key_revoke(*, key: ManagementKey, now: datetime | None = None) -> None:
    """Revoke ``key``: it authenticates nothing from now on."""
    ManagementKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )


def management_key_authenticate(*, raw_key: str, now: datetime) -> ManagementKey | None:
    """The unexpired, unrevoked management key ``raw_key``, or ``None``."""
    return ManagementKey.objects.filter(
        key_hash=key_hash(raw_key), revoked_at__isnull=True, expires_at__gt=now
    ).first()


# ---------------------------------------------------------------------------------------------
# Memberships and access


def membership_set(*, user: User, application: Application, role: str | None) -> Membership | None:
    """Make ``user`` a ``role`` (viewer, editor, admin) of ``application``, or no member at all
    when ``role`` is ``None``. Raises ``ValidationError`` for an unknown role."""
    if role is None:
        Membership.objects.filter(user=user, application=application).delete()
        return None
    if role not in ROLE_RANK:
        raise ValidationError(
            {"role": ValidationError(f"{role!r} is not a role.", code="invalid_choice")}
        )
    membership, _ = Membership.objects.update_or_create(
        user=user, application=application, defaults={"role": role}
    )
    return membership


def applications_visible(caller: Caller) -> QuerySet[Application]:
    """The applications ``caller`` (a user or a management key) may see: a superuser all of
    them, a user those they are a member of, a key those it lists; nobody else any."""
    applications = Application.objects.all()
    if isinstance(caller, ManagementKey):
        return applications.filter(management_keys=caller)
    if not caller.is_authenticated or not caller.is_active:
        return applications.none()
    if caller.is_superuser:
        return applications
    return applications.filter(memberships__user=caller)


def role_in(user: User | AnonymousUser, application: Application | int) -> str | None:
    """``user``'s role in ``application`` (given or by id): admin for a superuser, the role of
    their membership otherwise, ``None`` when they have none."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Membership.Role.ADMIN
    application_id = application.pk if isinstance(application, Application) else application
    return (
        Membership.objects.filter(user=user, application_id=application_id)
        .values_list("role", flat=True)
        .first()
    )


def role_allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` (``None``: no role) is ``needed`` or ranks above it."""
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]
