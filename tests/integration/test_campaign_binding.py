"""Rules read their own campaign as ``Campaign`` (``PUT /v2/customer_sessions/{id}``, through HTTP
on PostgreSQL): its name, and its custom attributes typed as the application defines them; a
change to the campaign is read by the next request."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from campaigns.compiled import compiled_campaigns_forget
from campaigns.models import Application, AttributeDefinition, Campaign
from campaigns.services.campaigns import campaign_update
from campaigns.services.rulesets import RulesetInvalid, ruleset_create
from integration.render import dumps
from tests.factories import ApplicationFactory, AttributeDefinitionFactory, CampaignFactory

pytestmark = pytest.mark.django_db

NAME = [".", "Campaign", "Name"]
BUDGET = [".", "Campaign", "Attributes", "Budget"]
TIER = [".", "Campaign", "Attributes", "Tier"]


@pytest.fixture(autouse=True)
def _fresh_compiled_rules() -> None:
    compiled_campaigns_forget()


@pytest.fixture
def application() -> Application:
    made = ApplicationFactory(currency="EUR")
    for name, type_ in (
        ("Tier", AttributeDefinition.Type.STRING),
        ("Budget", AttributeDefinition.Type.NUMBER),
    ):
        AttributeDefinitionFactory(
            application=made, entity=AttributeDefinition.Entity.CAMPAIGN, name=name, type=type_
        )
    return made


def campaign(application: Application, rules: list[dict[str, Any]], **values: Any) -> Campaign:
    made = CampaignFactory(application=application, **values)
    ruleset_create(campaign=made, rules=rules, activate=True)
    made.refresh_from_db()
    return made


def put_cart(client: Client, auth: dict[str, str]) -> dict[str, Any]:
    body = {
        "customerSession": {
            "profileId": "customer-1",
            "cartItems": [{"sku": "A", "quantity": 1, "price": Decimal("100.00")}],
        },
        "responseContent": ["ruleFailureReasons"],
    }
    response = client.put(
        "/v2/customer_sessions/s-1", data=dumps(body), content_type="application/json", headers=auth
    )
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def discounts(body: dict[str, Any]) -> list[tuple[int, str, Decimal]]:
    return [
        (effect["campaignId"], effect["props"]["name"], effect["props"]["value"])
        for effect in body["effects"]
        if effect["effectType"] == "setDiscount"
    ]


# The same rules in both campaigns: each campaign's read its own name and attributes.
BY_ATTRIBUTES = {
    "title": "gold campaigns with a budget",
    "condition": ["and", ["=", TIER, "gold"], [">", BUDGET, 100]],
    "effects": [["setDiscount", ["+", TIER, " tier"], ["/", BUDGET, 10]]],
}
BY_NAME = {
    "title": "the spring sale",
    "condition": ["=", NAME, "Spring sale"],
    "effects": [["setDiscount", NAME, 5]],
}


def test_each_campaigns_rules_read_its_own_name_and_attributes(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    spring = campaign(
        application,
        [BY_ATTRIBUTES, BY_NAME],
        name="Spring sale",
        attributes={"Tier": "gold", "Budget": "150"},  # numbers are stored as text
    )
    summer = campaign(
        application,
        [BY_ATTRIBUTES, BY_NAME],
        name="Summer sale",
        attributes={"Tier": "silver", "Budget": "500"},
    )

    body = put_cart(client, auth)

    assert discounts(body) == [
        (spring.pk, "gold tier", Decimal("15.00")),
        (spring.pk, "Spring sale", Decimal("5.00")),
    ]
    failed = {(r["campaignID"], r["ruleName"]) for r in body["ruleFailureReasons"]}
    assert failed == {
        (summer.pk, "gold campaigns with a budget"),
        (summer.pk, "the spring sale"),
    }


def test_a_renamed_campaign_is_read_by_its_new_name_on_the_next_request(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = campaign(application, [BY_NAME], name="Winter sale")
    assert discounts(put_cart(client, auth)) == []

    campaign_update(campaign=made, values={"name": "Spring sale"})

    assert discounts(put_cart(client, auth)) == [(made.pk, "Spring sale", Decimal("5.00"))]


def test_a_change_of_attributes_is_read_on_the_next_request(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = campaign(application, [BY_ATTRIBUTES], attributes={"Tier": "gold", "Budget": "50"})
    assert discounts(put_cart(client, auth)) == []

    campaign_update(campaign=made, values={"attributes": {"Tier": "gold", "Budget": 200}})

    assert discounts(put_cart(client, auth)) == [(made.pk, "gold tier", Decimal("20.00"))]


def test_discounts_that_cascade_read_each_campaigns_own_name(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    application.enable_cascading_discounts = True
    application.save()
    spring = campaign(application, [BY_NAME], name="Spring sale")
    campaign(application, [BY_NAME], name="Summer sale")

    assert discounts(put_cart(client, auth)) == [(spring.pk, "Spring sale", Decimal("5.00"))]


def test_a_rule_reading_an_undefined_campaign_attribute_is_refused_when_saved(
    application: Application,
) -> None:
    made = CampaignFactory(application=application)
    rule = {"title": "t", "condition": ["=", [".", "Campaign", "Attributes", "Nope"], 1]}

    with pytest.raises(RulesetInvalid) as refused:
        ruleset_create(campaign=made, rules=[rule])

    [error] = refused.value.errors
    assert error.pointer == "/rules/0/condition/1/3"
