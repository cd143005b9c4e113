"""``copyCampaignToApplications`` and ``getCampaignByAttributes``: copying a campaign into
applications from code, and finding campaigns by their custom attributes.

Given a campaign with rules, budgets, tags and coupons, when an editor copies it into
applications, then every copy is disabled and carries the rules (a new active version), budgets
and tags but no coupons; a target the caller may not edit, or whose attributes the rules do
not fit, refuses the whole request with nothing written.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from campaigns.models import Application, Campaign, CampaignLimit, Coupon, Ruleset
from campaigns.services.budgets import campaign_limits_set
from integration.render import dumps
from management.models import Membership, Role
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CouponFactory,
    EvaluationGroupFactory,
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

EDITOR = bearer("token-editor")

RULES = [
    {
        "title": "Members save 5",
        "condition": ["=", [".", "Profile", "Attributes", "tier"], "gold"],
        "effects": [["setDiscount", "5 off", 5]],
    }
]


@pytest.fixture
def source() -> Application:
    return ApplicationFactory(name="Staging")


@pytest.fixture
def target() -> Application:
    return ApplicationFactory(name="Live")


@pytest.fixture
def campaign(source: Application, target: Application) -> Campaign:
    """A campaign of ``source`` with rules reading ``Profile.Attributes.tier`` (defined in both
    applications), a budget, tags and a coupon; the editor (``token-editor``) edits both."""
    for application in (source, target):
        AttributeDefinitionFactory(application=application, name="tier")
    token = ManagementTokenFactory(raw_token="token-editor")
    for application in (source, target):
        MembershipFactory(user=token.user, application=application, role=Role.EDITOR)
    campaign = CampaignFactory(
        application=source,
        name="Gold",
        description="For gold members",
        tags=["gold"],
        features=["coupons"],
        active_rules=RULES,
    )
    campaign_limits_set(
        campaign=campaign,
        limits=[{"action": "setDiscount", "limit": Decimal("500"), "entities": []}],
    )
    CouponFactory(campaign=campaign)
    return campaign


def copy_url(campaign: Campaign) -> str:
    return f"/v1/applications/{campaign.application_id}/campaigns/{campaign.pk}/copy"


def send(client: Client, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(path, dumps(body), content_type="application/json", headers=headers)


def content(response: Any) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def test_a_copy_is_disabled_with_the_rules_budgets_and_tags_but_no_coupons(
    client: Client, campaign: Campaign, target: Application
) -> None:
    version = target.rules_version

    response = send(client, copy_url(campaign), {"applicationIds": [target.pk]}, EDITOR)

    assert response.status_code == 200, response.content
    body = content(response)
    copy = Campaign.objects.get(application=target)
    assert body["totalResultSize"] == 1
    assert [item["id"] for item in body["data"]] == [copy.pk]
    rendered = body["data"][0]
    assert rendered["applicationId"] == target.pk
    assert rendered["name"] == "Copy of Gold"
    assert rendered["state"] == "disabled"
    assert (rendered["description"], rendered["tags"], rendered["features"]) == (
        "For gold members",
        ["gold"],
        ["coupons"],
    )
    assert rendered["limits"] == [{"action": "setDiscount", "limit": 500, "entities": []}]
    assert rendered["rules"] == [{"title": "Members save 5"}]
    ruleset = Ruleset.objects.get(campaign=copy)
    assert rendered["activeRulesetId"] == ruleset.pk
    assert (ruleset.version, ruleset.rules[0]["effects"]) == (1, RULES[0]["effects"])
    assert not Coupon.objects.filter(campaign=copy).exists()
    assert CampaignLimit.objects.filter(campaign=copy).count() == 1
    target.refresh_from_db()
    assert target.rules_version > version
    # The original is as it was.
    campaign.refresh_from_db()
    assert (campaign.state, Coupon.objects.filter(campaign=campaign).count()) == ("enabled", 1)


def test_copies_into_several_applications_take_the_changes_sent(
    client: Client, campaign: Campaign, source: Application, target: Application
) -> None:
    group = EvaluationGroupFactory(application=target)
    body = {
        "applicationIds": [source.pk, target.pk],
        "name": "Gold again",
        "description": "",
        "startTime": "2030-01-01T00:00:00Z",
        "endTime": "2030-02-01T00:00:00Z",
        "tags": ["copied"],
    }

    response = send(client, copy_url(campaign), body, EDITOR)

    assert response.status_code == 200, response.content
    data = content(response)["data"]
    assert [item["applicationId"] for item in data] == [source.pk, target.pk]
    for item in data:
        assert (item["name"], item["description"], item["tags"]) == ("Gold again", "", ["copied"])
        assert (item["startTime"], item["endTime"]) == (
            "2030-01-01T00:00:00Z",
            "2030-02-01T00:00:00Z",
        )
    # A group of the (single) target.
    grouped = send(
        client,
        copy_url(campaign),
        {"applicationIds": [target.pk], "evaluationGroupId": group.pk},
        EDITOR,
    )
    assert content(grouped)["data"][0]["evaluationGroupId"] == group.pk


def editor_of(application: Application) -> None:
    """Make the test's editor (``token-editor``) an editor of ``application`` too."""
    user = Membership.objects.filter(role=Role.EDITOR).first()
    assert user is not None
    MembershipFactory(user=user.user, application=application, role=Role.EDITOR)


