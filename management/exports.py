"""Exports: CSV downloads of an application's data, and the record of every export made.

- ``export_record``: the service every export endpoint calls before it answers, recording who
  exported what (``Export``: the entity, the application and campaign, the filters it was
  asked with).
- ``getExports`` (``GET /v1/exports``): the exports the caller may see, in the order they
  were made (``sort=-created``: newest first): those
  of the applications they may see (a management key: of its applications), and their own
  exports of no application. Filters: ``applicationId``, ``campaignId``, ``entity``. Answered
  as Talon.One does, ``{totalResultSize, data}``; ``userId`` is the user who exported (for a
  management key, the user who created it; 0 when there is none).
- ``exportEffects`` (``GET /v1/applications/{applicationId}/export_effects``): the effect log
  (every effect recorded, rolled back or not) as CSV, filtered by ``campaignId``,
  ``createdBefore`` and ``createdAfter``.
- ``exportCustomerSessions`` (``GET /v1/applications/{applicationId}/export_customer_sessions``):
  the sessions as CSV, filtered by ``createdBefore``, ``createdAfter``, ``updatedBefore``,
  ``updatedAfter``, ``profileIntegrationId`` and ``customerSessionState``.

Coupons and referrals are exported by ``management.coupons`` and ``management.referrals``,
recorded and answered (``csv_response``, ``CSV_ANSWERS``) as these are.

Both CSV exports are streamed as they are read (``EXPORT_CHUNK_SIZE`` rows at a time), with
Talon.One's columns in its order. ``dateFormat=ISO8601`` (the default) writes times in RFC 3339
(UTC); ``dateFormat=excel`` as ``YYYY-MM-DD HH:MM:SS`` (UTC), which spreadsheets read as times.
Amounts are plain decimals, JSON columns JSON text, a time or id that is missing an empty cell
(``closedat`` and ``cancelledat`` are always empty: sessions do not keep those times).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from django.contrib.auth.models import AnonymousUser, User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application, CartItem, CustomerSession
from campaigns.models.customers import SessionState
from campaigns.models.effects import EffectRecord
from integration.render import rfc3339
from management.applications import ACCOUNT_ID
from management.models import Export, ExportEntity, ManagementKey, Role
from management.services import applications_visible
from management.views import ManagementView, paginate, query_error, query_time
from talonone.schema import PAGE_PARAMETERS

#: The media type of the CSV exports. Talon.One's reference documents ``application/csv``;
#: ``text/csv`` is CSV's registered type (RFC 4180), which clients read as text.
CSV_MEDIA_TYPE: Final = "text/csv"

#: Rows read from the database at a time while streaming an export.
EXPORT_CHUNK_SIZE: Final = 2000

#: The columns of ``exportEffects``, in Talon.One's order.
EFFECT_COLUMNS: Final = (
    "created",
    "name",
    "applicationid",
    "campaignid",
    "rulesetid",
    "ruleindex",
    "sessionintegrationid",
    "profileintegrationid",
    "sessionid",
    "profileid",
    "eventid",
    "event_type",
    "total_revenue",
    "props",
    "couponid",
    "store_id",
    "store_integration_id",
)

#: The columns of ``exportCustomerSessions``, in Talon.One's order.
SESSION_COLUMNS: Final = (
    "id",
    "firstsession",
    "integrationid",
    "applicationid",
    "profileid",
    "profileintegrationid",
    "created",
    "state",
    "cartitems",
    "discounts",
    "total",
    "attributes",
    "closedat",
    "cancelledat",
    "referral",
    "identifiers",
    "additional_costs",
    "updated",
    "store_integration_id",
    "coupons",
)

#: The values of ``dateFormat``.
DATE_FORMATS: Final = ("ISO8601", "excel")

Caller = User | AnonymousUser | ManagementKey


# ---------------------------------------------------------------------------------------------
# The record of exports


@transaction.atomic
def export_record(
    *,
    caller: Caller,
    entity: str,
    application: Application | None,
    filters: Mapping[str, Any],
    campaign_id: int | None = None,
) -> Export:
    """Record that ``caller`` exported ``entity`` (an ``ExportEntity``) of ``application``
    (and campaign ``campaign_id``) with ``filters`` (the query parameters as sent)."""
    if entity not in ExportEntity.values:
        raise ValueError(f"{entity!r} is not an export entity")
    key = caller if isinstance(caller, ManagementKey) else None
    user = key.created_by if key is not None else caller
    return Export.objects.create(
        user=user if isinstance(user, User) else None,
        management_key=key,
        application=application,
        campaign_id=campaign_id,
        entity=entity,
        filter=dict(filters),
    )


def exports_visible(caller: Caller) -> QuerySet[Export]:
    """The exports ``caller`` may see: those of the applications they may see, and their own
    exports of no application."""
    own = (
        Q(management_key=caller)
        if isinstance(caller, ManagementKey)
        else Q(user=caller, management_key__isnull=True)
        if isinstance(caller, User)
        else Q(pk__in=[])
    )
    return Export.objects.filter(
        Q(application__in=applications_visible(caller)) | (Q(application__isnull=True) & own)
    )


def render_export(export: Export) -> dict[str, Any]:
    """``export`` as Talon.One's ``Export``."""
    return {
        "id": export.pk,
        "created": rfc3339(export.created),
        "accountId": ACCOUNT_ID,
        "userId": export.user_id or 0,
        "entity": export.entity,
        "filter": export.filter,
    }


