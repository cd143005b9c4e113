"""Coupons in session updates, through HTTP on PostgreSQL: each campaign sees its own coupon,
every code gets Talon.One's verdict (``acceptCoupon`` or ``rejectCoupon`` with the reason),
closing redeems through the database's conditional update, cancelling gives the use back once,
and 100 sessions closing at once on a coupon of 10 uses redeem it exactly 10 times."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns.models import Application, Campaign, Coupon, CouponRedemption
from campaigns.services.rulesets import ruleset_create
from integration.render import dumps
from tests.concurrency import race
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CouponFactory,
)

pytestmark = pytest.mark.django_db

TOTAL = [".", "Session", "Total"]
RESPONSE = ["customerSession", "ruleFailureReasons", "coupons"]


@pytest.fixture
def application() -> Application:
    return ApplicationFactory(currency="EUR")


def coupon_campaign(
    application: Application, *, amount: int = 10, condition: Any = True, name: str = "Coupon"
) -> Campaign:
    made = CampaignFactory(application=application, name=name)
    rule = {
        "title": f"{name}: {amount} off",
        "condition": ["and", ["couponValid"], condition],
        "effects": [["setDiscount", name, amount]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    made.refresh_from_db()
    return made


def put(
    client: Client, auth: dict[str, str], session: str, codes: list[str], state: str = "open"
) -> Any:
    body = {
        "customerSession": {
            "profileId": f"customer-of-{session}",
            "state": state,
            "couponCodes": codes,
            "cartItems": [{"sku": "SKU-1", "quantity": 1, "price": Decimal("50.00")}],
        },
        "responseContent": RESPONSE,
    }
    response = client.put(
        f"/v2/customer_sessions/{session}",
        data=dumps(body),
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def verdicts(body: Any) -> list[tuple[str, str, str | None]]:
    return [
        (e["effectType"], e["props"]["value"], e["props"].get("rejectionReason"))
        for e in body["effects"]
        if e["effectType"] in ("acceptCoupon", "rejectCoupon", "rollbackCoupon")
    ]


def discounts(body: Any) -> list[Decimal]:
    return [e["props"]["value"] for e in body["effects"] if e["effectType"] == "setDiscount"]


def test_a_valid_coupon_is_accepted_and_redeemed_only_when_the_session_closes(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign = coupon_campaign(application)
    coupon = CouponFactory(campaign=campaign, value="SPRING10", usage_limit=5)
    body = put(client, auth, "s-1", ["SPRING10"])
    assert verdicts(body) == [("acceptCoupon", "SPRING10", None)]
    [accepted] = [e for e in body["effects"] if e["effectType"] == "acceptCoupon"]
    assert (accepted["campaignId"], accepted["ruleName"]) == (campaign.pk, "Coupon: 10 off")
    assert discounts(body) == [Decimal("10.00")]
    [shown] = body["coupons"]
    assert (shown["value"], shown["usageCounter"], shown["usageLimit"]) == ("SPRING10", 0, 5)
    coupon.refresh_from_db()
    assert coupon.usage_counter == 0

    closed = put(client, auth, "s-1", ["SPRING10"], state="closed")
    assert verdicts(closed) == [("acceptCoupon", "SPRING10", None)]
    coupon.refresh_from_db()
    assert coupon.usage_counter == 1
    assert CouponRedemption.objects.filter(coupon=coupon, rolled_back_at=None).count() == 1

    # A retried close changes nothing: the coupon is redeemed once.
    again = put(client, auth, "s-1", ["SPRING10"], state="closed")
    assert verdicts(again) == [("acceptCoupon", "SPRING10", None)]
    coupon.refresh_from_db()
    assert coupon.usage_counter == 1


def test_cancelling_gives_the_use_back_once(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    coupon = CouponFactory(campaign=coupon_campaign(application), value="ONCE", usage_limit=1)
    put(client, auth, "s-1", ["ONCE"], state="closed")
    cancelled = put(client, auth, "s-1", ["ONCE"], state="cancelled")
    assert verdicts(cancelled) == [("rollbackCoupon", "ONCE", None)]
    coupon.refresh_from_db()
    assert coupon.usage_counter == 0
    again = put(client, auth, "s-1", ["ONCE"], state="cancelled")
    assert verdicts(again) == []
    coupon.refresh_from_db()
    assert coupon.usage_counter == 0
    # The use is free again: another customer can redeem it.
    assert verdicts(put(client, auth, "s-2", ["ONCE"], state="closed")) == [
        ("acceptCoupon", "ONCE", None)
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"expiry_date": timedelta(days=-1)}, "CouponExpired"),
        ({"start_date": timedelta(days=1)}, "CouponStartDateInFuture"),
        ({"recipient_integration_id": "someone-else"}, "CouponRecipientDoesNotMatch"),
        ({"usage_limit": 2, "usage_counter": 2}, "CouponLimitReached"),
    ],
)
def test_an_unusable_coupon_is_rejected_with_its_reason_and_gives_nothing(
    client: Client,
    auth: dict[str, str],
    application: Application,
    changes: dict[str, Any],
    reason: str,
) -> None:
    now = timezone.now()
    values = {
        key: now + value if isinstance(value, timedelta) else value
        for key, value in changes.items()
    }
    CouponFactory(campaign=coupon_campaign(application), value="NOPE", **values)
    body = put(client, auth, "s-1", ["NOPE"], state="closed")
    assert verdicts(body) == [("rejectCoupon", "NOPE", reason)]
    assert discounts(body) == []
    assert Coupon.objects.get(value="NOPE").usage_counter == values.get("usage_counter", 0)


def test_an_unknown_code_and_a_failed_condition_are_rejected(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign = coupon_campaign(application, condition=[">", TOTAL, 100])
    CouponFactory(campaign=campaign, value="BIG")
    for state in ("open", "closed", "closed"):  # closing records them; a retry replays them
        body = put(client, auth, "s-1", ["WHAT", "BIG"], state=state)
        assert verdicts(body) == [
            ("rejectCoupon", "WHAT", "CouponNotFound"),
            ("rejectCoupon", "BIG", "CouponRejectedByCondition"),
        ]
        assert discounts(body) == []
    assert body["effects"][0]["campaignId"] == 0


def test_a_coupon_of_a_campaign_that_does_not_run_is_rejected(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign = coupon_campaign(application)
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.DISABLED)
    from campaigns.services.rulesets import applications_rules_changed

    applications_rules_changed(application_ids=[application.pk])
    CouponFactory(campaign=campaign, value="OFF")
    body = put(client, auth, "s-1", ["OFF"])
    assert verdicts(body) == [("rejectCoupon", "OFF", "CouponPartOfNotRunningCampaign")]


def test_each_campaign_sees_its_own_coupon_and_its_attributes(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    AttributeDefinitionFactory(application=application, entity="Coupon", name="Tier", type="string")
    gold = coupon_campaign(
        application,
        amount=7,
        name="Gold",
        condition=["=", [".", "Coupon", "Attributes", "Tier"], "gold"],
    )
    plain = coupon_campaign(application, amount=3, name="Plain")
    CouponFactory(campaign=gold, value="G-1", attributes={"Tier": "gold"})
    CouponFactory(campaign=plain, value="P-1")
    body = put(client, auth, "s-1", ["G-1", "P-1"])
    assert verdicts(body) == [("acceptCoupon", "G-1", None), ("acceptCoupon", "P-1", None)]
    assert discounts(body) == [Decimal("7.00"), Decimal("3.00")]
    # Without its code, a campaign that asks for a coupon does not fire.
    only_plain = put(client, auth, "s-2", ["P-1"])
    assert discounts(only_plain) == [Decimal("3.00")]


def test_codes_follow_the_applications_case_sensitivity(
    client: Client, auth: dict[str, str]
) -> None:
    application = ApplicationFactory(currency="EUR", case_sensitivity="insensitive-uppercase")
    from tests.factories import api_key_headers

    headers = api_key_headers(application)
    CouponFactory(campaign=coupon_campaign(application), value="summer")
    assert Coupon.objects.get().value == "SUMMER"
    body = put(client, headers, "s-1", ["Summer"])
    assert verdicts(body) == [("acceptCoupon", "Summer", None)]


@race
@pytest.mark.django_db(transaction=True)
def test_a_hundred_sessions_closing_at_once_redeem_a_coupon_of_ten_uses_ten_times(
    auth: dict[str, str], application: Application
) -> None:
    coupon = CouponFactory(campaign=coupon_campaign(application), value="TEN", usage_limit=10)
    start = threading.Barrier(25)

    def close(index: int) -> list[tuple[str, str, str | None]]:
        try:
            if index < 25:
                start.wait()
            return verdicts(put(Client(), auth, f"race-{index}", ["TEN"], state="closed"))
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=25) as pool:
        outcomes = list(pool.map(close, range(100)))

    accepted = [o for o in outcomes if o == [("acceptCoupon", "TEN", None)]]
    rejected = [o for o in outcomes if o == [("rejectCoupon", "TEN", "CouponLimitReached")]]
    assert (len(accepted), len(rejected)) == (10, 90)
    coupon.refresh_from_db()
    assert coupon.usage_counter == 10
    assert CouponRedemption.objects.filter(coupon=coupon, rolled_back_at=None).count() == 10


def test_a_coupon_that_needs_a_reservation_is_only_for_who_reserved_it(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    CouponFactory(campaign=coupon_campaign(application), value="VIP", is_reservation_mandatory=True)
    response = client.post(
        "/v1/coupon_reservations/VIP",
        data=dumps({"integrationIDs": ["customer-of-s-1"]}),
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 201, response.content
    assert verdicts(put(client, auth, "s-1", ["VIP"])) == [("acceptCoupon", "VIP", None)]
    assert verdicts(put(client, auth, "s-2", ["VIP"])) == [
        ("rejectCoupon", "VIP", "CouponReservationRequired")
    ]


def test_a_customer_redeems_a_coupon_at_most_their_limit(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    coupon = CouponFactory(
        campaign=coupon_campaign(application),
        value="TWICE",
        usage_limit=0,
        profile_redemption_limit=1,
    )

    def close(session: str) -> Any:
        body = {
            "customerSession": {
                "profileId": "ann",
                "state": "closed",
                "couponCodes": ["TWICE"],
                "cartItems": [{"sku": "SKU-1", "quantity": 1, "price": Decimal("50.00")}],
            }
        }
        response = client.put(
            f"/v2/customer_sessions/{session}",
            data=dumps(body),
            content_type="application/json",
            headers=auth,
        )
        return json.loads(response.content, parse_float=Decimal)

    assert verdicts(close("s-1")) == [("acceptCoupon", "TWICE", None)]
    assert verdicts(close("s-2")) == [("rejectCoupon", "TWICE", "ProfileLimitReached")]
    coupon.refresh_from_db()
    assert coupon.usage_counter == 1


def test_forgetting_a_customer_frees_their_reservations(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    coupon = CouponFactory(campaign=coupon_campaign(application), value="R", reservation_limit=1)
    client.post(
        "/v1/coupon_reservations/R",
        data=dumps({"integrationIDs": ["leaving"]}),
        content_type="application/json",
        headers=auth,
    )
    coupon.refresh_from_db()
    assert coupon.reservation_counter == 1
    assert client.delete("/v1/customer_data/leaving", headers=auth).status_code == 204
    coupon.refresh_from_db()
    assert coupon.reservation_counter == 0


def test_closing_creates_the_coupons_and_referral_codes_the_rules_ask_for(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = CampaignFactory(application=application, name="Loyal")
    me = [".", "Profile", "IntegrationId"]
    rule = {
        "title": "Thank you",
        "condition": ["and", [">", TOTAL, 10]],
        "effects": [["createCoupon", me], ["createReferral", me]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)

    opened = put(client, auth, "s-1", [])
    created = [
        e for e in opened["effects"] if e["effectType"] in ("couponCreated", "referralCreated")
    ]
    assert [e["props"]["value"] for e in created] == ["", ""]  # created when the session closes
    assert (opened["createdCoupons"], opened["createdReferrals"]) == ([], [])
    assert not Coupon.objects.exists()

    closed = put(client, auth, "s-1", [], state="closed")
    [coupon] = closed["createdCoupons"]
    [referral] = closed["createdReferrals"]
    assert coupon["recipientIntegrationId"] == "customer-of-s-1"
    assert referral["advocateProfileIntegrationId"] == "customer-of-s-1"
    values = {e["effectType"]: e["props"]["value"] for e in closed["effects"]}
    assert values == {"couponCreated": coupon["value"], "referralCreated": referral["code"]}
    assert Coupon.objects.get().campaign_id == made.pk
    # A retried close creates nothing more and answers the same codes.
    again = put(client, auth, "s-1", [], state="closed")
    assert {e["effectType"]: e["props"]["value"] for e in again["effects"]} == values
    assert Coupon.objects.count() == 1


def test_a_coupons_discount_limit_is_a_value_its_discounts_draw_down(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    coupon = CouponFactory(
        campaign=coupon_campaign(application, amount=10),
        value="GIFT25",
        usage_limit=0,
        discount_limit=Decimal("25.00"),
    )
    first = put(client, auth, "s-1", ["GIFT25"], state="closed")
    assert discounts(first) == [Decimal("10.00")]
    put(client, auth, "s-2", ["GIFT25"], state="closed")
    third = put(client, auth, "s-3", ["GIFT25"], state="closed")
    [discount] = [e["props"] for e in third["effects"] if e["effectType"] == "setDiscount"]
    assert (discount["value"], discount["desiredValue"]) == (Decimal("5.00"), Decimal("10"))
    coupon.refresh_from_db()
    assert coupon.discount_counter == Decimal("25.00")
    assert verdicts(put(client, auth, "s-4", ["GIFT25"])) == [
        ("rejectCoupon", "GIFT25", "CouponLimitReached")
    ]
    # Cancelling gives back what that session drew.
    put(client, auth, "s-3", ["GIFT25"], state="cancelled")
    coupon.refresh_from_db()
    assert coupon.discount_counter == Decimal("20.00")


@race
@pytest.mark.django_db(transaction=True)
def test_sessions_racing_for_a_coupons_value_never_draw_more_than_it_holds(
    auth: dict[str, str], application: Application
) -> None:
    coupon = CouponFactory(
        campaign=coupon_campaign(application, amount=10),
        value="GIFT25",
        usage_limit=0,
        discount_limit=Decimal("25.00"),
    )
    start = threading.Barrier(20)

    def close(index: int) -> list[Decimal]:
        try:
            start.wait()
            return discounts(put(Client(), auth, f"gift-{index}", ["GIFT25"], state="closed"))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        given = [value for outcome in pool.map(close, range(20)) for value in outcome]
    coupon.refresh_from_db()
    assert sum(given, Decimal(0)) == coupon.discount_counter <= Decimal("25.00")
    assert len(given) >= 2


def test_a_partial_return_gives_the_coupon_back_what_it_takes_back(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = CampaignFactory(application=application, name="Gift card")
    rule = {
        "title": "gift",
        "condition": ["and", ["couponValid"]],
        "effects": [["setDiscount", "gift", ["*", TOTAL, 0.5]]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    coupon = CouponFactory(
        campaign=made, value="GIFT", usage_limit=0, discount_limit=Decimal("100.00")
    )
    body = {
        "customerSession": {
            "profileId": "ann",
            "state": "closed",
            "couponCodes": ["GIFT"],
            "cartItems": [
                {"sku": "A", "quantity": 1, "price": Decimal("60.00")},
                {"sku": "B", "quantity": 1, "price": Decimal("40.00")},
            ],
        }
    }
    client.put(
        "/v2/customer_sessions/s-1", data=dumps(body), content_type="application/json", headers=auth
    )
    coupon.refresh_from_db()
    assert coupon.discount_counter == Decimal("50.00")
    returned = client.post(
        "/v2/customer_sessions/s-1/returns",
        data=dumps({"return": {"returnedCartItems": [{"position": 1}]}}),
        content_type="application/json",
        headers=auth,
    )
    assert returned.status_code == 200, returned.content
    coupon.refresh_from_db()
    assert coupon.discount_counter == Decimal("30.00")  # half of what is kept


def test_a_coupon_valid_without_redemption_is_accepted_and_not_redeemed(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = CampaignFactory(application=application, name="Members")
    rule = {
        "title": "members' price",
        "condition": ["and", ["couponValid", False]],
        "effects": [["setDiscount", "members", 5]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    coupon = CouponFactory(campaign=made, value="MEMBER", usage_limit=1)
    for session in ("s-1", "s-2"):
        body = put(client, auth, session, ["MEMBER"], state="closed")
        assert verdicts(body) == [("acceptCoupon", "MEMBER", None)]
        assert discounts(body) == [Decimal("5.00")]
    coupon.refresh_from_db()
    assert coupon.usage_counter == 0
