"""Customer data of an application, read through the Management API (viewer role):

- ``getApplicationCustomer``: one customer profile by its internal id, in the Integration API's
  ``customerProfile`` shape (``integration.render.render_customer_profile``), with the account
  of the Management API (``accountId`` 1) and the application's ``sandbox``.
- ``getApplicationCustomers``: the application's customers in the same shape, paged (with
  ``totalResultSize`` only when ``withTotalResultSize=true``), ``integrationId`` an exact
  filter. ``getApplicationCustomersByAttributes`` (``POST …/customer_search``) lists those
  matching a body ``{attributes, integrationIDs, profileIDs}``: every attribute sent must be
  in the profile with that exact value (a number also matches the same number stored as text),
  and the profile must be one of ``integrationIDs`` and of ``profileIDs`` when they are sent.
- ``getApplicationSessions`` and ``getApplicationSession``: sessions in Talon.One's
  ``ApplicationSession`` shape. ``cartItems`` are rendered as the Integration API renders them;
  ``profileId`` is the customer's internal id (left out for an anonymous session) and
  ``profileintegrationid`` their integration id; ``coupon`` is the session's coupon codes
  joined by commas. ``discounts`` (API v1 only) is always ``{}``; ``totalDiscounts`` is the
  sum of the session's live discount effects in ``getApplicationSession`` and, as in
  Talon.One, ``0`` in lists.
- ``getApplicationEventsWithoutTotalCount``: events in Talon.One's ``ApplicationEvent`` shape;
  ``effects`` are the effects recorded for the event (custom events: the session's own
  ``talon_session_updated`` events carry none here).

Everything is scoped to an application the caller may see: another tenant's ids answer 404.
Filters follow the reference; a value that is not valid is a 400 naming its parameter.
``customerName`` and ``customerEmail`` filter events by the profile's ``Name`` and ``Email``
attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.db import connection
from django.db.models import BooleanField, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.json_queries import having_included, having_number
from campaigns.models import Application, CustomerProfile, CustomerSession, Event
from campaigns.models.customers import SessionState
from campaigns.models.effects import EffectRecord
from integration.errors import BadRequest, ErrorItem, NotFound
from integration.render import dumps, render_customer_profile, render_customer_session, rfc3339
from integration.sessions import profile_view, session_view
from management.applications import ACCOUNT_ID
from management.models import Role
from management.views import MAX_ID, ManagementView, paginate
from rules.values import parse_instant
from talonone.schema import PAGE_PARAMETERS, page_of

#: The fields ``getApplicationSessions`` sorts by: API name to model field.
SESSION_SORT_FIELDS: Final = {
    "id": "id",
    "created": "created",
    "integrationId": "integration_id",
    "state": "state",
    "total": "total",
}
#: The fields ``getApplicationEventsWithoutTotalCount`` sorts by.
EVENT_SORT_FIELDS: Final = {"id": "id", "created": "created", "type": "type"}

#: Effects whose ``value`` is a discount on the session (``totalDiscounts``).
DISCOUNT_EFFECTS: Final = frozenset({"setDiscount", "setDiscountPerItem"})

#: A partial match needs at least this many characters; shorter text is matched exactly.
PARTIAL_MATCH_MIN: Final = 3

#: The reference's shortest ``customerName`` and ``customerEmail``.
CUSTOMER_FILTER_MIN: Final = 2

#: Session filters matched on a text column: query parameter → model field.
_SESSION_TEXT_FILTERS: Final = {
    "profile": "profile__integration_id",
    "referral": "referral_code",
    "integrationId": "integration_id",
    "storeIntegrationId": "store_integration_id",
}

# ---------------------------------------------------------------------------------------------
# Rendering


def _json(data: Any) -> HttpResponse:
    # ``dumps`` writes amounts as exact numbers (DRF's encoder would make floats).
    return HttpResponse(dumps(data), content_type="application/json")


def render_management_customer(profile: CustomerProfile, *, types: Any) -> dict[str, Any]:
    """``profile`` as ``getApplicationCustomer`` answers it."""
    view = profile_view(profile, types=types)
    assert view is not None
    rendered = render_customer_profile(view)
    rendered["accountId"] = ACCOUNT_ID
    rendered["sandbox"] = profile.application.sandbox
    return rendered


def render_application_session(
    session: CustomerSession, *, types: Any, total_discounts: Decimal = Decimal(0)
) -> dict[str, Any]:
    """``session`` as Talon.One's ``ApplicationSession``; its cart items must be prefetched."""
    # The Integration API's rendering of the session gives the cart items and attributes.
    wire = render_customer_session(
        session_view(session, list(session.cart_items.all()), types=types)
    )
    rendered: dict[str, Any] = {
        "id": session.pk,
        "created": rfc3339(session.created),
        "integrationId": session.integration_id,
        "applicationId": session.application_id,
    }
    if session.store_integration_id:
        rendered["storeIntegrationId"] = session.store_integration_id
    if session.profile is not None:
        rendered["profileId"] = session.profile.pk
        rendered["profileintegrationid"] = session.profile.integration_id
    rendered["coupon"] = ",".join(session.coupon_codes)
    rendered["referral"] = session.referral_code
    rendered["state"] = session.state
    rendered["cartItems"] = wire["cartItems"]
    rendered["discounts"] = {}
    rendered["totalDiscounts"] = total_discounts
    rendered["total"] = session.total
    rendered["attributes"] = wire["attributes"]
    return rendered


