"""A campaign's coupons: create them (``createCoupons``, up to ``SYNC_BATCH_MAX`` at once;
``createCouponsForMultipleRecipients``, one per customer; ``createCouponsAsync``, a batch a
worker fills), list them (``getCouponsWithoutTotalCount``), search them by attribute values
(``searchCouponsAdvancedWithoutTotalCount``, and application-wide
``searchCouponsAdvancedApplicationWideWithoutTotalCount``), change one (``updateCoupon``) or a
batch (``updateCouponBatch``), delete one (``deleteCoupon``) or those a filter matches
(``deleteCoupons``), import them from CSV (``importCoupons``) and export them
(``exportCoupons``, recorded as every export is: ``management.exports``), in Talon.One's
shapes. ``valuesOnly=true`` lists coupons by their values alone (``CouponValue``).

``GET /v1/applications/{applicationId}/coupon_batches/{batchId}`` (``getCouponBatch``) is ours:
Talon.One e-mails when an asynchronous batch is done; here a client asks for its progress.

Every endpoint reaches the campaign through the application the caller may act on (a campaign
of another application is answered 404, as one that does not exist); viewers read (searches
included, though they are POSTs), editors write. The whole request is checked before anything
is written, and bad input is answered 400 with a pointer at the field at fault. The writes are
``campaigns.services``' (``coupons``, ``coupon_batches``, ``coupon_csv``); the query filters,
file handling and answers here are shared with ``management.referrals``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError
from django.db.models import F, Q, QuerySet
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.evaluation import typed_attributes
from campaigns.models import Application, Campaign, Coupon, CouponBatch, Referral
from campaigns.models.coupon_batches import COUPON_BATCH_ID_MAX_LENGTH
from campaigns.models.coupons import COUPON_COUNT_LIMIT_MAX, COUPON_VALUE_MAX_LENGTH
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH, MONEY_DIGITS, MONEY_PLACES
from campaigns.selectors import (
    CAMPAIGN_STATES,
    attribute_schema,
    campaigns_in_state,
)
from campaigns.services.coupon_batches import (
    BATCH_COUNT_MAX,
    DEFAULT_CODE_LENGTH,
    PATTERN_MIN_LENGTH,
    RANDOM_CHARACTER,
    RECIPIENTS_MAX,
    SYNC_BATCH_MAX,
    CouponCodesExhausted,
    coupon_batch_create,
    coupon_batch_get,
    coupons_generate,
    coupons_generate_for_recipients,
)
from campaigns.services.coupon_csv import ImportResult, coupons_export_csv, coupons_import_csv
from campaigns.services.coupons import (
    CouponExists,
    CouponInvalid,
    coupon_delete,
    coupon_update,
    coupons_delete,
    coupons_update,
    coupons_with_attributes,
)
from integration.errors import BadRequest, Conflict, ErrorItem, NotFound
from integration.render import render_coupon, rfc3339
from integration.schema import CouponSerializer
from integration.sessions import coupon_view
from management.applications import ACCOUNT_ID
from management.exports import CSV_ANSWERS, csv_response, export_filters, export_record
from management.models import ExportEntity, ManagementKey, Role
from management.views import (
    MAX_ID,
    CampaignScopedView,
    ManagementView,
    RFC3339Field,
    campaign_of,
    paginate,
    query_error,
    query_time,
)
from talonone.schema import PAGE_PARAMETERS, page_of

#: A coupon or a referral: the codes the validity filters apply to.
Coded = TypeVar("Coded", Coupon, Referral)

#: The largest CSV file ``importCoupons`` reads.
IMPORT_MAX_BYTES: Final = 100 * 1024 * 1024

#: The fields ``getCouponsWithoutTotalCount`` sorts by: API name to model field.
COUPON_SORT_FIELDS: Final = {
    "id": "id",
    "created": "created",
    "value": "value",
    "startDate": "start_date",
    "expiryDate": "expiry_date",
    "usageLimit": "usage_limit",
    "usageCounter": "usage_counter",
}

#: Where in a request body each field a service names (``CouponInvalid.field``) comes from.
_POINTERS: Final = {
    "value": "/couponPattern",
    "count": "/numberOfCoupons",
    "coupon_pattern": "/couponPattern",
    "length": "/couponPattern",
    "valid_characters": "/validCharacters",
    "unique_prefix": "/uniquePrefix",
    "usage_limit": "/usageLimit",
    "discount_limit": "/discountLimit",
    "reservation_limit": "/reservationLimit",
    "profile_redemption_limit": "/limits",
    "start_date": "/startDate",
    "expiry_date": "/expiryDate",
    "recipient_integration_id": "/recipientIntegrationId",
    "recipients": "/recipientsIntegrationIds",
    "attributes": "/attributes",
    "is_reservation_mandatory": "/isReservationMandatory",
    "batch_id": "",
}

#: The model field of each field ``updateCouponBatch`` may change.
_BATCH_UPDATABLE: Final = {
    "usageLimit": "usage_limit",
    "discountLimit": "discount_limit",
    "reservationLimit": "reservation_limit",
    "startDate": "start_date",
    "expiryDate": "expiry_date",
    "attributes": "attributes",
}

#: The model field of each field ``updateCoupon`` may change.
_UPDATABLE: Final = {
    "usageLimit": "usage_limit",
    "discountLimit": "discount_limit",
    "reservationLimit": "reservation_limit",
    "startDate": "start_date",
    "expiryDate": "expiry_date",
    "recipientIntegrationId": "recipient_integration_id",
    "attributes": "attributes",
    "isReservationMandatory": "is_reservation_mandatory",
    "limits": "profile_redemption_limit",
}


# ---------------------------------------------------------------------------------------------
# Request bodies


class StrictSerializer(serializers.Serializer[Any]):
    """A body that refuses fields it does not know, as Talon.One's ``additionalProperties:
    false``: a misspelt field is an error, not a silent default."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [ErrorDetail("This field is not known here.", code="unknown_field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class CouponLimitSerializer(StrictSerializer):
    """An item of ``limits``: only a per-customer limit of redemptions (``redeemCoupon`` by
    ``Profile``) applies to a coupon."""

    action = serializers.CharField()
    limit = serializers.IntegerField(min_value=0, max_value=COUPON_COUNT_LIMIT_MAX)
    period = serializers.CharField(required=False)
    entities = serializers.ListField(child=serializers.CharField(), max_length=10)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] != "redeemCoupon" or attrs["entities"] != ["Profile"]:
            raise serializers.ValidationError(
                'A coupon takes only a per-customer limit: {"action": "redeemCoupon", '
                '"entities": ["Profile"], "limit": n}.',
                code="unsupported_limit",
            )
        if "period" in attrs:
            raise serializers.ValidationError(
                {"period": ["A coupon's per-customer limit does not recur."]}, code="unsupported"
            )
        return attrs


