"""Customer data of an application, read through the Management API (viewer role):

- ``getApplicationCustomer``: one customer profile by its internal id, in the Integration API's
  ``customerProfile`` shape (``integration.render.render_customer_profile``), with the account
  of the Management API (``accountId`` 1) and the application's ``sandbox``.
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
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.models import Application, CustomerProfile, CustomerSession, Event
from campaigns.models.customers import SessionState
from campaigns.models.effects import EffectRecord
from integration.errors import BadRequest, ErrorItem, NotFound
from integration.render import dumps, render_customer_profile, render_customer_session, rfc3339
from integration.sessions import profile_view, session_view
from management.applications import ACCOUNT_ID
from management.models import Role
from management.views import MAX_ID, ManagementView, paginate
from rules.values import parse_rfc3339

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
            moment = parse_rfc3339(text)
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
# Views


def _types(application: Application) -> Any:
    return attribute_schema_get(application=application).types


def _valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


class ApplicationCustomerView(ManagementView):
    operation = "getApplicationCustomer"

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
