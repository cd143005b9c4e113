"""Exports: ``exportEffects`` and ``exportCustomerSessions`` as streamed CSV with Talon.One's
columns, each recorded (``export_record``) and listed by ``getExports`` to those who may see
it."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Application, CustomerSession
from integration.render import rfc3339
from management.exports import EFFECT_COLUMNS, SESSION_COLUMNS, export_record
from management.models import Export, Role
from tests.factories import (
    ApplicationFactory,
    CampaignFactory,
    CartItemFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
    EffectRecordFactory,
    EventFactory,
    UserFactory,
)
from tests.management.documented import documented_answer, openapi
from tests.management.factories import ManagementKeyFactory, key_auth, member_headers
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def auth(application: Application) -> dict[str, str]:
    return member_headers(application, Role.VIEWER, raw_token="viewer-token")


def download(client: Client, path: str, auth: dict[str, str]) -> list[dict[str, str]]:
    """The rows of the CSV at ``path``, after checking it is streamed CSV (its header:
    ``header_of``)."""
    response = client.get(path, headers=auth)
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    _headers[path] = tuple(reader.fieldnames or ())
    return rows


_headers: dict[str, tuple[str, ...]] = {}


def header_of(path: str) -> tuple[str, ...]:
    return _headers[path]


def exports_of(client: Client, auth: dict[str, str], query: str = "") -> Any:
    response = client.get(f"/v1/exports{query}", headers=auth)
    assert response.status_code == 200, response.content
    return response.json()


# ---------------------------------------------------------------------------------------------
# Effects


def test_effects_are_exported_with_talon_ones_columns(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    profile = CustomerProfileFactory(application=application, integration_id="ada")
    session = CustomerSessionFactory(
        application=application,
        profile=profile,
        integration_id="cart-1",
        total=Decimal("265.00"),
        store_integration_id="STORE-001",
    )
    event = EventFactory(application=application, session=session, profile=profile)
    effect = EffectRecordFactory(
        application=application,
        session=session,
        profile=profile,
        event=event,
        props={"name": "10% off", "value": Decimal("26.50")},
        triggered_by_coupon_id=77,
    )

    path = f"/v1/applications/{application.pk}/export_effects"
    [row] = download(client, path, auth)

    assert header_of(path) == EFFECT_COLUMNS
    assert row == {
        "created": rfc3339(effect.created),
        "name": "setDiscount",
        "applicationid": str(application.pk),
        "campaignid": str(effect.campaign_id),
        "rulesetid": "",
        "ruleindex": "0",
        "sessionintegrationid": "cart-1",
        "profileintegrationid": "ada",
        "sessionid": str(session.pk),
        "profileid": str(profile.pk),
        "eventid": str(event.pk),
        "event_type": "talon_session_updated",
        "total_revenue": "265",
        "props": row["props"],
        "couponid": "77",
        "store_id": "",
        "store_integration_id": "STORE-001",
    }
    assert json.loads(row["props"]) == {"name": "10% off", "value": "26.50"}


def test_effects_are_filtered_by_campaign_and_time_and_dated_for_excel(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    kept = EffectRecordFactory(application=application)
    EffectRecordFactory(application=application)  # another campaign
    EffectRecordFactory(  # too old
        application=application,
        campaign=kept.campaign,
        created=timezone.now() - timedelta(days=3),
    )
    EffectRecordFactory()  # another application's
    after = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    rows = download(
        client,
        f"/v1/applications/{application.pk}/export_effects?campaignId={kept.campaign_id}"
        f"&createdAfter={after}&dateFormat=excel",
        auth,
    )

    assert len(rows) == 1
    assert rows[0]["created"] == kept.created.strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------------------------------
# Sessions


def test_sessions_are_exported_with_their_cart_and_filtered(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    ada = CustomerProfileFactory(application=application, integration_id="ada")
    closed = CustomerSessionFactory(
        application=application,
        profile=ada,
        integration_id="cart-1",
        state=CustomerSession.State.CLOSED,
        total=Decimal("19.98"),
        coupon_codes=["SUMMER"],
        attributes={"channel": "web"},
        first_session=True,
    )
    CartItemFactory(session=closed, position=0, sku="SKU-1", quantity=2, price=Decimal("9.99"))
    CustomerSessionFactory(application=application, profile=ada, integration_id="cart-2")
    CustomerSessionFactory(application=application, integration_id="cart-3")
    CustomerSessionFactory(integration_id="elsewhere")  # another application's
    path = f"/v1/applications/{application.pk}/export_customer_sessions"

    rows = download(client, path, auth)
    assert header_of(path) == SESSION_COLUMNS
    assert [row["integrationid"] for row in rows] == ["cart-1", "cart-2", "cart-3"]
    row = rows[0]
    assert row["firstsession"] == "true"
    assert row["profileintegrationid"] == "ada"
    assert row["state"] == "closed"
    assert row["total"] == "19.98"
    assert row["coupons"] == '["SUMMER"]'
    assert json.loads(row["attributes"]) == {"channel": "web"}
    [item] = json.loads(row["cartitems"])
    assert (item["sku"], item["quantity"], item["price"]) == ("SKU-1", 2, "9.990000")

    filtered = download(client, f"{path}?profileIntegrationId=ada&customerSessionState=open", auth)
    assert [row["integrationid"] for row in filtered] == ["cart-2"]


# ---------------------------------------------------------------------------------------------
# Bad input and access


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("export_effects?campaignId=x", "campaignId"),
        ("export_effects?createdAfter=yesterday", "createdAfter"),
        ("export_effects?dateFormat=unix", "dateFormat"),
        ("export_effects?createdBefore=0001-01-01T00:00:00%2B01:00", "createdBefore"),
        ("export_customer_sessions?updatedBefore=soon", "updatedBefore"),
        ("export_customer_sessions?customerSessionState=lost", "customerSessionState"),
    ],
)
def test_bad_export_parameters_are_a_400_and_record_nothing(
    client: Client, application: Application, auth: dict[str, str], path: str, parameter: str
) -> None:
    response = client.get(f"/v1/applications/{application.pk}/{path}", headers=auth)
    body = assert_error(response, 400, "invalid_query_parameter")
    assert body["errors"][0]["source"] == {"parameter": parameter}
    assert not Export.objects.exists()


def test_another_applications_exports_answer_404(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    other = ApplicationFactory()
    for path in ("export_effects", "export_customer_sessions"):
        response = client.get(f"/v1/applications/{other.pk}/{path}", headers=auth)
        assert_error(response, 404, "application_not_found")
    assert not Export.objects.exists()


# ---------------------------------------------------------------------------------------------
# The record of exports


def test_each_export_is_recorded_and_listed(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    campaign = CampaignFactory(application=application)
    download(
        client,
        f"/v1/applications/{application.pk}/export_effects?campaignId={campaign.pk}",
        auth,
    )
    download(
        client,
        f"/v1/applications/{application.pk}/export_customer_sessions?customerSessionState=open",
        auth,
    )

    body = exports_of(client, auth)

    effects, sessions = body["data"]
    assert body["totalResultSize"] == 2
    assert set(body) == {"totalResultSize", "data"}
    viewer = Export.objects.get(pk=effects["id"]).user
    assert viewer is not None
    assert effects == {
        "id": effects["id"],
        "created": effects["created"],
        "accountId": 1,
        "userId": viewer.pk,
        "entity": "Effect",
        "filter": {"campaignId": str(campaign.pk)},
    }
    assert sessions["entity"] == "CustomerSession"
    assert sessions["filter"] == {"customerSessionState": "open"}
    assert exports_of(client, auth, "?entity=Effect")["data"] == [effects]
    assert exports_of(client, auth, f"?campaignId={campaign.pk}")["data"] == [effects]
    assert exports_of(client, auth, f"?applicationId={application.pk}")["totalResultSize"] == 2
    assert exports_of(client, auth, "?sort=-created")["data"] == [sessions, effects]


def test_exports_of_applications_the_caller_may_not_see_are_not_listed(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    other = ApplicationFactory()
    export_record(
        caller=UserFactory(), entity="Coupon", application=other, filters={}, campaign_id=None
    )
    export_record(caller=UserFactory(), entity="Coupon", application=None, filters={})
    mine = export_record(caller=UserFactory(), entity="Coupon", application=application, filters={})

    assert [item["id"] for item in exports_of(client, auth)["data"]] == [mine.pk]
    assert exports_of(client, auth, f"?applicationId={other.pk}")["data"] == []


def test_a_management_key_sees_the_exports_of_its_applications(
    client: Client, application: Application
) -> None:
    creator = UserFactory()
    key = ManagementKeyFactory(
        raw_key="k" * 32,
        created_by=creator,
        allowed_endpoints=["getExports", "exportEffects"],
        applications=[application],
    )
    response = client.get(
        f"/v1/applications/{application.pk}/export_effects", headers=key_auth("k" * 32)
    )
    assert response.status_code == 200
    b"".join(response.streaming_content)

    [export] = exports_of(client, key_auth("k" * 32))["data"]
    assert export["userId"] == creator.pk
    assert Export.objects.get().management_key == key


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("?entity=Coupons", "entity"), ("?applicationId=one", "applicationId"), ("?skip=x", "skip")],
)
def test_bad_export_list_parameters_are_a_400(
    client: Client, auth: dict[str, str], query: str, parameter: str
) -> None:
    body = assert_error(
        client.get(f"/v1/exports{query}", headers=auth), 400, "invalid_query_parameter"
    )
    assert body["errors"][0]["source"] == {"parameter": parameter}


def test_export_record_refuses_an_unknown_entity(application: Application) -> None:
    with pytest.raises(ValueError, match="not an export entity"):
        export_record(caller=UserFactory(), entity="Secrets", application=application, filters={})
    assert not Export.objects.exists()


def test_a_time_with_an_offset_postgresql_refuses_is_read_in_utc(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    EffectRecordFactory(application=application)
    rows = download(
        client,
        f"/v1/applications/{application.pk}/export_effects?createdAfter=2000-01-01T00:00:00%2B16:00",
        auth,
    )
    assert len(rows) == 1


# ---------------------------------------------------------------------------------------------
# Coupons and referrals, and what every CSV export documents


@pytest.mark.parametrize(
    ("path", "entity", "filters"),
    [
        ("export_coupons?campaignId={c}&junk=1", "Coupon", {"campaignId": "{c}"}),
        (
            "export_referrals?campaignId={c}&valid=validNow&dateFormat=excel&junk=1",
            "Referral",
            {"campaignId": "{c}", "valid": "validNow", "dateFormat": "excel"},
        ),
    ],
)
def test_coupon_and_referral_exports_are_recorded_and_listed(
    client: Client,
    application: Application,
    auth: dict[str, str],
    path: str,
    entity: str,
    filters: dict[str, str],
) -> None:
    campaign = CampaignFactory(application=application)
    download(client, f"/v1/applications/{application.pk}/{path.format(c=campaign.pk)}", auth)

    listed = exports_of(client, auth, f"?campaignId={campaign.pk}")["data"]

    assert [(export["entity"], export["filter"]) for export in listed] == [
        (entity, {name: value.format(c=campaign.pk) for name, value in filters.items()})
    ]
    assert Export.objects.get().application == application


@pytest.mark.parametrize(
    "path",
    [
        "export_coupons?campaignId=999999999",
        "export_referrals?createdAfter=yesterday",
        "export_referrals?campaignId=999999999",
    ],
)
def test_a_refused_coupon_or_referral_export_records_nothing(
    client: Client, application: Application, auth: dict[str, str], path: str
) -> None:
    response = client.get(f"/v1/applications/{application.pk}/{path}", headers=auth)

    assert response.status_code in (400, 404)
    assert not Export.objects.exists()


@pytest.mark.parametrize(
    "export",
    ["export_coupons", "export_referrals", "export_effects", "export_customer_sessions"],
)
def test_each_csv_export_answers_the_media_type_it_documents(
    client: Client, application: Application, auth: dict[str, str], export: str
) -> None:
    documented = documented_answer(
        openapi(client), f"/v1/applications/{{application_id}}/{export}", "get"
    )

    response = client.get(f"/v1/applications/{application.pk}/{export}", headers=auth)

    assert response.status_code == 200
    media_type = response["Content-Type"].split(";")[0]
    assert list(documented) == [media_type] == ["text/csv"]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
