"""``GET /v1/applications/{applicationId}/campaigns/{campaignId}/analytics``
(``getCampaignAnalytics``, viewer): a campaign's performance per hour, day, week, month or
year, in Talon.One's ``CampaignAnalytics`` shape.

``rangeStart`` and ``rangeEnd`` (required) are RFC 3339 times, or bare dates meaning their
midnight in UTC, as the reference says; ``rangeEnd`` must be after ``rangeStart``.
``granularity`` is ``1 hour``, ``1 day`` (the default), ``1 week``, ``1 month`` or ``1 year``;
the periods are the application's time zone's, and at most ``MAX_PERIODS`` of them fit in one
answer. Each item's ``date`` is its period's start; its figures count what happened in the
period within the range, and the ``total…`` figures everything since the campaign began up to
the period's end. What each figure counts is defined in ``campaigns.analytics``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request

from campaigns.analytics import GRANULARITIES, MAX_PERIODS, Period, campaign_analytics
from integration.errors import BadRequest, ErrorItem
from integration.render import dumps, rfc3339
from management.models import Role
from management.views import CampaignScopedView, query_problem
from rules.values import parse_instant

DEFAULT_GRANULARITY: Final = "1 day"


#: API name of each period figure (``Figures`` field); the total's is ``total`` + capitalised.
FIGURE_NAMES: Final = {
    "campaignRevenue": "revenue",
    "campaignRefund": "refund",
    "campaignDiscountCosts": "discount_costs",
    "campaignRefundedDiscounts": "refunded_discounts",
    "campaignFreeItems": "free_items",
    "referralRedemptions": "referral_redemptions",
    "couponRedemptions": "coupon_redemptions",
    "couponRolledbackRedemptions": "coupon_rolledback_redemptions",
    "couponsCreated": "coupons_created",
    "referralsCreated": "referrals_created",
    "addedLoyaltyPoints": "added_loyalty_points",
    "deductedLoyaltyPoints": "deducted_loyalty_points",
}
#: The figures the reference types as integers (the others are numbers).
INTEGER_FIGURES: Final = frozenset(
    {
        "campaignFreeItems",
        "referralRedemptions",
        "couponRedemptions",
        "couponRolledbackRedemptions",
        "couponsCreated",
        "referralsCreated",
    }
)


def total_name(name: str) -> str:
    """``campaignRevenue`` → ``totalCampaignRevenue``."""
    return f"total{name[0].upper()}{name[1:]}"


def render_period(period: Period) -> dict[str, Any]:
    """One item of ``CampaignAnalytics``."""
    rendered: dict[str, Any] = {"date": rfc3339(period.start)}
    for name, field in FIGURE_NAMES.items():
        rendered[name] = _number(name, getattr(period.figures, field))
        rendered[total_name(name)] = _number(name, getattr(period.totals, field))
    return rendered


def _number(name: str, value: Any) -> Any:
    return int(value) if name in INTEGER_FIGURES else value


def _range(request: Request) -> tuple[datetime, datetime, str]:
    """``rangeStart``, ``rangeEnd`` and ``granularity``; ``BadRequest`` naming every bad one."""
    params = request.query_params
    problems: list[ErrorItem] = []
    bounds: dict[str, datetime] = {}
    for name in ("rangeStart", "rangeEnd"):
        text = params.get(name)
        moment = parse_instant(text, dates=True) if text is not None else None
        if text is None:
            problems.append(query_problem(name, f"{name} is required."))
        elif moment is None:
            problems.append(
                query_problem(
                    name, f"{name} must be an RFC 3339 time, such as 2026-07-01T00:00:00Z."
                )
            )
        else:
            bounds[name] = moment
    granularity = params.get("granularity", DEFAULT_GRANULARITY)
    if granularity not in GRANULARITIES:
        problems.append(
            query_problem("granularity", f"granularity may be one of {', '.join(GRANULARITIES)}.")
        )
    if not problems and bounds["rangeEnd"] <= bounds["rangeStart"]:
        problems.append(query_problem("rangeEnd", "rangeEnd must be after rangeStart."))
    if problems:
        raise BadRequest("The query parameters are not valid.", problems)
    return bounds["rangeStart"], bounds["rangeEnd"], granularity


def _figure_field(name: str) -> serializers.Field[Any, Any, Any, Any]:
    if name in INTEGER_FIGURES:
        return serializers.IntegerField()
    return serializers.DecimalField(max_digits=30, decimal_places=6, coerce_to_string=False)


CAMPAIGN_ANALYTICS: Final = inline_serializer(
    "CampaignAnalyticsPage",
    {
        "totalResultSize": serializers.IntegerField(),
        "data": inline_serializer(
            "CampaignAnalytics",
            {
                "date": serializers.DateTimeField(),
                **{name: _figure_field(name) for name in FIGURE_NAMES},
                **{total_name(name): _figure_field(name) for name in FIGURE_NAMES},
            },
            many=True,
        ),
    },
)


class CampaignAnalyticsView(CampaignScopedView):
    operation = "getCampaignAnalytics"

    @extend_schema(
        parameters=[
            OpenApiParameter("rangeStart", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("rangeEnd", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("granularity", str, enum=list(GRANULARITIES)),
        ],
        responses={200: CAMPAIGN_ANALYTICS},
    )
    def get(self, request: Request, application_id: int, campaign_id: int) -> HttpResponse:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.VIEWER)
        start, end, granularity = _range(request)
        try:
            periods = campaign_analytics(
                campaign=campaign, start=start, end=end, granularity=granularity
            )
        except ValueError:
            item = query_problem(
                "rangeEnd",
                f"The range holds more than {MAX_PERIODS} periods of {granularity}: shorten "
                f"it or choose a coarser granularity.",
            )
            raise BadRequest("The range is too long.", [item], code="range_too_long") from None
        data = [render_period(period) for period in periods]
        body = dumps({"totalResultSize": len(data), "data": data})
        return HttpResponse(body, content_type="application/json")
