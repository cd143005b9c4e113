"""``getCampaignAnalytics``: a campaign's figures per period of the application's time zone.

Given a campaign whose effect log holds discounts, coupons and points of closed, returned and
cancelled sessions, when a viewer asks for its daily analytics, then each day (in Berlin) counts
what happened in it and the totals run from the campaign's beginning; bad ranges are 400 and
another application's campaign is 404.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from campaigns.models import Application, Campaign
from campaigns.services.sessions import RETURN_EVENT_TYPE
from management.models import Role
from tests.factories import (
    ApplicationFactory,
    CampaignFactory,
    CartItemFactory,
    CustomerSessionFactory,
    EffectRecordFactory,
    EventFactory,
)
from tests.management.factories import (
    ManagementKeyFactory,
    ManagementTokenFactory,
    MembershipFactory,
    bearer,
    key_auth,
)
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db

VIEWER = bearer("token-viewer")
#: Three days of March in Berlin (UTC+1).
RANGE = "rangeStart=2026-03-01T00:00:00%2B01:00&rangeEnd=2026-03-04T00:00:00%2B01:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def campaign() -> Campaign:
    application = ApplicationFactory(timezone="Europe/Berlin", currency="EUR")
    token = ManagementTokenFactory(raw_token="token-viewer")
    MembershipFactory(user=token.user, application=application, role=Role.VIEWER)
    return CampaignFactory(application=application)


def record(campaign: Campaign, effect_type: str, created: str, **fields: Any) -> None:
    fields.setdefault("props", {"name": "x", "value": "0"})
    EffectRecordFactory(
        application=campaign.application,
        campaign=campaign,
        effect_type=effect_type,
        created=at(created),
        **fields,
    )


def discount(value: str) -> dict[str, str]:
    return {"name": "off", "value": value}


@pytest.fixture
def history(campaign: Campaign) -> None:
    """A closed, a partially returned and a cancelled session, and points without a session."""
    application = campaign.application
    closed = CustomerSessionFactory(application=application, state="closed", total=Decimal(100))
    record(
        campaign, "setDiscount", "2026-03-01T10:00:00+00:00", session=closed, props=discount("10")
    )
    record(campaign, "acceptCoupon", "2026-03-01T10:00:00+00:00", session=closed)
    record(campaign, "addLoyaltyPoints", "2026-03-01T12:00:00+00:00", props={"value": "25"})

    returned = CustomerSessionFactory(
        application=application, state="partially_returned", total=Decimal(40)
    )
    CartItemFactory(session=returned, position=1, quantity=3, returned_quantity=2, price=5)
    record(
        campaign,
        "setDiscount",
        "2026-03-02T09:00:00+00:00",
        session=returned,
        props=discount("8"),
        rolled_back_at=at("2026-03-03T12:00:00+00:00"),
    )
    # What the return left of the discount: a replacement, not a new grant.
    record(
        campaign, "setDiscount", "2026-03-03T12:00:00+00:00", session=returned, props=discount("4")
    )
    EventFactory(
        application=application,
        session=returned,
        type=RETURN_EVENT_TYPE,
        attributes={"returnedCartItems": [{"position": 1, "quantity": 2, "sku": "A"}]},
        created=at("2026-03-03T12:00:00+00:00"),
    )

    cancelled = CustomerSessionFactory(application=application, state="cancelled", total=Decimal(7))
    for effect_type, props in (("setDiscount", discount("3")), ("acceptCoupon", {})):
        record(
            campaign,
            effect_type,
            "2026-02-20T10:00:00+00:00",
            session=cancelled,
            props=props,
            # 00:30 on 2 March in Berlin.
            rolled_back_at=at("2026-03-01T23:30:00+00:00"),
        )
    # Another campaign's effects count for it, not for this one.
    EffectRecordFactory(application=application, created=at("2026-03-01T10:00:00+00:00"))


def analytics(client: Client, campaign: Campaign, query: str, headers: Any = VIEWER) -> Any:
    path = f"/v1/applications/{campaign.application_id}/campaigns/{campaign.pk}/analytics"
    return client.get(f"{path}?{query}", headers=headers)


def content(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def test_each_day_counts_what_happened_in_it_and_totals_run_from_the_beginning(
    client: Client, campaign: Campaign, history: None
) -> None:
    body = content(analytics(client, campaign, f"{RANGE}&granularity=1%20day"))

    assert body["totalResultSize"] == 3
    days = body["data"]
    assert [day["date"] for day in days] == [
        "2026-02-28T23:00:00Z",
        "2026-03-01T23:00:00Z",
        "2026-03-02T23:00:00Z",
    ]

    def figures(name: str) -> list[Any]:
        return [day[name] for day in days]

    assert figures("campaignDiscountCosts") == [10, 8, 0]
    assert figures("totalCampaignDiscountCosts") == [13, 21, 21]
    assert figures("campaignRefundedDiscounts") == [0, 3, 4]
    assert figures("totalCampaignRefundedDiscounts") == [0, 3, 7]
    assert figures("campaignRevenue") == [100, 40, 0]
    assert figures("totalCampaignRevenue") == [100, 140, 140]
    assert figures("campaignRefund") == [0, 0, 10]
    assert figures("totalCampaignRefund") == [0, 0, 10]
    assert figures("couponRedemptions") == [1, 0, 0]
    assert figures("totalCouponRedemptions") == [2, 2, 2]
    assert figures("couponRolledbackRedemptions") == [0, 1, 0]
    assert figures("totalCouponRolledbackRedemptions") == [0, 1, 1]
    assert figures("addedLoyaltyPoints") == [25, 0, 0]
    assert figures("totalAddedLoyaltyPoints") == [25, 25, 25]
    assert figures("referralRedemptions") == figures("couponsCreated") == [0, 0, 0]
    figure_names = {
        "campaignRevenue", "campaignRefund", "campaignDiscountCosts",
        "campaignRefundedDiscounts", "campaignFreeItems", "referralRedemptions",
        "couponRedemptions", "couponRolledbackRedemptions", "couponsCreated",
        "referralsCreated", "addedLoyaltyPoints", "deductedLoyaltyPoints",
    }  # fmt: skip
    totals = {f"total{name[0].upper()}{name[1:]}" for name in figure_names}
    assert set(days[0]) == {"date", *figure_names, *totals}
    assert isinstance(days[0]["couponRedemptions"], int)


def test_one_period_holds_the_range_when_it_fits_in_it(
    client: Client, campaign: Campaign, history: None
) -> None:
    month = content(analytics(client, campaign, f"{RANGE}&granularity=1%20month"))
    hours = content(
        analytics(
            client,
            campaign,
            "rangeStart=2026-03-01T09:30:00Z&rangeEnd=2026-03-01T12:00:00Z&granularity=1%20hour",
        )
    )

    assert [period["date"] for period in month["data"]] == ["2026-02-28T23:00:00Z"]
    assert month["data"][0]["campaignDiscountCosts"] == 18
    assert [period["date"] for period in hours["data"]] == [
        "2026-03-01T09:00:00Z",
        "2026-03-01T10:00:00Z",
        "2026-03-01T11:00:00Z",
    ]
    assert [period["campaignRevenue"] for period in hours["data"]] == [0, 100, 0]
    # Points given at 12:00 are after the range's end.
    assert hours["data"][-1]["totalAddedLoyaltyPoints"] == 0


def test_a_campaign_without_history_has_zero_periods(client: Client, campaign: Campaign) -> None:
    body = content(analytics(client, campaign, f"{RANGE}&granularity=1%20week"))

    assert [period["date"] for period in body["data"]] == [
        "2026-02-22T23:00:00Z",  # the ISO week starts on Monday
        "2026-03-01T23:00:00Z",
    ]
    assert all(
        value == 0 for period in body["data"] for key, value in period.items() if key != "date"
    )


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("rangeEnd=2026-03-04T00:00:00Z", "rangeStart"),
        ("rangeStart=2026-03-01T00:00:00Z", "rangeEnd"),
        ("rangeStart=yesterday&rangeEnd=2026-03-04T00:00:00Z", "rangeStart"),
        ("rangeStart=2026-02-30&rangeEnd=2026-03-04", "rangeStart"),
        ("rangeStart=2026-03-04&rangeEnd=2026-03-01", "rangeEnd"),
        ("rangeStart=2026-03-04&rangeEnd=2026-03-04", "rangeEnd"),
        (f"{RANGE}&granularity=1%20fortnight", "granularity"),
        (f"{RANGE}&granularity=", "granularity"),
        ("rangeStart=2020-01-01&rangeEnd=2026-01-01&granularity=1%20hour", "rangeEnd"),
        ("rangeStart=2000-01-01&rangeEnd=2026-01-01", "rangeEnd"),
    ],
)
def test_bad_ranges_are_400_naming_the_parameter(
    client: Client, campaign: Campaign, query: str, parameter: str
) -> None:
    response = analytics(client, campaign, query)

    body = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert body["errors"][0]["source"] == {"parameter": parameter}


def test_bare_dates_are_midnight_in_utc(client: Client, campaign: Campaign) -> None:
    body = content(analytics(client, campaign, "rangeStart=2026-03-01&rangeEnd=2026-03-02"))

    # Midnight UTC is 01:00 in Berlin: the range touches 1 and 2 March there.
    assert [period["date"] for period in body["data"]] == [
        "2026-02-28T23:00:00Z",
        "2026-03-01T23:00:00Z",
    ]


def test_another_applications_campaign_is_404_and_a_key_needs_the_operation(
    client: Client, campaign: Campaign
) -> None:
    other = CampaignFactory()
    path = f"/v1/applications/{campaign.application_id}/campaigns/{other.pk}/analytics?{RANGE}"
    ManagementKeyFactory(
        raw_key="d" * 64, allowed_endpoints=["getCampaign"], applications=[campaign.application]
    )
    ManagementKeyFactory(
        raw_key="e" * 64,
        allowed_endpoints=["getCampaignAnalytics"],
        applications=[campaign.application],
    )

    assert_error(client.get(path, headers=VIEWER), 404, "campaign_not_found")
    assert_error(
        analytics(client, campaign, RANGE, key_auth("d" * 64)), 403, "endpoint_not_allowed"
    )
    assert analytics(client, campaign, RANGE, key_auth("e" * 64)).status_code == 200
    assert analytics(client, campaign, RANGE, {}).status_code == 401


def test_an_application_outside_the_callers_is_404(client: Client, campaign: Campaign) -> None:
    stranger: Application = CampaignFactory().application
    path = f"/v1/applications/{stranger.pk}/campaigns/{campaign.pk}/analytics?{RANGE}"

    assert_error(client.get(path, headers=VIEWER), 404, "application_not_found")


def test_each_effect_counts_in_its_own_figure(client: Client, campaign: Campaign) -> None:
    """Props hold numbers as numeric strings or JSON numbers; a free item without a desired
    quantity is one; a return counts the price of what it lists, when it happened."""
    application = campaign.application
    session = CustomerSessionFactory(application=application, state="closed", total=Decimal(50))
    CartItemFactory(session=session, position=0, quantity=2, price=Decimal("2.50"))
    CartItemFactory(session=session, position=1, quantity=5, price=Decimal("1.25"))
    moment = "2026-03-02T10:00:00+00:00"
    for effect_type, props in (
        ("addFreeItem", {"sku": "A", "name": "free", "desiredQuantity": 3}),
        ("addFreeItem", {"sku": "B", "name": "free"}),
        ("addFreeItem", {"sku": "C", "name": "free", "desiredQuantity": None}),
        ("acceptReferral", {"value": "REF"}),
        ("couponCreated", {"value": "NEW-1"}),
        ("couponCreated", {"value": "NEW-2"}),
        ("referralCreated", {"value": "NEW-REF"}),
        ("addLoyaltyPoints", {"value": 12.5}),
        ("deductLoyaltyPoints", {"value": "7.25"}),
        ("setDiscountPerItem", {"name": "off", "value": 1.5, "position": 0}),
    ):
        record(campaign, effect_type, moment, session=session, props=props)
    for returned_at, items in (
        ("2026-03-02T11:00:00+00:00", [{"position": 0, "quantity": 1, "sku": "A"}]),
        (
            "2026-03-03T11:00:00+00:00",
            [
                {"position": 0, "quantity": 1, "sku": "A"},
                {"position": 1, "quantity": 2, "sku": "B"},
            ],
        ),
    ):
        EventFactory(
            application=application,
            session=session,
            type=RETURN_EVENT_TYPE,
            attributes={"returnedCartItems": items},
            created=at(returned_at),
        )

    days = content(analytics(client, campaign, RANGE))["data"]

    def figures(name: str) -> list[Any]:
        return [day[name] for day in days]

    assert figures("campaignFreeItems") == [0, 5, 0]
    assert figures("referralRedemptions") == [0, 1, 0]
    assert figures("couponsCreated") == [0, 2, 0]
    assert figures("referralsCreated") == [0, 1, 0]
    assert figures("addedLoyaltyPoints") == [0, Decimal("12.5"), 0]
    assert figures("deductedLoyaltyPoints") == [0, Decimal("7.25"), 0]
    assert figures("campaignDiscountCosts") == [0, Decimal("1.5"), 0]
    assert figures("campaignRevenue") == [0, 50, 0]
    assert figures("campaignRefund") == [0, Decimal("2.5"), 5]
    assert figures("totalCampaignRefund") == [0, Decimal("2.5"), Decimal("7.5")]


def test_what_happened_before_the_range_counts_only_in_the_totals(
    client: Client, campaign: Campaign
) -> None:
    """The first period holds only its part within the range, and periods are the application's
    time zone's: 23:30 UTC on Sunday 1 March is Monday 2 March in Berlin, a new week."""
    for created in ("2026-03-01T09:10:00+00:00", "2026-03-01T09:40:00+00:00"):
        record(campaign, "acceptCoupon", created)
    record(campaign, "addLoyaltyPoints", "2026-03-01T22:30:00+00:00", props={"value": "1"})
    record(campaign, "addLoyaltyPoints", "2026-03-01T23:30:00+00:00", props={"value": "2"})

    hours = content(
        analytics(
            client,
            campaign,
            "rangeStart=2026-03-01T09:30:00Z&rangeEnd=2026-03-01T10:00:00Z&granularity=1%20hour",
        )
    )["data"]
    weeks = content(
        analytics(
            client,
            campaign,
            "rangeStart=2026-02-25T00:00:00Z&rangeEnd=2026-03-05T00:00:00Z&granularity=1%20week",
        )
    )["data"]

    assert [(hour["couponRedemptions"], hour["totalCouponRedemptions"]) for hour in hours] == [
        (1, 2)
    ]
    assert [week["date"] for week in weeks] == ["2026-02-22T23:00:00Z", "2026-03-01T23:00:00Z"]
    assert [week["addedLoyaltyPoints"] for week in weeks] == [1, 2]
    assert [week["totalAddedLoyaltyPoints"] for week in weeks] == [1, 3]
