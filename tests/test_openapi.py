"""The OpenAPI schemas of both APIs (``talonone.schema``, ``talonone.urls``): valid, one per
API, with Talon.One's operationIds, security schemes and error answers, and browsable without
credentials, from assets served here rather than from a CDN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from rest_framework import serializers

from talonone.schema import page_of

pytestmark = pytest.mark.django_db

APIS = {
    "integration": ("integration.urls", "talonone.schema.INTEGRATION_SCHEMA_SETTINGS"),
    "management": ("management.urls", "talonone.schema.MANAGEMENT_SCHEMA_SETTINGS"),
}

ERROR_REF = "#/components/schemas/ErrorResponseWithStatus"


def _schema(client: Client, api: str) -> dict[str, Any]:
    response = client.get(f"/openapi/{api}.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema: dict[str, Any] = json.loads(response.content)
    return schema


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: {**operation, "path": path, "method": method}
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


@pytest.mark.parametrize("api", APIS)
def test_the_schema_generates_without_warnings_and_validates(api: str, tmp_path: Path) -> None:
    target = tmp_path / f"{api}.json"

    urlconf, custom_settings = APIS[api]

    call_command(
        "spectacular",
        urlconf=urlconf,
        custom_settings=custom_settings,
        validate=True,
        fail_on_warn=True,
        format="openapi-json",
        file=str(target),
    )

    schema = json.loads(target.read_text())
    assert schema["paths"]
    assert schema["info"]["title"] == f"{api.title()} API"


def test_each_api_has_its_own_schema_readable_without_credentials(client: Client) -> None:
    integration = _schema(client, "integration")
    management = _schema(client, "management")

    assert integration["info"]["title"] == "Integration API"
    assert management["info"]["title"] == "Management API"
    assert "/v2/customer_sessions/{customer_session_id}" in integration["paths"]
    assert "/v2/customer_sessions/{customer_session_id}" not in management["paths"]
    assert "/v1/applications" in management["paths"]
    assert "/v1/applications" not in integration["paths"]


def test_operations_carry_talon_ones_operation_ids_and_tags(client: Client) -> None:
    integration = _operations(_schema(client, "integration"))
    management = _operations(_schema(client, "management"))

    assert {
        "updateCustomerSessionV2",
        "getCustomerSession",
        "updateCustomerProfileV2",
        "updateCustomerProfilesV2",
        "trackEventV2",
        "returnCartItems",
        "reopenCustomerSession",
        "createCouponReservation",
        "deleteCouponReservation",
        "getReservedCustomers",
        "createReferral",
        "getCustomerInventory",
        "deleteCustomerData",
        "integrationGetAllCampaigns",
    } <= set(integration)
    assert {"createSession", "destroySession", "getAttributes", "updateAttribute"} <= set(
        management
    )
    assert integration["updateCustomerSessionV2"]["tags"] == ["Customer sessions"]
    assert management["getAttributes"]["tags"] == ["Attributes"]
    # The v1 paths of the JavaScript SDK are there, deprecated.
    assert integration["trackEvent"]["path"] == "/v1/events"
    assert integration["trackEvent"]["deprecated"] is True
    assert "deprecated" not in integration["trackEventV2"]


def test_every_operation_documents_talon_ones_error_answers(client: Client) -> None:
    for api in APIS:
        for operation_id, operation in _operations(_schema(client, api)).items():
            responses = operation["responses"]
            for status in ("400", "401"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (operation_id, status)
            if "{" in operation["path"]:
                assert "404" in responses, operation_id
            if operation["method"] in ("post", "put", "patch"):
                assert {"409", "413", "415"} <= set(responses), operation_id
            assert any(status.startswith("2") for status in responses), operation_id
            assert "500" not in responses, operation_id


def test_the_management_api_documents_its_key_rate_limit_and_roles(client: Client) -> None:
    operation = _operations(_schema(client, "management"))["getAttributes"]

    assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert "403" in operation["responses"]


def test_the_error_shape_is_talon_ones(client: Client) -> None:
    components = _schema(client, "integration")["components"]["schemas"]

    error = components["ErrorResponseWithStatus"]
    assert set(error["required"]) == {"message", "errors", "StatusCode"}
    item = components["APIError"]
    assert set(item["required"]) == {"title", "details", "source", "code"}
    assert set(components["ErrorSource"]["properties"]) == {"pointer", "parameter", "resource"}


def test_security_schemes_name_each_authentication(client: Client) -> None:
    integration = _schema(client, "integration")
    management = _schema(client, "management")

    assert set(integration["components"]["securitySchemes"]) == {
        "api_key_v1",
        "content_signature",
    }
    assert integration["components"]["securitySchemes"]["api_key_v1"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": integration["components"]["securitySchemes"]["api_key_v1"]["description"],
    }
    assert "ApiKey-v1" in integration["components"]["securitySchemes"]["api_key_v1"]["description"]
    session = _operations(integration)["updateCustomerSessionV2"]
    assert session["security"] == [{"api_key_v1": [], "content_signature": []}, {"api_key_v1": []}]

    schemes = management["components"]["securitySchemes"]
    assert set(schemes) == {"manager_auth", "management_key"}
    assert "Bearer" in schemes["manager_auth"]["description"]
    assert "ManagementKey-v1" in schemes["management_key"]["description"]
    operations = _operations(management)
    assert operations["getAttributes"]["security"] == [{"manager_auth": []}, {"management_key": []}]
    # Logging in needs no credentials.
    assert operations["createSession"]["security"] == [{}]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("ui", ["", "redoc/"])
def test_the_browsable_docs_use_assets_served_here(client: Client, api: str, ui: str) -> None:
    response = client.get(f"/openapi/{api}/{ui}")

    assert response.status_code == 200
    page = response.content.decode()
    assert f"/openapi/{api}.json" in page
    assert "/static/drf_spectacular_sidecar/" in page
    assert "cdn." not in page
    assert "unpkg.com" not in page


def test_the_ui_assets_come_with_the_project(client: Client) -> None:
    page = client.get("/openapi/integration/").content.decode()
    prefix = "/static/"
    start = page.index(prefix + "drf_spectacular_sidecar/")
    asset = page[start + len(prefix) : page.index('"', start)]

    # Collected by collectstatic and served by WhiteNoise like every other static file.
    assert finders.find(asset.split("?")[0]) is not None


class _ItemSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()


def test_page_of_gives_one_serializer_per_item_and_variant() -> None:
    page = page_of(_ItemSerializer)
    without_total = page_of(_ItemSerializer(), with_total=False)

    assert page_of(_ItemSerializer) is page
    assert set(page().fields) == {"hasMore", "totalResultSize", "data"}
    assert set(without_total().fields) == {"hasMore", "data"}