def render_effect_record(record: EffectRecord) -> dict[str, Any]:
    """A recorded effect as an item of an event's ``effects``."""
    rendered: dict[str, Any] = {
        "campaignId": record.campaign_id or 0,
        "rulesetId": record.ruleset_id or 0,
        "ruleIndex": record.rule_index,
        "ruleName": record.rule_name,
        "effectType": record.effect_type,
    }
    if record.triggered_by_coupon_id is not None:
        rendered["triggeredByCoupon"] = record.triggered_by_coupon_id
    rendered["props"] = record.props
    return rendered


def render_application_event(event: Event) -> dict[str, Any]:
    """``event`` as Talon.One's ``ApplicationEvent``; its session, profile and effect records
    must be fetched with it."""
    rendered: dict[str, Any] = {
        "id": event.pk,
        "created": rfc3339(event.created),
        "applicationId": event.application_id,
    }
    if event.profile_id is not None:
        rendered["profileId"] = event.profile_id
    if event.session is not None:
        rendered["sessionId"] = event.session.pk
        if event.session.store_integration_id:
            rendered["storeIntegrationId"] = event.session.store_integration_id
    rendered["type"] = event.type
    rendered["attributes"] = event.attributes
    rendered["effects"] = [render_effect_record(record) for record in event.effect_records.all()]
    return rendered


def _total_discounts(session: CustomerSession) -> Decimal:
    total = Decimal(0)
    records = EffectRecord.objects.filter(
        session=session, rolled_back_at__isnull=True, effect_type__in=DISCOUNT_EFFECTS
    )
    for props in records.values_list("props", flat=True):
        value = props.get("value") if isinstance(props, dict) else None
        try:
            total += Decimal(str(value)) if value is not None else 0
        except InvalidOperation:
            continue
    return total


# ---------------------------------------------------------------------------------------------
# Query parameters