def test_rules_that_do_not_fit_a_target_refuse_every_copy(
    client: Client, campaign: Campaign, source: Application
) -> None:
    bare = ApplicationFactory(name="No tier here")
    editor_of(bare)
    before = Campaign.objects.count()

    response = send(client, copy_url(campaign), {"applicationIds": [source.pk, bare.pk]}, EDITOR)

    body = assert_error(response, 400, "rules_not_valid_in_application")
    assert {error["source"]["pointer"] for error in body["errors"]} == {"/applicationIds/1"}
    assert any("/rules/0/condition" in error["details"] for error in body["errors"])
    assert Campaign.objects.count() == before
    assert Ruleset.objects.filter(campaign__application=source).count() == 1


def test_campaign_attributes_must_be_defined_in_every_target(
    client: Client, campaign: Campaign, source: Application, target: Application
) -> None:
    AttributeDefinitionFactory(application=source, entity="Campaign", name="region")
    Campaign.objects.filter(pk=campaign.pk).update(attributes={"region": "EU"})
    before = Campaign.objects.count()

    refused = send(client, copy_url(campaign), {"applicationIds": [target.pk]}, EDITOR)
    AttributeDefinitionFactory(application=target, entity="Campaign", name="region")
    copied = send(client, copy_url(campaign), {"applicationIds": [target.pk]}, EDITOR)

    body = assert_error(refused, 400, "attributes_not_defined")
    assert body["errors"][0]["source"] == {"pointer": "/applicationIds/0"}
    assert content(copied)["data"][0]["attributes"] == {"region": "EU"}
    assert Campaign.objects.count() == before + 1


def test_a_target_the_caller_may_not_edit_refuses_the_copy(
    client: Client, campaign: Campaign, target: Application
) -> None:
    viewed = ApplicationFactory()
    user = Membership.objects.filter(role=Role.EDITOR).first()
    assert user is not None
    MembershipFactory(user=user.user, application=viewed, role=Role.VIEWER)
    hidden = ApplicationFactory()
    before = Campaign.objects.count()

    read_only = send(client, copy_url(campaign), {"applicationIds": [target.pk, viewed.pk]}, EDITOR)
    unseen = send(client, copy_url(campaign), {"applicationIds": [hidden.pk]}, EDITOR)

    body = assert_error(read_only, 403, "role_too_low")
    assert body["errors"][0]["source"] == {"pointer": "/applicationIds/1"}
    assert_error(unseen, 404, "application_not_found")
    assert Campaign.objects.count() == before


def test_another_applications_campaign_is_404_and_a_key_needs_the_operation(
    client: Client, campaign: Campaign, target: Application
) -> None:
    other = CampaignFactory()
    ManagementKeyFactory(
        raw_key="b" * 64,
        allowed_endpoints=["copyCampaignToApplications"],
        applications=[campaign.application, target],
    )
    ManagementKeyFactory(raw_key="c" * 64, allowed_endpoints=["getCampaign"], applications=[target])
    path = f"/v1/applications/{campaign.application_id}/campaigns/{other.pk}/copy"

    assert_error(
        send(client, path, {"applicationIds": [target.pk]}, EDITOR), 404, "campaign_not_found"
    )
    by_key = send(client, copy_url(campaign), {"applicationIds": [target.pk]}, key_auth("b" * 64))
    assert by_key.status_code == 200
    refused = send(client, copy_url(campaign), {"applicationIds": [target.pk]}, key_auth("c" * 64))
    assert_error(refused, 403, "endpoint_not_allowed")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/applicationIds"),
        ({"applicationIds": []}, "/applicationIds"),
        ({"applicationIds": "1"}, "/applicationIds"),
        ({"applicationIds": [0]}, "/applicationIds/0"),
        ({"applicationIds": ["x"]}, "/applicationIds/0"),
        ({"applicationIds": "DUP"}, "/applicationIds"),
        ({"applicationIds": "TARGET", "startTime": "tomorrow"}, "/startTime"),
        ({"applicationIds": "TARGET", "tags": [""]}, "/tags/0"),
        ({"applicationIds": "TARGET", "name": ""}, "/name"),
        ({"applicationIds": "TARGET", "endTime": "2000-01-01T00:00:00Z"}, "/endTime"),
        ({"applicationIds": "TARGET", "evaluationGroupId": 999999}, "/evaluationGroupId"),
    ],
)
def test_bad_bodies_are_400_pointing_at_the_field_and_nothing_is_copied(
    client: Client, campaign: Campaign, target: Application, body: dict[str, Any], pointer: str
) -> None:
    if body.get("applicationIds") == "TARGET":
        body = {**body, "applicationIds": [target.pk]}
    if body.get("applicationIds") == "DUP":
        body = {**body, "applicationIds": [target.pk, target.pk]}
    if "endTime" in body:
        Campaign.objects.filter(pk=campaign.pk).update(start_time="2020-01-01T00:00:00Z")
    before = Campaign.objects.count()

    response = send(client, copy_url(campaign), body, EDITOR)

    result = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert result["errors"][0]["source"] == {"pointer": pointer}
    assert Campaign.objects.count() == before


