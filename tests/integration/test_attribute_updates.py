"""``updateAttribute`` through HTTP on PostgreSQL: what rules set on the session and the profile
is saved with them (and shown in the response), a dry run keeps nothing, and an update that
cannot apply is left out with a failure reason."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Application, CustomerProfile, CustomerSession, EffectRecord
from campaigns.services.rulesets import RulesetInvalid, ruleset_create
from integration.render import dumps
from tests.factories import ApplicationFactory, AttributeDefinitionFactory, CampaignFactory

pytestmark = pytest.mark.django_db

TOTAL = [".", "Session", "Total"]
RESPONSE = ["customerSession", "customerProfile", "ruleFailureReasons"]


@pytest.fixture
def application() -> Application:
    app = ApplicationFactory(currency="EUR")
    for entity, name, type_ in (
        ("CustomerProfile", "Tier", "string"),
        ("CustomerProfile", "Points", "number"),
        ("CustomerSession", "Segment", "string"),
        ("CustomerSession", "Seen", "(list number)"),
        ("Event", "Amount", "number"),
    ):
        AttributeDefinitionFactory(application=app, entity=entity, name=name, type=type_)
    return app


def rules(application: Application, *effects: list[Any], condition: Any = True) -> None:
    made = CampaignFactory(application=application)
    rule = {"title": "Tiering", "condition": ["and", condition], "effects": list(effects)}
    ruleset_create(campaign=made, rules=[rule], activate=True)


def put(client: Client, auth: dict[str, str], session: dict[str, Any], *, dry: bool = False) -> Any:
    url = "/v2/customer_sessions/s-1" + ("?dry=true" if dry else "")
    body = {"customerSession": session, "responseContent": RESPONSE}
    response = client.put(url, data=dumps(body), content_type="application/json", headers=auth)
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def basket(total: str = "150.00", **fields: Any) -> dict[str, Any]:
    items = [{"sku": "SKU-1", "quantity": 1, "price": Decimal(total)}]
    return {"profileId": "customer-1", "cartItems": items, **fields}


def test_a_rule_sets_session_and_profile_attributes_and_both_are_saved(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rules(
        application,
        ["updateAttribute", "Profile.Attributes.Tier", "gold"],
        ["updateAttribute", ["list", "Session", "Attributes", "Segment"], "big-basket"],
        ["updateAttribute", "Profile.Attributes.Points", ["*", TOTAL, 2]],
        condition=[">", TOTAL, 100],
    )
    body = put(client, auth, basket())
    assert [(e["effectType"], e["props"]["path"]) for e in body["effects"]] == [
        ("updateAttribute", "Profile.Attributes.Tier"),
        ("updateAttribute", "Session.Attributes.Segment"),
        ("updateAttribute", "Profile.Attributes.Points"),
    ]
    assert body["customerSession"]["attributes"] == {"Segment": "big-basket"}
    assert body["customerProfile"]["attributes"] == {"Tier": "gold", "Points": 300}
    session = CustomerSession.objects.get(integration_id="s-1")
    assert session.attributes == {"Segment": "big-basket"}
    profile = CustomerProfile.objects.get(integration_id="customer-1")
    assert profile.attributes == {"Tier": "gold", "Points": "300"}  # stored as text
    # Rules read back what they set: the next update sees the profile's new tier.
    assert put(client, auth, basket("10.00"))["customerProfile"]["attributes"]["Tier"] == "gold"


def test_attributes_the_shop_sent_are_kept_beside_those_the_rules_set(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rules(application, ["updateAttribute", "Session.Attributes.Seen", ["list", 1, 2]])
    body = put(client, auth, basket(attributes={"Segment": "from-shop"}))
    assert body["customerSession"]["attributes"] == {"Segment": "from-shop", "Seen": [1, 2]}
    stored = CustomerSession.objects.get(integration_id="s-1").attributes
    assert stored == {"Segment": "from-shop", "Seen": ["1", "2"]}


def test_the_last_update_of_an_attribute_wins(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rules(
        application,
        ["updateAttribute", "Profile.Attributes.Tier", "silver"],
        ["updateAttribute", "Profile.Attributes.Tier", "gold"],
    )
    put(client, auth, basket())
    assert CustomerProfile.objects.get(integration_id="customer-1").attributes == {"Tier": "gold"}


def test_a_dry_run_shows_the_updates_and_keeps_none(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    CustomerProfile.objects.create(
        application=application,
        integration_id="customer-1",
        attributes={"Tier": "bronze"},
        last_activity=timezone.now(),
    )
    rules(application, ["updateAttribute", "Profile.Attributes.Tier", "gold"])
    body = put(client, auth, basket(), dry=True)
    assert body["customerProfile"]["attributes"] == {"Tier": "gold"}
    profile = CustomerProfile.objects.get(integration_id="customer-1")
    assert profile.attributes == {"Tier": "bronze"}
    assert not CustomerSession.objects.exists()


def test_an_anonymous_session_has_no_profile_to_update(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rules(
        application,
        ["updateAttribute", "Profile.Attributes.Tier", "gold"],
        ["updateAttribute", "Session.Attributes.Segment", "anonymous"],
    )
    body = put(client, auth, basket(profileId=""))
    assert [e["props"]["path"] for e in body["effects"]] == ["Session.Attributes.Segment"]
    [reason] = body["ruleFailureReasons"]
    assert reason["ruleName"] == "Tiering"
    assert "no customer profile" in reason["details"]
    assert not CustomerProfile.objects.exists()


def test_a_value_of_the_wrong_type_is_left_out_with_a_reason(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rules(application, ["updateAttribute", "Profile.Attributes.Points", "lots"])
    body = put(client, auth, basket(state="closed"))
    assert body["effects"] == []
    [reason] = body["ruleFailureReasons"]
    assert "holds a decimal, not a string" in reason["details"]
    assert CustomerProfile.objects.get(integration_id="customer-1").attributes == {}
    assert not EffectRecord.objects.exists()


def test_closing_records_the_update_in_the_effect_log(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rules(application, ["updateAttribute", "Profile.Attributes.Tier", "gold"])
    put(client, auth, basket(state="closed"))
    [record] = EffectRecord.objects.all()
    assert (record.effect_type, record.props) == (
        "updateAttribute",
        {"path": "Profile.Attributes.Tier", "value": "gold"},
    )


def test_an_event_updates_its_profile_but_has_no_session(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rules(
        application,
        ["updateAttribute", "Profile.Attributes.Points", [".", "Event", "Attributes", "Amount"]],
        ["updateAttribute", "Session.Attributes.Segment", "x"],
        condition=["=", [".", "Event", "Type"], "purchase"],
    )
    body = {
        "profileId": "customer-2",
        "type": "purchase",
        "attributes": {"Amount": 42},
        "responseContent": ["customerProfile", "ruleFailureReasons"],
    }
    response = client.post(
        "/v2/events", data=dumps(body), content_type="application/json", headers=auth
    )
    assert response.status_code == 200, response.content
    answer = json.loads(response.content)
    assert [e["props"]["path"] for e in answer["effects"]] == ["Profile.Attributes.Points"]
    assert answer["customerProfile"]["attributes"] == {"Points": 42}
    assert "no session" in answer["ruleFailureReasons"][0]["details"]
    profile = CustomerProfile.objects.get(integration_id="customer-2")
    assert profile.attributes == {"Points": "42"}


def test_a_profile_update_that_runs_the_rules_applies_their_updates(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rules(application, ["updateAttribute", "Profile.Attributes.Tier", "gold"])
    response = client.put(
        "/v2/customer_profiles/customer-3?runRuleEngine=true",
        data=dumps({"attributes": {"Points": 5}}),
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 200, response.content
    profile = CustomerProfile.objects.get(integration_id="customer-3")
    assert profile.attributes == {"Points": "5", "Tier": "gold"}


@pytest.mark.parametrize(
    "path",
    [
        "Profile.Attributes.Nope",
        "Session.Attributes.Tier",
        "Profile.Tier",
        ["list", "Profile", "Attributes", "Nope"],
    ],
)
def test_saving_a_rule_that_updates_no_defined_attribute_is_refused(
    application: Application, path: Any
) -> None:
    made = CampaignFactory(application=application)
    rule = {"title": "t", "condition": ["and"], "effects": [["updateAttribute", path, "x"]]}
    with pytest.raises(RulesetInvalid) as refused:
        ruleset_create(campaign=made, rules=[rule])
    pointers = [error.pointer for error in refused.value.errors]
    assert "/rules/0/effects/0/1" in pointers


def test_custom_attributes_come_back_in_their_types(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    AttributeDefinitionFactory(
        application=application, entity="CartItem", name="Size", type="number"
    )
    rules(application, ["updateAttribute", "Profile.Attributes.Points", 7])
    session = basket(attributes={"Seen": [1, 2.5]})
    session["cartItems"][0]["attributes"] = {"Size": 42}
    body = put(client, auth, session)
    assert body["customerSession"]["attributes"] == {"Seen": [1, Decimal("2.5")]}
    assert body["customerSession"]["cartItems"][0]["attributes"] == {"Size": 42}
    assert body["customerProfile"]["attributes"] == {"Points": 7}
    stored = client.get("/v2/customer_sessions/s-1", headers=auth)
    assert json.loads(stored.content)["customerSession"]["attributes"] == {"Seen": [1, 2.5]}
