"""Who is calling the Integration API: an application, by its API key and optional signature.

Every request carries one of the application's API keys (``Authorization: ApiKey-v1 <key>``,
``integration.keys``). A request may also be signed (``Content-Signature``,
``integration.signing``): then the signature must be valid as well, made by the key's
application with one of its active signing secrets, fresh and not seen before. Each credential
a request carries must pass; a signature never stands in for the key, so revoking an
application's keys shuts its integration out, whatever secrets it holds.

Two DRF authentication classes, used in this order by ``integration.views.IntegrationView``:

- ``ContentSignatureAuthentication`` handles requests with a ``Content-Signature`` header (it
  checks the key, then the signature) and passes over the others;
- ``ApiKeyAuthentication`` handles requests with an ``ApiKey-v1`` key.

A request with neither is not authenticated, which the view answers with 401
(``missing_api_key``). Either class sets ``request.auth`` to the ``Application`` and
``request.user`` to an ``IntegrationClient``. Refusals are ``integration.errors.Unauthorized``
with a code saying why (the codes of ``integration.signing.SignatureError`` for signatures);
the answer carries ``WWW-Authenticate: ApiKey-v1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from django.core.cache import caches
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from campaigns.models import Application
from campaigns.services.keys import active_signing_secrets, integration_key_authenticate
from integration.errors import ErrorItem, Unauthorized
from integration.keys import AUTHORIZATION_SCHEME, parse_authorization
from integration.signing import (
    SIGNATURE_HEADER,
    CacheReplayGuard,
    SignatureError,
    parse_content_signature,
    verify,
)

#: The cache that remembers accepted signatures: Redis when ``REDIS_URL`` is set, shared by
#: every web process; otherwise this process's memory, which guards one process only.
REPLAY_CACHE = "default"


@dataclass(frozen=True, slots=True)
class IntegrationClient:
    """``request.user`` of an authenticated Integration API request: an application's
    integration, not a person. ``signed`` says whether the request carried a valid signature.
    """

    application: Application
    signed: bool

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: ApiKey-v1 <key>``: the application whose unexpired key it is.

    Passes (``None``) over a request without an ``ApiKey-v1`` authorization, and refuses one
    whose key is malformed, unknown or expired.
    """

    def authenticate(self, request: Request) -> tuple[IntegrationClient, Application] | None:
        application = self.authenticate_key(request, now=timezone.now())
        if application is None:
            return None
        return IntegrationClient(application=application, signed=False), application

    def authenticate_header(self, request: Request) -> str:
        # A scheme to challenge with makes DRF answer a refusal with 401, not 403.
        return AUTHORIZATION_SCHEME

    def authenticate_key(self, request: Request, *, now: datetime) -> Application | None:
        """The application of the request's API key; ``None`` when it names no ``ApiKey-v1``
        key; ``Unauthorized`` when the key is malformed, unknown or expired."""
        raw_key = request_api_key(request)
        if raw_key is None:
            return None
        application = integration_key_authenticate(raw_key=raw_key, now=now)
        if application is None:
            raise api_key_unknown()
        application_found(request, application)
        return application


