"""The base of every Integration API view.

``IntegrationView`` authenticates the calling application (``integration.authentication``),
reads JSON bodies of up to ``MAX_BODY_BYTES`` and answers JSON, errors included
(``integration.errors``). Endpoints subclass it, parse their input with a serializer, call a
service with ``self.application`` and return what it gives::

    class CustomerSessionView(IntegrationView):
        def put(self, request: Request, customer_session_id: str) -> Response:
            ...
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NoReturn

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from campaigns.models import Application
from integration.authentication import (
    ApiKeyAuthentication,
    ContentSignatureAuthentication,
    api_key_refused,
)
from integration.errors import BadRequest, ErrorItem, PayloadTooLarge
from integration.keys import AUTHORIZATION_SCHEME

#: The largest request body read, in bytes: a session with the most cart items allowed
#: (1,000) and generous attributes fits several times over.
MAX_BODY_BYTES = 2 * 1024 * 1024


class IsApplication(BasePermission):
    """Allows requests authenticated as an application, and nothing else."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, Application)


class JsonOnly(DefaultContentNegotiation):
    """Answers in the view's one renderer (JSON) whatever the ``Accept`` header asks: there is
    no other representation to offer, and refusing a shop's odd ``Accept`` (406) helps nobody.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class DecimalJSONParser(JSONParser):
    """JSON whose decimal numbers are read as ``Decimal``, exactly as sent: money is never a
    float. ``NaN`` and ``Infinity`` are refused, and so are nesting too deep to read and strings
    holding NUL, which PostgreSQL cannot store."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            document = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
            # PostgreSQL's text cannot hold NUL: refused here rather than failing at the write.
            if "\\u0000" in text and _holds_nul(document):
                raise ValueError("a string holds NUL (\\u0000), which cannot be stored")
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply") from None
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        return document


def _holds_nul(value: Any) -> bool:
    """Whether a string of the parsed JSON ``value``, keys included, holds NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


class IntegrationView(APIView):
    """An Integration API endpoint: an authenticated application, JSON in and out."""

    authentication_classes = [ContentSignatureAuthentication, ApiKeyAuthentication]
    permission_classes = [IsApplication]
    parser_classes = [DecimalJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
    # OPTIONS answers 405 rather than describing the endpoint.
    metadata_class = None
    max_body_bytes = MAX_BODY_BYTES

    @property
    def allowed_methods(self) -> list[str]:
        # Without a metadata class OPTIONS is refused, so it is not offered in ``Allow``.
        return [method for method in super().allowed_methods if method != "OPTIONS"]

    @property
    def application(self) -> Application:
        """The application the request is authenticated as."""
        application = self.request.auth
        assert isinstance(application, Application), "IsApplication lets no other request in"
        return application

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication, which reads the body of a signed request.
        check_body_size(request, limit=self.max_body_bytes)
        check_no_nul(request)
        super().initial(request, *args, **kwargs)

    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> NoReturn:
        if request.authenticators and not request.successful_authenticator:
            raise api_key_refused(
                "missing_api_key",
                f"Send `Authorization: {AUTHORIZATION_SCHEME} <key>` with one of the "
                f"application's API keys.",
            )
        super().permission_denied(request, message, code)


def check_no_nul(request: Request) -> None:
    """Refuse a path or query parameter holding NUL (400): PostgreSQL's text cannot hold it, so
    no id or filter with one names anything, and a query with one would fail."""
    if "\x00" in request.path:
        item = ErrorItem(
            code="invalid_path",
            title="Invalid value",
            details="The path may not contain NUL (%00).",
            resource=request.path.replace("\x00", "%00"),
        )
        raise BadRequest("The path is not valid.", [item], code="invalid_path")
    for name, values in request.query_params.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            item = ErrorItem(
                code="invalid_query_parameter",
                title="Invalid value",
                details="Query parameters may not contain NUL (%00).",
                parameter=name.replace("\x00", "%00"),
            )
            raise BadRequest("The query parameters are not valid.", [item])


def check_body_size(request: Request, *, limit: int) -> None:
    """Refuse a request whose ``Content-Length`` is over ``limit`` (413), before reading it.

    Django reads at most ``Content-Length`` bytes of a body, so the header bounds what is read.
    """
    header = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(header)
    except ValueError:
        length = -1
    if length < 0:
        item = ErrorItem(
            code="bad_content_length",
            title="Bad Content-Length",
            details="The Content-Length header must be a whole number of bytes.",
            parameter="Content-Length",
        )
        raise BadRequest("The Content-Length header is not valid.", [item])
    if length > limit:
        details = f"The request body is {length} bytes; this endpoint reads at most {limit}."
        item = ErrorItem(
            code="payload_too_large", title="Body too large", details=details, pointer=""
        )
        raise PayloadTooLarge(details, [item])
