"""``GET /v1/integration/campaigns``: the running campaigns carry their custom attributes.

Given an application whose campaigns have attributes of the ``Campaign`` entity, when a shop
lists the running campaigns, then each shows its attributes as the Management API does
(numbers as numbers), in the shape its schema documents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from campaigns.models import Application, AttributeDefinition
from tests.factories import ApplicationFactory, AttributeDefinitionFactory, CampaignFactory
from tests.management.documented import assert_conforms, openapi
from tests.management.factories import member_headers

pytestmark = pytest.mark.django_db

RULE = {"title": "Always", "condition": ["and", True], "effects": []}


@pytest.fixture
def application() -> Application:
    application = ApplicationFactory()
    for name, type_ in (("budget", "number"), ("region", "string"), ("sizes", "(list number)")):
        AttributeDefinitionFactory(
            application=application,
            entity=AttributeDefinition.Entity.CAMPAIGN,
            name=name,
            type=type_,
        )
    return application


def _listed(client: Client, auth: dict[str, str]) -> Any:
    response = client.get("/v1/integration/campaigns", headers=auth)
    assert response.status_code == 200, response.content
    return response.json(parse_float=Decimal)


def test_a_running_campaign_shows_its_attributes(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    tagged = CampaignFactory(
        application=application,
        active_rules=[RULE],
        attributes={"budget": "10.50", "region": "EU", "sizes": ["1", "2.5"]},
    )
    plain = CampaignFactory(application=application, active_rules=[RULE])

    body = _listed(client, auth)

    assert {campaign["id"]: campaign["attributes"] for campaign in body["data"]} == {
        tagged.pk: {"budget": Decimal("10.50"), "region": "EU", "sizes": [1, Decimal("2.5")]},
        plain.pk: {},
    }
    assert_conforms(openapi(client, "integration"), "/v1/integration/campaigns", "get", body)


def test_the_integration_api_shows_the_attributes_the_management_api_shows(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    campaign = CampaignFactory(
        application=application, active_rules=[RULE], attributes={"budget": "7", "region": "US"}
    )
    viewer = member_headers(application, "viewer", raw_token="campaigns-viewer")

    managed = client.get(
        f"/v1/applications/{application.pk}/campaigns/{campaign.pk}", headers=viewer
    )

    assert managed.status_code == 200
    assert _listed(client, auth)["data"][0]["attributes"] == managed.json()["attributes"]


def test_the_schema_documents_the_attributes(client: Client) -> None:
    schema = openapi(client, "integration")["components"]["schemas"]["IntegrationCampaign"]

    assert schema["properties"]["attributes"]["type"] == "object"
    assert "attributes" in schema["required"]
