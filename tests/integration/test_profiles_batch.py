"""``PUT /v2/customer_profiles`` through HTTP on PostgreSQL: up to 1,000 profiles created or
updated in one transaction, all or nothing, each problem pointed at, scoped to the application."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Application, CustomerProfile, EffectRecord
from campaigns.services.customers import customer_profiles_update
from campaigns.services.rulesets import ruleset_create
from integration.payloads import MAX_PROFILES_PER_BATCH, ProfileAttributes
from integration.render import dumps
from tests.concurrency import postgresql_only
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CustomerProfileFactory,
    api_key_headers,
)

pytestmark = pytest.mark.django_db

URL = "/v2/customer_profiles"


@pytest.fixture
def application() -> Application:
    app = ApplicationFactory()
    AttributeDefinitionFactory(
        application=app, entity="CustomerProfile", name="Tier", type="string"
    )
    AttributeDefinitionFactory(
        application=app, entity="CustomerProfile", name="Points", type="number"
    )
    return app


def put(client: Client, auth: dict[str, str], body: Any, query: str = "") -> Any:
    return client.put(URL + query, data=dumps(body), content_type="application/json", headers=auth)


def batch(*profiles: tuple[str, dict[str, Any] | None]) -> dict[str, Any]:
    return {
        "customerProfiles": [
            {"integrationId": integration_id}
            if attributes is None
            else {"integrationId": integration_id, "attributes": attributes}
            for integration_id, attributes in profiles
        ]
    }


def problems(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["StatusCode"] == 400
    return {error["source"]["pointer"]: error["details"] for error in body["errors"]}


def attributes_of(application: Application) -> dict[str, Any]:
    return dict(
        CustomerProfile.objects.filter(application=application).values_list(
            "integration_id", "attributes"
        )
    )


def test_new_profiles_are_created_and_existing_ones_merged(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    CustomerProfileFactory(
        application=application, integration_id="known", attributes={"Tier": "silver"}
    )
    response = put(client, auth, batch(("known", {"Points": 10}), ("new", {"Tier": "gold"})))
    assert response.status_code == 204
    assert response.content == b""
    assert attributes_of(application) == {
        "known": {"Tier": "silver", "Points": "10"},
        "new": {"Tier": "gold"},
    }


def test_silent_no_answers_the_profiles_in_the_order_sent(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    CustomerProfileFactory(application=application, integration_id="b")
    response = put(client, auth, batch(("b", {"Tier": "gold"}), ("a", None)), query="?silent=no")
    assert response.status_code == 200, response.content
    states = json.loads(response.content, parse_float=Decimal)["integrationStates"]
    assert [state["customerProfile"]["integrationId"] for state in states] == ["b", "a"]
    first = states[0]["customerProfile"]
    assert first["attributes"] == {"Tier": "gold"}
    assert first["accountId"] == application.pk
    assert {"id", "created", "closedSessions", "totalSales", "lastActivity"} <= first.keys()


def test_the_rules_do_not_run(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    rule = {
        "title": "Always",
        "condition": ["and", True],
        "effects": [["showNotification", "Info", "t", "b"]],
    }
    ruleset_create(campaign=CampaignFactory(application=application), rules=[rule], activate=True)
    assert put(client, auth, batch(("c", {"Tier": "gold"}))).status_code == 204
    assert not EffectRecord.objects.exists()


@postgresql_only  # SQLite caps a statement's parameters lower: more statements there
def test_a_thousand_profiles_are_written_in_a_few_queries(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    CustomerProfileFactory(application=application, integration_id="p-0")
    profiles = [(f"p-{i}", {"Points": i}) for i in range(MAX_PROFILES_PER_BATCH)]
    with CaptureQueriesContext(connection) as queries:
        assert put(client, auth, batch(*profiles)).status_code == 204
    assert CustomerProfile.objects.filter(application=application).count() == 1000
    assert CustomerProfile.objects.get(integration_id="p-999").attributes == {"Points": "999"}
    assert len(queries) < 20


def test_a_batch_over_the_limit_is_refused_whole(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    profiles = [(f"p-{i}", None) for i in range(MAX_PROFILES_PER_BATCH + 1)]
    found = problems(put(client, auth, batch(*profiles)))
    assert list(found) == ["/customerProfiles"]
    assert "at most 1000" in found["/customerProfiles"]
    assert not CustomerProfile.objects.exists()


def test_every_problem_is_pointed_at_and_nothing_is_written(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    CustomerProfileFactory(
        application=application, integration_id="known", attributes={"Tier": "silver"}
    )
    body = {
        "customerProfiles": [
            {"integrationId": "known", "attributes": {"Tier": "gold"}},  # fine on its own
            {"attributes": {"Tier": "gold"}},
            {"integrationId": "x", "attributes": {"Points": "many"}},
            {"integrationId": "y", "attributes": {"Nope": 1}},
            {"integrationId": "x"},
            "not a profile",
            {"integrationId": ""},
        ]
    }
    found = problems(put(client, auth, body))
    assert set(found) == {
        "/customerProfiles/1/integrationId",
        "/customerProfiles/2/attributes/Points",
        "/customerProfiles/3/attributes/Nope",
        "/customerProfiles/4/integrationId",
        "/customerProfiles/5",
        "/customerProfiles/6/integrationId",
    }
    assert "/customerProfiles/2" in found["/customerProfiles/4/integrationId"]
    assert attributes_of(application) == {"known": {"Tier": "silver"}}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/customerProfiles"),
        ({"customerProfiles": {"integrationId": "a"}}, "/customerProfiles"),
        ([], ""),
    ],
)
def test_a_body_without_a_list_of_profiles_is_a_400(
    client: Client, auth: dict[str, str], body: Any, pointer: str
) -> None:
    assert pointer in problems(put(client, auth, body))


def test_silent_must_be_yes_or_no(client: Client, auth: dict[str, str]) -> None:
    response = put(client, auth, batch(("a", None)), query="?silent=maybe")
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "silent"}
    assert not CustomerProfile.objects.exists()


def test_the_same_integration_id_in_another_application_is_another_profile(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    other = ApplicationFactory()
    CustomerProfileFactory(application=other, integration_id="shared", attributes={"X": 1})
    assert put(client, auth, batch(("shared", {"Tier": "gold"}))).status_code == 204
    assert attributes_of(application) == {"shared": {"Tier": "gold"}}
    assert attributes_of(other) == {"shared": {"X": 1}}


def test_an_attribute_defined_only_in_another_application_is_refused(
    client: Client, application: Application
) -> None:
    other = ApplicationFactory()
    found = problems(put(client, api_key_headers(other), batch(("a", {"Tier": "gold"}))))
    assert set(found) == {"/customerProfiles/0/attributes/Tier"}
    assert not CustomerProfile.objects.exists()


def test_the_service_says_which_profiles_were_new(application: Application) -> None:
    CustomerProfileFactory(application=application, integration_id="known")
    outcome = customer_profiles_update(
        application=application,
        profiles=[ProfileAttributes("new", {"Tier": "gold"}), ProfileAttributes("known")],
        now=timezone.now(),
    )
    assert [profile.integration_id for profile in outcome.profiles] == ["new", "known"]
    assert (outcome.created, outcome.updated) == (frozenset({"new"}), 1)