def _usage_limit(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=COUPON_COUNT_LIMIT_MAX, **kwargs)


def _discount_limit(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, min_value=Decimal(0), **kwargs
    )


def _recipient(*, allow_blank: bool = True, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=INTEGRATION_ID_MAX_LENGTH,
        allow_blank=allow_blank,
        trim_whitespace=False,
        **kwargs,
    )


def _pattern(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        min_length=PATTERN_MIN_LENGTH,
        max_length=COUPON_VALUE_MAX_LENGTH,
        trim_whitespace=False,
        **kwargs,
    )


def _valid_characters(**kwargs: Any) -> serializers.ListField:
    character = serializers.CharField(min_length=1, max_length=1, trim_whitespace=False)
    return serializers.ListField(child=character, min_length=1, max_length=1000, **kwargs)


class CouponConstraintsSerializer(StrictSerializer):
    """The limits and dates every coupon of a request gets (Talon.One's
    ``CouponConstraints``)."""

    usageLimit = _usage_limit()
    discountLimit = _discount_limit(required=False)
    reservationLimit = _usage_limit(required=False)
    startDate = RFC3339Field(required=False)
    expiryDate = RFC3339Field(required=False)


class CouponTermsSerializer(CouponConstraintsSerializer):
    """What every coupon of a request gets: its constraints, attributes and recipient."""

    attributes = serializers.DictField(required=False)
    recipientIntegrationId = _recipient(required=False)
    isReservationMandatory = serializers.BooleanField(required=False)
    implicitlyReserved = serializers.BooleanField(required=False)

    def validate_implicitlyReserved(self, value: bool) -> bool:
        if value:
            raise serializers.ValidationError(
                "Coupons implicitly reserved for every customer are not supported.",
                code="unsupported",
            )
        return value