# ---------------------------------------------------------------------------------------------
# getCampaignByAttributes


def search_url(application: Application, query: str = "") -> str:
    return f"/v1/applications/{application.pk}/campaigns_search{query}"


def test_campaigns_are_found_by_their_attribute_values(client: Client, source: Application) -> None:
    viewer = ManagementTokenFactory(raw_token="token-viewer")
    MembershipFactory(user=viewer.user, application=source, role=Role.VIEWER)
    for name, type_ in (("region", "string"), ("budget", "number"), ("channels", "(list string)")):
        AttributeDefinitionFactory(application=source, entity="Campaign", name=name, type=type_)
    eu = CampaignFactory(
        application=source, attributes={"region": "EU", "budget": "10.50", "channels": ["web"]}
    )
    eu_disabled = CampaignFactory(
        application=source, state="disabled", attributes={"region": "EU", "budget": "3"}
    )
    CampaignFactory(application=source, attributes={"region": "US", "budget": "10.5"})
    CampaignFactory(application=source)
    # Another application's campaign with the same values is never found.
    CampaignFactory(attributes={"region": "EU", "budget": "oops"})
    headers = bearer("token-viewer")

    def found(body: Any, query: str = "") -> list[int]:
        response = send(client, search_url(source, query), body, headers)
        assert response.status_code == 200, response.content
        result = content(response)
        assert result["totalResultSize"] >= len(result["data"])
        return [item["id"] for item in result["data"]]

    assert found({"attributes": {"region": "EU"}}) == [eu.pk, eu_disabled.pk]
    assert found({"attributes": {"region": "EU", "budget": 10.5}}) == [eu.pk]
    assert found({"attributes": {"channels": ["web"]}}) == [eu.pk]
    assert found({"attributes": {"region": "EU"}}, "?campaignState=disabled") == [eu_disabled.pk]
    assert found({"attributes": {"region": "EU"}}, "?pageSize=1&sort=-id") == [eu_disabled.pk]
    paged = send(
        client, search_url(source, "?pageSize=1"), {"attributes": {"region": "EU"}}, headers
    )
    assert (content(paged)["hasMore"], content(paged)["totalResultSize"]) == (True, 2)
    assert found({"attributes": {}}) == found({"attributes": {}}, "?sort=id")
    first = content(send(client, search_url(source), {"attributes": {"region": "EU"}}, headers))
    assert first["data"][0]["attributes"] == {
        "region": "EU",
        "budget": Decimal("10.50"),
        "channels": ["web"],
    }


@pytest.mark.parametrize(
    "body",
    [{}, {"attributes": "EU"}, {"attributes": {"undefined": 1}}, {"attributes": {"region": 1}}],
)
def test_a_bad_search_is_400(client: Client, source: Application, body: Any) -> None:
    viewer = ManagementTokenFactory(raw_token="token-viewer")
    MembershipFactory(user=viewer.user, application=source, role=Role.VIEWER)
    AttributeDefinitionFactory(application=source, entity="Campaign", name="region")

    response = send(client, search_url(source), body, bearer("token-viewer"))

    result = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert result["errors"][0]["source"]["pointer"].startswith("/attributes")


def test_another_applications_search_is_404(client: Client, source: Application) -> None:
    viewer = ManagementTokenFactory(raw_token="token-viewer")
    MembershipFactory(user=viewer.user, application=source, role=Role.VIEWER)

    response = send(
        client, search_url(ApplicationFactory()), {"attributes": {}}, bearer("token-viewer")
    )

    assert_error(response, 404, "application_not_found")


def test_a_search_by_number_never_fails_on_text_that_is_no_number(
    client: Client, source: Application
) -> None:
    viewer = ManagementTokenFactory(raw_token="token-viewer")
    MembershipFactory(user=viewer.user, application=source, role=Role.VIEWER)
    AttributeDefinitionFactory(application=source, entity="Campaign", name="budget", type="number")
    as_number = CampaignFactory(application=source, attributes={"budget": 1500})
    as_text = CampaignFactory(application=source, attributes={"budget": "1.5E+3"})
    # Written when ``budget`` was another type: never cast, never found.
    CampaignFactory(application=source, attributes={"budget": "fifteen hundred"})
    CampaignFactory(application=source, attributes={"budget": True})
    headers = bearer("token-viewer")

    def found(body: str) -> list[int]:
        response = client.post(
            search_url(source), body, content_type="application/json", headers=headers
        )
        assert response.status_code == 200, response.content
        return [item["id"] for item in content(response)["data"]]

    assert found('{"attributes": {"budget": 1500.0}}') == [as_number.pk, as_text.pk]
    assert found('{"attributes": {"budget": 1}}') == []
    assert found('{"attributes": {"budget": 1e1000000}}') == []
