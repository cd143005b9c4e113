"""Campaign budgets through HTTP on PostgreSQL: an effect that does not fit is not given (or,
with partial discounts, gets what is left), closing spends with a conditional update, cancelling
gives back once, and 200 sessions closing at once never spend past a 1000.00 budget."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.test import Client

from campaigns.models import (
    Application,
    BudgetCounter,
    BudgetSpend,
    Campaign,
    Coupon,
    EffectRecord,
)
from campaigns.services.budgets import campaign_limits_set
from campaigns.services.rulesets import ruleset_create
from integration.render import dumps
from tests.concurrency import race
from tests.factories import ApplicationFactory, CampaignFactory, CouponFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def application() -> Application:
    return ApplicationFactory(currency="EUR")


def budgeted(
    application: Application,
    *,
    amount: int = 7,
    limits: list[dict[str, Any]],
    condition: Any = True,
) -> Campaign:
    made = CampaignFactory(application=application, name="Budgeted")
    rule = {
        "title": "7 off",
        "condition": ["and", condition],
        "effects": [["setDiscount", "7 off", amount]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    campaign_limits_set(campaign=made, limits=limits)
    made.refresh_from_db()
    return made


def put(
    client: Client,
    auth: dict[str, str],
    session: str,
    *,
    state: str = "closed",
    profile: str | None = None,
    codes: list[str] | None = None,
) -> Any:
    body: dict[str, Any] = {
        "customerSession": {
            "profileId": profile or f"customer-of-{session}",
            "state": state,
            "cartItems": [{"sku": "SKU-1", "quantity": 1, "price": Decimal("50.00")}],
        },
        "responseContent": ["ruleFailureReasons"],
    }
    if codes is not None:
        body["customerSession"]["couponCodes"] = codes
    response = client.put(
        f"/v2/customer_sessions/{session}",
        data=dumps(body),
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def discounts(body: Any) -> list[tuple[Decimal, Decimal | None]]:
    return [
        (e["props"]["value"], e["props"].get("desiredValue"))
        for e in body["effects"]
        if e["effectType"] == "setDiscount"
    ]


def spent() -> Decimal:
    return BudgetCounter.objects.aggregate(total=Sum("spent"))["total"] or Decimal(0)


def test_a_discount_budget_is_spent_at_close_and_refuses_what_does_not_fit(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    budgeted(application, limits=[{"action": "setDiscount", "limit": Decimal("10.00")}])
    assert discounts(put(client, auth, "s-1", state="open")) == [(Decimal("7.00"), None)]
    assert spent() == 0  # an open session spends nothing
    assert discounts(put(client, auth, "s-1")) == [(Decimal("7.00"), None)]
    assert spent() == Decimal("7.00")
    refused = put(client, auth, "s-2")
    assert discounts(refused) == []
    [reason] = refused["ruleFailureReasons"]
    assert reason["details"].startswith("EffectCouldNotBeApplied: CampaignLimitReached")
    assert spent() == Decimal("7.00")


def test_with_partial_discounts_the_last_session_gets_what_is_left(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    application.enable_partial_discounts = True
    application.save()
    budgeted(application, limits=[{"action": "setDiscount", "limit": Decimal("10.00")}])
    put(client, auth, "s-1")
    assert discounts(put(client, auth, "s-2")) == [(Decimal("3.00"), Decimal("7.00"))]
    assert spent() == Decimal("10.00")
    assert discounts(put(client, auth, "s-3")) == []


def test_cancelling_gives_the_budget_back_once_and_a_retried_close_spends_once(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    budgeted(application, limits=[{"action": "setDiscountEffect", "limit": 1}])
    put(client, auth, "s-1")
    put(client, auth, "s-1")  # the same close again
    assert spent() == 1
    put(client, auth, "s-1", state="cancelled")
    put(client, auth, "s-1", state="cancelled")
    assert spent() == 0
    assert BudgetSpend.objects.filter(rolled_back_at__isnull=True).count() == 0
    assert discounts(put(client, auth, "s-2")) == [(Decimal("7.00"), None)]


def test_a_per_profile_limit_counts_each_customer_apart(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    budgeted(
        application,
        limits=[{"action": "setDiscountEffect", "limit": 1, "entities": ["Profile"]}],
    )
    assert discounts(put(client, auth, "s-1", profile="ann")) != []
    assert discounts(put(client, auth, "s-2", profile="ann")) == []
    assert discounts(put(client, auth, "s-3", profile="bob")) != []


def test_a_daily_limit_counts_in_the_day_of_the_applications_time_zone(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    budgeted(application, limits=[{"action": "setDiscountEffect", "limit": 1, "period": "daily"}])
    put(client, auth, "s-1")
    [counter] = BudgetCounter.objects.all()
    assert counter.period_start.year >= 2026
    assert discounts(put(client, auth, "s-2")) == []


def test_a_campaign_that_may_redeem_no_more_coupons_rejects_the_code(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = CampaignFactory(application=application, name="Coupons")
    rule = {
        "title": "coupon",
        "condition": ["and", ["couponValid"]],
        "effects": [["setDiscount", "coupon", 5]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    campaign_limits_set(campaign=made, limits=[{"action": "redeemCoupon", "limit": 1}])
    CouponFactory(campaign=made, value="A", usage_limit=0)
    put(client, auth, "s-1", codes=["A"])
    refused = put(client, auth, "s-2", codes=["A"])
    assert [(e["effectType"], e["props"].get("rejectionReason")) for e in refused["effects"]] == [
        ("rejectCoupon", "CampaignLimitReached")
    ]
    assert Coupon.objects.get().usage_counter == 1


def test_the_database_refuses_a_counter_past_its_cap(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    budgeted(application, limits=[{"action": "setDiscount", "limit": Decimal("10.00")}])
    put(client, auth, "s-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        BudgetCounter.objects.update(spent=Decimal("10.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        BudgetCounter.objects.update(spent=Decimal("-0.01"))


@race
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("partial", [False, True])
def test_two_hundred_sessions_closing_at_once_never_spend_past_the_budget(
    auth: dict[str, str], application: Application, partial: bool
) -> None:
    application.enable_partial_discounts = partial
    application.save()
    budgeted(application, limits=[{"action": "setDiscount", "limit": Decimal("1000.00")}])
    start = threading.Barrier(25)

    def close(index: int) -> list[tuple[Decimal, Decimal | None]]:
        try:
            if index < 25:
                start.wait()
            return discounts(put(Client(), auth, f"race-{index}"))
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=25) as pool:
        outcomes = list(pool.map(close, range(200)))

    given = sum((value for outcome in outcomes for value, _ in outcome), Decimal(0))
    full = [o for o in outcomes if o == [(Decimal("7.00"), None)]]
    assert len(full) == 142  # 142 x 7.00 = 994.00
    assert given == (Decimal("1000.00") if partial else Decimal("994.00"))
    assert spent() == given
    logged = EffectRecord.objects.filter(effect_type="setDiscount").values_list("props", flat=True)
    assert sum((Decimal(props["value"]) for props in logged), Decimal(0)) == given


@race
@pytest.mark.django_db(transaction=True)
def test_sessions_of_one_customer_closing_at_once_keep_to_the_per_profile_budget(
    auth: dict[str, str], application: Application
) -> None:
    budgeted(
        application,
        limits=[{"action": "setDiscountEffect", "limit": 2, "entities": ["Profile"]}],
    )
    start = threading.Barrier(20)

    def close(index: int) -> list[tuple[Decimal, Decimal | None]]:
        try:
            start.wait()
            return discounts(put(Client(), auth, f"ann-{index}", profile="ann"))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(close, range(20)))
    assert sum(1 for outcome in outcomes if outcome) == 2
    assert spent() == 2


def test_a_campaign_that_may_redeem_no_more_referrals_or_create_no_more_coupons(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    from tests.factories import ReferralFactory

    made = CampaignFactory(application=application, name="Friends")
    rule = {
        "title": "friend",
        "condition": ["and", ["referralValid"]],
        "effects": [
            ["setDiscount", "friend", 5],
            ["createCoupon", [".", "Profile", "IntegrationId"]],
        ],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    campaign_limits_set(
        campaign=made,
        limits=[
            {"action": "redeemReferral", "limit": 2},
            {"action": "createCoupon", "limit": 1},
        ],
    )
    ReferralFactory(campaign=made, code="SHARE", usage_limit=0)

    def close(session: str, profile: str) -> Any:
        body = {
            "customerSession": {
                "profileId": profile,
                "state": "closed",
                "referralCode": "SHARE",
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

    first = close("s-1", "bob")
    assert [e["effectType"] for e in first["effects"]] == [
        "acceptReferral",
        "setDiscount",
        "couponCreated",
    ]
    second = close("s-2", "carol")  # the referral fits; the coupon does not
    assert [e["effectType"] for e in second["effects"]] == ["acceptReferral", "setDiscount"]
    assert len(second["createdCoupons"]) == 0
    third = close("s-3", "dave")
    assert [(e["effectType"], e["props"].get("rejectionReason")) for e in third["effects"]] == [
        ("rejectReferral", "CampaignLimitReached")
    ]
    assert Coupon.objects.count() == 1


def test_a_return_gives_back_the_budget_its_discounts_no_longer_need(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = CampaignFactory(application=application, name="Ten percent")
    total = [".", "Session", "Total"]
    rule = {
        "title": "10%",
        "condition": ["and"],
        "effects": [["setDiscount", "10%", ["*", total, 0.1]]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    campaign_limits_set(campaign=made, limits=[{"action": "setDiscount", "limit": 100}])
    body = {
        "customerSession": {
            "profileId": "ann",
            "state": "closed",
            "cartItems": [
                {"sku": "A", "quantity": 1, "price": Decimal("60.00")},
                {"sku": "B", "quantity": 1, "price": Decimal("40.00")},
            ],
        }
    }
    response = client.put(
        "/v2/customer_sessions/s-1", data=dumps(body), content_type="application/json", headers=auth
    )
    assert response.status_code == 200, response.content
    assert spent() == Decimal("10.00")
    returned = client.post(
        "/v2/customer_sessions/s-1/returns",
        data=dumps({"return": {"returnedCartItems": [{"position": 1}]}}),
        content_type="application/json",
        headers=auth,
    )
    assert returned.status_code == 200, returned.content
    assert spent() == Decimal("6.00")  # 10 % of what is kept
    client.put(
        "/v2/customer_sessions/s-1",
        data=dumps({"customerSession": {"state": "cancelled"}}),
        content_type="application/json",
        headers=auth,
    )
    assert spent() == 0


def test_a_per_referral_budget_counts_each_referral_code_apart(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    from tests.factories import ReferralFactory

    made = CampaignFactory(application=application, name="Friends")
    rule = {
        "title": "friend",
        "condition": ["and", ["referralValid"]],
        "effects": [["setDiscount", "friend", 5]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    campaign_limits_set(
        campaign=made, limits=[{"action": "setDiscount", "limit": 5, "entities": ["Referral"]}]
    )
    ReferralFactory(campaign=made, code="ONE", usage_limit=0)
    ReferralFactory(campaign=made, code="TWO", usage_limit=0)

    def close(session: str, profile: str, code: str) -> list[Any]:
        body = {
            "customerSession": {
                "profileId": profile,
                "state": "closed",
                "referralCode": code,
                "cartItems": [{"sku": "SKU-1", "quantity": 1, "price": Decimal("50.00")}],
            }
        }
        response = client.put(
            f"/v2/customer_sessions/{session}",
            data=dumps(body),
            content_type="application/json",
            headers=auth,
        )
        return discounts(json.loads(response.content, parse_float=Decimal))

    assert close("s-1", "bob", "ONE") == [(Decimal("5.00"), None)]
    assert close("s-2", "carol", "ONE") == []  # the referral's budget is spent
    assert close("s-3", "dave", "TWO") == [(Decimal("5.00"), None)]


def test_a_coupon_whose_discount_does_not_fit_the_budget_is_rejected_and_not_used_up(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = CampaignFactory(application=application, name="Coupon deal")
    rule = {
        "title": "coupon",
        "condition": ["and", ["couponValid"]],
        "effects": [["setDiscount", "coupon", 7]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    campaign_limits_set(campaign=made, limits=[{"action": "setDiscount", "limit": 10}])
    coupon = CouponFactory(campaign=made, value="DEAL", usage_limit=0)
    put(client, auth, "s-1", codes=["DEAL"])
    refused = put(client, auth, "s-2", codes=["DEAL"])
    assert [(e["effectType"], e["props"].get("rejectionReason")) for e in refused["effects"]] == [
        ("rejectCoupon", "EffectCouldNotBeApplied")
    ]
    coupon.refresh_from_db()
    assert coupon.usage_counter == 1