class CreateCouponsSerializer(CouponTermsSerializer):
    """The body of ``createCoupons``."""

    numberOfCoupons = serializers.IntegerField(
        min_value=1,
        max_value=SYNC_BATCH_MAX,
        error_messages={
            "max_value": "Ensure this value is at most {max_value}: create more coupons with "
            "POST …/coupons_async."
        },
    )
    uniquePrefix = serializers.CharField(
        required=False, allow_blank=True, max_length=COUPON_VALUE_MAX_LENGTH
    )
    couponPattern = _pattern(required=False)
    validCharacters = _valid_characters(required=False)
    limits = serializers.ListField(child=CouponLimitSerializer(), max_length=1, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        pattern = attrs.get("couponPattern")
        if pattern is not None and RANDOM_CHARACTER not in pattern and attrs["numberOfCoupons"] > 1:
            raise serializers.ValidationError(
                {
                    "couponPattern": [
                        f"A pattern without {RANDOM_CHARACTER} makes one code: ask for 1."
                    ]
                },
                code="pattern_too_small",
            )
        if attrs.get("limits") and (
            attrs["numberOfCoupons"] > 1 or attrs.get("recipientIntegrationId")
        ):
            raise serializers.ValidationError(
                {"limits": ["Limits apply only to a single coupon without a recipient."]},
                code="invalid",
            )
        return attrs


class CouponSettingsSerializer(StrictSerializer):
    validCharacters = _valid_characters()
    couponPattern = _pattern()


class CreateCouponsAsyncSerializer(CouponTermsSerializer):
    """The body of ``createCouponsAsync``."""

    numberOfCoupons = serializers.IntegerField(min_value=1, max_value=BATCH_COUNT_MAX)
    couponSettings = CouponSettingsSerializer(required=False)
    attributes = serializers.DictField()

    def validate_isReservationMandatory(self, value: bool) -> bool:
        if value:
            raise serializers.ValidationError(
                "Coupons created asynchronously cannot require a reservation yet: create them "
                "with POST …/coupons, up to 1000 at a time.",
                code="unsupported",
            )
        return value


class UpdateCouponSerializer(StrictSerializer):
    """The body of ``updateCoupon``: every field optional; only those sent are written.
    ``null`` clears ``startDate``, ``expiryDate`` and ``recipientIntegrationId``."""

    usageLimit = _usage_limit(required=False)
    discountLimit = _discount_limit(required=False)
    reservationLimit = _usage_limit(required=False)
    startDate = RFC3339Field(required=False, allow_null=True)
    expiryDate = RFC3339Field(required=False, allow_null=True)
    recipientIntegrationId = _recipient(required=False, allow_null=True)
    attributes = serializers.DictField(required=False)
    isReservationMandatory = serializers.BooleanField(required=False)
    implicitlyReserved = serializers.BooleanField(required=False)
    limits = serializers.ListField(child=CouponLimitSerializer(), max_length=1, required=False)

    validate_implicitlyReserved = CouponTermsSerializer.validate_implicitlyReserved


class CreateCouponsForRecipientsSerializer(CouponConstraintsSerializer):
    """The body of ``createCouponsForMultipleRecipients``."""

    attributes = serializers.DictField(required=False)
    recipientsIntegrationIds = serializers.ListField(
        child=_recipient(allow_blank=False), min_length=1, max_length=RECIPIENTS_MAX
    )
    validCharacters = _valid_characters(required=False)
    couponPattern = _pattern(required=False)

    def validate_recipientsIntegrationIds(self, value: list[str]) -> list[str]:
        first: dict[str, int] = {}
        for index, recipient in enumerate(value):
            if recipient in first:
                raise serializers.ValidationError(
                    {
                        str(index): [
                            f"{recipient!r} is already item {first[recipient]}: one coupon "
                            f"per recipient."
                        ]
                    },
                    code="duplicate",
                )
            first[recipient] = index
        return value


class UpdateCouponBatchSerializer(StrictSerializer):
    """The body of ``updateCouponBatch``: the limits and attributes sent are written; the
    dates are written whether sent or not (``null`` when not), as in Talon.One."""

    usageLimit = _usage_limit(required=False)
    discountLimit = _discount_limit(required=False)
    reservationLimit = _usage_limit(required=False)
    startDate = RFC3339Field(required=False, allow_null=True)
    expiryDate = RFC3339Field(required=False, allow_null=True)
    attributes = serializers.DictField(required=False)
    batchID = serializers.CharField(
        required=False, min_length=1, max_length=COUPON_BATCH_ID_MAX_LENGTH, trim_whitespace=False
    )


def body_valid(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    validated: dict[str, Any] = dict(serializer.validated_data)
    return validated


def _invalid(error: CouponInvalid, *, pointers: Mapping[str, str] = _POINTERS) -> BadRequest:
    pointer = pointers.get(error.field, "")
    name = pointer.rsplit("/", 1)[-1] or "The request"
    item = ErrorItem(
        code="invalid", title="Invalid value", details=f"{name} {error.message}.", pointer=pointer
    )
    return BadRequest("The request is not valid.", [item], code="invalid")


def _exists(error: CouponExists) -> Conflict:
    item = ErrorItem(
        code="coupon_exists",
        title="Duplicate coupon",
        details=f"The application already has the coupon {error.value!r}.",
        pointer="/couponPattern",
    )
    return Conflict(str(error), [item], code="coupon_exists")


def _exhausted(error: CouponCodesExhausted) -> Conflict:
    item = ErrorItem(
        code="codes_exhausted",
        title="Codes exhausted",
        details=f"{error} Add random characters (#) or valid characters to the pattern.",
        pointer="/couponPattern",
    )
    return Conflict("The pattern makes too few new codes.", [item], code="codes_exhausted")


def _profile_limit(limits: Sequence[Mapping[str, Any]] | None) -> int:
    """The per-customer limit of ``limits`` (0: none)."""
    return int(limits[0]["limit"]) if limits else 0


# ---------------------------------------------------------------------------------------------
# Answers


def coupon_renderer(application: Application) -> Callable[[Coupon], dict[str, Any]]:
    """Renders the application's coupons as Talon.One's ``Coupon``, their attributes read back
    as their types (one query for the application's definitions)."""
    types = attribute_schema(application=application).types.get("Coupon", {})

    def render(coupon: Coupon) -> dict[str, Any]:
        view = dataclasses.replace(
            coupon_view(coupon),
            attributes=typed_attributes(coupon.attributes, types),
            reservation_counter=coupon.reservation_counter,
            is_reservation_mandatory=coupon.is_reservation_mandatory,
        )
        rendered = render_coupon(view)
        if coupon.profile_redemption_limit:
            rendered["limits"] = [
                {
                    "action": "redeemCoupon",
                    "limit": coupon.profile_redemption_limit,
                    "entities": ["Profile"],
                }
            ]
        return rendered

    return render


def render_coupon_batch(batch: CouponBatch) -> dict[str, Any]:
    """A batch and its progress (our shape: Talon.One has no such endpoint)."""
    rendered: dict[str, Any] = {
        "batchId": batch.batch_id,
        "campaignId": batch.campaign_id,
        "created": rfc3339(batch.created),
        "source": batch.source,
        "status": batch.status,
        "numberOfCoupons": batch.requested,
        "createdCoupons": batch.created_count,
    }
    if batch.started_at is not None:
        rendered["startedAt"] = rfc3339(batch.started_at)
    if batch.finished_at is not None:
        rendered["finishedAt"] = rfc3339(batch.finished_at)
    if batch.error:
        rendered["error"] = batch.error
    return rendered


# ---------------------------------------------------------------------------------------------
# The answers' schemas (OpenAPI)


class CouponLimitAnswer(serializers.Serializer[Any]):
    action = serializers.CharField()
    limit = serializers.IntegerField()
    entities = serializers.ListField(child=serializers.CharField())

    Meta = type("Meta", (), {"ref_name": "CouponLimit"})


class CouponAnswer(CouponSerializer):
    """A coupon as ``coupon_renderer`` renders it: the Integration API's, with ``limits``."""

    limits = CouponLimitAnswer(many=True, required=False)

    Meta = type("Meta", (), {"ref_name": "ManagementCoupon"})


class CouponValueAnswer(serializers.Serializer[Any]):
    """A coupon as ``getCouponsWithoutTotalCount`` lists it with ``valuesOnly=true``: its code
    alone."""

    value = serializers.CharField()

    Meta = type("Meta", (), {"ref_name": "CouponValue"})


class _CouponValueSchema(OpenApiSerializerExtension):
    """``CouponValue`` has no other field (``additionalProperties: false``), so that a whole
    coupon is not one too: an item of the list is exactly one of the two shapes (``oneOf``)."""

    target_class = CouponValueAnswer

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="ManagementCouponOrValue",
        serializers=[CouponAnswer, CouponValueAnswer],
        resource_type_field_name=None,
    )
)
class _CouponOrValueField(serializers.DictField):
    """An item of ``getCouponsWithoutTotalCount``: a whole coupon, or its value alone."""