class _Problems:
    """The query parameters that are not valid, reported together."""

    def __init__(self, request: Request) -> None:
        self.params = request.query_params
        self.items: list[ErrorItem] = []

    def add(self, parameter: str, details: str) -> None:
        self.items.append(
            ErrorItem(
                code="invalid_query_parameter",
                title="Invalid value",
                details=details,
                parameter=parameter,
            )
        )

    def moment_filters(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        for parameter, lookup in (
            ("createdBefore", "created__lte"),
            ("createdAfter", "created__gte"),
        ):
            text = self.params.get(parameter)
            if text is None:
                continue
            moment = parse_instant(text)
            if moment is None:
                self.add(
                    parameter,
                    f"{parameter} must be an RFC 3339 time, such as 2026-07-01T00:00:00Z.",
                )
                continue
            queryset = queryset.filter(**{lookup: moment})
        return queryset

    def flag(self, parameter: str) -> bool:
        text = self.params.get(parameter)
        if text is None:
            return False
        if text not in ("true", "false"):
            self.add(parameter, f"{parameter} must be true or false.")
        return text == "true"

    def check(self) -> None:
        if self.items:
            names = ", ".join(dict.fromkeys(item.parameter or "" for item in self.items))
            raise BadRequest(f"The query parameters are not valid: {names}.", self.items)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_coupon(text: str, *, partial: bool) -> RawSQL:
    """Whether one of the session's coupon codes is ``text`` (or contains it, ignoring case)."""
    ops = connection.ops
    column = f"{ops.quote_name(CustomerSession._meta.db_table)}.{ops.quote_name('coupon_codes')}"
    # The column's name is ours and the text a parameter: nothing of the request is SQL.
    if connection.vendor == "postgresql":
        codes = f"jsonb_array_elements_text({column})"
        test = "code ILIKE %s" if partial else "code = %s"
        sql = f"EXISTS (SELECT 1 FROM {codes} AS code WHERE {test})"  # noqa: S608
    else:  # SQLite: LIKE ignores the case of ASCII letters
        test = "value LIKE %s ESCAPE '\\'" if partial else "value = %s"
        sql = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE {test})"  # noqa: S608
    value = f"%{_like_escaped(text)}%" if partial else text
    return RawSQL(sql, (value,), output_field=BooleanField())  # noqa: S611


def sessions_filtered(
    request: Request, sessions: QuerySet[CustomerSession]
) -> QuerySet[CustomerSession]:
    """``sessions`` narrowed by ``getApplicationSessions``' query parameters."""
    problems = _Problems(request)
    params = problems.params
    partial = problems.flag("partialMatch")
    state = params.get("state")
    if state is not None:
        if state in SessionState.values:
            sessions = sessions.filter(state=state)
        else:
            problems.add("state", f"state may be one of {', '.join(SessionState.values)}.")
    sessions = problems.moment_filters(sessions)
    for parameter, field in _SESSION_TEXT_FILTERS.items():
        text = params.get(parameter)
        if text is None:
            continue
        if partial and len(text) >= PARTIAL_MATCH_MIN:
            sessions = sessions.filter(**{f"{field}__icontains": text})
        else:
            sessions = sessions.filter(**{field: text})
    coupon = params.get("coupon")
    if coupon is not None:
        sessions = sessions.annotate(
            _has_coupon=_has_coupon(coupon, partial=partial and len(coupon) >= PARTIAL_MATCH_MIN)
        ).filter(_has_coupon=True)
    problems.check()
    return sessions


