"""Times with a UTC offset PostgreSQL refuses (beyond ±15:59; RFC 3339 allows up to ±23:59).

Given an application with a campaign, a coupon, a referral, a customer and their session, when
an endpoint is sent a time at ``+16:00``, whether it filters by it or stores it, then the time
is read as the same instant in UTC (``rules.values.parse_instant``): the answer is never a
server error, filters keep what they should, and what is stored is that instant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from campaigns.models import Application, Campaign, Coupon, Referral
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
    api_key_headers,
)
from tests.management.factories import member_headers

pytestmark = pytest.mark.django_db

#: 2000-01-01T00:00:00+16:00 is 1999-12-31T08:00:00Z.
EARLY = quote("2000-01-01T00:00:00+16:00")
#: 2100-01-01T00:00:00+16:00 is 2099-12-31T08:00:00Z.
LATE = quote("2100-01-01T00:00:00+16:00")
#: A day after ``EARLY``, for ranges that may not be long.
DAY_LATER = quote("2000-01-02T00:00:00+16:00")


@pytest.fixture
def campaign() -> Campaign:
    application = ApplicationFactory()
    campaign = CampaignFactory(
        application=application,
        active_rules=[{"title": "Always", "condition": ["and", True], "effects": []}],
    )
    CouponFactory(campaign=campaign)
    ReferralFactory(campaign=campaign)
    profile = CustomerProfileFactory(application=application)
    session = CustomerSessionFactory(application=application, profile=profile)
    EventFactory(application=application, profile=profile)
    EffectRecordFactory(application=application, campaign=campaign, session=session)
    return campaign


@pytest.fixture
def admin(campaign: Campaign) -> dict[str, str]:
    return member_headers(campaign.application, Role.ADMIN, raw_token="offsets-admin")


def _answer(response: Any) -> bytes:
    """The whole body, streamed or not: a CSV export reads the database as it streams."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.content)


#: Every Management API endpoint that filters by a time, with the times at +16:00.
FILTERS = [
    "/campaigns?createdAfter={early}&startBefore={late}&endAfter={early}",
    "/campaigns_search?createdBefore={late}",
    "/campaigns/{c}/coupons/no_total?createdAfter={early}&startsBefore={late}&expiresAfter={early}",
    "/coupons_search_advanced/no_total?createdAfter={early}",
    "/campaigns/{c}/coupons_search_advanced/no_total?createdBefore={late}",
    "/campaigns/{c}/referrals/no_total?createdAfter={early}&createdBefore={late}",
    "/campaigns/{c}/analytics?rangeStart={early}&rangeEnd={day_later}",
    "/customers?createdAfter={early}",
    "/sessions?createdAfter={early}&createdBefore={late}",
    "/events/no_total?createdAfter={early}",
    "/access_logs/no_total?rangeStart={early}&rangeEnd={late}",
    "/customer_activity_reports/no_total?rangeStart={early}&rangeEnd={late}",
    "/export_referrals?createdAfter={early}",
    "/export_effects?createdAfter={early}&createdBefore={late}",
    "/export_customer_sessions?createdAfter={early}&updatedBefore={late}",
]


@pytest.mark.parametrize("query", FILTERS)
def test_a_filter_at_plus_16_is_read_in_utc(
    client: Client, campaign: Campaign, admin: dict[str, str], query: str
) -> None:
    path = f"/v1/applications/{campaign.application_id}" + query.format(
        c=campaign.pk, early=EARLY, late=LATE, day_later=DAY_LATER
    )
    if "_search" in query:  # the searches are POSTs of the attribute values to match
        body = {"attributes": {}} if query.startswith("/campaigns_search") else {}
        response = client.post(path, body, content_type="application/json", headers=admin)
    else:
        response = client.get(path, headers=admin)

    assert response.status_code == 200, _answer(response)
    _answer(response)


def test_the_integration_api_lists_campaigns_filtered_at_plus_16(
    client: Client, campaign: Campaign
) -> None:
    response = client.get(
        f"/v1/integration/campaigns?startBefore={LATE}&endAfter={EARLY}",
        headers=api_key_headers(campaign.application),
    )

    assert response.status_code == 200, response.content
    assert [listed["id"] for listed in response.json()["data"]] == [campaign.pk]


@pytest.mark.parametrize(
    ("start", "listed"),
    [("2029-12-31T08:00:00Z", True), ("2029-12-31T07:59:59Z", False)],
)
def test_a_campaign_filter_at_plus_16_compares_the_same_instant(
    client: Client, campaign: Campaign, admin: dict[str, str], start: str, listed: bool
) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(start_time=start)
    after = quote("2030-01-01T00:00:00+16:00")  # 2029-12-31T08:00:00Z

    response = client.get(
        f"/v1/applications/{campaign.application_id}/campaigns?startAfter={after}", headers=admin
    )

    assert response.status_code == 200, response.content
    assert [found["id"] for found in response.json()["data"]] == ([campaign.pk] if listed else [])


def test_a_campaign_written_at_plus_16_stores_the_instant(
    client: Client, campaign: Campaign, admin: dict[str, str]
) -> None:
    response = client.put(
        f"/v1/applications/{campaign.application_id}/campaigns/{campaign.pk}",
        {"startTime": "2030-01-01T00:00:00+16:00"},
        content_type="application/json",
        headers=admin,
    )

    assert response.status_code == 200, response.content
    campaign.refresh_from_db()
    assert campaign.start_time == datetime(2029, 12, 31, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("endpoint", "csv_text", "model", "field"),
    [
        (
            "import_coupons",
            "value,startdate\nOFFSET-1,2030-01-01T00:00:00+16:00\n",
            Coupon,
            "value",
        ),
        (
            "import_referrals",
            "code,advocateprofileintegrationid,expirydate\n"
            "OFFSET-1,advocate,2030-01-01T00:00:00+16:00\n",
            Referral,
            "code",
        ),
    ],
)
def test_a_csv_import_at_plus_16_stores_the_instant(
    client: Client,
    campaign: Campaign,
    admin: dict[str, str],
    endpoint: str,
    csv_text: str,
    model: type[Coupon] | type[Referral],
    field: str,
) -> None:
    upload = SimpleUploadedFile("codes.csv", csv_text.encode(), content_type="text/csv")

    response = client.post(
        f"/v1/applications/{campaign.application_id}/campaigns/{campaign.pk}/{endpoint}",
        {"upFile": upload},
        headers=admin,
    )

    assert response.status_code == 200, response.content
    code = model.objects.get(**{field: "OFFSET-1"})
    stored = code.start_date if model is Coupon else code.expiry_date
    assert stored == datetime(2029, 12, 31, 8, tzinfo=UTC)


def test_a_time_that_leaves_the_calendar_in_utc_is_a_400(
    client: Client, campaign: Campaign, admin: dict[str, str]
) -> None:
    response = client.get(
        f"/v1/applications/{campaign.application_id}/campaigns"
        f"?createdAfter={quote('0001-01-01T00:00:00+16:00')}",
        headers=admin,
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["source"] == {"parameter": "createdAfter"}


def test_an_application_of_another_tenant_is_still_404(
    client: Client, campaign: Campaign, admin: dict[str, str]
) -> None:
    theirs: Application = ApplicationFactory()

    response = client.get(
        f"/v1/applications/{theirs.pk}/export_referrals?createdAfter={EARLY}", headers=admin
    )

    assert response.status_code == 404
