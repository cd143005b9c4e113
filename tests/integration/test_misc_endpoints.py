"""Through HTTP on PostgreSQL: a customer's inventory (``GET
/v1/customer_profiles/{id}/inventory``), forgetting a customer (``DELETE
/v1/customer_data/{id}``) and the running campaigns (``GET /v1/integration/campaigns``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import (
    Application,
    Campaign,
    CartItem,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
    Event,
)
from campaigns.services.customers import customer_data_delete
from tests.factories import (
    ApplicationFactory,
    CampaignFactory,
    CartItemFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
    EffectRecordFactory,
    EventFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def not_found(response: Any) -> None:
    assert response.status_code == 404, response.content
    body = response.json()
    assert body["StatusCode"] == 404
    assert body["errors"][0]["source"]["resource"] == response.request["PATH_INFO"]


# --------------------------------------------------------------------------------------------
# Inventory


def test_the_inventory_has_the_sections_asked_for(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    CustomerProfileFactory(
        application=application, integration_id="c-1", attributes={"Tier": "gold"}
    )
    url = "/v1/customer_profiles/c-1/inventory?profile=true&coupons=true&loyalty=true"
    body = ok(client.get(url, headers=auth))
    assert set(body) == {"profile", "coupons", "loyalty"}
    assert body["profile"]["integrationId"] == "c-1"
    assert body["profile"]["attributes"] == {"Tier": "gold"}
    assert body["coupons"] == []
    assert body["loyalty"] == {"programs": {}, "cards": []}


def test_every_list_section_is_empty_for_a_customer_who_has_nothing(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    CustomerProfileFactory(application=application, integration_id="c-1")
    query = "referrals=true&coupons=true&giveaways=true&achievements=true"
    body = ok(client.get(f"/v1/customer_profiles/c-1/inventory?{query}", headers=auth))
    assert body == {"referrals": [], "coupons": [], "giveaways": [], "achievements": []}
    assert ok(client.get("/v1/customer_profiles/c-1/inventory", headers=auth)) == {}


def test_the_inventory_lists_the_customers_coupons_and_referral_codes(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    from tests.factories import (
        CampaignFactory,
        CouponFactory,
        CouponReservationFactory,
        ReferralFactory,
    )

    profile = CustomerProfileFactory(application=application, integration_id="c-1")
    campaign = CampaignFactory(application=application)
    CouponFactory(campaign=campaign, value="MINE", recipient_integration_id="c-1")
    reserved = CouponFactory(campaign=campaign, value="HELD")
    CouponReservationFactory(coupon=reserved, profile=profile)
    CouponFactory(campaign=campaign, value="SOMEONE-ELSES", recipient_integration_id="c-2")
    ReferralFactory(campaign=campaign, code="SHARE-1", advocate_profile_integration_id="c-1")
    ReferralFactory(campaign=campaign, code="SHARE-2", advocate_profile_integration_id="c-2")
    url = "/v1/customer_profiles/c-1/inventory?coupons=true&referrals=true"
    body = ok(client.get(url, headers=auth))
    assert sorted(coupon["value"] for coupon in body["coupons"]) == ["HELD", "MINE"]
    assert [referral["code"] for referral in body["referrals"]] == ["SHARE-1"]


def test_the_inventory_of_an_unknown_profile_is_a_404(client: Client, auth: dict[str, str]) -> None:
    not_found(client.get("/v1/customer_profiles/nobody/inventory?profile=true", headers=auth))


def test_another_applications_profile_has_no_inventory_here(
    client: Client, auth: dict[str, str]
) -> None:
    CustomerProfileFactory(application=ApplicationFactory(), integration_id="theirs")
    not_found(client.get("/v1/customer_profiles/theirs/inventory?profile=true", headers=auth))


def test_the_inventory_needs_an_api_key(client: Client, application: Application) -> None:
    CustomerProfileFactory(application=application, integration_id="c-1")
    assert client.get("/v1/customer_profiles/c-1/inventory").status_code == 401


# --------------------------------------------------------------------------------------------
# Forgetting a customer


def customer_with_history(application: Application, integration_id: str) -> CustomerProfile:
    """A profile with a session (two cart items), events and effect records of each kind."""
    profile = CustomerProfileFactory(application=application, integration_id=integration_id)
    session = CustomerSessionFactory(application=application, profile=profile)
    CartItemFactory(session=session, position=0)
    CartItemFactory(session=session, position=1)
    event = EventFactory(application=application, profile=profile, type="purchase")
    EventFactory(application=application, session=session)
    EffectRecordFactory(application=application, session=session, profile=profile)
    EffectRecordFactory(
        application=application,
        event=event,
        profile=profile,
        effect_type="reserveCoupon",
        props={
            "couponValue": "SUMMER-X1",
            "profileIntegrationId": integration_id,
            "isNewReservation": True,
        },
    )
    return profile


def test_forgetting_a_customer_deletes_what_identifies_them(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    customer_with_history(application, "leaving")
    response = client.delete("/v1/customer_data/leaving", headers=auth)
    assert response.status_code == 204, response.content
    assert response.content == b""
    assert not CustomerProfile.objects.exists()
    assert not CustomerSession.objects.exists()
    assert not CartItem.objects.exists()
    assert not Event.objects.exists()


def test_the_effect_records_stay_for_analytics_but_say_nothing_of_the_customer(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    customer_with_history(application, "leaving")
    assert client.delete("/v1/customer_data/leaving", headers=auth).status_code == 204
    records = {record.effect_type: record for record in EffectRecord.objects.all()}
    assert set(records) == {"setDiscount", "reserveCoupon"}
    for record in records.values():
        assert (record.profile_id, record.session_id, record.event_id) == (None, None, None)
        assert record.campaign_id is not None
    assert records["setDiscount"].props == {"name": "10% off", "value": "1.50"}
    assert records["reserveCoupon"].props == {"isNewReservation": True}


def test_forgetting_a_customer_leaves_other_customers_alone(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    customer_with_history(application, "leaving")
    staying = customer_with_history(application, "staying")
    elsewhere = customer_with_history(ApplicationFactory(), "leaving")  # same id, other tenant
    anonymous = CustomerSessionFactory(application=application, profile=None)
    CartItemFactory(session=anonymous, position=0)

    assert client.delete("/v1/customer_data/leaving", headers=auth).status_code == 204

    assert set(CustomerProfile.objects.values_list("pk", flat=True)) == {
        staying.pk,
        elsewhere.pk,
    }
    assert CustomerSession.objects.filter(profile=None).get() == anonymous
    assert CartItem.objects.count() == 2 + 2 + 1
    assert Event.objects.count() == 2 + 2
    for profile in (staying, elsewhere):
        records = EffectRecord.objects.filter(profile=profile)
        assert records.count() == 2
        assert records.get(effect_type="reserveCoupon").props["profileIntegrationId"] == (
            profile.integration_id
        )


def test_the_service_counts_what_it_forgot(application: Application) -> None:
    customer_with_history(application, "leaving")
    deletion = customer_data_delete(application=application, integration_id="leaving")
    assert (deletion.sessions, deletion.events, deletion.effect_records) == (1, 2, 2)


def test_forgetting_an_unknown_customer_is_a_404(client: Client, auth: dict[str, str]) -> None:
    not_found(client.delete("/v1/customer_data/nobody", headers=auth))


def test_another_applications_customer_cannot_be_forgotten_from_here(
    client: Client, auth: dict[str, str]
) -> None:
    theirs = customer_with_history(ApplicationFactory(), "theirs")
    not_found(client.delete("/v1/customer_data/theirs", headers=auth))
    assert CustomerProfile.objects.get() == theirs
    assert EffectRecord.objects.filter(profile=theirs).count() == 2


def test_forgetting_twice_is_a_404_the_second_time(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    customer_with_history(application, "leaving")
    assert client.delete("/v1/customer_data/leaving", headers=auth).status_code == 204
    not_found(client.delete("/v1/customer_data/leaving", headers=auth))


# --------------------------------------------------------------------------------------------
# Running campaigns

RULE = {
    "title": "10% off",
    "displayName": "Ten percent off everything",
    "condition": ["and", True],
    "effects": [],
}


def running(application: Application, **fields: Any) -> Campaign:
    return CampaignFactory(application=application, active_rules=[RULE], **fields)


def campaigns(client: Client, auth: dict[str, str], query: str = "") -> Any:
    return ok(client.get(f"/v1/integration/campaigns{query}", headers=auth))


def ids(body: Any) -> list[int]:
    return [campaign["id"] for campaign in body["data"]]


def test_the_running_campaigns_are_listed_in_the_references_shape(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    summer = running(
        application,
        name="Summer",
        description="Sun",
        tags=["summer"],
        features=["coupons"],
        start_time=start,
    )
    body = campaigns(client, auth)
    assert body == {
        "hasMore": False,
        "data": [
            {
                "id": summer.pk,
                "applicationId": application.pk,
                "name": "Summer",
                "description": "Sun",
                "state": "enabled",
                "tags": ["summer"],
                "features": ["coupons"],
                "attributes": {},
                "startTime": "2024-01-01T00:00:00Z",
                "rules": [{"title": "10% off", "displayName": "Ten percent off everything"}],
            }
        ],
    }


def test_only_campaigns_that_run_now_are_listed(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    now = timezone.now()
    live = running(application)
    running(application, state=Campaign.State.DISABLED)
    running(application, start_time=now + timedelta(days=1))
    running(application, start_time=now - timedelta(days=2), end_time=now - timedelta(days=1))
    CampaignFactory(application=application)  # no active ruleset
    running(ApplicationFactory())
    assert ids(campaigns(client, auth)) == [live.pk]


def test_campaigns_are_paged(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = [running(application).pk for _ in range(5)]
    first = campaigns(client, auth, "?pageSize=2")
    assert (ids(first), first["hasMore"]) == (made[:2], True)
    last = campaigns(client, auth, "?pageSize=2&skip=4")
    assert (ids(last), last["hasMore"]) == (made[4:], False)
    exact = campaigns(client, auth, "?pageSize=5")
    assert (ids(exact), exact["hasMore"]) == (made, False)


def test_campaigns_are_filtered_by_id_and_by_schedule(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    now = timezone.now()
    always = running(application)
    recent = running(application, start_time=now - timedelta(days=1))
    ending = running(application, end_time=now + timedelta(days=1))
    assert ids(campaigns(client, auth, f"?campaignIds={always.pk},{ending.pk}")) == [
        always.pk,
        ending.pk,
    ]
    two_days_ago = (now - timedelta(days=2)).date().isoformat()  # a bare date is midnight UTC
    assert ids(campaigns(client, auth, f"?startAfter={two_days_ago}")) == [recent.pk]
    assert ids(campaigns(client, auth, f"?startBefore={two_days_ago}")) == [always.pk, ending.pk]
    in_a_week = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(campaigns(client, auth, f"?endBefore={in_a_week}")) == [ending.pk]
    assert ids(campaigns(client, auth, f"?endAfter={in_a_week}")) == [always.pk, recent.pk]


def test_another_applications_campaign_id_finds_nothing(
    client: Client, auth: dict[str, str]
) -> None:
    theirs = running(ApplicationFactory())
    assert campaigns(client, auth, f"?campaignIds={theirs.pk}") == {"hasMore": False, "data": []}


@pytest.mark.parametrize(
    ("query", "parameters"),
    [
        ("?pageSize=0", {"pageSize"}),
        ("?pageSize=1001", {"pageSize"}),
        ("?skip=-1&pageSize=x", {"skip", "pageSize"}),
        ("?campaignIds=1,two", {"campaignIds"}),
        ("?startAfter=yesterday&endBefore=2024-13-01", {"startAfter", "endBefore"}),
    ],
)
def test_bad_query_parameters_are_a_400_naming_each(
    client: Client, auth: dict[str, str], query: str, parameters: set[str]
) -> None:
    response = client.get(f"/v1/integration/campaigns{query}", headers=auth)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["StatusCode"] == 400
    assert {error["source"]["parameter"] for error in body["errors"]} == parameters
