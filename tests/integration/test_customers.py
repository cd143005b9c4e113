"""``PUT /v2/customer_profiles/{id}`` and ``POST /v2/events`` (and their v1 paths) through HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from campaigns.compiled import compiled_campaigns_forget
from campaigns.models import Application, CustomerProfile, EffectRecord, Event
from campaigns.services.rulesets import ruleset_create
from integration.render import dumps
from tests.factories import ApplicationFactory, AttributeDefinitionFactory, CampaignFactory

pytestmark = pytest.mark.django_db

BIG_SPENDER = {
    "title": "Points for a big purchase event",
    "condition": [
        "and",
        ["=", [".", "Event", "Type"], "purchase"],
        [">", [".", "Event", "Attributes", "Amount"], 100],
    ],
    "effects": [["showNotification", "Info", "Thanks", "You spent a lot"]],
}


@pytest.fixture(autouse=True)
def _fresh_compiled_rules() -> None:
    compiled_campaigns_forget()


@pytest.fixture
def application() -> Application:
    app = ApplicationFactory()
    AttributeDefinitionFactory(application=app, entity="Event", name="Amount", type="number")
    AttributeDefinitionFactory(
        application=app, entity="CustomerProfile", name="Tier", type="string"
    )
    return app


def send(client: Client, method: str, url: str, auth: dict[str, str], body: dict[str, Any]) -> Any:
    call = getattr(client, method)
    return call(url, data=dumps(body), content_type="application/json", headers=auth)


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_profile_is_created_and_its_attributes_merged(
    client: Client, auth: dict[str, str], version: str
) -> None:
    url = f"/{version}/customer_profiles/customer-9"
    first = ok(send(client, "put", url, auth, {"attributes": {"Tier": "silver"}}))
    profile = first["profile"] if version == "v1" else first["customerProfile"]
    assert profile["integrationId"] == "customer-9"
    ok(send(client, "put", url, auth, {"attributes": {"Tier": "gold"}}))
    assert CustomerProfile.objects.get(integration_id="customer-9").attributes == {"Tier": "gold"}


def test_an_undefined_profile_attribute_is_a_400(client: Client, auth: dict[str, str]) -> None:
    response = send(client, "put", "/v2/customer_profiles/c", auth, {"attributes": {"Nope": 1}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/attributes/Nope"
    assert not CustomerProfile.objects.exists()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_an_event_runs_the_rules_and_its_effects_are_recorded(
    client: Client, auth: dict[str, str], application: Application, version: str
) -> None:
    campaign = CampaignFactory(application=application)
    ruleset_create(campaign=campaign, rules=[BIG_SPENDER], activate=True)
    body = {
        "profileId": "customer-9",
        "type": "purchase",
        "attributes": {"Amount": Decimal("150.00")},
    }
    answer = ok(send(client, "post", f"/{version}/events", auth, body))
    # v1 answers Talon.One's older IntegrationState: the effects are the event's.
    [effect] = answer["event"]["effects"] if version == "v1" else answer["effects"]
    assert (effect["effectType"], effect["campaignId"]) == ("showNotification", campaign.pk)
    assert answer["event"]["type"] == "purchase"
    assert Event.objects.get().attributes == {"Amount": "150"}
    assert EffectRecord.objects.get().effect_type == "showNotification"


def test_a_small_event_gives_nothing(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign = CampaignFactory(application=application)
    ruleset_create(campaign=campaign, rules=[BIG_SPENDER], activate=True)
    body = {"profileId": "customer-9", "type": "purchase", "attributes": {"Amount": 5}}
    assert ok(send(client, "post", "/v2/events", auth, body))["effects"] == []


def test_a_dry_event_writes_nothing(client: Client, auth: dict[str, str]) -> None:
    body = {"profileId": "customer-9", "type": "purchase", "attributes": {}}
    ok(send(client, "post", "/v2/events?dry=true", auth, body))
    assert not Event.objects.exists()
    assert not CustomerProfile.objects.exists()


def test_an_event_needs_a_type_and_a_profile(client: Client, auth: dict[str, str]) -> None:
    response = send(client, "post", "/v2/events", auth, {"attributes": {}})
    assert response.status_code == 400
    pointers = {e["source"]["pointer"] for e in response.json()["errors"]}
    assert {"/type", "/profileId"} <= pointers