# ---------------------------------------------------------------------------------------------
# Query parameters


def _whole(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise query_error(name, f"{name} must be a whole number.")
    return int(text)


def _date_format(request: Request) -> str:
    text = request.query_params.get("dateFormat", "ISO8601")
    if text not in DATE_FORMATS:
        raise query_error("dateFormat", "dateFormat may be ISO8601 or excel.")
    return text


def export_filters(request: Request, names: Iterable[str]) -> dict[str, str]:
    """The query parameters of ``names`` that were sent: the export's ``filter``."""
    return {name: request.query_params[name] for name in names if name in request.query_params}


def _created_between(request: Request, rows: QuerySet[Any]) -> QuerySet[Any]:
    for name, lookup in (("createdBefore", "created__lte"), ("createdAfter", "created__gte")):
        moment = query_time(request, name)
        if moment is not None:
            rows = rows.filter(**{lookup: moment})
    return rows


# ---------------------------------------------------------------------------------------------
# CSV


class _Echo:
    def write(self, line: str) -> str:
        return line


def _cell(value: Any, *, date_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S") if date_format == "excel" else rfc3339(moment)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, separators=(", ", ": "))
    return str(value)


def _csv(
    header: tuple[str, ...], rows: Iterator[tuple[Any, ...]], *, date_format: str
) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(value, date_format=date_format) for value in row])


def effects_csv(effects: QuerySet[EffectRecord], *, date_format: str) -> Iterator[str]:
    """``effects`` as the lines of ``exportEffects``' CSV, oldest first."""
    fields = (
        "created",
        "effect_type",
        "application_id",
        "campaign_id",
        "ruleset_id",
        "rule_index",
        "session__integration_id",
        "profile__integration_id",
        "session_id",
        "profile_id",
        "event_id",
        "event__type",
        "session__total",
        "props",
        "triggered_by_coupon_id",
    )
    rows = (
        (*values, None, store)
        for *values, store in effects.order_by("created", "id")
        .values_list(*fields, "session__store_integration_id")
        .iterator(EXPORT_CHUNK_SIZE)
    )
    return _csv(EFFECT_COLUMNS, rows, date_format=date_format)


def _cart_item(item: CartItem) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "sku": item.sku,
        "name": item.name,
        "price": item.price,
        "quantity": item.quantity,
        "category": item.category,
        "position": item.position,
        "attributes": item.attributes,
        "returnedQuantity": item.returned_quantity,
        "remainingQuantity": item.remaining_quantity,
    }
    for name in ("weight", "height", "width", "length"):
        value = getattr(item, name)
        if value is not None:
            rendered[name] = value
    return rendered


def sessions_csv(sessions: QuerySet[CustomerSession], *, date_format: str) -> Iterator[str]:
    """``sessions`` as the lines of ``exportCustomerSessions``' CSV, oldest first."""
    ordered = (
        sessions.order_by("created", "id")
        .select_related("profile")
        .prefetch_related(Prefetch("cart_items", queryset=CartItem.objects.order_by("position")))
    )
    rows: Iterator[tuple[Any, ...]] = (
        (
            session.pk,
            session.first_session,
            session.integration_id,
            session.application_id,
            session.profile_id,
            session.profile.integration_id if session.profile is not None else None,
            session.created,
            session.state,
            [_cart_item(item) for item in session.cart_items.all()],
            {},
            session.total,
            session.attributes,
            None,
            None,
            session.referral_code,
            session.identifiers,
            session.additional_costs,
            session.updated,
            session.store_integration_id,
            session.coupon_codes,
        )
        for session in ordered.iterator(EXPORT_CHUNK_SIZE)
    )
    return _csv(SESSION_COLUMNS, rows, date_format=date_format)


