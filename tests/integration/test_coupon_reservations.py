"""Coupon reservations through HTTP on PostgreSQL: ``POST`` and ``DELETE
/v1/coupon_reservations/{couponValue}`` and ``GET
/v1/coupon_reservations/customerprofiles/{couponValue}`` answer in Talon.One's shapes, an unknown
coupon is a 404 and a bad body a 400 that writes nothing, reserving again changes nothing, and
customers racing for a coupon's last reservations never pass its limit."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from campaigns.models import Application, Coupon, CouponReservation, CustomerProfile
from campaigns.models.applications import CaseSensitivity
from integration.render import dumps
from tests.concurrency import race
from tests.factories import (
    ApplicationFactory,
    CampaignFactory,
    CouponFactory,
    CustomerProfileFactory,
    api_key_headers,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def coupon(application: Application) -> Coupon:
    return CouponFactory(
        campaign=CampaignFactory(application=application), value="SUMMER10", reservation_limit=3
    )


def call(
    client: Client, method: str, path: str, auth: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    """The status and decoded body of a request (``None`` for an empty body)."""
    send = getattr(client, method)
    if body is None:
        response = send(path, headers=auth)
    else:
        response = send(path, data=dumps(body), content_type="application/json", headers=auth)
    content = json.loads(response.content, parse_float=Decimal) if response.content else None
    return response.status_code, content


def reserve(client: Client, auth: dict[str, str], value: str, ids: Any) -> tuple[int, Any]:
    return call(client, "post", f"/v1/coupon_reservations/{value}", auth, {"integrationIDs": ids})


def unreserve(client: Client, auth: dict[str, str], value: str, ids: Any) -> tuple[int, Any]:
    return call(client, "delete", f"/v1/coupon_reservations/{value}", auth, {"integrationIDs": ids})


def reserved(client: Client, auth: dict[str, str], value: str) -> tuple[int, Any]:
    return call(client, "get", f"/v1/coupon_reservations/customerprofiles/{value}", auth)


def integration_ids(body: Any) -> list[str]:
    return [profile["integrationId"] for profile in body["data"]]


def test_reserving_answers_the_coupon_and_creates_unknown_customers(
    client: Client, auth: dict[str, str], coupon: Coupon, application: Application
) -> None:
    CustomerProfileFactory(application=application, integration_id="alice")

    status, body = reserve(client, auth, "SUMMER10", ["alice", "bob"])

    assert status == 201
    assert {
        key: body[key]
        for key in ("id", "campaignId", "value", "reservationLimit", "reservationCounter")
    } == {
        "id": coupon.pk,
        "campaignId": coupon.campaign_id,
        "value": "SUMMER10",
        "reservationLimit": 3,
        "reservationCounter": 2,
    }
    assert body["isReservationMandatory"] is False
    assert {"created", "usageLimit", "usageCounter"} <= body.keys()
    assert CustomerProfile.objects.filter(application=application, integration_id="bob").exists()


def test_reserving_again_changes_nothing(
    client: Client, auth: dict[str, str], coupon: Coupon
) -> None:
    reserve(client, auth, "SUMMER10", ["alice"])

    status, body = reserve(client, auth, "SUMMER10", ["alice", "alice"])

    assert status == 201
    assert body["reservationCounter"] == 1
    assert CouponReservation.objects.filter(coupon=coupon).count() == 1


def test_reserved_customers_are_listed_as_profiles_earliest_first(
    client: Client, auth: dict[str, str], coupon: Coupon
) -> None:
    reserve(client, auth, "SUMMER10", ["bob"])
    reserve(client, auth, "SUMMER10", ["alice"])

    status, body = reserved(client, auth, "SUMMER10")

    assert status == 200
    assert body["totalResultSize"] == 2
    assert integration_ids(body) == ["bob", "alice"]
    profile = body["data"][0]
    assert {"id", "created", "integrationId", "attributes", "accountId", "closedSessions"} <= (
        profile.keys()
    )
    assert {"totalSales", "lastActivity"} <= profile.keys()


def test_cancelling_reservations_answers_no_content_and_frees_them(
    client: Client, auth: dict[str, str], coupon: Coupon
) -> None:
    reserve(client, auth, "SUMMER10", ["alice", "bob", "carol"])

    status, body = unreserve(client, auth, "SUMMER10", ["alice", "nobody"])

    assert (status, body) == (204, None)
    assert integration_ids(reserved(client, auth, "SUMMER10")[1]) == ["bob", "carol"]
    coupon.refresh_from_db()
    assert coupon.reservation_counter == 2
    assert reserve(client, auth, "SUMMER10", ["dave"])[0] == 201


def test_codes_are_compared_as_the_application_compares_them(
    client: Client, auth: dict[str, str], coupon: Coupon
) -> None:
    assert reserve(client, auth, "summer10", ["alice"])[0] == 404  # case-sensitive
    insensitive = ApplicationFactory(case_sensitivity=CaseSensitivity.INSENSITIVE_UPPERCASE)
    CouponFactory(campaign=CampaignFactory(application=insensitive), value="Winter")
    headers = api_key_headers(insensitive)

    assert reserve(client, headers, "winter", ["alice"])[0] == 201
    assert integration_ids(reserved(client, headers, "WINTER")[1]) == ["alice"]


def test_a_reservation_past_the_limit_is_refused_whole(
    client: Client, auth: dict[str, str], coupon: Coupon, application: Application
) -> None:
    reserve(client, auth, "SUMMER10", ["alice"])

    status, body = reserve(client, auth, "SUMMER10", ["bob", "carol", "dave"])

    assert status == 400
    assert body["StatusCode"] == 400
    assert body["errors"][0]["source"] == {"pointer": "/integrationIDs"}
    assert body["errors"][0]["code"] == "reservation_limit_reached"
    coupon.refresh_from_db()
    assert coupon.reservation_counter == 1
    assert not CustomerProfile.objects.filter(
        application=application, integration_id__in=["bob", "carol", "dave"]
    ).exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/coupon_reservations/NOPE"),
        ("delete", "/v1/coupon_reservations/NOPE"),
        ("get", "/v1/coupon_reservations/customerprofiles/NOPE"),
    ],
)
def test_an_unknown_coupon_is_not_found(
    client: Client, auth: dict[str, str], coupon: Coupon, method: str, path: str
) -> None:
    body = None if method == "get" else {"integrationIDs": ["alice"]}

    status, answer = call(client, method, path, auth, body)

    assert status == 404
    assert answer["StatusCode"] == 404
    assert answer["message"] == "There is no coupon 'NOPE'."
    assert answer["errors"][0]["source"] == {"resource": path}
    assert not CustomerProfile.objects.exists()


def test_another_applications_coupon_is_not_found(
    client: Client, auth: dict[str, str], coupon: Coupon
) -> None:
    other = CouponFactory(value="THEIRS")

    assert reserve(client, auth, other.value, ["alice"])[0] == 404
    assert reserved(client, auth, other.value)[0] == 404
    assert not CouponReservation.objects.exists()


BAD_BODIES = [
    ("not an object", ["alice"], ""),
    ("no integrationIDs", {}, "/integrationIDs"),
    ("integrationIDs null", {"integrationIDs": None}, "/integrationIDs"),
    ("not an array", {"integrationIDs": "alice"}, "/integrationIDs"),
    ("a number", {"integrationIDs": ["alice", 7]}, "/integrationIDs/1"),
    ("an empty id", {"integrationIDs": [""]}, "/integrationIDs/0"),
    ("a too long id", {"integrationIDs": ["x" * 1001]}, "/integrationIDs/0"),
    ("too many ids", {"integrationIDs": [f"c{n}" for n in range(1001)]}, "/integrationIDs"),
]


@pytest.mark.parametrize(
    ("body", "pointer"), [row[1:] for row in BAD_BODIES], ids=[row[0] for row in BAD_BODIES]
)
@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_bad_body_is_refused_and_nothing_is_written(
    client: Client, auth: dict[str, str], coupon: Coupon, method: str, body: Any, pointer: str
) -> None:
    status, answer = call(client, method, "/v1/coupon_reservations/SUMMER10", auth, body)

    assert status == 400
    assert answer["StatusCode"] == 400
    assert pointer in [error["source"].get("pointer") for error in answer["errors"]]
    assert not CustomerProfile.objects.exists()
    assert not CouponReservation.objects.exists()


def test_malformed_json_is_refused(client: Client, auth: dict[str, str], coupon: Coupon) -> None:
    response = client.post(
        "/v1/coupon_reservations/SUMMER10",
        data=b"{integrationIDs",
        content_type="application/json",
        headers=auth,
    )

    assert response.status_code == 400
    assert not CouponReservation.objects.exists()


def test_reservations_need_credentials(client: Client, coupon: Coupon) -> None:
    status, _ = call(client, "get", "/v1/coupon_reservations/customerprofiles/SUMMER10", {})

    assert status == 401


@race
@pytest.mark.django_db(transaction=True)
def test_customers_racing_for_the_last_reservations_never_pass_the_limit(
    auth: dict[str, str], coupon: Coupon
) -> None:
    start = threading.Barrier(20)

    def race(index: int) -> int:
        try:
            start.wait()
            return reserve(Client(), auth, "SUMMER10", [f"customer-{index}"])[0]
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(race, range(20)))

    assert sorted(statuses) == [201] * 3 + [400] * 17
    coupon.refresh_from_db()
    assert coupon.reservation_counter == 3
    assert CouponReservation.objects.filter(coupon=coupon).count() == 3


@race
@pytest.mark.django_db(transaction=True)
def test_one_customer_reserving_many_times_at_once_is_reserved_once(
    auth: dict[str, str], coupon: Coupon
) -> None:
    start = threading.Barrier(10)

    def race(_: int) -> int:
        try:
            start.wait()
            return reserve(Client(), auth, "SUMMER10", ["alice"])[0]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(race, range(10)))

    assert statuses == [201] * 10
    coupon.refresh_from_db()
    assert coupon.reservation_counter == 1
    assert CustomerProfile.objects.filter(integration_id="alice").count() == 1