class CouponsPageAnswer(serializers.Serializer[Any]):
    """``getCouponsWithoutTotalCount``'s page: whole coupons, or with ``valuesOnly=true``
    their values alone (``CouponValue``)."""

    hasMore = serializers.BooleanField(help_text="Whether there are more items after this page.")
    data = serializers.ListField(child=_CouponOrValueField())  # type: ignore[assignment]

    Meta = type("Meta", (), {"ref_name": "ManagementCouponOrValuePageWithoutTotal"})


class CreatedCouponsAnswer(serializers.Serializer[Any]):
    totalResultSize = serializers.IntegerField()
    data = CouponAnswer(many=True)  # type: ignore[assignment]  # a field, not .data

    Meta = type("Meta", (), {"ref_name": "CreatedCoupons"})


class ImportAnswer(serializers.Serializer[Any]):
    """Talon.One's ``Import`` (``render_import``), with our ``batchId``."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    accountId = serializers.IntegerField()
    userId = serializers.IntegerField()
    entity = serializers.CharField()
    amount = serializers.IntegerField()
    batchId = serializers.CharField()

    Meta = type("Meta", (), {"ref_name": "Import"})


class BatchIdAnswer(serializers.Serializer[Any]):
    batchId = serializers.CharField()

    Meta = type("Meta", (), {"ref_name": "AsyncCouponCreationResponse"})


class CouponBatchAnswer(serializers.Serializer[Any]):
    """A batch and its progress (``render_coupon_batch``)."""

    batchId = serializers.CharField()
    campaignId = serializers.IntegerField()
    created = serializers.DateTimeField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field
    status = serializers.CharField()
    numberOfCoupons = serializers.IntegerField()
    createdCoupons = serializers.IntegerField()
    startedAt = serializers.DateTimeField(required=False)
    finishedAt = serializers.DateTimeField(required=False)
    error = serializers.CharField(required=False)

    Meta = type("Meta", (), {"ref_name": "CouponBatch"})


def _parameters(*names: str, **kinds: Any) -> list[OpenApiParameter]:
    """Query parameters: ``names`` are text; ``kinds`` name others with their type or choices
    (a tuple)."""
    parameters = [OpenApiParameter(name, str) for name in names]
    for name, kind in kinds.items():
        if isinstance(kind, tuple):
            parameters.append(OpenApiParameter(name, str, enum=list(kind)))
        else:
            parameters.append(OpenApiParameter(name, kind))
    return parameters


_TIME = OpenApiTypes.DATETIME

#: The filters ``validity_filtered`` reads.
VALIDITY_PARAMETERS: Final = _parameters(
    createdBefore=_TIME,
    createdAfter=_TIME,
    valid=("expired", "validNow", "validFuture"),
    usable=("true", "false"),
)

#: The filters ``coupons_filtered`` reads.
COUPON_FILTER_PARAMETERS: Final = [
    *VALIDITY_PARAMETERS,
    *_parameters(
        "value",
        "recipientIntegrationId",
        "batchId",
        startsBefore=_TIME,
        startsAfter=_TIME,
        expiresBefore=_TIME,
        expiresAfter=_TIME,
        redeemed=("true", "false"),
        exactMatch=("true", "false"),
        referralId=OpenApiTypes.INT,
    ),
]

_SORT = OpenApiParameter(
    "sort", str, enum=[*COUPON_SORT_FIELDS, *(f"-{f}" for f in COUPON_SORT_FIELDS)]
)
_SILENT = OpenApiParameter("silent", str, enum=["yes", "no"])
IMPORT_BODY: Final = {
    "multipart/form-data": {
        "type": "object",
        "properties": {"upFile": {"type": "string", "format": "binary"}},
        "required": ["upFile"],
    }
}
_SEARCH_BODY: Final = {
    "application/json": {
        "type": "object",
        "additionalProperties": True,
        "description": "Coupon attribute values to match.",
    }
}


# ---------------------------------------------------------------------------------------------
# Query parameters


def query_choice(request: Request, name: str, choices: Sequence[str]) -> str | None:
    text = request.query_params.get(name)
    if text is not None and text not in choices:
        raise query_error(name, f"{name} is one of {', '.join(choices)}.")
    return text


def _flag(request: Request, name: str) -> bool:
    return query_choice(request, name, ("true", "false")) == "true"


def query_id(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise query_error(name, f"{name} is a whole number.")
    return int(text)


def coupons_filtered(request: Request, coupons: QuerySet[Coupon]) -> QuerySet[Coupon]:
    """``coupons`` narrowed by Talon.One's coupon filters in the query string: those of the
    list, which every other coupon endpoint's filters are a part of (search, delete)."""
    params = request.query_params
    if params.get("referralId") is not None:
        raise query_error("referralId", "Coupons are not linked to referrals here.")
    value = params.get("value")
    if value:
        exact = _flag(request, "exactMatch")
        coupons = (
            coupons.filter(value__iexact=value) if exact else coupons.filter(value__icontains=value)
        )
    for name, lookup in (
        ("startsBefore", "start_date__lte"),
        ("startsAfter", "start_date__gte"),
        ("expiresBefore", "expiry_date__lte"),
        ("expiresAfter", "expiry_date__gte"),
    ):
        moment = query_time(request, name)
        if moment is not None:
            coupons = coupons.filter(**{lookup: moment})
    coupons = validity_filtered(request, coupons)
    redeemed = query_choice(request, "redeemed", ("true", "false"))
    if redeemed is not None and params.get("usable") is not None:
        raise query_error("redeemed", "redeemed cannot be used with usable.")
    if redeemed == "true":
        coupons = coupons.filter(usage_counter__gt=0)
    elif redeemed == "false":
        coupons = coupons.filter(usage_counter=0)
    if (recipient := params.get("recipientIntegrationId")) is not None:
        coupons = coupons.filter(recipient_integration_id=recipient)
    if (batch_id := params.get("batchId")) is not None:
        coupons = coupons.filter(batch_id=batch_id)
    return coupons