def events_filtered(request: Request, events: QuerySet[Event]) -> QuerySet[Event]:
    """``events`` narrowed by ``getApplicationEventsWithoutTotalCount``' query parameters."""
    problems = _Problems(request)
    params = problems.params
    types = params.get("type")
    if types is not None:
        names = [name.strip() for name in types.split(",") if name.strip()]
        if names:
            events = events.filter(type__in=names)
        else:
            problems.add("type", "type must name one event type or more, separated by commas.")
    events = problems.moment_filters(events)
    exact: dict[str, str] = {
        "session": "session__integration_id",
        "profile": "profile__integration_id",
        "referralCode": "session__referral_code",
    }
    for parameter, lookup in exact.items():
        text = params.get(parameter)
        if text is None:
            continue
        events = events.filter(**{lookup: text})
    coupon = params.get("couponCode")
    if coupon is not None:
        with_coupon = CustomerSession.objects.annotate(
            _has_coupon=_has_coupon(coupon, partial=False)
        ).filter(_has_coupon=True)
        events = events.filter(session__in=with_coupon.values("pk"))
    for parameter, attribute in (("customerName", "Name"), ("customerEmail", "Email")):
        text = params.get(parameter)
        if text is None:
            continue
        if len(text) < CUSTOMER_FILTER_MIN:
            problems.add(
                parameter, f"{parameter} must be at least {CUSTOMER_FILTER_MIN} characters long."
            )
            continue
        events = events.filter(**{f"profile__attributes__{attribute}__icontains": text})
    effect_filters: dict[str, Callable[[str], Q]] = {
        "effectType": lambda text: Q(effect_type=text),
        "ruleQuery": lambda text: Q(rule_name__icontains=text),
        "campaignQuery": lambda text: Q(campaign__name__icontains=text),
    }
    for parameter, condition in effect_filters.items():
        text = params.get(parameter)
        if text:
            matching = EffectRecord.objects.filter(condition(text), event__isnull=False)
            events = events.filter(pk__in=matching.values("event_id"))
    problems.check()
    return events


# ---------------------------------------------------------------------------------------------
# Schemas (OpenAPI): the answers as the functions above render them


class ManagementCustomerSerializer(serializers.Serializer[Any]):
    """A customer profile as the Management API answers it (``render_management_customer``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    integrationId = serializers.CharField()
    attributes = serializers.DictField()
    accountId = serializers.IntegerField()
    closedSessions = serializers.IntegerField()
    totalSales = serializers.DecimalField(max_digits=20, decimal_places=6, coerce_to_string=False)
    loyaltyMemberships = serializers.ListField(allow_null=True)
    audienceMemberships = serializers.ListField()
    lastActivity = serializers.DateTimeField()
    sandbox = serializers.BooleanField()

    class Meta:
        ref_name = "ApplicationCustomer"


class ApplicationSessionSerializer(serializers.Serializer[Any]):
    """Talon.One's ``ApplicationSession`` (``render_application_session``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    integrationId = serializers.CharField()
    applicationId = serializers.IntegerField()
    storeIntegrationId = serializers.CharField(required=False)
    profileId = serializers.IntegerField(required=False)
    profileintegrationid = serializers.CharField(required=False)
    coupon = serializers.CharField(allow_blank=True)
    referral = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=SessionState.choices)
    cartItems = serializers.ListField(child=serializers.DictField())
    discounts = serializers.DictField()
    totalDiscounts = serializers.DecimalField(
        max_digits=30, decimal_places=6, coerce_to_string=False
    )
    total = serializers.DecimalField(max_digits=20, decimal_places=6, coerce_to_string=False)
    attributes = serializers.DictField()

    class Meta:
        ref_name = "ApplicationSession"


class ApplicationEventEffectSerializer(serializers.Serializer[Any]):
    """An item of an event's ``effects`` (``render_effect_record``)."""

    campaignId = serializers.IntegerField()
    rulesetId = serializers.IntegerField()
    ruleIndex = serializers.IntegerField()
    ruleName = serializers.CharField(allow_blank=True)
    effectType = serializers.CharField()
    triggeredByCoupon = serializers.IntegerField(required=False)
    props = serializers.DictField()

    class Meta:
        ref_name = "ApplicationEventEffect"


