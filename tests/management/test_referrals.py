"""The referral endpoints of the Management API (``management/referrals.py``): list, change,
delete, import and export a campaign's referral codes in Talon.One's shapes, for the roles that
may, and never across tenants."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from campaigns.models import AttributeDefinition, Campaign, Referral, ReferralRedemption
from integration.render import rfc3339
from management.models import Role
from tests.factories import (
    AttributeDefinitionFactory,
    CampaignFactory,
    CustomerSessionFactory,
    ReferralFactory,
)
from tests.management.factories import ManagementKeyFactory, key_auth, member_headers
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign() -> Campaign:
    return CampaignFactory()


@pytest.fixture
def editor(campaign: Campaign) -> dict[str, str]:
    return member_headers(campaign.application, Role.EDITOR, raw_token="editor-token")


@pytest.fixture
def viewer(campaign: Campaign) -> dict[str, str]:
    return member_headers(campaign.application, Role.VIEWER, raw_token="viewer-token")


def base(campaign: Campaign) -> str:
    return f"/v1/applications/{campaign.application_id}/campaigns/{campaign.pk}"


def put_json(client: Client, url: str, body: Any, headers: dict[str, str]) -> Any:
    return client.put(url, body, content_type="application/json", headers=headers)


def pointer(body: dict[str, Any]) -> str:
    source: str = body["errors"][0]["source"]["pointer"]
    return source


def define(campaign: Campaign, name: str, type_: str) -> None:
    AttributeDefinitionFactory(
        application=campaign.application,
        entity=AttributeDefinition.Entity.REFERRAL,
        name=name,
        type=type_,
    )


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("referrals.csv", text.encode(), content_type="text/csv")


# ---------------------------------------------------------------------------------------------
# getReferralsWithoutTotalCount


def test_referrals_are_listed_in_talon_ones_shape(
    client: Client, campaign: Campaign, viewer: dict[str, str]
) -> None:
    define(campaign, "channel", AttributeDefinition.Type.STRING)
    referral = ReferralFactory(
        campaign=campaign,
        code="FRIEND-1",
        friend_profile_integration_id="bob",
        expiry_date=timezone.now() + timedelta(days=9),
        usage_limit=3,
        usage_counter=1,
        attributes={"channel": "web"},
        batch_id="tqyrgahe",
    )
    ReferralFactory(campaign=CampaignFactory(application=campaign.application))

    response = client.get(f"{base(campaign)}/referrals/no_total", headers=viewer)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "hasMore": False,
        "data": [
            {
                "id": referral.pk,
                "created": rfc3339(referral.created),
                "expiryDate": rfc3339(referral.expiry_date),
                "usageLimit": 3,
                "campaignId": campaign.pk,
                "advocateProfileIntegrationId": "advocate",
                "friendProfileIntegrationId": "bob",
                "attributes": {"channel": "web"},
                "code": "FRIEND-1",
                "usageCounter": 1,
                "batchId": "tqyrgahe",
            }
        ],
    }


def test_referrals_are_filtered_sorted_and_paged(
    client: Client, campaign: Campaign, viewer: dict[str, str]
) -> None:
    now = timezone.now()
    ReferralFactory(campaign=campaign, code="SPRING-A", advocate_profile_integration_id="ann")
    ReferralFactory(campaign=campaign, code="SPRING-B", usage_limit=1, usage_counter=1)
    ReferralFactory(campaign=campaign, code="OLD-C", expiry_date=now - timedelta(days=1))
    ReferralFactory(
        campaign=campaign,
        code="LATER-D",
        start_date=now + timedelta(days=1),
        advocate_profile_integration_id="ann",
    )
    url = f"{base(campaign)}/referrals/no_total"

    def codes(query: str) -> list[str]:
        response = client.get(f"{url}?{query}", headers=viewer)
        assert response.status_code == 200, response.json()
        return [referral["code"] for referral in response.json()["data"]]

    assert codes("code=spring&sort=-code") == ["SPRING-B", "SPRING-A"]
    assert codes("advocate=ann&sort=code") == ["LATER-D", "SPRING-A"]
    assert codes("usable=false") == ["SPRING-B"]
    assert codes("valid=expired") == ["OLD-C"]
    assert codes("valid=validFuture") == ["LATER-D"]
    assert codes("valid=validNow&usable=true") == ["SPRING-A"]
    page = client.get(f"{url}?sort=code&pageSize=2&skip=1", headers=viewer).json()
    assert (page["hasMore"], [r["code"] for r in page["data"]]) == (True, ["OLD-C", "SPRING-A"])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("valid=always", "valid"),
        ("createdAfter=today", "createdAfter"),
        ("sort=friend", "sort"),
        ("pageSize=0", "pageSize"),
    ],
)
def test_a_bad_list_filter_is_400(
    client: Client, campaign: Campaign, viewer: dict[str, str], query: str, parameter: str
) -> None:
    response = client.get(f"{base(campaign)}/referrals/no_total?{query}", headers=viewer)

    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": parameter}


# ---------------------------------------------------------------------------------------------
# updateReferral and deleteReferral


def test_a_referral_is_updated_with_the_fields_sent(
    client: Client, campaign: Campaign, editor: dict[str, str]
) -> None:
    define(campaign, "channel", AttributeDefinition.Type.STRING)
    referral = ReferralFactory(campaign=campaign, code="FRIEND-1", usage_limit=2)
    body = {
        "friendProfileIntegrationId": "bob",
        "startDate": "2030-01-01T00:00:00Z",
        "expiryDate": "2031-01-01T00:00:00Z",
        "usageLimit": 5,
        "attributes": {"channel": "mail"},
    }

    response = put_json(client, f"{base(campaign)}/referrals/{referral.pk}", body, editor)
    cleared = put_json(
        client, f"{base(campaign)}/referrals/{referral.pk}", {"startDate": None}, editor
    )

    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["friendProfileIntegrationId"] == "bob"
    assert (answer["startDate"], answer["expiryDate"]) == (
        "2030-01-01T00:00:00Z",
        "2031-01-01T00:00:00Z",
    )
    assert (answer["usageLimit"], answer["attributes"], answer["code"]) == (
        5,
        {"channel": "mail"},
        "FRIEND-1",
    )
    assert cleared.status_code == 200
    assert "startDate" not in cleared.json()
    referral.refresh_from_db()
    assert (referral.friend_profile_integration_id, referral.start_date) == ("bob", None)
    assert referral.usage_limit == 5


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"friendProfileIntegrationId": "advocate"}, "/friendProfileIntegrationId"),
        ({"usageLimit": 1}, "/usageLimit"),
        ({"usageLimit": 1_000_000}, "/usageLimit"),
        (
            {"startDate": "2031-01-01T00:00:00Z", "expiryDate": "2030-01-01T00:00:00Z"},
            "/expiryDate",
        ),
        ({"expiryDate": "tomorrow"}, "/expiryDate"),
        ({"attributes": {"undefined": 1}}, "/attributes"),
        ({"code": "NEW"}, "/code"),
    ],
)
def test_a_bad_referral_update_is_400_and_changes_nothing(
    client: Client, campaign: Campaign, editor: dict[str, str], body: Any, where: str
) -> None:
    referral = ReferralFactory(campaign=campaign, usage_limit=3, usage_counter=2)

    response = put_json(client, f"{base(campaign)}/referrals/{referral.pk}", body, editor)

    assert response.status_code == 400, response.json()
    assert pointer(response.json()) == where
    stored = Referral.objects.get()
    assert (stored.usage_limit, stored.friend_profile_integration_id) == (3, "")
    assert (stored.expiry_date, stored.code) == (None, referral.code)


def test_a_referral_is_deleted_with_its_redemptions(
    client: Client, campaign: Campaign, editor: dict[str, str]
) -> None:
    referral = ReferralFactory(campaign=campaign, usage_counter=1)
    kept = ReferralFactory(campaign=campaign)
    session = CustomerSessionFactory(application=campaign.application)
    ReferralRedemption.objects.create(
        referral=referral, campaign=campaign, session=session, friend=session.profile
    )

    response = client.delete(f"{base(campaign)}/referrals/{referral.pk}", headers=editor)
    again = client.delete(f"{base(campaign)}/referrals/{referral.pk}", headers=editor)

    assert response.status_code == 204
    assert_error(again, 404, "referral_not_found")
    assert list(Referral.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not ReferralRedemption.objects.exists()


def test_viewers_read_referrals_but_cannot_change_them(
    client: Client, campaign: Campaign, viewer: dict[str, str]
) -> None:
    referral = ReferralFactory(campaign=campaign)
    url = f"{base(campaign)}/referrals"

    listed = client.get(f"{url}/no_total", headers=viewer)
    updated = put_json(client, f"{url}/{referral.pk}", {"usageLimit": 9}, viewer)
    deleted = client.delete(f"{url}/{referral.pk}", headers=viewer)
    imported = client.post(
        f"{base(campaign)}/import_referrals",
        {"upFile": upload("code,advocateprofileintegrationid\nNEW-CODE,ann\n")},
        headers=viewer,
    )

    assert listed.status_code == 200
    for answer in (updated, deleted, imported):
        assert_error(answer, 403, "role_too_low")
    assert list(Referral.objects.values_list("usage_limit", flat=True)) == [1]


def test_another_tenants_referrals_are_not_found(
    client: Client, campaign: Campaign, editor: dict[str, str]
) -> None:
    theirs = ReferralFactory()
    other_campaign = ReferralFactory(campaign=CampaignFactory(application=campaign.application))
    mine = f"/v1/applications/{campaign.application_id}/campaigns/{theirs.campaign_id}"

    answers = [
        client.get(f"{mine}/referrals/no_total", headers=editor),
        client.get(f"{base(theirs.campaign)}/referrals/no_total", headers=editor),
        put_json(client, f"{mine}/referrals/{theirs.pk}", {"usageLimit": 9}, editor),
        put_json(
            client, f"{base(campaign)}/referrals/{other_campaign.pk}", {"usageLimit": 9}, editor
        ),
        client.delete(f"{base(campaign)}/referrals/{theirs.pk}", headers=editor),
        client.delete(f"{base(campaign)}/referrals/{2**63}", headers=editor),
        client.post(
            f"{mine}/import_referrals",
            {"upFile": upload("code,advocateprofileintegrationid\nNEW-CODE,ann\n")},
            headers=editor,
        ),
        client.get(f"/v1/applications/{theirs.application_id}/export_referrals", headers=editor),
        client.get(
            f"/v1/applications/{campaign.application_id}/export_referrals"
            f"?campaignId={theirs.campaign_id}",
            headers=editor,
        ),
    ]

    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert Referral.objects.count() == 2
    assert set(Referral.objects.values_list("usage_limit", flat=True)) == {1}


def test_a_management_key_may_call_the_referral_operations_it_allows(
    client: Client, campaign: Campaign
) -> None:
    ManagementKeyFactory(
        raw_key="k" * 64,
        allowed_endpoints=["getReferralsWithoutTotalCount"],
        applications=[campaign.application],
    )
    referral = ReferralFactory(campaign=campaign)

    listed = client.get(f"{base(campaign)}/referrals/no_total", headers=key_auth("k" * 64))
    deleted = client.delete(f"{base(campaign)}/referrals/{referral.pk}", headers=key_auth("k" * 64))

    assert listed.status_code == 200
    assert_error(deleted, 403, "endpoint_not_allowed")
    assert Referral.objects.exists()


# ---------------------------------------------------------------------------------------------
# importReferrals and exportReferrals


def test_a_csv_file_of_referrals_is_imported_as_one_batch(
    client: Client, campaign: Campaign, editor: dict[str, str]
) -> None:
    define(campaign, "channel", AttributeDefinition.Type.STRING)
    text = (
        "code,startdate,expirydate,advocateprofileintegrationid,limitval,attributes\n"
        'REF-CODE1,2020-11-10T23:00:00Z,2041-11-11T23:00:00Z,ann,2,"{""channel"": ""web""}"\n'
        "REF-CODE2,,,bob,,\n"
    )

    response = client.post(
        f"{base(campaign)}/import_referrals", {"upFile": upload(text)}, headers=editor
    )

    assert response.status_code == 200, response.json()
    answer = response.json()
    first = Referral.objects.get(code="REF-CODE1")
    assert answer == {
        "id": first.pk,
        "created": rfc3339(first.created),
        "accountId": answer["accountId"],
        "userId": answer["userId"],
        "entity": "Referral",
        "amount": 2,
        "batchId": first.batch_id,
    }
    second = Referral.objects.get(code="REF-CODE2")
    assert (first.usage_limit, first.attributes, first.advocate_profile_integration_id) == (
        2,
        {"channel": "web"},
        "ann",
    )
    assert rfc3339(first.expiry_date) == "2041-11-11T23:00:00Z"
    assert (second.usage_limit, second.start_date, second.batch_id) == (1, None, first.batch_id)


def test_an_import_with_any_bad_row_imports_nothing_and_says_where(
    client: Client, campaign: Campaign, editor: dict[str, str]
) -> None:
    ReferralFactory(campaign=campaign, code="TAKEN-1")
    text = (
        "code,advocateprofileintegrationid,friendprofileintegrationid,limitval,expirydate\n"
        "GOOD-1,ann,,1,\n"
        "TAKEN-1,ann,,1,\n"
        "SELF-1,ann,ann,1,\n"
        "NOADV-1,,,1,\n"
        "LIMIT-1,ann,,many,\n"
        "DATE-1,ann,,1,soon\n"
        "GOOD-1,bob,,1,\n"
        "AB,ann,,1,\n"
    )

    response = client.post(
        f"{base(campaign)}/import_referrals", {"upFile": upload(text)}, headers=editor
    )

    answer = assert_error(response, 400, "invalid_row")
    assert [error["source"]["pointer"] for error in answer["errors"]] == [
        "/upFile/3/code",
        "/upFile/4/friendprofileintegrationid",
        "/upFile/5/advocateprofileintegrationid",
        "/upFile/6/limitval",
        "/upFile/7/expirydate",
        "/upFile/8/code",
        "/upFile/9/code",
    ]
    assert list(Referral.objects.values_list("code", flat=True)) == ["TAKEN-1"]


@pytest.mark.parametrize(
    ("files", "code", "where"),
    [
        ({}, "required", "/upFile"),
        ({"upFile": SimpleUploadedFile("r.csv", b"code\n\xff\xfe\n")}, "invalid_file", "/upFile"),
        (
            {"upFile": upload("code,limitval\nREF-1,1\n")},
            "invalid_row",
            "/upFile/1/advocateprofileintegrationid",
        ),
        (
            {"upFile": upload("code,advocateprofileintegrationid,colour\n")},
            "invalid_row",
            "/upFile/1/colour",
        ),
        ({"upFile": upload("code,advocateprofileintegrationid\n")}, "invalid_row", "/upFile/2"),
    ],
)
def test_an_import_without_a_readable_file_is_400(
    client: Client, campaign: Campaign, editor: dict[str, str], files: Any, code: str, where: str
) -> None:
    response = client.post(f"{base(campaign)}/import_referrals", files, headers=editor)

    assert pointer(assert_error(response, 400, code)) == where
    assert not Referral.objects.exists()


def test_an_export_streams_csv_that_imports_as_it_is(
    client: Client, campaign: Campaign, editor: dict[str, str]
) -> None:
    define(campaign, "channel", AttributeDefinition.Type.STRING)
    ReferralFactory(
        campaign=campaign,
        code="ROUND-1",
        usage_limit=3,
        friend_profile_integration_id="bob",
        attributes={"channel": "web"},
        expiry_date=timezone.now() + timedelta(days=9),
    )
    ReferralFactory(campaign=campaign, code="ROUND-2", usage_counter=1)
    ReferralFactory(campaign=CampaignFactory(application=campaign.application), code="OTHER-1")
    url = f"/v1/applications/{campaign.application_id}/export_referrals"

    response = client.get(f"{url}?campaignId={campaign.pk}", headers=editor)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    exported = b"".join(response.streaming_content).decode()
    assert exported.splitlines()[0] == (
        "id,created,campaignid,advocateprofileintegrationid,friendprofileintegrationid,"
        "startdate,expirydate,code,importid,attributes,batchid,counter,limitval"
    )
    assert "OTHER-1" not in exported
    target = CampaignFactory()
    define(target, "channel", AttributeDefinition.Type.STRING)
    target_editor = member_headers(target.application, Role.EDITOR, raw_token="target-token")
    imported = client.post(
        f"{base(target)}/import_referrals", {"upFile": upload(exported)}, headers=target_editor
    )
    assert imported.status_code == 200, imported.json()
    fields = (
        "code",
        "advocate_profile_integration_id",
        "friend_profile_integration_id",
        "usage_limit",
        "expiry_date",
        "start_date",
        "attributes",
    )
    assert list(
        Referral.objects.filter(campaign=target).order_by("code").values_list(*fields)
    ) == list(Referral.objects.filter(campaign=campaign).order_by("code").values_list(*fields))


def test_an_export_is_filtered_and_may_write_dates_for_spreadsheets(
    client: Client, campaign: Campaign, viewer: dict[str, str]
) -> None:
    ReferralFactory(campaign=campaign, code="USED-1", usage_counter=1, batch_id="first")
    ReferralFactory(
        campaign=CampaignFactory(application=campaign.application),
        code="FREE-1",
        batch_id="second",
        expiry_date=timezone.now().replace(year=2040, month=1, day=2, hour=3, minute=4, second=5),
    )
    url = f"/v1/applications/{campaign.application_id}/export_referrals"

    def rows(query: str) -> list[list[str]]:
        response = client.get(f"{url}?{query}", headers=viewer)
        assert response.status_code == 200
        lines = b"".join(response.streaming_content).decode().splitlines()[1:]
        return [line.split(",") for line in lines]

    assert [row[7] for row in rows("usable=true")] == ["FREE-1"]
    assert [row[7] for row in rows("batchId=first")] == ["USED-1"]
    assert rows("dateFormat=excel&batchId=second")[0][6] == "2040-01-02 03:04:05"
    bad = client.get(f"{url}?dateFormat=roman", headers=viewer)
    assert assert_error(bad, 400, "invalid_query_parameter")["errors"][0]["source"] == {
        "parameter": "dateFormat"
    }