def validity_filtered(request: Request, codes: QuerySet[Coded]) -> QuerySet[Coded]:
    """``codes`` (coupons or referrals, which name these fields alike) narrowed by the filters
    Talon.One gives both: ``createdBefore``, ``createdAfter``, ``valid`` (``expired``,
    ``validNow``, ``validFuture``) and ``usable`` (uses left, or none)."""
    for name, lookup in (("createdBefore", "created__lte"), ("createdAfter", "created__gte")):
        moment = query_time(request, name)
        if moment is not None:
            codes = codes.filter(**{lookup: moment})
    now = timezone.now()
    valid = query_choice(request, "valid", ("expired", "validNow", "validFuture"))
    if valid == "expired":
        codes = codes.filter(expiry_date__lte=now)
    elif valid == "validNow":
        codes = codes.filter(
            Q(start_date__isnull=True) | Q(start_date__lte=now),
            Q(expiry_date__isnull=True) | Q(expiry_date__gt=now),
        )
    elif valid == "validFuture":
        codes = codes.filter(start_date__gt=now)
    usable = query_choice(request, "usable", ("true", "false"))
    has_uses = Q(usage_limit=0) | Q(usage_counter__lt=F("usage_limit"))
    if usable == "true":
        codes = codes.filter(has_uses)
    elif usable == "false":
        codes = codes.exclude(has_uses)
    return codes


def _campaign_state_filtered(request: Request, coupons: QuerySet[Coupon]) -> QuerySet[Coupon]:
    """``coupons`` of the campaigns in the state ``campaignState`` names (as
    ``getCampaigns`` reads it)."""
    state = query_choice(request, "campaignState", CAMPAIGN_STATES)
    if state is None:
        return coupons
    campaigns = campaigns_in_state(Campaign.objects.all(), state, now=timezone.now())
    return coupons.filter(campaign__in=campaigns)


# ---------------------------------------------------------------------------------------------
# Views


def _no_coupon(coupon_id: int) -> NotFound:
    return NotFound(f"There is no coupon {coupon_id}.", code="coupon_not_found")


def _batch_terms(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "usage_limit": data["usageLimit"],
        "discount_limit": data.get("discountLimit", Decimal(0)),
        "reservation_limit": data.get("reservationLimit", 0),
        "start_date": data.get("startDate"),
        "expiry_date": data.get("expiryDate"),
        "recipient_integration_id": data.get("recipientIntegrationId", ""),
    }


