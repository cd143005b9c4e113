"""``/v1/attributes``: custom attribute definitions in Talon.One's shape, each of one
application; who may list, read, create and change them; bad bodies; and that a definition made
here is what the Integration API then accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from campaigns.models import Application, CustomerSession
from campaigns.models.attributes import AttributeDefinition
from integration.render import rfc3339
from management.models import Role
from tests.factories import ApplicationFactory, AttributeDefinitionFactory, api_key_headers
from tests.management.factories import ManagementKeyFactory, key_auth, member_headers
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db


def body_for(application: Application, **changes: Any) -> dict[str, Any]:
    """A valid ``createAttribute`` body for ``application``."""
    body: dict[str, Any] = {
        "entity": "CustomerSession",
        "name": "channel",
        "title": "Sales channel",
        "type": "string",
        "description": "Where the customer shops.",
        "suggestions": ["web", "store"],
        "editable": True,
        "applicationIds": [application.pk],
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def send(client: Client, method: str, url: str, headers: dict[str, str], body: Any) -> Any:
    call = getattr(client, method)
    return call(url, data=json.dumps(body), content_type="application/json", headers=headers)


def version_of(application: Application) -> int:
    application.refresh_from_db()
    return int(application.rules_version)


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def editor(application: Application) -> dict[str, str]:
    return member_headers(application, Role.EDITOR, raw_token="editor-token")


@pytest.fixture
def viewer(application: Application) -> dict[str, str]:
    return member_headers(application, Role.VIEWER, raw_token="viewer-token")


# ---------------------------------------------------------------------------------------------
# Shapes


def test_create_answers_201_in_talon_ones_shape_and_bumps_the_rules_version(
    client: Client, application: Application, editor: dict[str, str]
) -> None:
    before = version_of(application)

    response = send(client, "post", "/v1/attributes", editor, body_for(application))

    assert response.status_code == 201, response.json()
    definition = AttributeDefinition.objects.get()
    assert response.json() == {
        "id": definition.pk,
        "created": rfc3339(definition.created),
        "accountId": 1,
        "entity": "CustomerSession",
        "name": "channel",
        "title": "Sales channel",
        "type": "string",
        "description": "Where the customer shops.",
        "suggestions": ["web", "store"],
        "hasAllowedList": False,
        "restrictedBySuggestions": False,
        "editable": True,
        "applicationIds": [application.pk],
        "subscribedApplicationsIds": [application.pk],
    }
    assert definition.application_id == application.pk
    assert version_of(application) == before + 1


def test_an_event_attribute_keeps_its_event_type_and_suggestions_are_optional(
    client: Client, application: Application, editor: dict[str, str]
) -> None:
    body = body_for(
        application,
        entity="Event",
        eventType="pageViewed",
        type="(list number)",
        suggestions=None,
        subscribedApplicationsIds=[application.pk],
        applicationIds=None,
    )

    response = send(client, "post", "/v1/attributes", editor, body)

    assert response.status_code == 201, response.json()
    assert response.json()["eventType"] == "pageViewed"
    assert response.json()["suggestions"] == []
    assert AttributeDefinition.objects.get().event_type == "pageViewed"


def test_get_reads_one_and_the_list_pages_the_visible_ones(
    client: Client, application: Application, viewer: dict[str, str]
) -> None:
    mine = [AttributeDefinitionFactory(application=application) for _ in range(3)]
    AttributeDefinitionFactory()  # another tenant's

    one = client.get(f"/v1/attributes/{mine[1].pk}", headers=viewer)
    first = client.get("/v1/attributes?pageSize=2", headers=viewer).json()
    rest = client.get("/v1/attributes?pageSize=2&skip=2", headers=viewer).json()

    assert one.status_code == 200
    assert one.json()["name"] == mine[1].name
    assert one.json()["applicationIds"] == [application.pk]
    assert [item["id"] for item in first["data"] + rest["data"]] == [d.pk for d in mine]
    assert (first["hasMore"], rest["hasMore"]) == (True, False)
    assert first["totalResultSize"] == 3


def test_the_list_filters_and_sorts(
    client: Client, application: Application, viewer: dict[str, str]
) -> None:
    AttributeDefinitionFactory(application=application, name="Zeta", type="number")
    AttributeDefinitionFactory(
        application=application, name="Alpha", entity="CustomerSession", description="Region"
    )

    def names(query: str) -> list[str]:
        response = client.get(f"/v1/attributes{query}", headers=viewer)
        assert response.status_code == 200, response.json()
        return [item["name"] for item in response.json()["data"]]

    assert names("?sort=name") == ["Alpha", "Zeta"]
    assert names("?sort=-name") == ["Zeta", "Alpha"]
    assert names("?entity=CustomerSession") == ["Alpha"]
    assert names("?type=number") == ["Zeta"]
    assert names("?search=regi") == ["Alpha"]
    assert names(f"?applicationIds={application.pk},999") == ["Zeta", "Alpha"]
    assert names("?applicationIds=999") == []
    assert names("?kind=builtin") == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?entity=Planet", "entity"),
        ("?type=integer", "type"),
        ("?applicationIds=1,x", "applicationIds"),
        ("?kind=other", "kind"),
        ("?sort=description", "sort"),
        ("?pageSize=0", "pageSize"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(
    client: Client, viewer: dict[str, str], query: str, parameter: str
) -> None:
    response = client.get(f"/v1/attributes{query}", headers=viewer)

    body = response.json()
    assert response.status_code == 400, body
    assert body["errors"][0]["source"] == {"parameter": parameter}


# ---------------------------------------------------------------------------------------------
# Updating


def test_update_changes_title_description_and_suggestions_and_bumps_the_rules_version(
    client: Client, application: Application, editor: dict[str, str]
) -> None:
    definition = AttributeDefinitionFactory(application=application, name="Tier")
    before = version_of(application)
    body = body_for(
        application,
        entity="CustomerProfile",
        name="Tier",
        title="Loyalty tier",
        description="Gold or silver",
        suggestions=["gold"],
    )

    response = send(client, "put", f"/v1/attributes/{definition.pk}", editor, body)

    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Loyalty tier"
    definition.refresh_from_db()
    assert (definition.title, definition.description, definition.suggestions) == (
        "Loyalty tier",
        "Gold or silver",
        ["gold"],
    )
    assert version_of(application) == before + 1


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"name": "Other"}, "/name"),
        ({"type": "number"}, "/type"),
        ({"entity": "CustomerSession"}, "/entity"),
        ({"eventType": "viewed"}, "/eventType"),
        ({"applicationIds": [10**9]}, "/applicationIds"),
        ({"title": "1 starts with a digit"}, "/title"),
    ],
)
def test_update_refuses_to_change_what_is_fixed(
    client: Client,
    application: Application,
    editor: dict[str, str],
    changes: dict[str, Any],
    pointer: str,
) -> None:
    definition = AttributeDefinitionFactory(application=application, name="Tier", title="Tier")
    before = version_of(application)

    response = send(client, "put", f"/v1/attributes/{definition.pk}", editor, changes)

    body = response.json()
    assert response.status_code == 400, body
    assert body["errors"][0]["source"] == {"pointer": pointer}
    definition.refresh_from_db()
    assert (definition.name, definition.type, definition.title) == ("Tier", "string", "Tier")
    assert version_of(application) == before


# ---------------------------------------------------------------------------------------------
# Roles and tenants


def test_a_viewer_may_read_but_not_create_or_update(
    client: Client, application: Application, viewer: dict[str, str]
) -> None:
    definition = AttributeDefinitionFactory(application=application)

    created = send(client, "post", "/v1/attributes", viewer, body_for(application))
    updated = send(client, "put", f"/v1/attributes/{definition.pk}", viewer, {"title": "New"})

    assert_error(created, 400, "application_not_editable")
    assert created.json()["errors"][0]["source"] == {"pointer": "/applicationIds/0"}
    assert_error(updated, 403, "role_too_low")
    assert AttributeDefinition.objects.count() == 1
    assert client.get(f"/v1/attributes/{definition.pk}", headers=viewer).status_code == 200


def test_another_tenants_attribute_and_application_are_invisible(
    client: Client, editor: dict[str, str]
) -> None:
    other = ApplicationFactory()
    theirs = AttributeDefinitionFactory(application=other)

    read = client.get(f"/v1/attributes/{theirs.pk}", headers=editor)
    updated = send(client, "put", f"/v1/attributes/{theirs.pk}", editor, {"title": "Mine"})
    created = send(client, "post", "/v1/attributes", editor, body_for(other))
    nothing = send(
        client, "post", "/v1/attributes", editor, body_for(other, applicationIds=[10**9])
    )
    listed = client.get("/v1/attributes", headers=editor).json()

    assert_error(read, 404, "attribute_not_found")
    assert_error(updated, 404, "attribute_not_found")
    # The same answer whether the application is another tenant's or does not exist.
    assert_error(created, 400, "application_not_editable")
    assert_error(nothing, 400, "application_not_editable")
    assert listed["data"] == []
    assert AttributeDefinition.objects.get() == theirs
    assert client.get("/v1/attributes/99999999999999999999", headers=editor).status_code == 404


def test_a_management_key_uses_the_applications_and_endpoints_it_lists(
    client: Client, application: Application
) -> None:
    ManagementKeyFactory(
        raw_key="k" * 64,
        applications=[application],
        allowed_endpoints=["createAttribute", "getAttributes"],
    )
    headers = key_auth("k" * 64)

    created = send(client, "post", "/v1/attributes", headers, body_for(application))
    listed = client.get("/v1/attributes", headers=headers)
    read = client.get(f"/v1/attributes/{created.json()['id']}", headers=headers)

    assert created.status_code == 201, created.json()
    assert listed.json()["totalResultSize"] == 1
    assert_error(read, 403, "endpoint_not_allowed")


def test_without_credentials_it_is_401(client: Client) -> None:
    assert client.get("/v1/attributes").status_code == 401


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"entity": "Planet"}, "/entity"),
        ({"entity": None}, "/entity"),
        ({"type": "integer"}, "/type"),
        ({"name": "1st"}, "/name"),
        ({"name": "has space"}, "/name"),
        ({"name": "trailing\n"}, "/name"),
        ({"name": "x" * 256}, "/name"),
        ({"title": None}, "/title"),
        ({"title": "Bad <title>"}, "/title"),
        ({"description": None}, "/description"),
        ({"editable": None}, "/editable"),
        ({"editable": "maybe"}, "/editable"),
        ({"suggestions": [""]}, "/suggestions/0"),
        ({"suggestions": ["s"] * 51}, "/suggestions"),
        ({"eventType": "viewed"}, "/eventType"),
        ({"applicationIds": None}, "/applicationIds"),
        ({"applicationIds": []}, "/applicationIds"),
        ({"applicationIds": ["x"]}, "/applicationIds/0"),
        ({"applicationIds": [1, 2]}, "/applicationIds"),
    ],
)
def test_a_bad_body_is_400_with_a_pointer_and_writes_nothing(
    client: Client,
    application: Application,
    editor: dict[str, str],
    changes: dict[str, Any],
    pointer: str,
) -> None:
    before = version_of(application)
    body = body_for(application, **changes)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)

    response = send(client, "post", "/v1/attributes", editor, body)

    answer = response.json()
    assert response.status_code == 400, answer
    assert pointer in [item["source"].get("pointer") for item in answer["errors"]]
    assert not AttributeDefinition.objects.exists()
    assert version_of(application) == before


def test_a_body_that_is_not_an_object_is_400(
    client: Client, application: Application, editor: dict[str, str]
) -> None:
    response = send(client, "post", "/v1/attributes", editor, ["entity"])
    assert response.status_code == 400
    assert not AttributeDefinition.objects.exists()


def test_a_taken_name_or_title_is_409_in_talon_ones_shape(
    client: Client, application: Application, editor: dict[str, str]
) -> None:
    AttributeDefinitionFactory(
        application=application, entity="CustomerSession", name="channel", title="Channel"
    )
    before = version_of(application)

    same_name = send(client, "post", "/v1/attributes", editor, body_for(application))
    same_title = send(
        client,
        "post",
        "/v1/attributes",
        editor,
        body_for(application, name="other", title="Channel"),
    )
    other_entity = send(
        client, "post", "/v1/attributes", editor, body_for(application, entity="CustomerProfile")
    )

    body = assert_error(same_name, 409, "attribute_exists")
    assert body["errors"][0]["source"] == {"pointer": "/name"}
    assert_error(same_title, 409, "attribute_title_exists")
    assert other_entity.status_code == 201
    assert AttributeDefinition.objects.count() == 2
    assert version_of(application) == before + 1


# ---------------------------------------------------------------------------------------------
# What the Integration API accepts


def test_an_attribute_created_here_is_accepted_by_the_integration_api(
    client: Client, application: Application, editor: dict[str, str]
) -> None:
    integration = api_key_headers(application)
    session = {"customerSession": {"attributes": {"channel": "web"}}}
    url = "/v2/customer_sessions/session-1"

    before = send(client, "put", url, integration, session)
    created = send(client, "post", "/v1/attributes", editor, body_for(application))
    after = send(client, "put", url, integration, session)

    assert before.status_code == 400, before.json()
    assert before.json()["errors"][0]["source"]["pointer"].endswith("/attributes/channel")
    assert created.status_code == 201
    assert after.status_code == 200, after.json()
    stored = CustomerSession.objects.get(application=application, integration_id="session-1")
    assert stored.attributes == {"channel": "web"}
