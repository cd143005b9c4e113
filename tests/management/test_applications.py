"""``/v1/applications``: the caller's applications in Talon.One's shape, paged as Talon.One
pages (``pageSize``, ``skip``, ``sort``; ``hasMore``, ``totalResultSize``, ``data``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from campaigns.models import Application
from integration.render import rfc3339
from management.models import Role
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CouponFactory,
    UserFactory,
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


# ---------------------------------------------------------------------------------------------
# createApplication and updateApplication


NEW_SHOP = {
    "name": "Web shop",
    "description": "The shop on the web",
    "timezone": "America/New_York",
    "currency": "USD",
    "caseSensitivity": "insensitive-uppercase",
    "defaultDiscountScope": "cartItems",
    "enableCascadingDiscounts": True,
    "enableFlattenedCartItems": False,
    "enablePartialDiscounts": True,
    "sandbox": True,
}


@pytest.fixture
def superuser_auth() -> dict[str, str]:
    user = UserFactory(is_superuser=True, is_staff=True)
    ManagementTokenFactory(raw_token="token-super", user=user)
    return bearer("token-super")


def post(client: Client, path: str, body: object, headers: dict[str, str]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def put(client: Client, path: str, body: object, headers: dict[str, str]) -> Any:
    return client.put(path, json.dumps(body), content_type="application/json", headers=headers)


def test_an_account_admin_creates_an_application(
    client: Client, superuser_auth: dict[str, str]
) -> None:
    response = post(client, "/v1/applications", NEW_SHOP, superuser_auth)

    assert response.status_code == 201, response.json()
    application = Application.objects.get(name="Web shop")
    body = response.json()
    assert body["id"] == application.pk
    assert {key: body[key] for key in NEW_SHOP} == NEW_SHOP
    assert body["attributes"] == {}
    assert (application.currency, application.timezone, application.sandbox) == (
        "USD",
        "America/New_York",
        True,
    )
    # Read back, the same.
    assert client.get(f"/v1/applications/{application.pk}", headers=superuser_auth).json() == body


def test_the_smallest_application_is_a_name_and_a_currency(
    client: Client, superuser_auth: dict[str, str]
) -> None:
    response = post(client, "/v1/applications", {"name": "Tiny", "currency": "JPY"}, superuser_auth)

    assert response.status_code == 201
    body = response.json()
    assert (body["timezone"], body["caseSensitivity"], body["defaultDiscountScope"]) == (
        "UTC",
        "sensitive",
        "sessionTotal",
    )


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"timezone": "Mars/Olympus"}, "/timezone"),
        ({"timezone": "../../etc/passwd"}, "/timezone"),
        ({"currency": "XXX"}, "/currency"),
        ({"currency": "eur"}, "/currency"),
        ({"currency": "EURO"}, "/currency"),
        ({"caseSensitivity": "sometimes"}, "/caseSensitivity"),
        ({"defaultDiscountScope": "everything"}, "/defaultDiscountScope"),
        ({"sandbox": "perhaps"}, "/sandbox"),
        ({"name": ""}, "/name"),
        ({"name": "x" * 201}, "/name"),
        ({"attributes": {"region": "EU"}}, "/attributes"),
        ({"attributes": ["region"]}, "/attributes"),
    ],
)
def test_bad_settings_are_400_pointing_at_the_field_and_nothing_is_created(
    client: Client, superuser_auth: dict[str, str], change: dict[str, object], pointer: str
) -> None:
    response = post(client, "/v1/applications", {**NEW_SHOP, **change}, superuser_auth)

    body = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert body["errors"][0]["source"] == {"pointer": pointer}
    assert not Application.objects.exists()


def test_a_name_and_a_currency_are_required(client: Client, superuser_auth: dict[str, str]) -> None:
    response = post(client, "/v1/applications", {"description": "?"}, superuser_auth)

    body = assert_error(response, 400, "required")
    assert {error["source"]["pointer"] for error in body["errors"]} == {"/name", "/currency"}


def test_only_account_admins_create_applications(client: Client) -> None:
    admin = UserFactory()
    ManagementTokenFactory(raw_token="token-admin", user=admin)
    MembershipFactory(user=admin, role=Role.ADMIN)
    key = ManagementKeyFactory(raw_key="k" * 64, allowed_endpoints=["createApplication"])
    before = Application.objects.count()

    by_admin = post(client, "/v1/applications", NEW_SHOP, bearer("token-admin"))
    by_key = post(client, "/v1/applications", NEW_SHOP, key_auth("k" * 64))
    anonymous = post(client, "/v1/applications", NEW_SHOP, {})

    assert_error(by_admin, 403, "role_too_low")
    assert_error(by_key, 403, "key_cannot_create_applications")
    assert anonymous.status_code == 401
    assert Application.objects.count() == before
    assert key.applications.count() == 0


@pytest.fixture
def shop() -> Application:
    """An application with an admin, an editor and a viewer (tokens ``token-<role>``)."""
    application = ApplicationFactory(name="Shop", currency="EUR")
    for role in Role.values:
        token = ManagementTokenFactory(raw_token=f"token-{role}")
        MembershipFactory(user=token.user, application=application, role=role)
    return application


def test_an_admin_changes_settings_and_the_compiled_rules_are_invalidated(
    client: Client, shop: Application
) -> None:
    AttributeDefinitionFactory(application=shop, entity="Application", name="region")
    version = shop.rules_version

    response = put(
        client,
        f"/v1/applications/{shop.pk}",
        {"enablePartialDiscounts": True, "attributes": {"region": "EU"}, "timezone": "UTC"},
        bearer("token-admin"),
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["enablePartialDiscounts"], body["attributes"], body["timezone"]) == (
        True,
        {"region": "EU"},
        "UTC",
    )
    assert body["name"] == "Shop"  # not sent: kept
    shop.refresh_from_db()
    assert shop.enable_partial_discounts is True
    assert shop.rules_version == version + 1


def test_an_editor_or_viewer_cannot_change_settings_and_others_see_no_application(
    client: Client, shop: Application
) -> None:
    other = ApplicationFactory()
    path = f"/v1/applications/{shop.pk}"

    assert_error(put(client, path, {"name": "Mine"}, bearer("token-editor")), 403, "role_too_low")
    assert_error(put(client, path, {"name": "Mine"}, bearer("token-viewer")), 403, "role_too_low")
    assert_error(
        put(client, f"/v1/applications/{other.pk}", {"name": "Mine"}, bearer("token-admin")),
        404,
        "application_not_found",
    )
    shop.refresh_from_db()
    other.refresh_from_db()
    assert "Mine" not in (shop.name, other.name)


def test_a_key_that_allows_it_updates_the_applications_it_lists(
    client: Client, shop: Application
) -> None:
    ManagementKeyFactory(
        raw_key="a" * 64, allowed_endpoints=["updateApplication"], applications=[shop]
    )

    response = put(client, f"/v1/applications/{shop.pk}", {"sandbox": True}, key_auth("a" * 64))

    assert response.status_code == 200
    assert response.json()["sandbox"] is True


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"timezone": "Nowhere/Land"}, "/timezone"),
        ({"currency": "ABC"}, "/currency"),
        ({"attributes": {"undefined": 1}}, "/attributes"),
        ({"name": "  "}, "/name"),
    ],
)
def test_bad_updates_are_400_and_change_nothing(
    client: Client, shop: Application, change: dict[str, object], pointer: str
) -> None:
    version = shop.rules_version

    response = put(
        client, f"/v1/applications/{shop.pk}", {"sandbox": True, **change}, bearer("token-admin")
    )

    body = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert body["errors"][0]["source"] == {"pointer": pointer}
    shop.refresh_from_db()
    assert (shop.sandbox, shop.rules_version) == (False, version)


def test_case_sensitivity_and_currency_are_locked_once_codes_and_campaigns_exist(
    client: Client, shop: Application
) -> None:
    path = f"/v1/applications/{shop.pk}"
    admin = bearer("token-admin")
    # Nothing depends on them yet: they may change.
    assert put(client, path, {"caseSensitivity": "insensitive-lowercase"}, admin).status_code == 200
    assert put(client, path, {"currency": "USD"}, admin).status_code == 200
    CouponFactory(campaign=CampaignFactory(application=shop))

    codes = put(client, path, {"caseSensitivity": "sensitive"}, admin)
    currency = put(client, path, {"currency": "EUR"}, admin)
    same = put(client, path, {"currency": "USD", "caseSensitivity": "insensitive-lowercase"}, admin)

    assert_error(codes, 409, "caseSensitivity_locked")
    assert_error(currency, 409, "currency_locked")
    assert same.status_code == 200
    shop.refresh_from_db()
    assert (shop.case_sensitivity, shop.currency) == ("insensitive-lowercase", "USD")
