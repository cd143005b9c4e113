"""The base of every Management API view, and Talon.One's pagination.

``ManagementView`` authenticates the caller (a bearer token or a management key,
``management.authentication``), reads and answers JSON as the Integration API does (its parser,
content negotiation, body limit and Talon.One-shaped errors) and names its operation
(Talon.One's operationId), which a management key must allow. Endpoints subclass it, reach an
application through ``application_for`` (never by id alone) and page lists with ``paginate``::

    class CampaignsView(ManagementView):
        operation = "getCampaigns"

        def get(self, request: Request, application_id: int) -> Response:
            application = self.application_for(application_id, role=Role.VIEWER)
            return Response(paginate(request, campaigns_of(application), ...))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any, ClassVar, Literal, NoReturn, TypeVar, overload

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model, QuerySet
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from campaigns.models import Application, Campaign
from campaigns.selectors import campaign_get
from integration.errors import BadRequest, ErrorItem, IntegrationError, NotFound
from integration.render import rfc3339
from integration.views import (
    MAX_BODY_BYTES,
    DecimalJSONParser,
    JsonOnly,
    check_body_size,
    check_no_nul,
)
from management.authentication import (
    BEARER_SCHEME,
    KEY_SCHEME,
    BearerAuthentication,
    ManagementKeyAuthentication,
    ManagementKeyRate,
    refused,
)
from management.models import ManagementKey, ManagementToken
from management.services import applications_visible, role_allows, role_in
from rules.values import parse_instant

M = TypeVar("M", bound=Model)

#: Talon.One's page size: the default, and the most a page may hold.
MAX_PAGE_SIZE = 1000

#: The furthest ``skip`` may reach: far beyond any list, and within PostgreSQL's OFFSET.
MAX_SKIP = 2**31 - 1

#: The largest id a URL may name (PostgreSQL's ``bigint``); larger ones name nothing.
MAX_ID = 2**63 - 1


class Forbidden(IntegrationError):
    """403: the caller may see the object but not do this to it."""

    default_code = "forbidden"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(HTTPStatus.FORBIDDEN, message, code=code)


class TooManyRequests(IntegrationError):
    """429: too many requests; ``wait`` is the ``Retry-After`` (seconds)."""

    default_code = "too_many_requests"

    def __init__(
        self, message: str, errors: tuple[ErrorItem, ...] = (), *, wait: int, code: str
    ) -> None:
        super().__init__(HTTPStatus.TOO_MANY_REQUESTS, message, errors, code=code)
        self.wait = wait


class ManagementAccess(BasePermission):
    """Lets in a user with a live token, and a management key for the operations it allows.

    An application id in the URL that the caller may not see is answered 404 here already, so
    that an endpoint cannot leak another tenant's objects even before it calls
    ``application_for``.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        caller = request.auth
        if not isinstance(caller, ManagementToken | ManagementKey):
            return False
        assert isinstance(view, ManagementView)
        if (
            isinstance(caller, ManagementKey)
            and view.operation_name not in caller.allowed_endpoints
        ):
            raise Forbidden(
                f"This management key may not call {view.operation_name}: allow it in the "
                f"key's endpoints.",
                code="endpoint_not_allowed",
            )
        application_id = view.kwargs.get("application_id")
        if application_id is not None:
            view.application_for(application_id, role=None)
        return True


class ManagementView(APIView):
    """A Management API endpoint: an authenticated user or key, JSON in and out.

    ``operation`` is Talon.One's operationId of the endpoint (``"getApplications"``), or a
    mapping from HTTP method to operationId when one path serves several operations.
    """

    operation: ClassVar[str | Mapping[str, str]]

    authentication_classes = [BearerAuthentication, ManagementKeyAuthentication]
    permission_classes = [ManagementAccess]
    throttle_classes = [ManagementKeyRate]
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
    def operation_name(self) -> str:
        """The operationId of the request's method."""
        if isinstance(self.operation, str):
            return self.operation
        return self.operation.get(self.request.method or "", "")

    @property
    def caller(self) -> User | AnonymousUser | ManagementKey:
        """Who is calling: the management key, or the user of the bearer token."""
        if isinstance(self.request.auth, ManagementKey):
            return self.request.auth
        user = self.request.user
        assert isinstance(user, User | AnonymousUser)
        return user

    def application_for(self, application_id: int, *, role: str | None) -> Application:
        """The application ``application_id`` if the caller may act on it with at least
        ``role`` (any role when ``None``).

        ``NotFound`` when the caller may not see it, exactly as when there is no such
        application; ``Forbidden`` when they may see it but their role is below ``role``. A
        management key may do anything its endpoints allow on the applications it lists.
        """
        caller = self.caller
        application = None
        if 0 < application_id <= MAX_ID:
            application = applications_visible(caller).filter(pk=application_id).first()
        if application is None:
            raise NotFound(
                f"There is no application {application_id}.", code="application_not_found"
            )
        if role is None or isinstance(caller, ManagementKey):
            return application
        if not role_allows(role_in(caller, application), role):
            raise Forbidden(
                f"Your role in this application does not allow this: it needs {role}.",
                code="role_too_low",
            )
        return application

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_body_size(request, limit=self.max_body_bytes)
        check_no_nul(request)
        super().initial(request, *args, **kwargs)

    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> NoReturn:
        if request.authenticators and not request.successful_authenticator:
            raise refused(
                "missing_credentials",
                f"Send `Authorization: {BEARER_SCHEME} <token>` with a token from POST "
                f"/v1/sessions, or `Authorization: {KEY_SCHEME} <key>`.",
            )
        super().permission_denied(request, message, code)

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        seconds = int(wait or 1)
        item = ErrorItem(
            code="rate_limited",
            title="Too many requests",
            details=f"This management key has made too many requests this minute: try again in "
            f"{seconds} seconds.",
            parameter="Authorization",
        )
        raise TooManyRequests("Too many requests.", (item,), wait=seconds, code="rate_limited")