def csv_response(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    """``lines`` streamed as the attachment ``filename``, in ``CSV_MEDIA_TYPE`` (UTF-8): the
    answer of every CSV export."""
    response = StreamingHttpResponse(lines, content_type=f"{CSV_MEDIA_TYPE}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------------------------------------
# Views


class ExportSerializer(serializers.Serializer[Any]):
    """Talon.One's ``Export`` (``render_export``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    accountId = serializers.IntegerField()
    userId = serializers.IntegerField()
    entity = serializers.ChoiceField(choices=ExportEntity.values)
    filter = serializers.DictField()

    class Meta:
        ref_name = "Export"


#: A page of exports, as Talon.One answers ``getExports``: no ``hasMore``.
EXPORTS_PAGE = inline_serializer(
    "ExportsPage",
    {"totalResultSize": serializers.IntegerField(), "data": ExportSerializer(many=True)},
)


#: The ``responses`` of every CSV export's schema: ``csv_response``'s media type.
CSV_ANSWERS: Final = {
    (200, CSV_MEDIA_TYPE): OpenApiResponse(
        OpenApiTypes.STR, description="CSV (UTF-8) with a header line, streamed."
    )
}
_DATE_FORMAT = OpenApiParameter("dateFormat", str, enum=list(DATE_FORMATS))
_CREATED = [
    OpenApiParameter("createdBefore", OpenApiTypes.DATETIME),
    OpenApiParameter("createdAfter", OpenApiTypes.DATETIME),
]


class ExportsView(ManagementView):
    operation = "getExports"

    @extend_schema(
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("applicationId", int),
            OpenApiParameter("campaignId", int),
            OpenApiParameter("entity", str, enum=ExportEntity.values),
        ],
        responses={200: EXPORTS_PAGE},
    )
    def get(self, request: Request) -> Response:
        exports = exports_visible(self.caller)
        application_id = _whole(request, "applicationId")
        if application_id is not None:
            exports = exports.filter(application_id=application_id)
        campaign_id = _whole(request, "campaignId")
        if campaign_id is not None:
            exports = exports.filter(campaign_id=campaign_id)
        entity = request.query_params.get("entity")
        if entity is not None:
            if entity not in ExportEntity.values:
                raise query_error(
                    "entity", f"entity may be one of {', '.join(ExportEntity.values)}."
                )
            exports = exports.filter(entity=entity)
        page = paginate(request, exports, sortable={"created": "created"}, render=render_export)
        return Response({"totalResultSize": page["totalResultSize"], "data": page["data"]})


class ExportEffectsView(ManagementView):
    operation = "exportEffects"

    @extend_schema(
        parameters=[OpenApiParameter("campaignId", int), *_CREATED, _DATE_FORMAT],
        responses=CSV_ANSWERS,
    )
    def get(self, request: Request, application_id: int) -> HttpResponse | StreamingHttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        date_format = _date_format(request)
        effects = _created_between(request, EffectRecord.objects.filter(application=application))
        campaign_id = _whole(request, "campaignId")
        if campaign_id is not None:
            effects = effects.filter(campaign_id=campaign_id)
        export_record(
            caller=self.caller,
            entity=ExportEntity.EFFECT,
            application=application,
            campaign_id=campaign_id,
            filters=export_filters(
                request, ("campaignId", "createdBefore", "createdAfter", "dateFormat")
            ),
        )
        return csv_response(effects_csv(effects, date_format=date_format), "effects.csv")


_SESSION_FILTERS: Final = (
    "createdBefore",
    "createdAfter",
    "updatedBefore",
    "updatedAfter",
    "profileIntegrationId",
    "dateFormat",
    "customerSessionState",
)


class ExportCustomerSessionsView(ManagementView):
    operation = "exportCustomerSessions"

    @extend_schema(
        parameters=[
            *_CREATED,
            OpenApiParameter("updatedBefore", OpenApiTypes.DATETIME),
            OpenApiParameter("updatedAfter", OpenApiTypes.DATETIME),
            OpenApiParameter("profileIntegrationId", str),
            _DATE_FORMAT,
            OpenApiParameter("customerSessionState", str, enum=SessionState.values),
        ],
        responses=CSV_ANSWERS,
    )
    def get(self, request: Request, application_id: int) -> HttpResponse | StreamingHttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        date_format = _date_format(request)
        sessions = _created_between(
            request, CustomerSession.objects.filter(application=application)
        )
        for name, lookup in (("updatedBefore", "updated__lte"), ("updatedAfter", "updated__gte")):
            moment = query_time(request, name)
            if moment is not None:
                sessions = sessions.filter(**{lookup: moment})
        profile = request.query_params.get("profileIntegrationId")
        if profile is not None:
            sessions = sessions.filter(profile__integration_id=profile)
        state = request.query_params.get("customerSessionState")
        if state is not None:
            if state not in SessionState.values:
                raise query_error(
                    "customerSessionState",
                    f"customerSessionState may be one of {', '.join(SessionState.values)}.",
                )
            sessions = sessions.filter(state=state)
        export_record(
            caller=self.caller,
            entity=ExportEntity.CUSTOMER_SESSION,
            application=application,
            filters=export_filters(request, _SESSION_FILTERS),
        )
        return csv_response(sessions_csv(sessions, date_format=date_format), "sessions.csv")
