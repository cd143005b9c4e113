"""Errors of the HTTP APIs, in Talon.One's shape.

Every error answer of the Integration API (and of the Management API, whose errors Talon.One
shapes the same way) is one JSON body::

    {
      "message": "The request body is not valid.",
      "errors": [
        {
          "title": "Invalid value",
          "details": "Ensure this value is greater than or equal to 1.",
          "source": {"pointer": "/customerSession/cartItems/3/quantity"},
          "code": "min_value"
        }
      ],
      "StatusCode": 400
    }

``message``, ``errors`` (each with ``title``, ``details`` and a ``source`` holding exactly one
of ``pointer``, a JSON pointer (RFC 6901) into the request body; ``parameter``, the query
parameter or header at fault; ``resource``, the path of the request) and ``StatusCode`` are
Talon.One's field names. ``code``, a stable machine-readable reason, is ours: clients that do
not know it ignore it.

Three doors lead here, so that no error escapes in another shape:

- views raise an ``IntegrationError`` (``BadRequest``, ``Unauthorized``, ``NotFound``,
  ``Conflict``, ``PayloadTooLarge``), or let a ``rules.errors.RuleError`` through;
- ``exception_handler``, DRF's ``EXCEPTION_HANDLER`` for every API view, turns those and DRF's
  own exceptions (malformed JSON, validation errors with their nested details, missing
  credentials, wrong method or media type, throttling) into the body above;
- ``ApiErrorMiddleware`` reshapes the answers Django gives on its own for paths under ``/v1/``
  and ``/v2/`` (no such endpoint, an unreadable request, a crash) that never reach a DRF view.

The handler is generic rather than scoped to the Integration API because Talon.One's
Management API answers errors in the same shape: both APIs share it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse, UnreadablePostError
from django.http.response import HttpResponseBase
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from campaigns.services.rulesets import RulesetInvalid
from campaigns.services.sessions import SessionStateError
from integration.payloads import PayloadError
from rules.errors import RuleError

#: Path prefixes of the HTTP APIs, whose every error answer is JSON in the shape above.
API_PATH_PREFIXES = ("/v1/", "/v2/")

#: Headers of Django's own error answers that the reshaped answer keeps.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")

#: Titles of validation errors by DRF's error code; others are "Invalid value".
_VALIDATION_TITLES = {
    "required": "Missing value",
    "null": "Missing value",
    "blank": "Missing value",
}


@dataclass(frozen=True, slots=True)
class ErrorItem:
    """One problem with a request: an item of the body's ``errors``.

    Exactly one of ``pointer`` (into the JSON body; ``""`` is the whole body), ``parameter``
    (a query parameter or header) and ``resource`` (the request's path) says where it is.
    """

    code: str
    title: str
    details: str
    pointer: str | None = None
    parameter: str | None = None
    resource: str | None = None

    def __post_init__(self) -> None:
        sources = [self.pointer, self.parameter, self.resource]
        if sum(source is not None for source in sources) != 1:
            raise ValueError("an error item has exactly one of pointer, parameter and resource")

    def as_dict(self) -> dict[str, Any]:
        """The item as it is sent."""
        if self.pointer is not None:
            source = {"pointer": self.pointer}
        elif self.parameter is not None:
            source = {"parameter": self.parameter}
        else:
            source = {"resource": str(self.resource)}
        return {"title": self.title, "details": self.details, "source": source, "code": self.code}


class IntegrationError(drf.APIException):
    """An API request that cannot be served, answered with ``status`` in Talon.One's shape.

    ``message`` is a sentence for the integrator; ``errors`` say what is wrong and where. An
    error raised without items is answered with one, pointing at the request's path.

    A DRF ``APIException``, so that DRF treats one raised by an authentication class as a
    failed authentication.
    """

    status_code: int = HTTPStatus.BAD_REQUEST
    default_code = "error"

    def __init__(
        self,
        status: int,
        message: str,
        errors: Iterable[ErrorItem] = (),
        *,
        code: str | None = None,
    ) -> None:
        super().__init__(detail=message, code=code or self.default_code)
        self.status_code = status
        self.message = message
        self.errors = tuple(errors)
        self.code = code or self.default_code

    def items(self, *, path: str) -> list[ErrorItem]:
        """The body's ``errors``: those given, or one naming the request's path."""
        if self.errors:
            return list(self.errors)
        title = HTTPStatus(self.status_code).phrase
        return [ErrorItem(code=self.code, title=title, details=self.message, resource=path)]


class BadRequest(IntegrationError):
    """400: the request is malformed or its content is not valid."""

    default_code = "bad_request"

    def __init__(
        self, message: str, errors: Iterable[ErrorItem] = (), *, code: str | None = None
    ) -> None:
        super().__init__(HTTPStatus.BAD_REQUEST, message, errors, code=code)


class Unauthorized(IntegrationError):
    """401: the request's credentials are missing or refused."""

    default_code = "unauthorized"

    def __init__(
        self, message: str, errors: Iterable[ErrorItem] = (), *, code: str | None = None
    ) -> None:
        super().__init__(HTTPStatus.UNAUTHORIZED, message, errors, code=code)


class NotFound(IntegrationError):
    """404: no such endpoint, or no such object in the application."""

    default_code = "not_found"

    def __init__(
        self, message: str, errors: Iterable[ErrorItem] = (), *, code: str | None = None
    ) -> None:
        super().__init__(HTTPStatus.NOT_FOUND, message, errors, code=code)


class Conflict(IntegrationError):
    """409: the request conflicts with the object's state or with a concurrent request."""

    default_code = "conflict"

    def __init__(
        self, message: str, errors: Iterable[ErrorItem] = (), *, code: str | None = None
    ) -> None:
        super().__init__(HTTPStatus.CONFLICT, message, errors, code=code)


class PayloadTooLarge(IntegrationError):
    """413: the request body is over the size the endpoint reads."""

    default_code = "payload_too_large"

    def __init__(
        self, message: str, errors: Iterable[ErrorItem] = (), *, code: str | None = None
    ) -> None:
        super().__init__(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message, errors, code=code)


def error_body(*, status: int, message: str, errors: Iterable[ErrorItem]) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return {
        "message": message,
        "errors": [item.as_dict() for item in errors],
        "StatusCode": int(status),
    }


def json_pointer(parent: str, key: str | int) -> str:
    """``parent`` extended by one reference token, escaped as RFC 6901 asks."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{parent}/{token}"


def validation_items(detail: Any, pointer: str = "") -> list[ErrorItem]:
    """The items for a DRF ``ValidationError.detail``, each with a pointer into the body.

    The detail nests as the data did: dicts by field name (``non_field_errors`` meaning the
    object itself), lists of per-item details for lists of objects, dicts keyed by index for
    ``ListField``; leaves are ``ErrorDetail`` strings carrying a code.
    """
    if isinstance(detail, Mapping):
        items: list[ErrorItem] = []
        for key, value in detail.items():
            child = (
                pointer if key == api_settings.NON_FIELD_ERRORS_KEY else json_pointer(pointer, key)
            )
            items.extend(validation_items(value, child))
        return items
    if isinstance(detail, list | tuple):
        items = []
        for index, value in enumerate(detail):
            if isinstance(value, Mapping | list | tuple):
                items.extend(validation_items(value, json_pointer(pointer, index)))
            else:
                items.append(_validation_item(value, pointer))
        return items
    return [_validation_item(detail, pointer)]


def _validation_item(detail: Any, pointer: str) -> ErrorItem:
    code = str(getattr(detail, "code", None) or "invalid")
    title = _VALIDATION_TITLES.get(code, "Invalid value")
    return ErrorItem(code=code, title=title, details=str(detail), pointer=pointer)


def _rule_item(error: RuleError) -> ErrorItem:
    title = error.code.replace("_", " ").capitalize()
    return ErrorItem(code=error.code, title=title, details=error.message, pointer=error.pointer)


def _detail_text(exc: drf.APIException) -> str:
    return exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)


def _detail_code(exc: drf.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else str(exc.default_code)


def as_integration_error(exc: Exception) -> IntegrationError | None:
    """``exc`` as an ``IntegrationError``, or ``None`` for an exception that is not about the
    request (a bug, an unavailable database), which stays a 500."""
    if isinstance(exc, IntegrationError):
        return exc
    if isinstance(exc, RuleError):
        return BadRequest("The request is not valid.", [_rule_item(exc)], code=exc.code)
    if isinstance(exc, RulesetInvalid):
        return BadRequest("The rules are not valid.", [_rule_item(error) for error in exc.errors])
    if isinstance(exc, SessionStateError):
        item = ErrorItem(
            code="invalid_state_transition",
            title="Invalid state transition",
            details=str(exc),
            pointer="/customerSession/state",
        )
        return BadRequest(str(exc), [item], code="invalid_state_transition")
    if isinstance(exc, PayloadError):
        items = [
            ErrorItem(code="invalid_payload", title=title, details=details, pointer=pointer)
            for pointer, title, details in exc.problems
        ]
        return BadRequest("The request is not valid.", items, code="invalid_payload")
    if isinstance(exc, drf.ValidationError):
        return BadRequest("The request is not valid.", validation_items(exc.detail), code="invalid")
    if isinstance(exc, drf.ParseError):
        item = ErrorItem(
            code="parse_error", title="Malformed JSON", details=_detail_text(exc), pointer=""
        )
        return BadRequest("The request body is not valid JSON.", [item], code="parse_error")
    if isinstance(exc, drf.UnsupportedMediaType):
        item = ErrorItem(
            code="unsupported_media_type",
            title="Unsupported media type",
            details=f"{_detail_text(exc)} Send JSON, with `Content-Type: application/json`.",
            parameter="Content-Type",
        )
        return IntegrationError(
            exc.status_code, _detail_text(exc), [item], code="unsupported_media_type"
        )
    if isinstance(exc, drf.NotAcceptable):
        item = ErrorItem(
            code="not_acceptable",
            title="Not acceptable",
            details=_detail_text(exc),
            parameter="Accept",
        )
        return IntegrationError(exc.status_code, _detail_text(exc), [item], code="not_acceptable")
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        item = ErrorItem(
            code=_detail_code(exc),
            title="Unauthorized",
            details=_detail_text(exc),
            parameter="Authorization",
        )
        return Unauthorized(_detail_text(exc), [item], code=_detail_code(exc))
    if isinstance(exc, Http404):
        return NotFound("Not found.")
    if isinstance(exc, PermissionDenied):
        return IntegrationError(HTTPStatus.FORBIDDEN, "You may not do this.", code="forbidden")
    if isinstance(exc, drf.APIException):
        # MethodNotAllowed, NotFound, PermissionDenied, Throttled and any other.
        if isinstance(exc.detail, list | dict):
            return IntegrationError(
                exc.status_code, str(exc.default_detail), validation_items(exc.detail)
            )
        return IntegrationError(exc.status_code, _detail_text(exc), code=_detail_code(exc))
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge("The request body is too large.")
    if isinstance(exc, SuspiciousOperation | UnreadablePostError):
        return BadRequest("The request could not be read.")
    return None


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: any error about the request, in Talon.One's shape.

    A 401 carries ``WWW-Authenticate`` with the view's scheme (``ApiKey-v1``), a 429 its
    ``Retry-After``. Anything else (``None``) is a bug: DRF re-raises it, Django logs it and
    ``ApiErrorMiddleware`` answers a 500 in the same shape.
    """
    error = as_integration_error(exc)
    if error is None:
        return None
    request = context.get("request")
    view = context.get("view")
    headers: dict[str, str] = {}
    if error.status_code == HTTPStatus.UNAUTHORIZED and view is not None and request is not None:
        challenge = view.get_authenticate_header(request)
        if challenge:
            headers["WWW-Authenticate"] = challenge
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(int(wait))
    set_rollback()
    path = request.path if request is not None else ""
    body = error_body(
        status=error.status_code, message=error.message, errors=error.items(path=path)
    )
    return Response(body, status=error.status_code, headers=headers)


def is_api_path(path: str) -> bool:
    """Whether ``path`` belongs to the HTTP APIs (as opposed to the Campaign Manager)."""
    return path.startswith(API_PATH_PREFIXES)


class ApiErrorMiddleware:
    """Django's own error answers on API paths, in the API's shape.

    A request for an unknown endpoint, one Django cannot read (a bad ``Host``, a body over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``) or one that crashes never reaches a DRF view, and Django
    would answer it with an HTML page. Under ``/v1/`` and ``/v2/`` any error answer that is
    not already JSON is replaced by the JSON body above, with the same status.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code < HTTPStatus.BAD_REQUEST or not is_api_path(request.path_info):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        error = _django_error(response.status_code, method=request.method or "")
        reshaped = JsonResponse(
            error_body(
                status=error.status_code,
                message=error.message,
                errors=error.items(path=request.path),
            ),
            status=error.status_code,
        )
        for header in _KEPT_HEADERS:
            if header in response:
                reshaped[header] = response[header]
        return reshaped


def _django_error(status: int, *, method: str) -> IntegrationError:
    if status == HTTPStatus.NOT_FOUND:
        return NotFound("There is no such endpoint.")
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        return IntegrationError(
            status, f"Method {method} is not allowed here.", code="method_not_allowed"
        )
    if status == HTTPStatus.BAD_REQUEST:
        return BadRequest("The request could not be read.")
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return IntegrationError(
            status, "The server failed to answer this request.", code="server_error"
        )
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return IntegrationError(status, f"{phrase}.", code="error")