class ApplicationEventSerializer(serializers.Serializer[Any]):
    """Talon.One's ``ApplicationEvent`` (``render_application_event``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    applicationId = serializers.IntegerField()
    profileId = serializers.IntegerField(required=False)
    sessionId = serializers.IntegerField(required=False)
    storeIntegrationId = serializers.CharField(required=False)
    type = serializers.CharField()
    attributes = serializers.DictField()
    effects = ApplicationEventEffectSerializer(many=True)

    class Meta:
        ref_name = "ApplicationEvent"


_CREATED_PARAMETERS = [
    OpenApiParameter("createdBefore", OpenApiTypes.DATETIME),
    OpenApiParameter("createdAfter", OpenApiTypes.DATETIME),
]


# ---------------------------------------------------------------------------------------------
# Views


def _types(application: Application) -> Any:
    return attribute_schema_get(application=application).types


def _valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


class ApplicationCustomerView(ManagementView):
    operation = "getApplicationCustomer"

    @extend_schema(responses={200: ManagementCustomerSerializer})
    def get(self, request: Request, application_id: int, customer_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        profile = None
        if _valid_id(customer_id):
            profile = (
                CustomerProfile.objects.select_related("application")
                .filter(application=application, pk=customer_id)
                .first()
            )
        if profile is None:
            raise NotFound(f"There is no customer {customer_id}.", code="customer_not_found")
        return _json(render_management_customer(profile, types=_types(application)))


def _sessions_of(application: Application) -> QuerySet[CustomerSession]:
    return (
        CustomerSession.objects.filter(application=application)
        .select_related("profile")
        .prefetch_related("cart_items")
    )


class ApplicationSessionsView(ManagementView):
    operation = "getApplicationSessions"

    @extend_schema(
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("sort", str, description=", ".join(SESSION_SORT_FIELDS)),
            OpenApiParameter("profile", str),
            OpenApiParameter("state", str, enum=SessionState.values),
            *_CREATED_PARAMETERS,
            OpenApiParameter("coupon", str),
            OpenApiParameter("referral", str),
            OpenApiParameter("integrationId", str),
            OpenApiParameter("storeIntegrationId", str),
            OpenApiParameter("partialMatch", bool),
        ],
        responses={200: page_of(ApplicationSessionSerializer)},
    )
    def get(self, request: Request, application_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        types = _types(application)
        page = paginate(
            request,
            sessions_filtered(request, _sessions_of(application)),
            sortable=SESSION_SORT_FIELDS,
            render=lambda session: render_application_session(session, types=types),
        )
        return _json(page)


class ApplicationSessionView(ManagementView):
    operation = "getApplicationSession"

    @extend_schema(responses={200: ApplicationSessionSerializer})
    def get(self, request: Request, application_id: int, session_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        session = None
        if _valid_id(session_id):
            session = _sessions_of(application).filter(pk=session_id).first()
        if session is None:
            raise NotFound(f"There is no session {session_id}.", code="session_not_found")
        return _json(
            render_application_session(
                session, types=_types(application), total_discounts=_total_discounts(session)
            )
        )


class ApplicationEventsNoTotalView(ManagementView):
    operation = "getApplicationEventsWithoutTotalCount"

    @extend_schema(
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("sort", str, description=", ".join(EVENT_SORT_FIELDS)),
            OpenApiParameter("type", str),
            *_CREATED_PARAMETERS,
            OpenApiParameter("session", str),
            OpenApiParameter("profile", str),
            OpenApiParameter("customerName", str),
            OpenApiParameter("customerEmail", str),
            OpenApiParameter("couponCode", str),
            OpenApiParameter("referralCode", str),
            OpenApiParameter("ruleQuery", str),
            OpenApiParameter("campaignQuery", str),
            OpenApiParameter("effectType", str),
        ],
        responses={200: page_of(ApplicationEventSerializer, with_total=False)},
    )
    def get(self, request: Request, application_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        events = (
            Event.objects.filter(application=application)
            .select_related("session")
            .prefetch_related(
                Prefetch("effect_records", queryset=EffectRecord.objects.order_by("id"))
            )
        )
        page = paginate(
            request,
            events_filtered(request, events),
            sortable=EVENT_SORT_FIELDS,
            render=render_application_event,
            with_total=False,
        )
        return _json(page)


#: The fields ``getApplicationCustomers`` sorts by (not in Talon.One's reference: ours).
CUSTOMER_SORT_FIELDS: Final = {
    "id": "id",
    "created": "created",
    "integrationId": "integration_id",
    "lastActivity": "last_activity",
}

#: The most ids ``getApplicationCustomersByAttributes`` takes in each list.
CUSTOMER_SEARCH_MAX_IDS: Final = 1000


def _customers_page(
    request: Request, application: Application, profiles: QuerySet[CustomerProfile]
) -> HttpResponse:
    problems = _Problems(request)
    with_total = problems.flag("withTotalResultSize")
    problems.check()
    types = _types(application)
    page = paginate(
        request,
        profiles.select_related("application"),
        sortable=CUSTOMER_SORT_FIELDS,
        render=lambda profile: render_management_customer(profile, types=types),
        with_total=with_total,
    )
    return _json(page)


#: A page of customers: ``totalResultSize`` only with ``withTotalResultSize=true``.
CUSTOMERS_PAGE = inline_serializer(
    "ApplicationCustomerPage",
    {
        "hasMore": serializers.BooleanField(),
        "totalResultSize": serializers.IntegerField(required=False),
        "data": ManagementCustomerSerializer(many=True),
    },
)

_CUSTOMERS_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter("withTotalResultSize", bool),
    OpenApiParameter("sort", str, description=", ".join(CUSTOMER_SORT_FIELDS)),
]


class ApplicationCustomersView(ManagementView):
    operation = "getApplicationCustomers"

    @extend_schema(
        parameters=[*_CUSTOMERS_PARAMETERS, OpenApiParameter("integrationId", str)],
        responses={200: CUSTOMERS_PAGE},
    )
    def get(self, request: Request, application_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        profiles = CustomerProfile.objects.filter(application=application)
        integration_id = request.query_params.get("integrationId")
        if integration_id is not None:
            profiles = profiles.filter(integration_id=integration_id)
        return _customers_page(request, application, profiles)


class CustomerSearchInput(serializers.Serializer[Any]):
    """The body of ``getApplicationCustomersByAttributes``."""

    attributes = serializers.DictField(required=False)
    integrationIDs = serializers.ListField(
        child=serializers.CharField(max_length=1000),
        required=False,
        max_length=CUSTOMER_SEARCH_MAX_IDS,
    )
    profileIDs = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=CUSTOMER_SEARCH_MAX_IDS,
    )


def customers_matching(
    profiles: QuerySet[CustomerProfile], search: dict[str, Any]
) -> QuerySet[CustomerProfile]:
    """``profiles`` narrowed by a ``CustomerSearchInput``: a number finds the same number,
    stored as a JSON number or as text (``12`` finds ``12.0`` and ``"12"``), a list the
    profiles whose list holds each of its elements, anything else the equal value (JSON
    containment); alike on PostgreSQL and SQLite (``campaigns.json_queries``)."""
    for name, value in search.get("attributes", {}).items():
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            profiles = having_number(profiles, "attributes", name, value)
        else:
            profiles = having_included(profiles, "attributes", name, _json_value(value))
    if "integrationIDs" in search:
        profiles = profiles.filter(integration_id__in=search["integrationIDs"])
    if "profileIDs" in search:
        profiles = profiles.filter(pk__in=search["profileIDs"])
    return profiles


def _json_value(value: Any) -> Any:
    """``value`` (read with decimals as ``Decimal``) as a JSON value the database compares."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value


class ApplicationCustomerSearchView(ManagementView):
    operation = "getApplicationCustomersByAttributes"

    @extend_schema(
        request=CustomerSearchInput,
        parameters=_CUSTOMERS_PARAMETERS,
        responses={200: CUSTOMERS_PAGE},
    )
    def post(self, request: Request, application_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        serializer = CustomerSearchInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        profiles = customers_matching(
            CustomerProfile.objects.filter(application=application), serializer.validated_data
        )
        return _customers_page(request, application, profiles)
