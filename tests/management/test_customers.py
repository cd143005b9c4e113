"""Customer data through the Management API: ``getApplicationCustomer``,
``getApplicationSessions``, ``getApplicationSession`` and
``getApplicationEventsWithoutTotalCount``, in Talon.One's shapes, filtered and paged, for
members of the application only."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Application, CustomerSession, Event
from integration.render import dumps, rfc3339
from management.models import Role
from tests.factories import (
    ApplicationFactory,
    CartItemFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
    EffectRecordFactory,
    EventFactory,
    api_key_headers,
)
from tests.management.documented import assert_conforms, openapi
from tests.management.factories import ManagementKeyFactory, key_auth, member_headers
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def auth(application: Application) -> dict[str, str]:
    """A viewer of ``application``: the lowest role reads all of it."""
    return member_headers(application, Role.VIEWER, raw_token="viewer-token")


def get(client: Client, path: str, headers: dict[str, str]) -> Any:
    return client.get(path, headers=headers)


def ok(client: Client, path: str, headers: dict[str, str]) -> Any:
    response = get(client, path, headers)
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def sessions_path(application: Application, query: str = "") -> str:
    return f"/v1/applications/{application.pk}/sessions{query}"


def events_path(application: Application, query: str = "") -> str:
    return f"/v1/applications/{application.pk}/events/no_total{query}"


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["data"]]


# ---------------------------------------------------------------------------------------------
# Shapes


def test_a_customer_is_rendered_as_a_customer_profile(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    profile = CustomerProfileFactory(
        application=application,
        integration_id="ada",
        attributes={"Language": "english"},
        closed_sessions=3,
        total_sales=Decimal("299.99"),
    )

    body = ok(client, f"/v1/applications/{application.pk}/customers/{profile.pk}", auth)

    assert body == {
        "id": profile.pk,
        "created": rfc3339(profile.created),
        "integrationId": "ada",
        "attributes": {"Language": "english"},
        "accountId": 1,
        "closedSessions": 3,
        "totalSales": Decimal("299.99"),
        "loyaltyMemberships": None,
        "audienceMemberships": [],
        "lastActivity": rfc3339(profile.last_activity),
        "sandbox": False,
    }


def test_a_session_is_rendered_as_an_application_session(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    session = CustomerSessionFactory(
        application=application,
        integration_id="cart-1",
        store_integration_id="STORE-1",
        coupon_codes=["SUMMER", "WINTER"],
        referral_code="FRIEND",
        state=CustomerSession.State.CLOSED,
        total=Decimal("19.98"),
        attributes={"channel": "web"},
    )
    CartItemFactory(session=session, position=0, sku="SKU-1", name="Shirt", quantity=2)
    EffectRecordFactory(application=application, session=session)
    EffectRecordFactory(
        application=application,
        session=session,
        created=timezone.now() - timedelta(hours=1),
        rolled_back_at=timezone.now(),
    )
    EffectRecordFactory(application=application, session=session, effect_type="acceptCoupon")
    assert session.profile is not None

    body = ok(client, f"/v1/applications/{application.pk}/sessions/{session.pk}", auth)

    assert body == {
        "id": session.pk,
        "created": rfc3339(session.created),
        "integrationId": "cart-1",
        "storeIntegrationId": "STORE-1",
        "applicationId": application.pk,
        "profileId": session.profile.pk,
        "profileintegrationid": session.profile.integration_id,
        "coupon": "SUMMER,WINTER",
        "referral": "FRIEND",
        "state": "closed",
        "cartItems": [
            {
                "name": "Shirt",
                "sku": "SKU-1",
                "quantity": 2,
                "returnedQuantity": 0,
                "remainingQuantity": 2,
                "price": Decimal("9.99"),
                "position": 0,
                "attributes": {},
                "additionalCosts": {},
            }
        ],
        "discounts": {},
        "totalDiscounts": Decimal("1.5"),
        "total": Decimal("19.98"),
        "attributes": {"channel": "web"},
    }
    # In a list, as in Talon.One, totalDiscounts is 0.
    listed = ok(client, sessions_path(application), auth)
    assert listed["data"] == [{**body, "totalDiscounts": 0}]
    assert listed["totalResultSize"] == 1


def test_an_anonymous_session_has_no_profile(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    session = CustomerSessionFactory(application=application, profile=None)

    body = ok(client, f"/v1/applications/{application.pk}/sessions/{session.pk}", auth)

    assert "profileId" not in body
    assert "profileintegrationid" not in body
    assert "storeIntegrationId" not in body
    assert body["coupon"] == ""
    assert body["cartItems"] == []


def test_an_event_is_rendered_as_an_application_event_with_its_effects(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    session = CustomerSessionFactory(application=application, store_integration_id="STORE-1")
    event = EventFactory(
        application=application,
        session=session,
        profile=session.profile,
        type="order_shipped",
        attributes={"carrier": "DHL"},
    )
    record = EffectRecordFactory(application=application, event=event, session=session)

    body = ok(client, events_path(application), auth)

    assert body == {
        "hasMore": False,
        "data": [
            {
                "id": event.pk,
                "created": rfc3339(event.created),
                "applicationId": application.pk,
                "profileId": session.profile.pk,
                "sessionId": session.pk,
                "storeIntegrationId": "STORE-1",
                "type": "order_shipped",
                "attributes": {"carrier": "DHL"},
                "effects": [
                    {
                        "campaignId": record.campaign_id,
                        "rulesetId": 0,
                        "ruleIndex": 0,
                        "ruleName": "10% off",
                        "effectType": "setDiscount",
                        "props": {"name": "10% off", "value": "1.50"},
                    }
                ],
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Filters and paging


def test_sessions_are_filtered(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    ada = CustomerProfileFactory(application=application, integration_id="ada-lovelace")
    first = CustomerSessionFactory(
        application=application,
        integration_id="cart-alpha",
        profile=ada,
        coupon_codes=["SUMMER10"],
        referral_code="FRIEND1",
        store_integration_id="STORE-WEST",
    )
    second = CustomerSessionFactory(
        application=application,
        integration_id="cart-beta",
        state=CustomerSession.State.CLOSED,
        coupon_codes=["WINTER"],
    )
    third = CustomerSessionFactory(application=application, integration_id="other", profile=None)
    CustomerSession.objects.filter(pk=first.pk).update(created=timezone.now() - timedelta(days=10))
    week_ago = rfc3339(timezone.now() - timedelta(days=7)).replace(":", "%3A")

    def found(query: str) -> list[int]:
        return ids(ok(client, sessions_path(application, query), auth))

    assert found("") == [first.pk, second.pk, third.pk]
    assert found("?state=closed") == [second.pk]
    assert found("?profile=ada-lovelace") == [first.pk]
    assert found("?profile=LOVE") == []
    assert found("?profile=LOVE&partialMatch=true") == [first.pk]
    assert found("?coupon=SUMMER10") == [first.pk]
    assert found("?coupon=summer") == []
    assert found("?coupon=summer&partialMatch=true") == [first.pk]
    assert found("?coupon=SU&partialMatch=true") == []  # too short: matched exactly
    assert found("?referral=FRIEND1") == [first.pk]
    assert found("?integrationId=cart&partialMatch=true") == [first.pk, second.pk]
    assert found("?integrationId=cart-beta") == [second.pk]
    assert found("?storeIntegrationId=STORE-WEST") == [first.pk]
    assert found(f"?createdBefore={week_ago}") == [first.pk]
    assert found(f"?createdAfter={week_ago}") == [second.pk, third.pk]
    assert found("?sort=-integrationId") == [third.pk, second.pk, first.pk]


def test_sessions_are_paged(client: Client, application: Application, auth: dict[str, str]) -> None:
    sessions = [CustomerSessionFactory(application=application).pk for _ in range(5)]

    first = ok(client, sessions_path(application, "?pageSize=2"), auth)
    second = ok(client, sessions_path(application, "?pageSize=2&skip=2"), auth)
    last = ok(client, sessions_path(application, "?pageSize=2&skip=4"), auth)

    assert ids(first) + ids(second) + ids(last) == sessions
    assert [first["hasMore"], second["hasMore"], last["hasMore"]] == [True, True, False]
    assert first["totalResultSize"] == 5


def test_events_are_filtered_and_paged_without_a_total(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    session = CustomerSessionFactory(
        application=application, integration_id="cart-1", coupon_codes=["SUMMER"]
    )
    assert session.profile is not None
    session.profile.attributes = {"Name": "Ada Lovelace", "Email": "ada@example.com"}
    session.profile.save()
    updated = EventFactory(application=application, session=session, profile=session.profile)
    shipped = EventFactory(application=application, type="order_shipped")
    old = EventFactory(
        application=application, type="order_returned", created=timezone.now() - timedelta(days=9)
    )
    EffectRecordFactory(application=application, event=shipped, effect_type="addLoyaltyPoints")
    week_ago = rfc3339(timezone.now() - timedelta(days=7)).replace(":", "%3A")

    def found(query: str) -> list[int]:
        body = ok(client, events_path(application, query), auth)
        assert "totalResultSize" not in body
        return ids(body)

    assert found("") == [updated.pk, shipped.pk, old.pk]
    assert found("?type=order_shipped,order_returned") == [shipped.pk, old.pk]
    assert found("?session=cart-1") == [updated.pk]
    assert found(f"?profile={session.profile.integration_id}") == [updated.pk]
    assert found("?couponCode=SUMMER") == [updated.pk]
    assert found("?customerName=lovelace") == [updated.pk]
    assert found("?customerEmail=EXAMPLE.COM") == [updated.pk]
    assert found("?effectType=addLoyaltyPoints") == [shipped.pk]
    assert found("?ruleQuery=10%25") == [shipped.pk]
    assert found("?effectType=setDiscount") == []
    assert found(f"?createdBefore={week_ago}") == [old.pk]
    assert found(f"?createdAfter={week_ago}") == [updated.pk, shipped.pk]
    assert found("?sort=-id&pageSize=2") == [old.pk, shipped.pk]
    page = ok(client, events_path(application, "?pageSize=2&skip=1"), auth)
    assert (ids(page), page["hasMore"]) == ([shipped.pk, old.pk], False)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?state=paid", "state"),
        ("?createdBefore=yesterday", "createdBefore"),
        ("?createdAfter=2026-13-01T00:00:00Z", "createdAfter"),
        ("?partialMatch=yes", "partialMatch"),
        ("?pageSize=0", "pageSize"),
        ("?skip=-1", "skip"),
        ("?sort=password", "sort"),
    ],
)
def test_bad_session_filters_are_400_naming_the_parameter(
    client: Client, application: Application, auth: dict[str, str], query: str, parameter: str
) -> None:
    response = get(client, sessions_path(application, query), auth)

    body = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert body["errors"][0]["source"] == {"parameter": parameter}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?type=,", "type"),
        ("?createdAfter=2026-07-01", "createdAfter"),
        ("?customerName=a", "customerName"),
        ("?customerEmail=a", "customerEmail"),
        ("?pageSize=1001", "pageSize"),
        ("?sort=attributes", "sort"),
    ],
)
def test_bad_event_filters_are_400_naming_the_parameter(
    client: Client, application: Application, auth: dict[str, str], query: str, parameter: str
) -> None:
    response = get(client, events_path(application, query), auth)

    body = assert_error(response, 400, response.json()["errors"][0]["code"])
    assert body["errors"][0]["source"] == {"parameter": parameter}


# ---------------------------------------------------------------------------------------------
# Roles and tenants


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.ADMIN])
def test_every_role_reads_customer_data(
    client: Client, application: Application, role: str
) -> None:
    headers = member_headers(application, role, raw_token=f"{role}-token")
    session = CustomerSessionFactory(application=application)
    assert session.profile is not None
    base = f"/v1/applications/{application.pk}"

    for path in (
        f"{base}/customers/{session.profile.pk}",
        f"{base}/sessions",
        f"{base}/sessions/{session.pk}",
        f"{base}/events/no_total",
    ):
        assert get(client, path, headers).status_code == 200, path


def test_another_tenants_ids_are_404(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    other = ApplicationFactory()
    theirs = CustomerSessionFactory(application=other)
    EventFactory(application=other, session=theirs)
    assert theirs.profile is not None
    mine = f"/v1/applications/{application.pk}"

    assert_error(
        get(client, f"{mine}/customers/{theirs.profile.pk}", auth), 404, "customer_not_found"
    )
    assert_error(get(client, f"{mine}/sessions/{theirs.pk}", auth), 404, "session_not_found")
    assert_error(get(client, f"{mine}/sessions/{2**63}", auth), 404, "session_not_found")
    assert_error(get(client, f"{mine}/customers/0", auth), 404, "customer_not_found")
    for path in (
        f"/v1/applications/{other.pk}/sessions",
        f"/v1/applications/{other.pk}/sessions/{theirs.pk}",
        f"/v1/applications/{other.pk}/customers/{theirs.profile.pk}",
        f"/v1/applications/{other.pk}/events/no_total",
    ):
        assert_error(get(client, path, auth), 404, "application_not_found")
    # Nor do their sessions and events show in our lists.
    assert ok(client, f"{mine}/sessions", auth)["data"] == []
    assert ok(client, f"{mine}/events/no_total", auth)["data"] == []


def test_a_management_key_needs_the_operation_allowed(
    client: Client, application: Application
) -> None:
    CustomerSessionFactory(application=application)
    allowed = ManagementKeyFactory(
        raw_key="a" * 64, applications=[application], allowed_endpoints=["getApplicationSessions"]
    )
    ManagementKeyFactory(raw_key="b" * 64, applications=[application])

    assert get(client, sessions_path(application), key_auth("a" * 64)).status_code == 200
    assert_error(
        get(client, events_path(application), key_auth("a" * 64)), 403, "endpoint_not_allowed"
    )
    assert_error(
        get(client, sessions_path(application), key_auth("b" * 64)), 403, "endpoint_not_allowed"
    )
    assert allowed.pk


def test_without_credentials_the_answer_is_401(client: Client, application: Application) -> None:
    assert get(client, sessions_path(application), {}).status_code == 401


# ---------------------------------------------------------------------------------------------
# Through the Integration API


def test_a_session_updated_through_the_integration_api_is_read_back(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    body = {
        "customerSession": {
            "profileId": "grace",
            "state": "open",
            "couponCodes": ["HELLO"],
            "cartItems": [{"sku": "SKU-9", "name": "Mug", "quantity": 3, "price": Decimal("4.50")}],
        }
    }
    response = client.put(
        "/v2/customer_sessions/shop-cart-7",
        dumps(body),
        content_type="application/json",
        headers=api_key_headers(application),
    )
    assert response.status_code == 200, response.content

    listed = ok(client, sessions_path(application, "?integrationId=shop-cart-7"), auth)
    assert listed["totalResultSize"] == 1
    session = ok(
        client, f"/v1/applications/{application.pk}/sessions/{listed['data'][0]['id']}", auth
    )
    assert session["integrationId"] == "shop-cart-7"
    assert session["profileintegrationid"] == "grace"
    assert session["coupon"] == "HELLO"
    assert session["state"] == "open"
    assert session["total"] == Decimal("13.5")
    assert [(item["sku"], item["quantity"], item["price"]) for item in session["cartItems"]] == [
        ("SKU-9", 3, Decimal("4.5"))
    ]
    customer = ok(
        client, f"/v1/applications/{application.pk}/customers/{session['profileId']}", auth
    )
    assert customer["integrationId"] == "grace"
    # The events list shows what the Integration API stored for the session, and only that.
    events = ok(client, events_path(application, "?session=shop-cart-7"), auth)
    stored = Event.objects.filter(application=application, session_id=session["id"])
    assert ids(events) == sorted(stored.values_list("pk", flat=True))


# ---------------------------------------------------------------------------------------------
# The list of customers, and the search by attributes


def customers_path(application: Application, query: str = "") -> str:
    return f"/v1/applications/{application.pk}/customers{query}"


def search(
    client: Client, application: Application, auth: dict[str, str], body: Any, query: str = ""
) -> Any:
    return client.post(
        f"/v1/applications/{application.pk}/customer_search{query}",
        data=body if isinstance(body, str) else dumps(body),
        content_type="application/json",
        headers=auth,
    )


def test_customers_are_listed_in_the_customer_shape_and_paged(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    ada = CustomerProfileFactory(application=application, integration_id="ada")
    grace = CustomerProfileFactory(application=application, integration_id="grace")
    CustomerProfileFactory()  # another application's

    body = ok(client, customers_path(application), auth)
    assert body == {"hasMore": False, "data": body["data"]}
    assert ids(body) == [ada.pk, grace.pk]
    single = ok(client, f"/v1/applications/{application.pk}/customers/{ada.pk}", auth)
    assert body["data"][0] == single

    assert ok(client, customers_path(application, "?integrationId=grace"), auth)["data"] == [
        ok(client, f"/v1/applications/{application.pk}/customers/{grace.pk}", auth)
    ]
    paged = ok(client, customers_path(application, "?pageSize=1&withTotalResultSize=true"), auth)
    assert paged["hasMore"] is True
    assert paged["totalResultSize"] == 2
    assert ids(paged) == [ada.pk]
    assert ids(ok(client, customers_path(application, "?sort=-integrationId"), auth)) == [
        grace.pk,
        ada.pk,
    ]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("?withTotalResultSize=yes", "withTotalResultSize"), ("?pageSize=1001", "pageSize")],
)
def test_bad_customer_list_parameters_are_a_400(
    client: Client, application: Application, auth: dict[str, str], query: str, parameter: str
) -> None:
    response = get(client, customers_path(application, query), auth)
    body = assert_error(response, 400, "invalid_query_parameter")
    assert body["errors"][0]["source"] == {"parameter": parameter}


def test_customers_are_searched_by_exact_attributes_and_ids(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    ada = CustomerProfileFactory(
        application=application,
        integration_id="ada",
        attributes={"Language": "english", "Age": 36, "Tier": "gold"},
    )
    grace = CustomerProfileFactory(
        application=application, integration_id="grace", attributes={"Language": "english"}
    )
    CustomerProfileFactory(application=application, attributes={"Language": "German"})
    CustomerProfileFactory(attributes={"Language": "english"})  # another application's

    def found(body: Any, query: str = "") -> Any:
        response = search(client, application, auth, body, query)
        assert response.status_code == 200, response.content
        return response.json()

    assert ids(found({"attributes": {"Language": "english"}})) == [ada.pk, grace.pk]
    assert ids(found({"attributes": {"Language": "english", "Age": 36}})) == [ada.pk]
    assert ids(found({"attributes": {"Language": "English"}})) == []
    assert ids(found({"attributes": {}, "integrationIDs": ["grace", "nobody"]})) == [grace.pk]
    assert ids(found({"profileIDs": [ada.pk], "attributes": {"Language": "english"}})) == [ada.pk]
    counted = found({"attributes": {"Language": "english"}}, "?withTotalResultSize=true")
    assert counted["totalResultSize"] == 2


@pytest.mark.parametrize(
    "body",
    [
        "[1, 2",
        [1, 2],
        {"attributes": ["Language"]},
        {"integrationIDs": "ada"},
        {"profileIDs": ["ada"]},
        {"profileIDs": [0]},
        {"profileIDs": list(range(1, 1002))},
    ],
)
def test_a_bad_search_is_a_400(
    client: Client, application: Application, auth: dict[str, str], body: Any
) -> None:
    response = search(client, application, auth, body)
    assert response.status_code == 400
    assert response.json()["StatusCode"] == 400


def test_another_applications_customers_answer_404(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    other = ApplicationFactory()
    CustomerProfileFactory(application=other)
    assert_error(get(client, customers_path(other), auth), 404, "application_not_found")
    assert_error(search(client, other, auth, {}), 404, "application_not_found")


@pytest.mark.parametrize(
    "with_total", ["", "?withTotalResultSize=false", "?withTotalResultSize=true"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_customer_page_is_what_its_schema_documents(
    client: Client, application: Application, auth: dict[str, str], with_total: str, method: str
) -> None:
    CustomerProfileFactory(application=application, attributes={"Language": "english"})
    if method == "get":
        path = "/v1/applications/{application_id}/customers"
        response = get(client, customers_path(application, with_total), auth)
    else:
        path = "/v1/applications/{application_id}/customer_search"
        response = search(client, application, auth, {"attributes": {}}, with_total)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == (
        {"hasMore", "totalResultSize", "data"}
        if with_total.endswith("true")
        else {"hasMore", "data"}
    )
    assert_conforms(openapi(client), path, method, body)


def test_a_customer_search_compares_numbers_as_numbers_and_lists_as_containing(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    ada = CustomerProfileFactory(
        application=application, attributes={"Age": "36", "Tags": ["vip", "web"], "Vip": True}
    )
    grace = CustomerProfileFactory(
        application=application, attributes={"Age": 36.0, "Tags": ["web"], "Note": None}
    )
    CustomerProfileFactory(application=application, attributes={"Age": "thirty-six", "Vip": 1})

    def found(body: str) -> list[int]:
        response = search(client, application, auth, body)
        assert response.status_code == 200, response.content
        return ids(response.json())

    assert found('{"attributes": {"Age": 36}}') == [ada.pk, grace.pk]
    assert found('{"attributes": {"Age": 36.00}}') == [ada.pk, grace.pk]
    assert found('{"attributes": {"Age": 1e1000000}}') == []
    assert found('{"attributes": {"Tags": ["web"]}}') == [ada.pk, grace.pk]
    assert found('{"attributes": {"Tags": ["web", "vip"]}}') == [ada.pk]
    assert found('{"attributes": {"Vip": true}}') == [ada.pk]
    assert found('{"attributes": {"Note": null}}') == [grace.pk]
