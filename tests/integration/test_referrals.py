"""``POST /v1/referrals`` through HTTP: a referral code for an advocate, answered in Talon.One's
``Referral`` shape; generated codes are unique and stored as the application compares codes; a
bad body is a 400 pointing at the offending fields that writes nothing, and another
application's campaign a 404."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from campaigns.models import Application, Campaign, Referral
from campaigns.models.attributes import AttributeEntity, AttributeType
from campaigns.services.referrals import CODE_ALPHABET, CODE_LENGTH, referrals_find
from integration.render import dumps
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    ReferralFactory,
    api_key_headers,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def campaign(application: Application) -> Campaign:
    return CampaignFactory(application=application, features=["referrals"])


def create(client: Client, auth: dict[str, str], body: Any) -> tuple[int, Any]:
    """The status and decoded body of ``POST /v1/referrals``."""
    response = client.post(
        "/v1/referrals", data=dumps(body), content_type="application/json", headers=auth
    )
    return response.status_code, json.loads(response.content, parse_float=Decimal)


def pointers(body: Any) -> list[str]:
    return [error["source"]["pointer"] for error in body["errors"]]


def test_a_referral_is_created_for_the_advocate(
    client: Client, auth: dict[str, str], campaign: Campaign
) -> None:
    status, body = create(
        client, auth, {"campaignId": campaign.pk, "advocateProfileIntegrationId": "alice"}
    )

    assert status == 201
    referral = Referral.objects.get()
    assert body == {
        "id": referral.pk,
        "created": body["created"],
        "usageLimit": 1,
        "campaignId": campaign.pk,
        "advocateProfileIntegrationId": "alice",
        "attributes": {},
        "code": referral.code,
        "usageCounter": 0,
    }
    assert datetime.fromisoformat(body["created"]) == referral.created
    assert len(referral.code) == CODE_LENGTH
    assert set(referral.code) <= set(CODE_ALPHABET)
    assert (referral.application, referral.campaign) == (campaign.application, campaign)


def test_every_field_is_stored_and_answered(
    client: Client, auth: dict[str, str], campaign: Campaign, application: Application
) -> None:
    AttributeDefinitionFactory(
        application=application, entity=AttributeEntity.REFERRAL, name="channel"
    )
    AttributeDefinitionFactory(
        application=application,
        entity=AttributeEntity.REFERRAL,
        name="reward",
        type=AttributeType.NUMBER,
    )

    status, body = create(
        client,
        auth,
        {
            "campaignId": campaign.pk,
            "advocateProfileIntegrationId": "alice",
            "friendProfileIntegrationId": "bob",
            "startDate": "2025-06-01T00:00:00Z",
            "expiryDate": "2025-07-01T00:00:00+02:00",
            "usageLimit": 0,
            "attributes": {"channel": "web", "reward": Decimal("12.5")},
        },
    )

    assert status == 201
    assert body["friendProfileIntegrationId"] == "bob"
    assert body["startDate"] == "2025-06-01T00:00:00Z"
    assert body["expiryDate"] == "2025-06-30T22:00:00Z"
    assert body["usageLimit"] == 0
    assert body["attributes"] == {"channel": "web", "reward": Decimal("12.5")}
    referral = Referral.objects.get()
    assert referral.friend_profile_integration_id == "bob"
    assert referral.start_date == datetime(2025, 6, 1, tzinfo=UTC)
    assert referral.expiry_date == datetime(2025, 6, 30, 22, tzinfo=UTC)
    assert referral.usage_limit == 0
    assert referral.attributes == {"channel": "web", "reward": "12.5"}


def test_generated_codes_are_unique(
    client: Client, auth: dict[str, str], campaign: Campaign
) -> None:
    codes = set()
    for n in range(50):
        status, body = create(
            client, auth, {"campaignId": campaign.pk, "advocateProfileIntegrationId": f"a{n}"}
        )
        assert status == 201
        codes.add(body["code"])

    assert len(codes) == Referral.objects.count() == 50


@pytest.mark.parametrize(
    ("sensitivity", "convert"),
    [
        ("insensitive-uppercase", str.upper),
        ("insensitive-lowercase", str.lower),
        ("sensitive", str.upper),
    ],
)
def test_the_code_is_stored_as_the_application_compares_codes(
    client: Client, sensitivity: str, convert: Any
) -> None:
    application = ApplicationFactory(case_sensitivity=sensitivity)
    campaign = CampaignFactory(application=application)
    status, body = create(
        client,
        api_key_headers(application),
        {"campaignId": campaign.pk, "advocateProfileIntegrationId": "alice"},
    )

    assert status == 201
    assert body["code"] == convert(body["code"])
    assert Referral.objects.get().code == body["code"]
    found = referrals_find(application=application, codes=[body["code"].swapcase()])
    assert bool(found) is (sensitivity != "sensitive")


BAD_BODIES = [
    ("not an object", [], [""]),
    ("nothing", {}, ["/campaignId", "/advocateProfileIntegrationId"]),
    (
        "ill-typed",
        {"campaignId": "1", "advocateProfileIntegrationId": 7},
        ["/campaignId", "/advocateProfileIntegrationId"],
    ),
    ("a boolean campaign", {"campaignId": True}, ["/campaignId"]),
    ("an empty advocate", {"advocateProfileIntegrationId": ""}, ["/advocateProfileIntegrationId"]),
    (
        "a long advocate",
        {"advocateProfileIntegrationId": "x" * 1001},
        ["/advocateProfileIntegrationId"],
    ),
    (
        "the advocate as friend",
        {"friendProfileIntegrationId": "alice"},
        ["/friendProfileIntegrationId"],
    ),
    ("a numeric friend", {"friendProfileIntegrationId": 3}, ["/friendProfileIntegrationId"]),
    ("a negative limit", {"usageLimit": -1}, ["/usageLimit"]),
    ("a limit too high", {"usageLimit": 1_000_000}, ["/usageLimit"]),
    ("a fractional limit", {"usageLimit": Decimal("1.5")}, ["/usageLimit"]),
    ("not a time", {"startDate": "tomorrow", "expiryDate": 5}, ["/startDate", "/expiryDate"]),
    (
        "an expiry before the start",
        {"startDate": "2025-06-02T00:00:00Z", "expiryDate": "2025-06-01T00:00:00Z"},
        ["/expiryDate"],
    ),
    ("attributes not an object", {"attributes": ["web"]}, ["/attributes"]),
    ("an undefined attribute", {"attributes": {"channel": "web"}}, ["/attributes/channel"]),
    ("an attribute of the wrong type", {"attributes": {"reward": "a lot"}}, ["/attributes/reward"]),
]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [row[1:] for row in BAD_BODIES],
    ids=[row[0] for row in BAD_BODIES],
)
def test_a_bad_body_is_a_400_that_points_at_each_problem_and_writes_nothing(
    client: Client,
    auth: dict[str, str],
    campaign: Campaign,
    application: Application,
    changes: Any,
    expected: list[str],
) -> None:
    AttributeDefinitionFactory(
        application=application,
        entity=AttributeEntity.REFERRAL,
        name="reward",
        type=AttributeType.NUMBER,
    )
    # An attribute of another entity is not a referral's.
    AttributeDefinitionFactory(
        application=application, entity=AttributeEntity.COUPON, name="channel"
    )
    if isinstance(changes, dict) and changes:
        body: Any = {"campaignId": campaign.pk, "advocateProfileIntegrationId": "alice", **changes}
    else:
        body = changes

    status, answer = create(client, auth, body)

    assert status == 400
    assert answer["StatusCode"] == 400
    assert answer["message"]
    assert pointers(answer) == expected
    assert all(error["title"] and error["details"] for error in answer["errors"])
    assert not Referral.objects.exists()


def test_another_applications_campaign_is_a_404(
    client: Client, auth: dict[str, str], campaign: Campaign
) -> None:
    elsewhere = CampaignFactory()

    for campaign_id in (elsewhere.pk, campaign.pk + elsewhere.pk + 1000):
        status, body = create(
            client, auth, {"campaignId": campaign_id, "advocateProfileIntegrationId": "alice"}
        )

        assert status == 404
        assert body["StatusCode"] == 404
        assert str(campaign_id) in body["message"]
    assert not Referral.objects.exists()


def test_a_request_without_an_api_key_is_refused(client: Client, campaign: Campaign) -> None:
    status, _ = create(client, {}, {"campaignId": campaign.pk, "advocateProfileIntegrationId": "a"})

    assert status == 401
    assert not Referral.objects.exists()


def test_an_existing_referral_of_the_advocate_does_not_stop_another(
    client: Client, auth: dict[str, str], campaign: Campaign
) -> None:
    ReferralFactory(campaign=campaign, advocate_profile_integration_id="alice")

    status, body = create(
        client, auth, {"campaignId": campaign.pk, "advocateProfileIntegrationId": "alice"}
    )

    assert status == 201
    assert Referral.objects.filter(advocate_profile_integration_id="alice").count() == 2
    assert body["code"] != Referral.objects.earliest("created").code