def request_api_key(request: Request) -> str | None:
    """The key of the request's ``Authorization: ApiKey-v1 <key>``; ``None`` when it has no
    ``ApiKey-v1`` authorization; ``Unauthorized`` (``malformed_api_key``) when the key is
    malformed."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None or header.split(" ", 1)[0].lower() != AUTHORIZATION_SCHEME.lower():
        return None
    raw_key = parse_authorization(header)
    if raw_key is None:
        raise api_key_refused(
            "malformed_api_key",
            f"The Authorization header must be `{AUTHORIZATION_SCHEME} <key>`: the scheme, "
            f"one space and the key.",
        )
    return raw_key


def api_key_unknown() -> Unauthorized:
    """The refusal of a key that no application has, or that has expired."""
    return api_key_refused(
        "invalid_api_key",
        "The API key is unknown or has expired: check the key, or create a new one.",
    )


def api_key_alone(request: Request) -> bool:
    """Whether ``request`` names an ``ApiKey-v1`` key and carries no ``Content-Signature``:
    ``ApiKeyAuthentication`` alone would decide it. A view may then check the key itself
    (``request_api_key``, ``api_key_unknown``, ``api_key_authenticated``)."""
    header = request.META.get("HTTP_AUTHORIZATION")
    return (
        header is not None
        and header.split(" ", 1)[0].lower() == AUTHORIZATION_SCHEME.lower()
        and "HTTP_CONTENT_SIGNATURE" not in request.META
    )


def api_key_authenticated(request: Request, application: Application) -> None:
    """Authenticate ``request`` as ``application``, whose API key the view checked itself:
    what ``ApiKeyAuthentication`` gives DRF (``request.user`` and ``request.auth``), and the
    application for the access log."""
    # DRF's stubs type ``request.user`` as a Django user; an authenticator's user may be
    # anything (``authenticate`` returns it as ``Any``), as ``IntegrationClient`` is.
    request.user = IntegrationClient(application=application, signed=False)  # type: ignore[assignment]
    request.auth = application
    application_found(request, application)


def application_found(request: Request, application: Application) -> None:
    """Tell the access log (``integration.access_log``), which records the request after it,
    which application made it."""
    request._request.talon_application_id = application.pk  # type: ignore[attr-defined]


class ContentSignatureAuthentication(ApiKeyAuthentication):
    """``Content-Signature`` with the API key: both valid, for the same application.

    Passes (``None``) over a request without a ``Content-Signature`` header. Otherwise the
    request must carry a valid API key, and the signature must name the key's application as
    its signer, match one of that application's active signing secrets over the request's
    method, path, query string and raw body, be within five minutes of the server's clock and
    be new: a signature is accepted once (``integration.signing.verify``).
    """

    def authenticate(self, request: Request) -> tuple[IntegrationClient, Application] | None:
        header = request.META.get("HTTP_CONTENT_SIGNATURE")
        if header is None:
            return None
        now = timezone.now()
        application = self.authenticate_key(request, now=now)
        if application is None:
            raise api_key_refused(
                "missing_api_key",
                f"A signed request carries the application's API key as well: "
                f"`Authorization: {AUTHORIZATION_SCHEME} <key>`.",
            )
        try:
            _check_signer(header, application=application)
            verify(
                header=header,
                secrets=active_signing_secrets(application=application, now=now),
                method=request.method or "",
                path=request.get_full_path(),
                # The raw bytes, read before DRF parses them; DRF then parses from this copy.
                body=request._request.body,
                now=now.timestamp(),
                seen=CacheReplayGuard(caches[REPLAY_CACHE]),
            )
        except SignatureError as error:
            raise _signature_refused(error.code, error.message) from error
        return IntegrationClient(application=application, signed=True), application


def _check_signer(header: str, *, application: Application) -> None:
    signer = parse_content_signature(header).signer
    if isinstance(signer, str):
        raise SignatureError(
            "bad_signer", "The signer must be the application id, a number without leading zeros."
        )
    if signer != application.pk:
        raise _signature_refused(
            "wrong_signer",
            "The signer is not the application of the API key: sign with that application's id "
            "and signing secret.",
        )


def api_key_refused(code: str, details: str) -> Unauthorized:
    """The refusal of a request whose API key is missing (``missing_api_key``) or not valid."""
    message = (
        "The request carries no API key."
        if code == "missing_api_key"
        else "The API key was refused."
    )
    item = ErrorItem(code=code, title="API key refused", details=details, parameter="Authorization")
    return Unauthorized(message, [item], code=code)


def _signature_refused(code: str, details: str) -> Unauthorized:
    item = ErrorItem(
        code=code, title="Signature refused", details=details, parameter=SIGNATURE_HEADER
    )
    return Unauthorized("The request's signature was refused.", [item], code=code)
