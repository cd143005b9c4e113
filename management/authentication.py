"""Who is calling the Management API: a user by their bearer token, or a management key.

- ``BearerAuthentication``: ``Authorization: Bearer <token>``, a token from ``POST
  /v1/sessions`` that has neither expired nor been revoked, of an active user. ``request.user``
  is the user and ``request.auth`` the ``ManagementToken``.
- ``ManagementKeyAuthentication``: ``Authorization: ManagementKey-v1 <key>``, a key that has
  neither expired nor been revoked. ``request.user`` is a ``KeyClient`` and ``request.auth`` the
  ``ManagementKey``; which endpoints and applications the key may use is checked by the view
  (``management.views.ManagementAccess`` and ``ManagementView.application_for``).
- ``ManagementKeyRate``: a DRF throttle allowing a key ``MANAGEMENT_KEY_RATE_PER_MINUTE``
  requests in each calendar minute, counted in the cache (Redis when ``REDIS_URL`` is set,
  shared by every web process), answered with 429 and ``Retry-After`` beyond.

Each class passes over (``None``) a request with another scheme, so a request without
credentials reaches the view unauthenticated, which answers 401. Refusals are
``integration.errors.Unauthorized``, in Talon.One's error shape, with a code saying why.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from integration.errors import ErrorItem, Unauthorized
from management.models import ManagementKey, ManagementToken
from management.services import management_key_authenticate, token_authenticate

BEARER_SCHEME = "Bearer"
KEY_SCHEME = "ManagementKey-v1"

#: The longest credential read: ours are 43 (tokens) and 64 (keys) characters; a hostile
#: header costs nothing to refuse.
MAX_CREDENTIAL_LENGTH = 256

#: The cache the per-key request counts are kept in.
RATE_CACHE = "default"

# RFC 9110's token68 alphabet: what may follow an auth scheme without quoting.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True, slots=True)
class KeyClient:
    """``request.user`` of a request authenticated with a management key: a script, not a
    person."""

    key: ManagementKey

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False
    is_active: ClassVar[bool] = True


def credential(header: str | None, scheme: str) -> str | None:
    """What follows ``scheme`` in an ``Authorization`` header: ``None`` when the header has
    another scheme (or none); ``""`` when it has this scheme but not one well-formed credential
    after exactly one space."""
    if not header:
        return None
    name, space, value = header.partition(" ")
    if name.lower() != scheme.lower():
        return None
    if not space or len(value) > MAX_CREDENTIAL_LENGTH or not _TOKEN68.fullmatch(value):
        return ""
    return value


class BearerAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>``: the user whose live session token it is."""

    def authenticate(self, request: Request) -> tuple[User, ManagementToken] | None:
        raw = credential(request.META.get("HTTP_AUTHORIZATION"), BEARER_SCHEME)
        if raw is None:
            return None
        if not raw:
            raise refused(
                "malformed_token",
                f"The Authorization header must be `{BEARER_SCHEME} <token>`: the scheme, one "
                f"space and the token from POST /v1/sessions.",
            )
        token = token_authenticate(raw_token=raw, now=timezone.now())
        if token is None:
            raise refused(
                "invalid_token",
                "The token is unknown, has expired or was revoked: create a new session with "
                "POST /v1/sessions.",
            )
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # A scheme to challenge with makes DRF answer a refusal with 401, not 403.
        return BEARER_SCHEME


class ManagementKeyAuthentication(BaseAuthentication):
    """``Authorization: ManagementKey-v1 <key>``: the live management key it is."""

    def authenticate(self, request: Request) -> tuple[KeyClient, ManagementKey] | None:
        raw = credential(request.META.get("HTTP_AUTHORIZATION"), KEY_SCHEME)
        if raw is None:
            return None
        if not raw:
            raise refused(
                "malformed_management_key",
                f"The Authorization header must be `{KEY_SCHEME} <key>`: the scheme, one space "
                f"and the key.",
            )
        key = management_key_authenticate(raw_key=raw, now=timezone.now())
        if key is None:
            raise refused(
                "invalid_management_key",
                "The management key is unknown, has expired or was revoked.",
            )
        return KeyClient(key), key

    def authenticate_header(self, request: Request) -> str:
        return KEY_SCHEME


class ManagementKeyRate(BaseThrottle):
    """At most ``MANAGEMENT_KEY_RATE_PER_MINUTE`` requests of one management key in each
    calendar minute; requests with a bearer token are not counted here.

    The count is one atomic increment in the cache (``INCR`` on Redis), never read and then
    written, so concurrent requests cannot share a count.
    """

    #: Where the time comes from (seconds since the epoch); tests replace it.
    clock: ClassVar[Callable[[], float]] = time.time

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, ManagementKey):
            return True
        now = type(self).clock()
        minute = int(now // 60)
        cache_key = f"management:key-rate:{key.pk}:{minute}"
        cache = caches[RATE_CACHE]
        # Kept a little past its minute, so that it never expires between `add` and `incr`.
        cache.add(cache_key, 0, timeout=120)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # evicted in between: count this request as the minute's first
            cache.set(cache_key, 1, timeout=120)
            count = 1
        if count <= settings.MANAGEMENT_KEY_RATE_PER_MINUTE:
            return True
        self._wait = max(1, math.ceil((minute + 1) * 60 - now))
        return False

    def wait(self) -> float | None:
        return self._wait


def refused(code: str, details: str) -> Unauthorized:
    """The 401 of a request whose credentials are missing (``missing_credentials``) or were
    refused."""
    message = (
        "The request carries no credentials."
        if code == "missing_credentials"
        else "The request's credentials were refused."
    )
    item = ErrorItem(code=code, title="Unauthorized", details=details, parameter="Authorization")
    return Unauthorized(message, [item], code=code)
