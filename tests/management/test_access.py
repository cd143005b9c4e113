"""The permission matrix: each Management API endpoint, for each kind of caller, on an
application of their own, on another tenant's and on none.

Given users with each role in one application (and a superuser, a user of no application and
management keys), when each calls each endpoint about their application, another tenant's and
an id that names nothing, then they see their own, and another tenant's ids are answered exactly
as ids that name nothing (404); writes a role does not allow are refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application
from management.models import Role
from management.views import ManagementView
from tests.factories import ApplicationFactory, UserFactory
from tests.management.factories import (
    ManagementKeyFactory,
    ManagementTokenFactory,
    MembershipFactory,
    bearer,
    key_auth,
)

pytestmark = pytest.mark.django_db


class EditView(ManagementView):
    """Stands for the write endpoints to come: PUT needs an editor, DELETE an admin."""

    operation = {"PUT": "updateApplication", "DELETE": "deleteApplication"}

    def put(self, request: Request, application_id: int) -> Response:
        return Response({"id": self.application_for(application_id, role=Role.EDITOR).pk})

    def delete(self, request: Request, application_id: int) -> Response:
        return Response({"id": self.application_for(application_id, role=Role.ADMIN).pk})


urlpatterns = [
    path("", include("management.urls")),
    path("v1/test/applications/<int:application_id>", EditView.as_view()),
]

ALL_OPERATIONS = ["getApplications", "getApplication", "updateApplication", "deleteApplication"]


@dataclass(frozen=True)
class World:
    own: Application
    other: Application
    headers: dict[str, dict[str, str]]


@pytest.fixture
def world() -> World:
    own, other = ApplicationFactory(name="Own"), ApplicationFactory(name="Other")
    # Another tenant's admin, so that the other application has members too.
    MembershipFactory(application=other, role=Role.ADMIN)
    headers: dict[str, dict[str, str]] = {}
    for role in Role.values:
        token = ManagementTokenFactory(raw_token=f"token-{role}")
        MembershipFactory(user=token.user, application=own, role=role)
        headers[role] = bearer(f"token-{role}")
    ManagementTokenFactory(raw_token="token-none")
    headers["none"] = bearer("token-none")
    ManagementTokenFactory(raw_token="token-superuser", user=UserFactory(is_superuser=True))
    headers["superuser"] = bearer("token-superuser")
    ManagementKeyFactory(raw_key="a" * 64, allowed_endpoints=ALL_OPERATIONS, applications=[own])
    headers["key"] = key_auth("a" * 64)
    return World(own=own, other=other, headers=headers)


CALLERS = ["admin", "editor", "viewer", "none", "superuser", "key"]

#: Which applications each caller sees.
SEES = {
    "admin": {"own"},
    "editor": {"own"},
    "viewer": {"own"},
    "none": set(),
    "superuser": {"own", "other"},
    "key": {"own"},
}

#: The status of each endpoint for an application the caller sees.
STATUS_WHEN_SEEN = {
    ("GET", "getApplication"): {caller: 200 for caller in CALLERS},
    ("PUT", "edit"): {"admin": 200, "editor": 200, "viewer": 403, "superuser": 200, "key": 200},
    ("DELETE", "edit"): {"admin": 200, "editor": 403, "viewer": 403, "superuser": 200, "key": 200},
}


def application_id(world: World, which: str) -> int:
    if which == "missing":
        return world.other.pk + 1000
    return world.own.pk if which == "own" else world.other.pk


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("caller", CALLERS)
def test_the_list_holds_exactly_the_applications_the_caller_sees(
    client: Client, world: World, caller: str
) -> None:
    response = client.get("/v1/applications", headers=world.headers[caller])

    assert response.status_code == 200
    names = {application["name"].lower() for application in response.json()["data"]}
    assert names == SEES[caller]
    assert response.json()["totalResultSize"] == len(SEES[caller])


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("which", ["own", "other", "missing"])
@pytest.mark.parametrize(
    ("method", "endpoint"), [("GET", "getApplication"), ("PUT", "edit"), ("DELETE", "edit")]
)
def test_one_application_by_role_and_tenant(
    client: Client, world: World, caller: str, which: str, method: str, endpoint: str
) -> None:
    target = application_id(world, which)
    prefix = "/v1/applications" if endpoint == "getApplication" else "/v1/test/applications"

    response = client.generic(method, f"{prefix}/{target}", headers=world.headers[caller])

    body: dict[str, Any] = response.json()
    expected = STATUS_WHEN_SEEN[method, endpoint].get(caller, 404) if which in SEES[caller] else 404
    assert response.status_code == expected, body
    if expected == 200:
        assert body["id"] == target
    else:
        assert body["StatusCode"] == expected
    if expected == 404:
        # Another tenant's id is answered exactly as an id that names nothing.
        assert body["message"] == f"There is no application {target}."
        assert body["errors"][0]["code"] == "application_not_found"


@pytest.mark.urls(__name__)
def test_a_key_for_another_application_is_404_even_on_allowed_endpoints(
    client: Client, world: World
) -> None:
    ManagementKeyFactory(
        raw_key="b" * 64, allowed_endpoints=ALL_OPERATIONS, applications=[world.other]
    )

    response = client.get(f"/v1/applications/{world.own.pk}", headers=key_auth("b" * 64))

    assert response.status_code == 404


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("target", ["0", "9223372036854775808", "99999999999999999999999"])
def test_ids_out_of_range_name_no_application(client: Client, world: World, target: str) -> None:
    response = client.get(f"/v1/applications/{target}", headers=world.headers["superuser"])

    assert response.status_code == 404
    assert response.json()["StatusCode"] == 404
