"""Customer activity reports: what each customer of an application did within a time range,
in Talon.One's ``CustomerActivityReport`` shape (viewer role).

- ``getCustomerActivityReport``: one customer's report, by the customer's internal id.
- ``getCustomerActivityReportsWithoutTotalCount``: the reports of the customers active in the
  range (a session or an event of theirs was created in it), paged without a total, filtered by
  ``name`` (part of the ``Name`` attribute, ignoring case), ``integrationId`` (exact),
  ``campaignName`` (part of the name of a campaign that gave them an effect in the range) and
  ``advocateName`` (part of the ``Name`` of an advocate whose referral code they redeemed).

``rangeStart`` and ``rangeEnd`` are required (``management.access_logs.report_range``); the
figures count what was created from the start to the end, both included:

=========================  ====================================================================
``name``                   the profile's ``Name`` attribute ("" without one)
``couponRedemptions``      coupon redemptions of the customer's sessions, not rolled back
``couponUseAttempts``      coupon codes checked when the customer's sessions closed
                           (``acceptCoupon`` and ``rejectCoupon`` effects)
``couponFailedAttempts``   of those, the rejected ones (``rejectCoupon``)
``accruedDiscounts``       the discounts the customer keeps: ``setDiscount`` and
                           ``setDiscountPerItem`` effects not rolled back
``accruedRevenue``         the ``total`` of the customer's orders (what remains after returns)
``totalOrders``            the customer's sessions that are closed or partially returned
``totalOrdersNoCoupon``    of those, the ones without a live coupon redemption
``campaignName``           the campaign of the customer's latest effect in the range ("" if none)
``lastActivity``           the profile's last activity (whatever the range)
=========================  ====================================================================

Every figure is computed by the database (``customer_activity_reports``: one query, with a
correlated subquery per figure), never by looping over rows in Python.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from campaigns.models import Application, CustomerProfile, CustomerSession, Event
from campaigns.models.coupons import CouponRedemption
from campaigns.models.customers import SessionState
from campaigns.models.effects import EffectRecord
from campaigns.models.referrals import ReferralRedemption
from integration.errors import NotFound
from integration.render import dumps, rfc3339
from management.access_logs import report_range
from management.customers import DISCOUNT_EFFECTS
from management.models import Role
from management.views import MAX_ID, ManagementView, paginate
from talonone.schema import PAGE_PARAMETERS, RANGE_PARAMETERS, page_of

#: The states of a session that make it an order.
ORDER_STATES: Final = (SessionState.CLOSED, SessionState.PARTIALLY_RETURNED)

#: The effects that are a coupon code checked, and the one that is a code refused.
COUPON_VERDICTS: Final = ("acceptCoupon", "rejectCoupon")
COUPON_REFUSED: Final = "rejectCoupon"

#: A discount's ``value`` as stored (a decimal number, as text): others are not summed.
_NUMBER: Final = r"^-?[0-9]+(\.[0-9]+)?$"

_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=30, decimal_places=6)

#: The fields the reports sort by: API name to annotation or model field.
REPORT_SORT_FIELDS: Final = {
    "name": "report_name",
    "customerId": "id",
    "integrationId": "integration_id",
    "created": "created",
    "lastActivity": "last_activity",
    "couponRedemptions": "report_coupon_redemptions",
    "accruedDiscounts": "report_accrued_discounts",
    "accruedRevenue": "report_accrued_revenue",
    "totalOrders": "report_total_orders",
}


def _count(queryset: QuerySet[Any]) -> Coalesce:
    """The number of rows of ``queryset`` (correlated to the profile by ``OuterRef``), as a
    scalar subquery."""
    counted = queryset.order_by().values("profile").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _sum(queryset: QuerySet[Any], expression: Any) -> Coalesce:
    summed = queryset.order_by().values("profile").annotate(total=Sum(expression)).values("total")
    return Coalesce(Subquery(summed, output_field=_AMOUNT), Value(Decimal(0)), output_field=_AMOUNT)


def customer_activity_reports(
    *, application: Application, start: datetime, end: datetime
) -> QuerySet[CustomerProfile]:
    """The customers of ``application``, each annotated with the figures of its report for
    ``start`` … ``end`` (see the module)."""
    within = {"created__gte": start, "created__lte": end}
    sessions = CustomerSession.objects.filter(profile=OuterRef("pk"), **within)
    orders = sessions.filter(state__in=ORDER_STATES)
    live_redemptions = CouponRedemption.objects.filter(rolled_back_at__isnull=True)
    redemptions = live_redemptions.filter(profile=OuterRef("pk"), **within)
    effects = EffectRecord.objects.filter(profile=OuterRef("pk"), **within)
    discounts = effects.filter(
        effect_type__in=DISCOUNT_EFFECTS, rolled_back_at__isnull=True, props__value__regex=_NUMBER
    )
    latest_campaign = (
        effects.filter(campaign__isnull=False).order_by("-created", "-id").values("campaign__name")
    )
    return CustomerProfile.objects.filter(application=application).annotate(
        report_name=Coalesce(
            KeyTextTransform("Name", "attributes"), Value(""), output_field=TextField()
        ),
        report_coupon_redemptions=_count(redemptions),
        report_coupon_use_attempts=_count(effects.filter(effect_type__in=COUPON_VERDICTS)),
        report_coupon_failed_attempts=_count(effects.filter(effect_type=COUPON_REFUSED)),
        report_accrued_discounts=_sum(discounts, Cast(KeyTextTransform("value", "props"), _AMOUNT)),
        report_accrued_revenue=_sum(orders, "total"),
        report_total_orders=_count(orders),
        report_total_orders_no_coupon=_count(
            orders.exclude(Exists(live_redemptions.filter(session=OuterRef("pk"))))
        ),
        report_campaign_name=Coalesce(
            Subquery(latest_campaign[:1]), Value(""), output_field=TextField()
        ),
    )


def active_within(
    reports: QuerySet[CustomerProfile], *, start: datetime, end: datetime
) -> QuerySet[CustomerProfile]:
    """The customers of ``reports`` with a session or an event created within the range."""
    within = {"created__gte": start, "created__lte": end}
    return reports.filter(
        Exists(CustomerSession.objects.filter(profile=OuterRef("pk"), **within))
        | Exists(Event.objects.filter(profile=OuterRef("pk"), **within))
    )


def reports_filtered(
    request: Request,
    reports: QuerySet[CustomerProfile],
    *,
    application: Application,
    start: datetime,
    end: datetime,
) -> QuerySet[CustomerProfile]:
    """``reports`` narrowed by ``getCustomerActivityReportsWithoutTotalCount``' filters."""
    params = request.query_params
    name = params.get("name")
    if name:
        reports = reports.filter(attributes__Name__icontains=name)
    integration_id = params.get("integrationId")
    if integration_id:
        reports = reports.filter(integration_id=integration_id)
    campaign_name = params.get("campaignName")
    if campaign_name:
        reports = reports.filter(
            Exists(
                EffectRecord.objects.filter(
                    profile=OuterRef("pk"),
                    campaign__name__icontains=campaign_name,
                    created__gte=start,
                    created__lte=end,
                )
            )
        )
    advocate_name = params.get("advocateName")
    if advocate_name:
        advocates = CustomerProfile.objects.filter(
            application=application, attributes__Name__icontains=advocate_name
        ).values("integration_id")
        reports = reports.filter(
            Exists(
                ReferralRedemption.objects.filter(
                    friend=OuterRef("pk"),
                    rolled_back_at__isnull=True,
                    referral__advocate_profile_integration_id__in=advocates,
                )
            )
        )
    return reports


