"""Customer activity reports: ``getCustomerActivityReport`` and
``getCustomerActivityReportsWithoutTotalCount``, their figures computed by the database from
sessions, coupon redemptions and the effect log."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns.models import Application, CustomerProfile, CustomerSession
from campaigns.models.coupons import CouponRedemption
from campaigns.models.referrals import ReferralRedemption
from integration.render import rfc3339
from management.models import Role
from tests.factories import (
    ApplicationFactory,
    CampaignFactory,
    CouponFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
    EffectRecordFactory,
    EventFactory,
    ReferralFactory,
)
from tests.management.factories import member_headers
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db

CLOSED = CustomerSession.State.CLOSED


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def auth(application: Application) -> dict[str, str]:
    return member_headers(application, Role.VIEWER, raw_token="viewer-token")


def in_range(query: str = "") -> str:
    start = rfc3339(timezone.now() - timedelta(days=1))
    end = rfc3339(timezone.now() + timedelta(minutes=1))
    return f"?rangeStart={start}&rangeEnd={end}{query}".replace("+", "%2B")


def ok(client: Client, path: str, auth: dict[str, str]) -> Any:
    response = client.get(path, headers=auth)
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def report_path(application: Application, customer: CustomerProfile, query: str = "") -> str:
    return f"/v1/applications/{application.pk}/customer_activity_reports/{customer.pk}{query}"


def reports_path(application: Application, query: str = "") -> str:
    return f"/v1/applications/{application.pk}/customer_activity_reports/no_total{query}"


def session(profile: CustomerProfile, *, days_ago: float = 0, **fields: Any) -> CustomerSession:
    made = CustomerSessionFactory(application=profile.application, profile=profile, **fields)
    if days_ago:
        CustomerSession.objects.filter(pk=made.pk).update(
            created=timezone.now() - timedelta(days=days_ago)
        )
    return made


@pytest.fixture
def ada(application: Application) -> CustomerProfile:
    """A customer with two orders (one with a coupon), an open cart, an old order and the
    effects of her coupons and discounts."""
    profile = CustomerProfileFactory(
        application=application, integration_id="ada", attributes={"Name": "Ada Lovelace"}
    )
    summer = CampaignFactory(application=application, name="Summer sale")
    winter = CampaignFactory(application=application, name="Winter sale")
    with_coupon = session(profile, state=CLOSED, total=Decimal("100.00"))
    session(profile, state=CLOSED, total=Decimal("50.50"))
    session(profile, state=CustomerSession.State.OPEN, total=Decimal("999"))
    old = session(profile, state=CLOSED, total=Decimal("70"), days_ago=10)
    coupon = CouponFactory(campaign=summer)
    CouponRedemption.objects.create(coupon=coupon, session=with_coupon, profile=profile)
    CouponRedemption.objects.create(
        coupon=CouponFactory(campaign=summer),
        session=old,
        profile=profile,
        created=timezone.now() - timedelta(days=10),
    )
    an_hour_ago = timezone.now() - timedelta(hours=1)

    def effect(effect_type: str, **fields: Any) -> None:
        EffectRecordFactory(
            application=application,
            campaign=fields.pop("campaign", summer),
            session=with_coupon,
            profile=profile,
            effect_type=effect_type,
            created=fields.pop("created", an_hour_ago),
            **fields,
        )

    effect("acceptCoupon", props={"value": coupon.value})
    effect("rejectCoupon", props={"value": "NOPE", "rejectionReason": "CouponNotFound"})
    effect("setDiscount", props={"name": "10 off", "value": "10.00"})
    effect("setDiscountPerItem", props={"name": "2.50 off", "value": "2.5", "position": 0})
    effect("setDiscount", props={"value": "5"}, rolled_back_at=timezone.now())
    effect("setDiscount", props={"value": "1000"}, created=timezone.now() - timedelta(days=9))
    effect("addFreeItem", props={"sku": "GIFT"}, campaign=winter, created=timezone.now())
    return profile


def test_a_customers_report_counts_what_happened_in_the_range(
    client: Client, application: Application, auth: dict[str, str], ada: CustomerProfile
) -> None:
    body = ok(client, report_path(application, ada, in_range()), auth)

    assert body == {
        "integrationId": "ada",
        "created": rfc3339(ada.created),
        "name": "Ada Lovelace",
        "customerId": ada.pk,
        "lastActivity": rfc3339(ada.last_activity),
        "couponRedemptions": 1,
        "couponUseAttempts": 2,
        "couponFailedAttempts": 1,
        "accruedDiscounts": Decimal("12.5"),
        "accruedRevenue": Decimal("150.5"),
        "totalOrders": 2,
        "totalOrdersNoCoupon": 1,
        "campaignName": "Winter sale",
    }


def test_a_wider_range_takes_in_the_older_activity(
    client: Client, application: Application, auth: dict[str, str], ada: CustomerProfile
) -> None:
    start = rfc3339(timezone.now() - timedelta(days=30)).replace("+", "%2B")
    end = rfc3339(timezone.now() + timedelta(minutes=1)).replace("+", "%2B")

    body = ok(client, report_path(application, ada, f"?rangeStart={start}&rangeEnd={end}"), auth)

    assert body["couponRedemptions"] == 2
    assert body["totalOrders"] == 3
    assert body["accruedRevenue"] == Decimal("220.5")
    assert body["accruedDiscounts"] == Decimal("1012.5")


def test_a_customer_without_activity_has_a_report_of_zeros(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    idle = CustomerProfileFactory(application=application, integration_id="idle")

    body = ok(client, report_path(application, idle, in_range()), auth)

    assert body["name"] == ""
    assert body["campaignName"] == ""
    assert [body[name] for name in ("couponRedemptions", "totalOrders", "accruedRevenue")] == [
        0,
        0,
        0,
    ]


def test_the_reports_list_the_customers_active_in_the_range_in_one_query(
    client: Client, application: Application, auth: dict[str, str], ada: CustomerProfile
) -> None:
    grace = CustomerProfileFactory(
        application=application, integration_id="grace", attributes={"Name": "Grace Hopper"}
    )
    EventFactory(application=application, profile=grace)
    CustomerProfileFactory(application=application, integration_id="idle")
    away = CustomerProfileFactory(application=application, integration_id="away")
    session(away, days_ago=5)

    statements: list[str] = []

    def remember(execute: Any, sql: str, *args: Any) -> Any:
        statements.append(sql)
        return execute(sql, *args)

    # ``execute_wrapper`` rather than ``CaptureQueriesContext``, whose log a request resets.
    with connection.execute_wrapper(remember):
        body = ok(client, reports_path(application, in_range()), auth)

    assert body["hasMore"] is False
    assert set(body) == {"hasMore", "data"}
    assert [report["integrationId"] for report in body["data"]] == ["ada", "grace"]
    assert body["data"][0] == ok(client, report_path(application, ada, in_range()), auth)
    # The caller and the application, then the page: the figures come with its rows.
    assert len([sql for sql in statements if "customerprofile" in sql]) == 1


def test_the_reports_are_filtered_sorted_and_paged(
    client: Client, application: Application, auth: dict[str, str], ada: CustomerProfile
) -> None:
    grace = CustomerProfileFactory(
        application=application, integration_id="grace", attributes={"Name": "Grace Hopper"}
    )
    session(grace, state=CLOSED, total=Decimal("500"))
    advocate = CustomerProfileFactory(
        application=application, integration_id="lin", attributes={"Name": "Lin Advocate"}
    )
    referral = ReferralFactory(
        campaign=CampaignFactory(application=application),
        advocate_profile_integration_id=advocate.integration_id,
    )
    ReferralRedemption.objects.create(
        referral=referral,
        campaign=referral.campaign,
        session=ada.sessions.first(),
        friend=ada,
    )

    def listed(query: str) -> list[str]:
        body = ok(client, reports_path(application, in_range(query)), auth)
        return [report["integrationId"] for report in body["data"]]

    assert listed("&name=hopper") == ["grace"]
    assert listed("&integrationId=ada") == ["ada"]
    assert listed("&campaignName=summer") == ["ada"]
    assert listed("&advocateName=lin") == ["ada"]
    assert listed("&advocateName=nobody") == []
    assert listed("&sort=-accruedRevenue") == ["grace", "ada"]
    assert listed("&sort=name") == ["ada", "grace"]
    assert listed("&pageSize=1&skip=1") == ["grace"]


@pytest.mark.parametrize(
    ("query", "parameter", "code"),
    [
        ("", "rangeStart", "invalid_query_parameter"),
        ("?rangeStart=2026-01-01T00:00:00Z", "rangeEnd", "invalid_query_parameter"),
        ("?rangeStart=2026-13-01&rangeEnd=2026-01-01", "rangeStart", "invalid_query_parameter"),
        ("?rangeStart=2026-02-01&rangeEnd=2026-01-01", "rangeEnd", "invalid_query_parameter"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&sort=props", "sort", "invalid_sort"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&skip=-1", "skip", "invalid_query_parameter"),
    ],
)
def test_bad_parameters_are_a_400(
    client: Client,
    application: Application,
    auth: dict[str, str],
    query: str,
    parameter: str,
    code: str,
) -> None:
    response = client.get(reports_path(application, query), headers=auth)
    assert assert_error(response, 400, code)["errors"][0]["source"] == {"parameter": parameter}


def test_another_applications_customer_and_reports_answer_404(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    other = ApplicationFactory()
    stranger = CustomerProfileFactory(application=other)

    response = client.get(report_path(application, stranger, in_range()), headers=auth)
    assert_error(response, 404, "customer_not_found")
    response = client.get(reports_path(other, in_range()), headers=auth)
    assert_error(response, 404, "application_not_found")
    response = client.get(report_path(other, stranger, in_range()), headers=auth)
    assert_error(response, 404, "application_not_found")