class CouponsView(CampaignScopedView):
    """``POST …/coupons`` creates up to ``SYNC_BATCH_MAX`` coupons before the answer
    (``silent`` is Talon.One's: ``yes``, the default, answers 204, ``no`` the coupons);
    ``PUT`` changes all the campaign's coupons, or a batch's; ``DELETE`` deletes those the
    query's filters match."""

    operation = {"POST": "createCoupons", "PUT": "updateCouponBatch", "DELETE": "deleteCoupons"}

    @extend_schema(
        request=CreateCouponsSerializer,
        parameters=[_SILENT],
        responses={200: CreatedCouponsAnswer, 204: None},
    )
    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        silent = query_choice(request, "silent", ("yes", "no")) != "no"
        data = body_valid(CreateCouponsSerializer, request.data)
        try:
            coupons = coupons_generate(
                campaign=campaign,
                count=data["numberOfCoupons"],
                coupon_pattern=data.get("couponPattern"),
                valid_characters=data.get("validCharacters"),
                unique_prefix=data.get("uniquePrefix", ""),
                attributes=data.get("attributes"),
                is_reservation_mandatory=bool(data.get("isReservationMandatory", False)),
                profile_redemption_limit=_profile_limit(data.get("limits")),
                **_batch_terms(data),
            )
        except CouponInvalid as error:
            raise _invalid(error) from None
        except CouponExists as error:
            raise _exists(error) from None
        except CouponCodesExhausted as error:
            raise _exhausted(error) from None
        return _created(campaign, coupons, silent=silent)

    @extend_schema(request=UpdateCouponBatchSerializer, responses={204: None})
    def put(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        data = body_valid(UpdateCouponBatchSerializer, request.data)
        changes = {field: data[name] for name, field in _BATCH_UPDATABLE.items() if name in data}
        # As Talon.One: dates not sent are cleared.
        changes.setdefault("start_date", None)
        changes.setdefault("expiry_date", None)
        coupons = Coupon.objects.filter(campaign=campaign)
        batch_id = data.get("batchID")
        if batch_id is not None:
            coupons = coupons.filter(batch_id=batch_id)
            if not coupons.exists():
                raise NotFound(
                    f"The campaign has no coupon of the batch {batch_id!r}.",
                    code="coupon_batch_not_found",
                )
        try:
            coupons_update(coupons=coupons, campaign=campaign, changes=changes)
        except CouponInvalid as error:
            raise _invalid(error) from None
        return Response(status=204)

    @extend_schema(request=None, parameters=COUPON_FILTER_PARAMETERS, responses={204: None})
    def delete(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        coupons = coupons_filtered(request, Coupon.objects.filter(campaign=campaign))
        coupons_delete(coupons=coupons, campaign=campaign)
        return Response(status=204)


def _created(campaign: Campaign, coupons: Sequence[Coupon], *, silent: bool) -> Response:
    """The answer to a creation: 204 when ``silent``, else the coupons."""
    if silent:
        return Response(status=204)
    render = coupon_renderer(campaign.application)
    return Response({"totalResultSize": len(coupons), "data": [render(c) for c in coupons]})


class CouponsWithRecipientsView(CampaignScopedView):
    """``POST …/coupons_with_recipients``: one new coupon for each of up to ``RECIPIENTS_MAX``
    customers, its recipient's alone (``silent`` as ``createCoupons``)."""

    operation = "createCouponsForMultipleRecipients"

    @extend_schema(
        request=CreateCouponsForRecipientsSerializer,
        parameters=[_SILENT],
        responses={200: CreatedCouponsAnswer, 204: None},
    )
    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        silent = query_choice(request, "silent", ("yes", "no")) != "no"
        data = body_valid(CreateCouponsForRecipientsSerializer, request.data)
        terms = _batch_terms(data)
        del terms["recipient_integration_id"]
        try:
            coupons = coupons_generate_for_recipients(
                campaign=campaign,
                recipients=data["recipientsIntegrationIds"],
                coupon_pattern=data.get("couponPattern"),
                valid_characters=data.get("validCharacters"),
                attributes=data.get("attributes"),
                **terms,
            )
        except CouponInvalid as error:
            raise _invalid(error) from None
        except CouponCodesExhausted as error:
            raise _exhausted(error) from None
        return _created(campaign, coupons, silent=silent)


def _search_body(request: Request) -> Mapping[str, Any]:
    """The body of a coupon search: the attribute values to match, a JSON object."""
    body = request.data
    if not isinstance(body, Mapping):
        item = ErrorItem(
            code="invalid",
            title="Invalid value",
            details='The body is an object of coupon attribute values, such as {"venueId": 12}.',
            pointer="",
        )
        raise BadRequest("The request is not valid.", [item], code="invalid")
    return body


def _searched(
    request: Request, coupons: QuerySet[Coupon], application: Application
) -> dict[str, Any]:
    """A page of the coupons matching the body's attributes and the query's filters."""
    attributes = _search_body(request)
    coupons = coupons_filtered(request, coupons)
    try:
        coupons = coupons_with_attributes(coupons, application=application, attributes=attributes)
    except CouponInvalid as error:
        raise _invalid(error, pointers={"attributes": ""}) from None
    return paginate(
        request,
        coupons,
        sortable=COUPON_SORT_FIELDS,
        render=coupon_renderer(application),
        with_total=False,
    )


class CouponsSearchView(CampaignScopedView):
    """``POST …/campaigns/{campaignId}/coupons_search_advanced/no_total``: the campaign's
    coupons whose attributes include those of the body, filtered and paged as the list."""

    operation = "searchCouponsAdvancedWithoutTotalCount"

    @extend_schema(
        request=_SEARCH_BODY,
        parameters=[*PAGE_PARAMETERS, _SORT, *COUPON_FILTER_PARAMETERS],
        responses={200: page_of(CouponAnswer, with_total=False)},
    )
    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.VIEWER)
        coupons = Coupon.objects.filter(campaign=campaign)
        return Response(_searched(request, coupons, campaign.application))


class ApplicationCouponsSearchView(ManagementView):
    """``POST /v1/applications/{applicationId}/coupons_search_advanced/no_total``: the same
    search over the coupons of all the application's campaigns (or those in
    ``campaignState``)."""

    operation = "searchCouponsAdvancedApplicationWideWithoutTotalCount"

    @extend_schema(
        request=_SEARCH_BODY,
        parameters=[
            *PAGE_PARAMETERS,
            _SORT,
            *COUPON_FILTER_PARAMETERS,
            OpenApiParameter("campaignState", str, enum=list(CAMPAIGN_STATES)),
        ],
        responses={200: page_of(CouponAnswer, with_total=False)},
    )
    def post(self, request: Request, application_id: int) -> Response:
        application = self.application_for(application_id, role=Role.VIEWER)
        coupons = _campaign_state_filtered(request, Coupon.objects.filter(application=application))
        return Response(_searched(request, coupons, application))


class CouponsAsyncView(CampaignScopedView):
    """``POST …/coupons_async``: a batch of up to ``BATCH_COUNT_MAX`` coupons that a worker
    fills; answers its ``batchId`` (follow it with ``GET …/coupon_batches/{batchId}``)."""

    operation = "createCouponsAsync"

    @extend_schema(request=CreateCouponsAsyncSerializer, responses={200: BatchIdAnswer})
    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        data = body_valid(CreateCouponsAsyncSerializer, request.data)
        settings = data.get("couponSettings") or {}
        pattern = settings.get("couponPattern")
        pointers = {
            **_POINTERS,
            "coupon_pattern": "/couponSettings/couponPattern",
            "valid_characters": "/couponSettings/validCharacters",
        }
        try:
            batch = coupon_batch_create(
                campaign=campaign,
                count=data["numberOfCoupons"],
                coupon_pattern=pattern,
                length=None if pattern is not None else DEFAULT_CODE_LENGTH,
                valid_characters=settings.get("validCharacters"),
                attributes=data["attributes"],
                **_batch_terms(data),
            )
        except CouponInvalid as error:
            raise _invalid(error, pointers=pointers) from None
        except CouponCodesExhausted as error:
            raise _exhausted(error) from None
        return Response({"batchId": batch.batch_id})


class CouponsNoTotalView(CampaignScopedView):
    """``GET …/coupons/no_total``: the campaign's coupons, filtered and paged."""

    operation = "getCouponsWithoutTotalCount"

    @extend_schema(
        parameters=[
            *PAGE_PARAMETERS,
            _SORT,
            *COUPON_FILTER_PARAMETERS,
            OpenApiParameter("valuesOnly", str, enum=["true", "false"]),
        ],
        responses={200: CouponsPageAnswer},
    )
    def get(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.VIEWER)
        coupons = coupons_filtered(request, Coupon.objects.filter(campaign=campaign))
        render = coupon_renderer(campaign.application)
        if _flag(request, "valuesOnly"):

            def render_value(coupon: Coupon) -> dict[str, Any]:
                return {"value": coupon.value}

            render = render_value
        page = paginate(
            request, coupons, sortable=COUPON_SORT_FIELDS, render=render, with_total=False
        )
        return Response(page)


class CouponView(CampaignScopedView):
    """``PUT …/coupons/{couponId}`` changes the fields sent; ``DELETE`` deletes the coupon."""

    operation = {"PUT": "updateCoupon", "DELETE": "deleteCoupon"}

    @extend_schema(request=UpdateCouponSerializer, responses={200: CouponAnswer})
    def put(
        self, request: Request, application_id: int, campaign_id: int, coupon_id: int
    ) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        if not 0 < coupon_id <= MAX_ID:
            raise _no_coupon(coupon_id)
        data = body_valid(UpdateCouponSerializer, request.data)
        changes: dict[str, Any] = {}
        for name, field in _UPDATABLE.items():
            if name not in data:
                continue
            value = data[name]
            if name == "limits":
                value = _profile_limit(value)
            elif name == "recipientIntegrationId" and value is None:
                value = ""
            changes[field] = value
        try:
            coupon = coupon_update(coupon_id=coupon_id, campaign=campaign, changes=changes)
        except Coupon.DoesNotExist:
            raise _no_coupon(coupon_id) from None
        except CouponInvalid as error:
            raise _invalid(error) from None
        except IntegrityError:  # a constraint the checks above missed: say so, write nothing
            item = ErrorItem(
                code="invalid",
                title="Invalid value",
                details="The coupon cannot take these values.",
                pointer="",
            )
            raise BadRequest("The request is not valid.", [item], code="invalid") from None
        return Response(coupon_renderer(campaign.application)(coupon))

    @extend_schema(responses={204: None})
    def delete(
        self, request: Request, application_id: int, campaign_id: int, coupon_id: int
    ) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        if not 0 < coupon_id <= MAX_ID:
            raise _no_coupon(coupon_id)
        try:
            coupon_delete(coupon_id=coupon_id, campaign=campaign)
        except Coupon.DoesNotExist:
            raise _no_coupon(coupon_id) from None
        return Response(status=204)


class ImportCouponsView(CampaignScopedView):
    """``POST …/import_coupons``: the coupons of a CSV file (multipart ``upFile``), all or
    none. Answers Talon.One's ``Import`` (``id`` is the batch's number), with our ``batchId``."""

    operation = "importCoupons"
    parser_classes = [MultiPartParser]
    max_body_bytes = IMPORT_MAX_BYTES

    @extend_schema(
        request=IMPORT_BODY,
        parameters=_parameters(skipDuplicates=("false",)),
        responses={200: ImportAnswer},
    )
    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        if _flag(request, "skipDuplicates"):
            raise query_error("skipDuplicates", "Skipping duplicates is not supported.")
        with csv_read_errors():
            result = coupons_import_csv(campaign=campaign, rows=uploaded_csv(request))
        if not result.ok:
            raise import_refused(result, "coupon")
        batch = coupon_batch_get(application=campaign.application, batch_id=result.batch_id)
        return Response(
            render_import(
                id=batch.pk,
                created=batch.created,
                user_id=importer_id(self.caller),
                entity="Coupon",
                result=result,
            )
        )


def uploaded_csv(request: Request) -> io.TextIOWrapper:
    """The text of the CSV file sent as the multipart field ``upFile`` (UTF-8, with or without
    a byte order mark); 400 when there is none."""
    upload = request.FILES.get("upFile")
    if upload is None:
        item = ErrorItem(
            code="required",
            title="Missing value",
            details="Send the CSV file as the multipart field upFile.",
            pointer="/upFile",
        )
        raise BadRequest("The request has no file.", [item], code="required")
    return io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")


@contextlib.contextmanager
def csv_read_errors() -> Iterator[None]:
    """Turns a file that is not CSV in UTF-8 into a 400."""
    try:
        yield
    except (UnicodeDecodeError, csv.Error) as error:
        item = ErrorItem(
            code="invalid_file",
            title="Invalid file",
            details=f"The file is not CSV in UTF-8: {error}.",
            pointer="/upFile",
        )
        raise BadRequest("The file cannot be read.", [item], code="invalid_file") from None


def import_refused(result: ImportResult, what: str) -> BadRequest:
    """The 400 of an import that found problems: one item per problem, pointing at its line
    and column (``/upFile/3/limitval``)."""
    items = [
        ErrorItem(
            code="invalid_row",
            title="Invalid value",
            details=str(problem),
            pointer=f"/upFile/{problem.line}" + (f"/{problem.column}" if problem.column else ""),
        )
        for problem in result.errors
    ]
    return BadRequest(
        f"The file has {len(items)} problem(s): no {what} was imported.",
        items,
        code="invalid_file",
    )


def importer_id(caller: User | AnonymousUser | ManagementKey) -> int:
    """The user an import is recorded for: the caller, or the user who made the key."""
    if isinstance(caller, ManagementKey):
        return int(caller.created_by_id or 0)
    return caller.pk if isinstance(caller, User) else 0


def render_import(
    *, id: int, created: datetime, user_id: int, entity: str, result: ImportResult
) -> dict[str, Any]:
    """Talon.One's ``Import``, with our ``batchId`` (the imported rows carry it)."""
    return {
        "id": id,
        "created": rfc3339(created),
        "accountId": ACCOUNT_ID,
        "userId": user_id,
        "entity": entity,
        "amount": result.imported,
        "batchId": result.batch_id,
    }


class ExportCouponsView(ManagementView):
    """``GET /v1/applications/{applicationId}/export_coupons``: the application's coupons (or
    one campaign's, ``campaignId``) as CSV, streamed as they are read."""

    operation = "exportCoupons"

    @extend_schema(
        parameters=_parameters(campaignId=OpenApiTypes.INT),
        responses=CSV_ANSWERS,
    )
    def get(self, request: Request, application_id: int) -> HttpResponseBase:
        application = self.application_for(application_id, role=Role.VIEWER)
        campaign_id = query_id(request, "campaignId")
        campaign = None if campaign_id is None else campaign_of(application, campaign_id)
        export_record(
            caller=self.caller,
            entity=ExportEntity.COUPON,
            application=application,
            campaign_id=campaign_id,
            filters=export_filters(request, ("campaignId",)),
        )
        lines = coupons_export_csv(application=application, campaign=campaign)
        return csv_response(lines, "coupons.csv")


class CouponBatchView(ManagementView):
    """``GET /v1/applications/{applicationId}/coupon_batches/{batchId}`` (ours): a batch's
    progress."""

    operation = "getCouponBatch"

    @extend_schema(responses={200: CouponBatchAnswer})
    def get(self, request: Request, application_id: int, batch_id: str) -> Response:
        application = self.application_for(application_id, role=Role.VIEWER)
        try:
            if len(batch_id) > COUPON_BATCH_ID_MAX_LENGTH:
                raise CouponBatch.DoesNotExist
            batch = coupon_batch_get(application=application, batch_id=batch_id)
        except CouponBatch.DoesNotExist:
            raise NotFound(
                f"There is no coupon batch {batch_id!r}.", code="coupon_batch_not_found"
            ) from None
        return Response(render_coupon_batch(batch))