def render_customer_activity_report(profile: CustomerProfile) -> dict[str, Any]:
    """A profile annotated by ``customer_activity_reports`` as a ``CustomerActivityReport``."""
    annotated: Any = profile
    return {
        "integrationId": profile.integration_id,
        "created": rfc3339(profile.created),
        "name": str(annotated.report_name),
        "customerId": profile.pk,
        "lastActivity": rfc3339(profile.last_activity),
        "couponRedemptions": annotated.report_coupon_redemptions,
        "couponUseAttempts": annotated.report_coupon_use_attempts,
        "couponFailedAttempts": annotated.report_coupon_failed_attempts,
        "accruedDiscounts": _amount(annotated.report_accrued_discounts),
        "accruedRevenue": _amount(annotated.report_accrued_revenue),
        "totalOrders": annotated.report_total_orders,
        "totalOrdersNoCoupon": annotated.report_total_orders_no_coupon,
        "campaignName": annotated.report_campaign_name,
    }


def _json(data: Any) -> HttpResponse:
    # ``dumps`` writes amounts as exact numbers (DRF's encoder would make floats).
    return HttpResponse(dumps(data), content_type="application/json")


def _amount(value: Decimal) -> Decimal:
    # Six decimals as stored; trailing zeros say nothing.
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized


