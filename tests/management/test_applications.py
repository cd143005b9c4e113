"""``/v1/applications``: the caller's applications in Talon.One's shape, paged as Talon.One
pages (``pageSize``, ``skip``, ``sort``; ``hasMore``, ``totalResultSize``, ``data``)."""

from __future__ import annotations

import pytest
from django.test import Client

from integration.render import rfc3339
from management.models import Role
from tests.factories import ApplicationFactory, UserFactory
from tests.management.factories import ManagementTokenFactory, MembershipFactory, bearer
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db

AUTH = bearer("token")


@pytest.fixture
def names() -> list[str]:
    """Five applications the caller is a member of, created in this order, and one not."""
    user = UserFactory()
    ManagementTokenFactory(raw_token="token", user=user)
    created = ["Delta", "alpha", "Charlie", "Bravo", "Echo"]
    for name in created:
        MembershipFactory(user=user, application=ApplicationFactory(name=name), role=Role.VIEWER)
    ApplicationFactory(name="Not mine")
    return created


def listed(client: Client, query: str = "") -> dict[str, object]:
    response = client.get(f"/v1/applications{query}", headers=AUTH)
    assert response.status_code == 200, response.json()
    body: dict[str, object] = response.json()
    return body


def data_names(body: dict[str, object]) -> list[str]:
    data = body["data"]
    assert isinstance(data, list)
    return [item["name"] for item in data]


def test_an_application_is_rendered_in_talon_ones_shape(client: Client) -> None:
    user = UserFactory()
    ManagementTokenFactory(raw_token="token", user=user)
    application = ApplicationFactory(
        name="Shop", description="The shop", currency="JPY", attributes={"region": "EU"}
    )
    MembershipFactory(user=user, application=application)

    response = client.get(f"/v1/applications/{application.pk}", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {
        "id": application.pk,
        "created": rfc3339(application.created),
        "modified": rfc3339(application.modified),
        "accountId": 1,
        "name": "Shop",
        "description": "The shop",
        "timezone": "Europe/Berlin",
        "currency": "JPY",
        "caseSensitivity": "sensitive",
        "attributes": {"region": "EU"},
        "defaultDiscountScope": "sessionTotal",
        "enableCascadingDiscounts": False,
        "enableFlattenedCartItems": True,
        "enablePartialDiscounts": False,
        "sandbox": False,
        "loyaltyPrograms": [],
    }


def test_without_parameters_one_page_holds_all_in_id_order(
    client: Client, names: list[str]
) -> None:
    body = listed(client)

    assert data_names(body) == names
    assert body["hasMore"] is False
    assert body["totalResultSize"] == 5


def test_pages_follow_one_another_without_overlap(client: Client, names: list[str]) -> None:
    first = listed(client, "?pageSize=2")
    second = listed(client, "?pageSize=2&skip=2")
    last = listed(client, "?pageSize=2&skip=4")

    assert data_names(first) + data_names(second) + data_names(last) == names
    assert [first["hasMore"], second["hasMore"], last["hasMore"]] == [True, True, False]
    assert {first["totalResultSize"], last["totalResultSize"]} == {5}
    assert listed(client, "?skip=10") == {"hasMore": False, "totalResultSize": 5, "data": []}


def test_sort_ascending_and_descending(client: Client, names: list[str]) -> None:
    assert data_names(listed(client, "?sort=name")) == sorted(names)
    assert data_names(listed(client, "?sort=-name")) == sorted(names, reverse=True)
    assert data_names(listed(client, "?sort=-id")) == names[::-1]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?pageSize=0", "pageSize"),
        ("?pageSize=1001", "pageSize"),
        ("?pageSize=ten", "pageSize"),
        ("?pageSize=-1", "pageSize"),
        ("?pageSize=", "pageSize"),
        ("?skip=-1", "skip"),
        ("?skip=1.5", "skip"),
        ("?skip=99999999999999999999999", "skip"),
        ("?skip=%D9%A3", "skip"),  # an Arabic-Indic three: a digit, but not an ASCII one
        ("?sort=password", "sort"),
        ("?sort=--name", "sort"),
    ],
)
def test_bad_paging_values_are_400_naming_the_parameter(
    client: Client, names: list[str], query: str, parameter: str
) -> None:
    response = client.get(f"/v1/applications{query}", headers=AUTH)

    body = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert body["errors"][0]["source"] == {"parameter": parameter}


def test_the_largest_page_is_accepted(client: Client, names: list[str]) -> None:
    assert data_names(listed(client, "?pageSize=1000&skip=0")) == names
