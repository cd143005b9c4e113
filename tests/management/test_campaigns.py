"""``/v1/applications/{applicationId}/campaigns``: campaigns and their rulesets from code.

Given an application with a viewer, an editor and an admin, when they list, create, read,
update and delete campaigns and add rulesets, then the answers are in Talon.One's shape, a role
that may not write is refused (403), another tenant's ids are 404, bad input is a 400 pointing
at the field with nothing written, and a change of budget or rules is what the next session
update through the Integration API runs.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from campaigns.models import Application, Campaign, CampaignLimit, Ruleset
from campaigns.services.budgets import campaign_limits_set
from integration.render import dumps, rfc3339
from management.models import Role
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    EvaluationGroupFactory,
    RulesetFactory,
    api_key_headers,
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

VIEWER, EDITOR, ADMIN = bearer("token-viewer"), bearer("token-editor"), bearer("token-admin")

SEVEN_OFF = {"title": "7 off", "condition": ["and", True], "effects": [["setDiscount", "7 off", 7]]}


@pytest.fixture
def application() -> Application:
    """An application with a viewer, an editor and an admin (tokens ``token-<role>``)."""
    application = ApplicationFactory(name="Shop", currency="EUR")
    for role in Role.values:
        token = ManagementTokenFactory(raw_token=f"token-{role}")
        MembershipFactory(user=token.user, application=application, role=role)
    return application


def url(application: Application | int, *rest: object) -> str:
    pk = application if isinstance(application, int) else application.pk
    return "/".join([f"/v1/applications/{pk}/campaigns", *map(str, rest)])


def send(client: Client, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.generic(
        method, path, dumps(body), content_type="application/json", headers=headers
    )


def content(response: Any) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def rules_version(application: Application) -> int:
    application.refresh_from_db(fields=["rules_version"])
    return application.rules_version


# ---------------------------------------------------------------------------------------------
# Happy paths and shapes


def test_an_editor_creates_a_campaign_with_a_budget_in_talon_ones_shape(
    client: Client, application: Application
) -> None:
    before = rules_version(application)
    body = {
        "name": "Summer",
        "description": "Summer promotions",
        "state": "disabled",
        "startTime": "2030-06-01T00:00:00+02:00",
        "endTime": "2030-09-01T00:00:00Z",
        "tags": ["summer", "web"],
        "features": ["coupons"],
        "limits": [
            {"action": "setDiscount", "limit": Decimal("1000.50"), "entities": []},
            {"action": "redeemCoupon", "limit": 1, "period": "daily", "entities": ["Profile"]},
        ],
        "attributes": {"region": "EU", "budget": Decimal("12.50"), "launch": None},
    }
    for name, type_ in (("region", "string"), ("budget", "number"), ("launch", "time")):
        AttributeDefinitionFactory(
            application=application, entity="Campaign", name=name, type=type_
        )

    response = send(client, "POST", url(application), body, EDITOR)

    assert response.status_code == 201, response.content
    campaign = Campaign.objects.get(application=application)
    created = content(response)
    assert created == {
        "id": campaign.pk,
        "applicationId": application.pk,
        "name": "Summer",
        "description": "Summer promotions",
        "state": "disabled",
        "tags": ["summer", "web"],
        "features": ["coupons"],
        "startTime": "2030-05-31T22:00:00Z",
        "endTime": "2030-09-01T00:00:00Z",
        "rules": [],
        "attributes": {"region": "EU", "budget": Decimal("12.50"), "launch": None},
        "created": rfc3339(campaign.created),
        "updated": rfc3339(campaign.modified),
        "limits": [
            {"action": "setDiscount", "limit": Decimal("1000.5"), "entities": []},
            {"action": "redeemCoupon", "limit": 1, "period": "daily", "entities": ["Profile"]},
        ],
    }
    assert CampaignLimit.objects.filter(campaign=campaign).count() == 2
    assert rules_version(application) > before
    # Read back, the same.
    assert content(client.get(url(application, campaign.pk), headers=VIEWER)) == created


def test_the_smallest_campaign_is_a_name(client: Client, application: Application) -> None:
    response = send(client, "POST", url(application), {"name": "Tiny"}, EDITOR)

    assert response.status_code == 201
    body = content(response)
    assert (body["state"], body["tags"], body["features"], body["limits"]) == (
        "enabled",
        [],
        [],
        [],
    )
    assert "startTime" not in body


def test_the_list_is_paged_sorted_and_filtered(client: Client, application: Application) -> None:
    CampaignFactory(application=application, name="Spring sale", tags=["Spring"])
    CampaignFactory(application=application, name="Summer", tags=["summer", "web"])
    CampaignFactory(application=application, name="Old", state=Campaign.State.ARCHIVED)
    CampaignFactory(application=application, name="Running", active_rules=[SEVEN_OFF])
    CampaignFactory(name="Another tenant's")

    def names(query: str = "") -> list[str]:
        response = client.get(url(application) + query, headers=VIEWER)
        assert response.status_code == 200, response.content
        return [campaign["name"] for campaign in content(response)["data"]]

    first = content(client.get(url(application) + "?pageSize=2", headers=VIEWER))
    assert (first["hasMore"], first["totalResultSize"], len(first["data"])) == (True, 4, 2)
    assert names() == ["Spring sale", "Summer", "Old", "Running"]
    assert names("?sort=-name") == ["Summer", "Spring sale", "Running", "Old"]
    assert names("?campaignState=archived") == ["Old"]
    assert names("?campaignState=running") == ["Running"]
    assert names("?campaignState=staged") == []
    assert names("?name=SUM") == ["Summer"]
    assert names("?tags=spr") == ["Spring sale"]
    # name and tags together: either matches.
    assert names("?name=old&tags=WEB") == ["Summer", "Old"]
    assert names("?createdAfter=2000-01-01T00:00:00Z&createdBefore=2999-01-01T00:00:00Z") == [
        "Spring sale",
        "Summer",
        "Old",
        "Running",
    ]
    assert names("?createdAfter=2999-01-01T00:00:00Z") == []
    # Campaigns belong to no access group here.
    assert names("?campaignGroupId=3") == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?campaignState=paused", "campaignState"),
        ("?createdBefore=yesterday", "createdBefore"),
        ("?startAfter=2024-13-01T00:00:00Z", "startAfter"),
        ("?campaignGroupId=one", "campaignGroupId"),
        ("?sort=rules", "sort"),
        ("?pageSize=0", "pageSize"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(
    client: Client, application: Application, query: str, parameter: str
) -> None:
    response = client.get(url(application) + query, headers=VIEWER)

    body = assert_error(response, 400, content(response)["errors"][0]["code"])
    assert body["errors"][0]["source"] == {"parameter": parameter}


def test_an_update_changes_what_it_is_sent_and_replaces_the_budgets(
    client: Client, application: Application
) -> None:
    campaign = CampaignFactory(application=application, name="Summer", tags=["a"])
    campaign_limits_set(campaign=campaign, limits=[{"action": "setDiscount", "limit": 100}])
    group = EvaluationGroupFactory(application=application)
    before = rules_version(application)

    response = send(
        client,
        "PUT",
        url(application, campaign.pk),
        {
            "name": "Summer 2030",
            "state": "disabled",
            "evaluationGroupId": group.pk,
            "limits": [{"action": "setDiscountEffect", "limit": 3, "entities": ["Session"]}],
        },
        EDITOR,
    )

    assert response.status_code == 200, response.content
    body = content(response)
    assert (body["name"], body["state"], body["tags"]) == ("Summer 2030", "disabled", ["a"])
    assert body["evaluationGroupId"] == group.pk
    assert body["limits"] == [{"action": "setDiscountEffect", "limit": 3, "entities": ["Session"]}]
    assert list(
        CampaignLimit.objects.filter(campaign=campaign).values_list("action", flat=True)
    ) == ["setDiscountEffect"]
    assert rules_version(application) > before


def test_an_update_without_limits_keeps_them(client: Client, application: Application) -> None:
    campaign = CampaignFactory(application=application)
    campaign_limits_set(campaign=campaign, limits=[{"action": "setDiscount", "limit": 100}])

    response = send(client, "PUT", url(application, campaign.pk), {"tags": ["x"]}, EDITOR)

    assert response.status_code == 200
    assert content(response)["limits"] == [{"action": "setDiscount", "limit": 100, "entities": []}]


def test_an_admin_deletes_a_campaign(client: Client, application: Application) -> None:
    campaign = CampaignFactory(application=application, active_rules=[SEVEN_OFF])
    before = rules_version(application)

    response = client.delete(url(application, campaign.pk), headers=ADMIN)

    assert response.status_code == 204
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert not Ruleset.objects.filter(campaign_id=campaign.pk).exists()
    assert rules_version(application) > before
    assert client.get(url(application, campaign.pk), headers=ADMIN).status_code == 404


def test_a_ruleset_is_created_listed_read_and_activated(
    client: Client, application: Application
) -> None:
    campaign = CampaignFactory(application=application)
    before = rules_version(application)

    created = send(
        client, "POST", url(application, campaign.pk, "rulesets"), {"rules": [SEVEN_OFF]}, EDITOR
    )

    assert created.status_code == 201, created.content
    ruleset = content(created)
    assert set(ruleset) == {
        "id",
        "created",
        "campaignId",
        "rules",
        "strikethroughRules",
        "bindings",
    }
    assert ruleset["rules"][0]["effects"] == [["setDiscount", "7 off", 7]]
    campaign.refresh_from_db()
    assert campaign.active_ruleset_id is None  # saved, not yet running
    listed = content(client.get(url(application, campaign.pk, "rulesets"), headers=VIEWER))
    assert [item["id"] for item in listed["data"]] == [ruleset["id"]]
    one = client.get(url(application, campaign.pk, "rulesets", ruleset["id"]), headers=VIEWER)
    assert content(one) == ruleset

    activated = send(
        client, "PUT", url(application, campaign.pk), {"activeRulesetId": ruleset["id"]}, EDITOR
    )

    assert activated.status_code == 200
    assert content(activated)["activeRulesetId"] == ruleset["id"]
    assert content(activated)["rules"] == [{"title": "7 off"}]
    assert rules_version(application) > before
    again = content(
        client.get(url(application, campaign.pk, "rulesets", ruleset["id"]), headers=VIEWER)
    )
    assert "activatedAt" in again


def test_a_ruleset_created_with_activate_runs_at_once(
    client: Client, application: Application
) -> None:
    campaign = CampaignFactory(application=application)

    response = send(
        client,
        "POST",
        url(application, campaign.pk, "rulesets"),
        {"rules": [SEVEN_OFF], "activate": True},
        EDITOR,
    )

    assert response.status_code == 201
    campaign.refresh_from_db()
    assert campaign.active_ruleset_id == content(response)["id"]


# ---------------------------------------------------------------------------------------------
# Roles and tenants


@pytest.mark.parametrize(
    ("method", "where", "body"),
    [
        ("POST", "campaigns", {"name": "X"}),
        ("PUT", "campaign", {"name": "X"}),
        ("DELETE", "campaign", None),
        ("POST", "rulesets", {"rules": []}),
    ],
)
def test_a_viewer_may_not_write(
    client: Client, application: Application, method: str, where: str, body: Any
) -> None:
    campaign = CampaignFactory(application=application, name="Kept")
    path = {
        "campaigns": url(application),
        "campaign": url(application, campaign.pk),
        "rulesets": url(application, campaign.pk, "rulesets"),
    }[where]

    response = send(client, method, path, body, VIEWER)

    assert_error(response, 403, "role_too_low")
    assert list(Campaign.objects.values_list("name", flat=True)) == ["Kept"]
    assert not Ruleset.objects.exists()


def test_an_editor_may_not_delete(client: Client, application: Application) -> None:
    campaign = CampaignFactory(application=application)

    assert_error(client.delete(url(application, campaign.pk), headers=EDITOR), 403, "role_too_low")
    assert Campaign.objects.filter(pk=campaign.pk).exists()


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"name": "Mine now"}),
        ("DELETE", "", None),
        ("GET", "/rulesets", None),
        ("POST", "/rulesets", {"rules": []}),
    ],
)
def test_another_tenants_campaign_is_404(
    client: Client, application: Application, method: str, suffix: str, body: Any
) -> None:
    theirs = CampaignFactory(name="Theirs")

    # Through the caller's own application, and through the other tenant's.
    for owner in (application, theirs.application):
        response = send(client, method, url(owner, theirs.pk) + suffix, body, ADMIN)
        assert response.status_code == 404, response.content
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert not Ruleset.objects.exists()


def test_another_campaigns_ruleset_is_404(client: Client, application: Application) -> None:
    mine = CampaignFactory(application=application)
    theirs = RulesetFactory()  # another tenant's campaign

    response = client.get(url(application, mine.pk, "rulesets", theirs.pk), headers=VIEWER)

    assert_error(response, 404, "ruleset_not_found")


def test_listing_another_tenants_campaigns_is_404(client: Client, application: Application) -> None:
    other = ApplicationFactory()
    CampaignFactory(application=other)

    assert_error(client.get(url(other), headers=ADMIN), 404, "application_not_found")


def test_a_management_key_calls_the_operations_it_allows(
    client: Client, application: Application
) -> None:
    ManagementKeyFactory(
        raw_key="c" * 64, allowed_endpoints=["getCampaigns"], applications=[application]
    )
    auth = key_auth("c" * 64)

    assert client.get(url(application), headers=auth).status_code == 200
    refused = send(client, "POST", url(application), {"name": "X"}, auth)
    assert_error(refused, 403, "endpoint_not_allowed")
    assert not Campaign.objects.exists()


# ---------------------------------------------------------------------------------------------
# Bad input: 400 with a pointer, nothing written


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/name"),
        ({"name": ""}, "/name"),
        ({"name": "x" * 201}, "/name"),
        ({"name": "X", "state": "paused"}, "/state"),
        ({"name": "X", "startTime": "tomorrow"}, "/startTime"),
        (
            {"name": "X", "startTime": "2030-01-02T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"},
            "/endTime",
        ),
        ({"name": "X", "tags": "summer"}, "/tags"),
        ({"name": "X", "tags": [""]}, "/tags/0"),
        ({"name": "X", "tags": ["t"] * 51}, "/tags"),
        ({"name": "X", "features": ["coupons", "teleport"]}, "/features/1"),
        ({"name": "X", "limits": [{"action": "fly", "limit": 1}]}, "/limits/0/action"),
        ({"name": "X", "limits": [{"action": "setDiscount"}]}, "/limits/0/limit"),
        ({"name": "X", "limits": [{"limit": 1}]}, "/limits/0/action"),
        ({"name": "X", "limits": [{"action": "setDiscount", "limit": None}]}, "/limits/0/limit"),
        ({"name": "X", "limits": [None]}, "/limits/0"),
        ({"name": "X", "limits": None}, "/limits"),
        ({"name": "X", "tags": None}, "/tags"),
        ({"name": "X", "attributes": None}, "/attributes"),
        ({"name": "X", "limits": [{"action": "setDiscount", "limit": -1}]}, "/limits/0/limit"),
        (
            {"name": "X", "limits": [{"action": "setDiscount", "limit": Decimal("0.00001")}]},
            "/limits/0/limit",
        ),
        (
            {"name": "X", "limits": [{"action": "setDiscount", "limit": 1, "period": "hourly"}]},
            "/limits/0/period",
        ),
        (
            {"name": "X", "limits": [{"action": "setDiscount", "limit": 1, "entities": ["Store"]}]},
            "/limits/0/entities/0",
        ),
        (
            {
                "name": "X",
                "limits": [
                    {"action": "setDiscount", "limit": 1},
                    {"action": "setDiscount", "limit": 1, "entities": ["Profile", "Profile"]},
                ],
            },
            "/limits/1/entities",
        ),
        ({"name": "X", "evaluationGroupId": 999999}, "/evaluationGroupId"),
        (["name", "X"], ""),
    ],
)
def test_a_bad_campaign_is_400_with_a_pointer_and_nothing_is_written(
    client: Client, application: Application, body: Any, pointer: str
) -> None:
    before = rules_version(application)

    response = send(client, "POST", url(application), body, EDITOR)

    assert response.status_code == 400, response.content
    errors = content(response)["errors"]
    assert pointer in [error["source"].get("pointer") for error in errors], errors
    assert not Campaign.objects.exists()
    assert not CampaignLimit.objects.exists()
    assert rules_version(application) == before


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"endTime": "2030-01-01T00:00:00Z"}, "/endTime"),  # before the campaign's start
        ({"activeRulesetId": 999999}, "/activeRulesetId"),
        ({"limits": [{"action": "setDiscount", "limit": "lots"}]}, "/limits/0/limit"),
        # A budget is sent whole, also in an update, whose other fields may be left out.
        (
            {"limits": [{"action": "setDiscount", "period": None, "entities": []}]},
            "/limits/0/limit",
        ),
        ({"limits": [{"limit": 5}]}, "/limits/0/action"),
        ({"limits": [{"action": "setDiscount", "limit": None}]}, "/limits/0/limit"),
        ({"limits": None}, "/limits"),
        ({"name": None}, "/name"),
        ({"description": None}, "/description"),
        ({"tags": None}, "/tags"),
        ({"features": None}, "/features"),
        ({"attributes": None}, "/attributes"),
        ({"startTime": "2030-06-01T00:00:00+24:00"}, "/startTime"),
    ],
)
def test_a_bad_update_is_400_and_changes_nothing(
    client: Client, application: Application, body: Any, pointer: str
) -> None:
    campaign = CampaignFactory(application=application, name="Kept")
    Campaign.objects.filter(pk=campaign.pk).update(start_time="2030-06-01T00:00:00Z")
    campaign_limits_set(campaign=campaign, limits=[{"action": "setDiscount", "limit": 100}])
    theirs = RulesetFactory()  # another campaign's ruleset cannot be activated either
    before = rules_version(application)
    if "activeRulesetId" in body:
        body = {"activeRulesetId": theirs.pk}

    response = send(client, "PUT", url(application, campaign.pk), body, EDITOR)

    assert response.status_code == 400, response.content
    assert content(response)["errors"][0]["source"] == {"pointer": pointer}
    campaign.refresh_from_db()
    assert (campaign.name, campaign.end_time, campaign.active_ruleset_id) == ("Kept", None, None)
    assert list(CampaignLimit.objects.values_list("limit", flat=True)) == [Decimal(100)]
    assert rules_version(application) == before


def test_a_ruleset_with_a_type_error_is_400_pointing_at_it(
    client: Client, application: Application
) -> None:
    AttributeDefinitionFactory(application=application, name="tier", type="string")
    campaign = CampaignFactory(application=application)
    before = rules_version(application)
    rules = [
        SEVEN_OFF,
        {
            "title": "Numbers are not strings",
            "condition": ["and", [">", [".", "Profile", "Attributes", "tier"], 3]],
            "effects": [],
        },
    ]

    response = send(
        client,
        "POST",
        url(application, campaign.pk, "rulesets"),
        {"rules": rules, "activate": True},
        EDITOR,
    )

    # A type error of the rule language (here: no ">" compares a string with a number).
    body = assert_error(response, 400, "no_matching_function")
    assert body["errors"][0]["source"]["pointer"].startswith("/rules/1/condition/1")
    assert not Ruleset.objects.exists()
    assert rules_version(application) == before


@pytest.mark.parametrize(("body", "pointer"), [({}, "/rules"), ({"rules": {"a": 1}}, "/rules")])
def test_a_ruleset_without_a_list_of_rules_is_400(
    client: Client, application: Application, body: Any, pointer: str
) -> None:
    campaign = CampaignFactory(application=application)

    response = send(client, "POST", url(application, campaign.pk, "rulesets"), body, EDITOR)

    assert response.status_code == 400
    assert content(response)["errors"][0]["source"] == {"pointer": pointer}
    assert not Ruleset.objects.exists()


# ---------------------------------------------------------------------------------------------
# What the Integration API then runs


def close_session(client: Client, auth: dict[str, str], session: str) -> list[Decimal]:
    """Close a session with one 50.00 item; the discounts it was given."""
    body = {
        "customerSession": {
            "profileId": f"customer-of-{session}",
            "state": "closed",
            "cartItems": [{"sku": "SKU-1", "quantity": 1, "price": Decimal("50.00")}],
        }
    }
    response = send(client, "PUT", f"/v2/customer_sessions/{session}", body, auth)
    assert response.status_code == 200, response.content
    return [
        effect["props"]["value"]
        for effect in content(response)["effects"]
        if effect["effectType"] == "setDiscount"
    ]


def test_a_budget_set_through_the_management_api_is_what_sessions_spend(
    client: Client, application: Application
) -> None:
    auth = api_key_headers(application)
    created = send(
        client,
        "POST",
        url(application),
        {"name": "Budgeted", "limits": [{"action": "setDiscount", "limit": 100}]},
        EDITOR,
    )
    campaign_id = content(created)["id"]
    ruleset = send(
        client,
        "POST",
        url(application, campaign_id, "rulesets"),
        {"rules": [SEVEN_OFF], "activate": True},
        EDITOR,
    )
    assert ruleset.status_code == 201
    # The first session compiles the application's campaigns, with a budget of 100.
    assert close_session(client, auth, "s-1") == [Decimal(7)]

    updated = send(
        client,
        "PUT",
        url(application, campaign_id),
        {"limits": [{"action": "setDiscount", "limit": 10}]},
        EDITOR,
    )
    assert updated.status_code == 200

    # The compiled campaigns were rebuilt: the new budget of 10 holds one 7 off, not two.
    assert close_session(client, auth, "s-2") == [Decimal(7)]
    assert close_session(client, auth, "s-3") == []


def test_disabling_a_campaign_through_the_management_api_stops_it(
    client: Client, application: Application
) -> None:
    auth = api_key_headers(application)
    campaign = CampaignFactory(application=application, active_rules=[SEVEN_OFF])
    assert close_session(client, auth, "s-1") == [Decimal(7)]

    response = send(client, "PUT", url(application, campaign.pk), {"state": "disabled"}, EDITOR)

    assert response.status_code == 200
    assert close_session(client, auth, "s-2") == []


def test_the_documented_walkthrough_runs(client: Client, application: Application) -> None:
    """docs/management-api.md, "A campaign created from code": create, add rules, activate and
    enable; the next session gets 10% off."""
    auth = api_key_headers(application)
    body = {
        "name": "Summer sale",
        "state": "disabled",
        "limits": [
            {"action": "setDiscount", "limit": 1000, "entities": []},
            {"action": "setDiscountEffect", "limit": 1, "period": "daily", "entities": ["Profile"]},
        ],
    }
    campaign_id = content(send(client, "POST", url(application), body, EDITOR))["id"]
    rule = {
        "title": "10% off",
        "condition": ["and", [">", [".", "Session", "Total"], 0]],
        "effects": [["setDiscount", "10% off", ["*", [".", "Session", "Total"], Decimal("0.1")]]],
    }
    saved = send(
        client, "POST", url(application, campaign_id, "rulesets"), {"rules": [rule]}, EDITOR
    )
    assert saved.status_code == 201, saved.content
    assert close_session(client, auth, "before") == []

    enabled = send(
        client,
        "PUT",
        url(application, campaign_id),
        {"activeRulesetId": content(saved)["id"], "state": "enabled"},
        EDITOR,
    )

    assert enabled.status_code == 200
    assert close_session(client, auth, "after") == [Decimal(5)]


def test_a_number_a_ruleset_cannot_store_exactly_is_400(
    client: Client, application: Application
) -> None:
    campaign = CampaignFactory(application=application)
    rule = {**SEVEN_OFF, "effects": [["setDiscount", "off", Decimal("0.12345678901234567890")]]}

    response = send(
        client, "POST", url(application, campaign.pk, "rulesets"), {"rules": [rule]}, EDITOR
    )

    body = assert_error(response, 400, "number_too_precise")
    assert body["errors"][0]["source"] == {"pointer": "/rules/0/effects/0/2"}
    assert not Ruleset.objects.exists()


# ---------------------------------------------------------------------------------------------
# Custom attributes


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"undefined": "x"}, "not defined"),
        ({"region": 5}, "not a string"),
        ("EU", "not an object"),
    ],
)
def test_campaign_attributes_must_be_defined_and_of_their_type(
    client: Client, application: Application, attributes: Any, reason: str
) -> None:
    AttributeDefinitionFactory(application=application, entity="Campaign", name="region")
    # A definition of another entity, or of another application, does not count.
    AttributeDefinitionFactory(application=application, entity="Coupon", name="undefined")

    response = send(
        client, "POST", url(application), {"name": "X", "attributes": attributes}, EDITOR
    )

    body = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert body["errors"][0]["source"] == {"pointer": "/attributes"}
    assert not Campaign.objects.filter(application=application).exists()


def test_an_update_replaces_the_attributes_and_keeps_them_when_not_sent(
    client: Client, application: Application
) -> None:
    AttributeDefinitionFactory(application=application, entity="Campaign", name="region")
    campaign = CampaignFactory(application=application, attributes={"region": "EU"})

    kept = send(client, "PUT", url(application, campaign.pk), {"name": "Renamed"}, EDITOR)
    changed = send(
        client, "PUT", url(application, campaign.pk), {"attributes": {"region": "US"}}, EDITOR
    )
    refused = send(
        client, "PUT", url(application, campaign.pk), {"attributes": {"nope": 1}}, EDITOR
    )

    assert content(kept)["attributes"] == {"region": "EU"}
    assert content(changed)["attributes"] == {"region": "US"}
    assert_error(refused, 400, "attribute_not_valid")
    campaign.refresh_from_db()
    assert (campaign.name, campaign.attributes) == ("Renamed", {"region": "US"})