# ---------------------------------------------------------------------------------------------
# Views


class CustomerActivityReportSerializer(serializers.Serializer[Any]):
    """Talon.One's ``CustomerActivityReport`` (``render_customer_activity_report``)."""

    integrationId = serializers.CharField()
    created = serializers.DateTimeField()
    name = serializers.CharField(allow_blank=True)
    customerId = serializers.IntegerField()
    lastActivity = serializers.DateTimeField()
    couponRedemptions = serializers.IntegerField()
    couponUseAttempts = serializers.IntegerField()
    couponFailedAttempts = serializers.IntegerField()
    accruedDiscounts = serializers.DecimalField(
        max_digits=30, decimal_places=6, coerce_to_string=False
    )
    accruedRevenue = serializers.DecimalField(
        max_digits=30, decimal_places=6, coerce_to_string=False
    )
    totalOrders = serializers.IntegerField()
    totalOrdersNoCoupon = serializers.IntegerField()
    campaignName = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "CustomerActivityReport"


class CustomerActivityReportView(ManagementView):
    operation = "getCustomerActivityReport"

    @extend_schema(
        parameters=[*RANGE_PARAMETERS, *PAGE_PARAMETERS],
        responses={200: CustomerActivityReportSerializer},
    )
    def get(self, request: Request, application_id: int, customer_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        start, end = report_range(request)
        profile = None
        if 0 < customer_id <= MAX_ID:
            reports = customer_activity_reports(application=application, start=start, end=end)
            profile = reports.filter(pk=customer_id).first()
        if profile is None:
            raise NotFound(f"There is no customer {customer_id}.", code="customer_not_found")
        return _json(render_customer_activity_report(profile))


class CustomerActivityReportsNoTotalView(ManagementView):
    operation = "getCustomerActivityReportsWithoutTotalCount"

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            *PAGE_PARAMETERS,
            OpenApiParameter("sort", str, description=", ".join(REPORT_SORT_FIELDS)),
            OpenApiParameter("name", str),
            OpenApiParameter("integrationId", str),
            OpenApiParameter("campaignName", str),
            OpenApiParameter("advocateName", str),
        ],
        responses={200: page_of(CustomerActivityReportSerializer, with_total=False)},
    )
    def get(self, request: Request, application_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        start, end = report_range(request)
        reports = customer_activity_reports(application=application, start=start, end=end)
        reports = reports_filtered(
            request,
            active_within(reports, start=start, end=end),
            application=application,
            start=start,
            end=end,
        )
        page = paginate(
            request,
            reports,
            sortable=REPORT_SORT_FIELDS,
            render=render_customer_activity_report,
            with_total=False,
        )
        return _json(page)