def campaign_of(application: Application, campaign_id: int) -> Campaign:
    """The application's campaign ``campaign_id``; ``NotFound`` when it has none (another
    tenant's campaign is answered as one that does not exist)."""
    if 0 < campaign_id <= MAX_ID:
        try:
            return campaign_get(application=application, id=campaign_id)
        except Campaign.DoesNotExist:
            pass
    raise NotFound(
        f"There is no campaign {campaign_id} in this application.", code="campaign_not_found"
    )


class CampaignScopedView(ManagementView):
    """A base of the endpoints under ``…/campaigns/{campaignId}``: the campaign, reached
    through the application the caller may act on with ``role``."""

    def campaign_for(self, application_id: int, campaign_id: int, *, role: str) -> Campaign:
        return campaign_of(self.application_for(application_id, role=role), campaign_id)


def paginate(
    request: Request,
    queryset: QuerySet[M],
    *,
    sortable: Mapping[str, str],
    render: Callable[[M], dict[str, Any]],
    with_total: bool = True,
) -> dict[str, Any]:
    """A page of ``queryset`` as Talon.One answers lists: ``{hasMore, totalResultSize, data}``
    (without ``totalResultSize`` when ``with_total`` is false, as its ``…/no_total`` endpoints).

    Reads the query parameters ``pageSize`` (1 to 1000, default 1000), ``skip`` (default 0)
    and ``sort`` (a key of ``sortable``, which maps API field names to model fields; ``-`` in
    front sorts descending); ties, and lists without ``sort``, are in id order, so pages never
    overlap. Raises ``BadRequest`` for a value out of range or a field that cannot be sorted by.
    """
    page_size = _whole_number(request, "pageSize", default=MAX_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    skip = _whole_number(request, "skip", default=0, low=0, high=MAX_SKIP)
    ordering = _ordering(request, sortable)
    ordered = queryset.order_by(*ordering)
    rows = list(ordered[skip : skip + page_size + 1])
    has_more = len(rows) > page_size
    page: dict[str, Any] = {"hasMore": has_more}
    if with_total:
        page["totalResultSize"] = ordered.count()
    page["data"] = [render(row) for row in rows[:page_size]]
    return page


def query_problem(name: str, details: str) -> ErrorItem:
    """What is wrong with the query parameter ``name``, for a 400 that may list several."""
    return ErrorItem(
        code="invalid_query_parameter", title="Invalid value", details=details, parameter=name
    )


def query_error(name: str, details: str) -> BadRequest:
    """The 400 of the one query parameter ``name`` that is not valid."""
    return BadRequest(f"The query parameter {name} is not valid.", [query_problem(name, details)])


@overload
def query_time(request: Request, name: str, *, required: Literal[True]) -> datetime: ...


@overload
def query_time(request: Request, name: str, *, required: bool = False) -> datetime | None: ...


def query_time(request: Request, name: str, *, required: bool = False) -> datetime | None:
    """The query parameter ``name`` as an instant in UTC: an RFC 3339 time, or a date alone (its
    midnight in UTC, as Talon.One reads one); ``None`` when it is absent and not ``required``;
    a 400 naming it otherwise."""
    text = request.query_params.get(name)
    if text is None or (required and text == ""):
        if not required:
            return None
        raise query_error(name, f"{name} is required: an RFC 3339 time.")
    moment = parse_instant(text, dates=True)
    if moment is None:
        raise query_error(name, f"{name} must be an RFC 3339 time, such as 2026-07-01T00:00:00Z.")
    return moment


def _whole_number(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None
    if value is None or not low <= value <= high:
        raise query_error(name, f"{name} must be a whole number from {low} to {high}.")
    return value


def _ordering(request: Request, sortable: Mapping[str, str]) -> list[str]:
    text = request.query_params.get("sort")
    if text is None or text == "":
        return ["pk"]
    descending = text.startswith("-")
    field = sortable.get(text.removeprefix("-"))
    if field is None:
        item = ErrorItem(
            code="invalid_sort",
            title="Invalid value",
            details=f"sort may be one of {', '.join(sorted(sortable))}, with a - in front to "
            f"sort in descending order.",
            parameter="sort",
        )
        raise BadRequest("The query parameter sort is not valid.", [item])
    sign = "-" if descending else ""
    return [f"{sign}{field}", f"{sign}pk"]


class RFC3339Field(serializers.Field[datetime, datetime, str, Any]):
    """A time in RFC 3339 (``2026-07-01T00:00:00Z``), as Talon.One sends and reads them."""

    default_error_messages = {"invalid": "Enter an RFC 3339 time, such as 2026-07-01T00:00:00Z."}

    def to_internal_value(self, data: Any) -> datetime:
        # In UTC (``parse_instant``): PostgreSQL refuses offsets beyond ±15:59.
        moment = parse_instant(data) if isinstance(data, str) else None
        if moment is None:
            self.fail("invalid")
        assert moment is not None
        return moment

    def to_representation(self, value: datetime) -> str:
        return rfc3339(value)
