"""Referral codes in session updates, through HTTP on PostgreSQL: the friend's session sees the
referral (``referralValid``), gets ``acceptReferral`` or ``rejectReferral`` with Talon.One's
reason, closing redeems it once, cancelling gives it back once, and sessions racing for a
referral of 5 uses redeem it 5 times."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from campaigns.models import Application, Campaign, Referral, ReferralRedemption
from campaigns.services.rulesets import ruleset_create
from integration.render import dumps
from tests.concurrency import race
from tests.factories import ApplicationFactory, CampaignFactory, ReferralFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def application() -> Application:
    return ApplicationFactory(currency="EUR")


@pytest.fixture
def campaign(application: Application) -> Campaign:
    made = CampaignFactory(application=application, name="Friends")
    rule = {
        "title": "A friend's first order",
        "condition": ["and", ["referralValid"]],
        "effects": [["setDiscount", "Friend", 5]],
    }
    ruleset_create(campaign=made, rules=[rule], activate=True)
    made.refresh_from_db()
    return made


def put(
    client: Client, auth: dict[str, str], session: str, profile: str, code: str, state: str
) -> Any:
    body = {
        "customerSession": {
            "profileId": profile,
            "state": state,
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
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def verdicts(body: Any) -> list[tuple[str, str | None]]:
    return [
        (e["effectType"], e["props"].get("rejectionReason"))
        for e in body["effects"]
        if "Referral" in e["effectType"]
    ]


def test_a_friend_uses_the_code_once_and_a_cancel_gives_it_back(
    client: Client, auth: dict[str, str], campaign: Campaign
) -> None:
    referral = ReferralFactory(campaign=campaign, code="FRIEND1", usage_limit=2)
    opened = put(client, auth, "s-1", "bob", "FRIEND1", "open")
    assert verdicts(opened) == [("acceptReferral", None)]
    assert [e["effectType"] for e in opened["effects"]] == ["acceptReferral", "setDiscount"]
    referral.refresh_from_db()
    assert referral.usage_counter == 0

    put(client, auth, "s-1", "bob", "FRIEND1", "closed")
    put(client, auth, "s-1", "bob", "FRIEND1", "closed")  # a retried close
    referral.refresh_from_db()
    assert referral.usage_counter == 1

    again = put(client, auth, "s-2", "bob", "FRIEND1", "open")
    assert verdicts(again) == [("rejectReferral", "ReferralCustomerAlreadyReferred")]

    cancelled = put(client, auth, "s-1", "bob", "FRIEND1", "cancelled")
    assert verdicts(cancelled) == [("rollbackReferral", None)]
    put(client, auth, "s-1", "bob", "FRIEND1", "cancelled")
    referral.refresh_from_db()
    assert referral.usage_counter == 0
    assert not ReferralRedemption.objects.filter(rolled_back_at=None).exists()


@pytest.mark.parametrize(
    ("profile", "code", "reason"),
    [
        ("advocate", "FRIEND2", "ReferralRecipientIdSameAsAdvocate"),
        ("bob", "NOSUCH", "ReferralNotFound"),
    ],
)
def test_a_code_that_cannot_be_used_is_rejected_and_gives_nothing(
    client: Client,
    auth: dict[str, str],
    campaign: Campaign,
    profile: str,
    code: str,
    reason: str,
) -> None:
    ReferralFactory(campaign=campaign, code="FRIEND2")
    body = put(client, auth, "s-1", profile, code, "closed")
    assert verdicts(body) == [("rejectReferral", reason)]
    assert [e for e in body["effects"] if e["effectType"] == "setDiscount"] == []


@race
@pytest.mark.django_db(transaction=True)
def test_thirty_friends_racing_for_a_referral_of_five_uses_redeem_it_five_times(
    auth: dict[str, str], campaign: Campaign
) -> None:
    ReferralFactory(campaign=campaign, code="FIVE", usage_limit=5)
    start = threading.Barrier(30)

    def close(index: int) -> list[tuple[str, str | None]]:
        try:
            start.wait()
            return verdicts(
                put(Client(), auth, f"race-{index}", f"friend-{index}", "FIVE", "closed")
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(close, range(30)))
    accepted = [o for o in outcomes if o == [("acceptReferral", None)]]
    limited = [o for o in outcomes if o == [("rejectReferral", "ReferralLimitReached")]]
    assert (len(accepted), len(limited)) == (5, 25)
    assert Referral.objects.get(code="FIVE").usage_counter == 5
