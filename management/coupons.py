"""A campaign's coupons: create them (``createCoupons``, up to ``SYNC_BATCH_MAX`` at once;
``createCouponsAsync``, a batch a worker fills), list them (``getCouponsWithoutTotalCount``),
change one (``updateCoupon``), delete one (``deleteCoupon``), import them from CSV
(``importCoupons``) and export them (``exportCoupons``), in Talon.One's shapes.

``GET /v1/applications/{applicationId}/coupon_batches/{batchId}`` (``getCouponBatch``) is ours:
Talon.One e-mails when an asynchronous batch is done; here a client asks for its progress.

Every endpoint reaches the campaign through the application the caller may act on (a campaign
of another application is answered 404, as one that does not exist), checks the whole request
before writing anything and answers bad input 400 with a pointer at the field at fault.

Two writes have no service yet (``coupon_update``, ``coupon_delete``, below), and
``coupon_batch_create`` cannot yet give its coupons a mandatory reservation or a per-customer
limit: these live here, each in one transaction, until ``campaigns.services`` offers them.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.evaluation import typed_attributes
from campaigns.models import Application, Campaign, Coupon, CouponBatch
from campaigns.models.coupon_batches import COUPON_BATCH_ID_MAX_LENGTH
from campaigns.models.coupons import COUPON_COUNT_LIMIT_MAX, COUPON_VALUE_MAX_LENGTH
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH, MONEY_DIGITS, MONEY_PLACES
from campaigns.selectors import attribute_schema, campaign_get
from campaigns.services.coupon_batches import (
    BATCH_COUNT_MAX,
    PATTERN_MIN_LENGTH,
    RANDOM_CHARACTER,
    SYNC_BATCH_MAX,
    CouponCodesExhausted,
    coupon_attributes_checked,
    coupon_batch_create,
    coupon_batch_get,
    coupons_export_csv,
    coupons_import_csv,
)
from campaigns.services.coupons import (
    CouponExists,
    CouponInvalid,
    coupon_create,
    coupon_terms_check,
)
from integration.errors import BadRequest, Conflict, ErrorItem, NotFound
from integration.render import render_coupon, rfc3339
from integration.sessions import coupon_view
from management.applications import ACCOUNT_ID
from management.models import ManagementKey, Role
from management.views import MAX_ID, ManagementView, RFC3339Field, paginate
from rules.values import parse_rfc3339

#: How many random characters a code has when ``createCoupons`` is sent no ``couponPattern``.
DEFAULT_CODE_LENGTH: Final = 8

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
    "attributes": "/attributes",
    "is_reservation_mandatory": "/isReservationMandatory",
    "batch_id": "",
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


def _recipient(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=INTEGRATION_ID_MAX_LENGTH, allow_blank=True, trim_whitespace=False, **kwargs
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


class CouponTermsSerializer(StrictSerializer):
    """What every coupon of a request gets (Talon.One's ``CouponConstraints``)."""

    usageLimit = _usage_limit()
    discountLimit = _discount_limit(required=False)
    reservationLimit = _usage_limit(required=False)
    startDate = RFC3339Field(required=False)
    expiryDate = RFC3339Field(required=False)
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


def _valid(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
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
# Writes that campaigns.services does not offer yet


def coupons_generate(
    *, campaign: Campaign, data: Mapping[str, Any], batch_terms: Mapping[str, Any]
) -> list[Coupon]:
    """The coupons of a validated ``createCoupons`` body, created in one transaction.

    A ``couponPattern`` without ``#`` is the one code to create (``coupon_create``); otherwise
    ``coupon_batch_create`` makes ``numberOfCoupons`` random codes, and the terms it does not
    take (a mandatory reservation, a per-customer limit) are set on its coupons before the
    transaction commits. Raises ``CouponInvalid``, ``CouponExists``, ``CouponCodesExhausted``.
    """
    application = campaign.application
    pattern: str | None = data.get("couponPattern")
    prefix: str = data.get("uniquePrefix", "")
    mandatory = bool(data.get("isReservationMandatory", False))
    profile_limit = _profile_limit(data.get("limits"))
    if pattern is not None and RANDOM_CHARACTER not in pattern:
        attributes = coupon_attributes_checked(application, data.get("attributes"))
        coupon = coupon_create(
            campaign=campaign,
            value=prefix + pattern,
            attributes=attributes,
            is_reservation_mandatory=mandatory,
            profile_redemption_limit=profile_limit,
            **batch_terms,
        )
        return [coupon]
    with transaction.atomic():
        batch = coupon_batch_create(
            campaign=campaign,
            count=data["numberOfCoupons"],
            coupon_pattern=pattern,
            length=None if pattern is not None else DEFAULT_CODE_LENGTH,
            valid_characters=data.get("validCharacters"),
            unique_prefix=prefix,
            attributes=data.get("attributes"),
            **batch_terms,
        )
        coupons = Coupon.objects.filter(application=application, batch_id=batch.batch_id)
        extra: dict[str, Any] = {}
        if mandatory:
            extra["is_reservation_mandatory"] = True
        if profile_limit:
            extra["profile_redemption_limit"] = profile_limit
        if extra:
            coupons.update(**extra)
        return list(coupons.order_by("id"))


def coupon_update(*, coupon_id: int, campaign: Campaign, changes: Mapping[str, Any]) -> Coupon:
    """Write ``changes`` (model field → value) to the campaign's coupon, and nothing else.

    The coupon's row is locked first, so no redemption or reservation counts in between: a
    limit (other than 0, no limit) is never set below what its counter has counted. Raises
    ``Coupon.DoesNotExist`` and ``CouponInvalid`` (nothing written).
    """
    with transaction.atomic():
        coupon = Coupon.objects.select_for_update().get(campaign=campaign, pk=coupon_id)
        if "attributes" in changes:
            attributes = coupon_attributes_checked(campaign.application, changes["attributes"])
            changes = {**changes, "attributes": attributes}
        for name, value in changes.items():
            setattr(coupon, name, value)
        for limit, counter, what in (
            ("usage_limit", "usage_counter", "redemptions"),
            ("discount_limit", "discount_counter", "discounts given"),
            ("reservation_limit", "reservation_counter", "reservations"),
        ):
            used = getattr(coupon, counter)
            if limit in changes and 0 < getattr(coupon, limit) < used:
                raise CouponInvalid(limit, f"is 0 (no limit) or at least {used}, the {what} made")
        coupon_terms_check(
            usage_limit=coupon.usage_limit,
            discount_limit=coupon.discount_limit,
            reservation_limit=coupon.reservation_limit,
            profile_redemption_limit=coupon.profile_redemption_limit,
            start_date=coupon.start_date,
            expiry_date=coupon.expiry_date,
            recipient_integration_id=coupon.recipient_integration_id,
        )
        if changes:
            coupon.save(update_fields=list(changes))
        return coupon


def coupon_delete(*, coupon_id: int, campaign: Campaign) -> None:
    """Delete the campaign's coupon, with its redemptions and reservations; raises
    ``Coupon.DoesNotExist`` when the campaign has no such coupon."""
    deleted, _ = Coupon.objects.filter(campaign=campaign, pk=coupon_id).delete()
    if not deleted:
        raise Coupon.DoesNotExist


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
# Query parameters


def _parameter_error(name: str, details: str) -> BadRequest:
    item = ErrorItem(
        code="invalid_query_parameter", title="Invalid value", details=details, parameter=name
    )
    return BadRequest(f"The query parameter {name} is not valid.", [item])


def _moment(request: Request, name: str) -> datetime | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    parsed = parse_rfc3339(text)
    if parsed is None:
        raise _parameter_error(name, f"{name} is an RFC 3339 time, such as 2025-07-01T04:00:00Z.")
    return parsed


def _choice(request: Request, name: str, choices: Sequence[str]) -> str | None:
    text = request.query_params.get(name)
    if text is not None and text not in choices:
        raise _parameter_error(name, f"{name} is one of {', '.join(choices)}.")
    return text


def _flag(request: Request, name: str) -> bool:
    return _choice(request, name, ("true", "false")) == "true"


def _id_parameter(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise _parameter_error(name, f"{name} is a whole number.")
    return int(text)


def coupons_filtered(request: Request, coupons: QuerySet[Coupon]) -> QuerySet[Coupon]:
    """``coupons`` narrowed by Talon.One's list filters in the query string."""
    params = request.query_params
    if params.get("referralId") is not None:
        raise _parameter_error("referralId", "Coupons are not linked to referrals here.")
    value = params.get("value")
    if value:
        exact = _flag(request, "exactMatch")
        coupons = (
            coupons.filter(value__iexact=value) if exact else coupons.filter(value__icontains=value)
        )
    for name, lookup in (
        ("createdBefore", "created__lte"),
        ("createdAfter", "created__gte"),
        ("startsBefore", "start_date__lte"),
        ("startsAfter", "start_date__gte"),
        ("expiresBefore", "expiry_date__lte"),
        ("expiresAfter", "expiry_date__gte"),
    ):
        moment = _moment(request, name)
        if moment is not None:
            coupons = coupons.filter(**{lookup: moment})
    now = timezone.now()
    valid = _choice(request, "valid", ("expired", "validNow", "validFuture"))
    if valid == "expired":
        coupons = coupons.filter(expiry_date__lte=now)
    elif valid == "validNow":
        coupons = coupons.filter(
            Q(start_date__isnull=True) | Q(start_date__lte=now),
            Q(expiry_date__isnull=True) | Q(expiry_date__gt=now),
        )
    elif valid == "validFuture":
        coupons = coupons.filter(start_date__gt=now)
    usable = _choice(request, "usable", ("true", "false"))
    redeemed = _choice(request, "redeemed", ("true", "false"))
    if usable is not None and redeemed is not None:
        raise _parameter_error("redeemed", "redeemed cannot be used with usable.")
    has_uses = Q(usage_limit=0) | Q(usage_counter__lt=F("usage_limit"))
    if usable == "true":
        coupons = coupons.filter(has_uses)
    elif usable == "false":
        coupons = coupons.exclude(has_uses)
    if redeemed == "true":
        coupons = coupons.filter(usage_counter__gt=0)
    elif redeemed == "false":
        coupons = coupons.filter(usage_counter=0)
    if (recipient := params.get("recipientIntegrationId")) is not None:
        coupons = coupons.filter(recipient_integration_id=recipient)
    if (batch_id := params.get("batchId")) is not None:
        coupons = coupons.filter(batch_id=batch_id)
    return coupons


# ---------------------------------------------------------------------------------------------
# Views


class CampaignCouponsView(ManagementView):
    """A base of the endpoints under ``…/campaigns/{campaignId}``: the campaign, through the
    application the caller may act on with ``role``."""

    def campaign_for(self, application_id: int, campaign_id: int, *, role: str) -> Campaign:
        application = self.application_for(application_id, role=role)
        return campaign_of(application, campaign_id)


def campaign_of(application: Application, campaign_id: int) -> Campaign:
    """The application's campaign ``campaign_id``; ``NotFound`` when it has none."""
    if 0 < campaign_id <= MAX_ID:
        try:
            return campaign_get(application=application, id=campaign_id)
        except Campaign.DoesNotExist:
            pass
    raise NotFound(f"There is no campaign {campaign_id}.", code="campaign_not_found")


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


class CouponsView(CampaignCouponsView):
    """``POST …/coupons``: up to ``SYNC_BATCH_MAX`` coupons, created before the answer.

    ``silent`` is Talon.One's: ``yes`` (the default) answers 204, ``no`` the coupons."""

    operation = "createCoupons"

    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        silent = _choice(request, "silent", ("yes", "no")) != "no"
        data = _valid(CreateCouponsSerializer, request.data)
        try:
            coupons = coupons_generate(campaign=campaign, data=data, batch_terms=_batch_terms(data))
        except CouponInvalid as error:
            raise _invalid(error) from None
        except CouponExists as error:
            raise _exists(error) from None
        except CouponCodesExhausted as error:
            raise _exhausted(error) from None
        if silent:
            return Response(status=204)
        render = coupon_renderer(campaign.application)
        return Response({"totalResultSize": len(coupons), "data": [render(c) for c in coupons]})


class CouponsAsyncView(CampaignCouponsView):
    """``POST …/coupons_async``: a batch of up to ``BATCH_COUNT_MAX`` coupons that a worker
    fills; answers its ``batchId`` (follow it with ``GET …/coupon_batches/{batchId}``)."""

    operation = "createCouponsAsync"

    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        data = _valid(CreateCouponsAsyncSerializer, request.data)
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


class CouponsNoTotalView(CampaignCouponsView):
    """``GET …/coupons/no_total``: the campaign's coupons, filtered and paged."""

    operation = "getCouponsWithoutTotalCount"

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


class CouponView(CampaignCouponsView):
    """``PUT …/coupons/{couponId}`` changes the fields sent; ``DELETE`` deletes the coupon."""

    operation = {"PUT": "updateCoupon", "DELETE": "deleteCoupon"}

    def put(
        self, request: Request, application_id: int, campaign_id: int, coupon_id: int
    ) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        if not 0 < coupon_id <= MAX_ID:
            raise _no_coupon(coupon_id)
        data = _valid(UpdateCouponSerializer, request.data)
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


class ImportCouponsView(CampaignCouponsView):
    """``POST …/import_coupons``: the coupons of a CSV file (multipart ``upFile``), all or
    none. Answers Talon.One's ``Import`` (``id`` is the batch's number), with our ``batchId``."""

    operation = "importCoupons"
    parser_classes = [MultiPartParser]
    max_body_bytes = IMPORT_MAX_BYTES

    def post(self, request: Request, application_id: int, campaign_id: int) -> Response:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        if _flag(request, "skipDuplicates"):
            raise _parameter_error("skipDuplicates", "Skipping duplicates is not supported.")
        upload = request.FILES.get("upFile")
        if upload is None:
            item = ErrorItem(
                code="required",
                title="Missing value",
                details="Send the CSV file as the multipart field upFile.",
                pointer="/upFile",
            )
            raise BadRequest("The request has no file.", [item], code="required")
        text = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
        try:
            result = coupons_import_csv(campaign=campaign, rows=text)
        except (UnicodeDecodeError, csv.Error) as error:
            item = ErrorItem(
                code="invalid_file",
                title="Invalid file",
                details=f"The file is not CSV in UTF-8: {error}.",
                pointer="/upFile",
            )
            raise BadRequest("The file cannot be read.", [item], code="invalid_file") from None
        if not result.ok:
            items = [
                ErrorItem(
                    code="invalid_row",
                    title="Invalid value",
                    details=str(problem),
                    pointer=f"/upFile/{problem.line}"
                    + (f"/{problem.column}" if problem.column else ""),
                )
                for problem in result.errors
            ]
            raise BadRequest(
                f"The file has {len(items)} problem(s): no coupon was imported.",
                items,
                code="invalid_file",
            )
        batch = coupon_batch_get(application=campaign.application, batch_id=result.batch_id)
        caller = self.caller
        if isinstance(caller, ManagementKey):
            user_id = caller.created_by_id
        else:
            user_id = caller.pk if isinstance(caller, User) else 0
        return Response(
            {
                "id": batch.pk,
                "created": rfc3339(batch.created),
                "accountId": ACCOUNT_ID,
                "userId": user_id,
                "entity": "Coupon",
                "amount": result.imported,
                "batchId": batch.batch_id,
            }
        )


class ExportCouponsView(ManagementView):
    """``GET /v1/applications/{applicationId}/export_coupons``: the application's coupons (or
    one campaign's, ``campaignId``) as CSV, streamed as they are read."""

    operation = "exportCoupons"

    def get(self, request: Request, application_id: int) -> HttpResponseBase:
        application = self.application_for(application_id, role=Role.VIEWER)
        campaign_id = _id_parameter(request, "campaignId")
        campaign = None if campaign_id is None else campaign_of(application, campaign_id)
        lines = coupons_export_csv(application=application, campaign=campaign)
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="coupons.csv"'
        return response


class CouponBatchView(ManagementView):
    """``GET /v1/applications/{applicationId}/coupon_batches/{batchId}`` (ours): a batch's
    progress."""

    operation = "getCouponBatch"

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
