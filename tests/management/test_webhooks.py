"""``/v1/webhooks`` and ``/v1/message_logs`` through HTTP: webhooks in Talon.One's shape, each
kind of bad definition refused with a pointer and nothing written, who may read and write them
(admins of every application they serve), and the log of their deliveries."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Application, Webhook, WebhookDelivery, WebhookDeliveryAttempt
from campaigns.models.webhooks import DeliveryState
from management.models import ManagementToken, Membership, Role
from tests.factories import ApplicationFactory, CampaignFactory, UserFactory
from tests.management.factories import (
    ManagementKeyFactory,
    ManagementTokenFactory,
    bearer,
    key_auth,
    member_headers,
)
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db


def body_for(application: Application, **changes: Any) -> dict[str, Any]:
    """A valid ``createWebhook`` body for ``application``."""
    body: dict[str, Any] = {
        "applicationIds": [application.pk],
        "title": "Send coupon",
        "description": "Tells the mailer to send a coupon.",
        "verb": "POST",
        "url": "https://mailer.example.com/customers/${$customer}/coupons",
        "headers": ["Authorization: Basic c2VjcmV0", "X-Campaign: ${$campaign}"],
        "payload": '{"code": "${$code}", "value": ${$value}}',
        "params": [
            {"type": "string", "title": "customer", "description": "Who", "ui": {}},
            {"type": "string", "title": "campaign", "ui": {}},
            {"type": "string", "title": "code", "ui": {}},
            {"type": "number", "title": "value", "ui": {}},
        ],
        "enabled": True,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def send(client: Client, method: str, url: str, headers: dict[str, str], body: Any) -> Any:
    return client.generic(
        method, url, data=json.dumps(body), content_type="application/json", headers=headers
    )


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def admin(application: Application) -> dict[str, str]:
    return member_headers(application, Role.ADMIN, raw_token="admin-token")


@pytest.fixture
def editor(application: Application) -> dict[str, str]:
    return member_headers(application, Role.EDITOR, raw_token="editor-token")


@pytest.fixture
def viewer(application: Application) -> dict[str, str]:
    return member_headers(application, Role.VIEWER, raw_token="viewer-token")


def make_webhook(*applications: Application, title: str = "Hook") -> Webhook:
    webhook = Webhook.objects.create(
        title=title, url="https://hooks.example.com/", signing_secret="s" * 32
    )
    webhook.applications.set(applications)
    return webhook


# ---------------------------------------------------------------------------------------------
# Create, read, update, delete


def test_an_admin_creates_a_webhook_and_reads_it_in_talon_ones_shape(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    response = send(client, "POST", "/v1/webhooks", admin, body_for(application))

    assert response.status_code == 201, response.content
    created = response.json()
    webhook = Webhook.objects.get()
    # The signing secret is answered this once.
    assert created["signingSecret"] == webhook.signing_secret
    assert len(webhook.signing_secret) >= 32
    read = client.get(f"/v1/webhooks/{webhook.pk}", headers=admin).json()
    assert read == {key: value for key, value in created.items() if key != "signingSecret"}
    assert read["id"] == webhook.pk
    assert read["applicationIds"] == [application.pk]
    assert read["draft"] is False
    assert read["verb"] == "POST"
    assert read["headers"] == ["Authorization: Basic c2VjcmV0", "X-Campaign: ${$campaign}"]
    assert read["params"][0] == {
        "type": "string",
        "title": "customer",
        "description": "Who",
        "ui": {},
    }
    assert read["enabled"] is True
    assert set(read) == {
        "id",
        "created",
        "modified",
        "applicationIds",
        "title",
        "description",
        "draft",
        "verb",
        "url",
        "headers",
        "payload",
        "params",
        "enabled",
    }


def test_headers_may_be_sent_as_an_object(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    body = body_for(application, headers={"Authorization": "Basic c2VjcmV0"})

    response = send(client, "POST", "/v1/webhooks", admin, body)

    assert response.status_code == 201, response.content
    assert response.json()["headers"] == ["Authorization: Basic c2VjcmV0"]
    assert Webhook.objects.get().headers == [["Authorization", "Basic c2VjcmV0"]]


def test_an_admin_updates_a_webhook_and_may_rotate_its_secret(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    webhook = make_webhook(application)
    new_secret = "n" * 40

    response = send(
        client,
        "PUT",
        f"/v1/webhooks/{webhook.pk}",
        admin,
        body_for(application, title="Renamed", enabled=False, signingSecret=new_secret),
    )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Renamed"
    assert "signingSecret" not in response.json()
    webhook.refresh_from_db()
    assert (webhook.title, webhook.enabled, webhook.signing_secret) == (
        "Renamed",
        False,
        new_secret,
    )


def test_an_admin_deletes_a_webhook_and_its_deliveries_stay_in_the_log(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    webhook = make_webhook(application)
    delivery = WebhookDelivery.objects.create(
        application=application, webhook=webhook, webhook_title="Hook"
    )

    response = client.delete(f"/v1/webhooks/{webhook.pk}", headers=admin)

    assert response.status_code == 204
    assert not Webhook.objects.exists()
    delivery.refresh_from_db()
    assert delivery.webhook is None
    assert delivery.webhook_title == "Hook"
    assert_error(client.get(f"/v1/webhooks/{webhook.pk}", headers=admin), 404, "webhook_not_found")


def test_the_list_is_paged_sorted_and_filtered(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    other_application = ApplicationFactory()
    user = ManagementToken.objects.get().user
    Membership.objects.create(user=user, application=other_application, role=Role.VIEWER)
    first = make_webhook(application, title="Coupon mail")
    second = make_webhook(other_application, title="Points mail")
    both = make_webhook(application, other_application, title="Audit")
    make_webhook(ApplicationFactory(), title="Not theirs")

    def ids(query: str) -> list[int]:
        response = client.get(f"/v1/webhooks{query}", headers=admin)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["data"]]

    assert ids("") == [first.pk, second.pk, both.pk]
    assert ids("?sort=-title") == [second.pk, first.pk, both.pk]
    assert ids(f"?applicationIds={other_application.pk}") == [second.pk, both.pk]
    assert ids("?title=MAIL") == [first.pk, second.pk]
    assert ids("?pageSize=1&skip=1") == [second.pk]
    assert ids("?creationType=templateWebhooks") == []
    assert ids("?visibility=visible&creationType=webhooks") == [first.pk, second.pk, both.pk]
    page = client.get("/v1/webhooks?pageSize=2&sort=title", headers=admin).json()
    assert (page["hasMore"], page["totalResultSize"]) == (True, 3)
    listed_both = next(row for row in page["data"] if row["id"] == both.pk)
    assert listed_both["applicationIds"] == sorted([application.pk, other_application.pk])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?sort=url", "sort"),
        ("?applicationIds=1,x", "applicationIds"),
        ("?creationType=other", "creationType"),
        ("?pageSize=0", "pageSize"),
        ("?outgoingIntegrationsTypeId=-1", "outgoingIntegrationsTypeId"),
    ],
)
def test_bad_list_queries_are_a_400_naming_the_parameter(
    client: Client, admin: dict[str, str], query: str, parameter: str
) -> None:
    response = client.get(f"/v1/webhooks{query}", headers=admin)

    body = response.json()
    assert response.status_code == 400, body
    assert body["errors"][0]["source"] == {"parameter": parameter}


# ---------------------------------------------------------------------------------------------
# Bad definitions


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"title": None}, "/title"),
        ({"title": "1 starts with a digit"}, "/title"),
        ({"verb": "TRACE"}, "/verb"),
        ({"url": "ftp://mailer.example.com/"}, "/url"),
        ({"url": "/relative/path"}, "/url"),
        ({"url": "https://user:pw@mailer.example.com/"}, "/url"),
        ({"url": "https://mailer.example.com/${$nobody}"}, "/url"),
        ({"headers": [1, 2]}, "/headers"),
        ({"headers": ["no colon here"]}, "/headers"),
        ({"headers": {"X-A": 5}}, "/headers"),
        ({"headers": ["Bad Name: x"]}, "/headers/0"),
        ({"headers": ["Host: evil.example.com"]}, "/headers/0"),
        ({"headers": ["X-Talon-Signature: forged"]}, "/headers/0"),
        ({"headers": ["X-A: 1", "x-a: 2"]}, "/headers/1"),
        ({"headers": ["X-Ok: 1", "X-Who: ${$nobody}"]}, "/headers/1"),
        ({"payload": '{"a": "${$nobody}"}'}, "/payload"),
        ({"params": [{"type": "money", "title": "amount"}]}, "/params/0/type"),
        ({"params": [{"type": "string"}]}, "/params/0/title"),
        ({"params": [{"type": "string", "title": "two words"}]}, "/params/0/title"),
        ({"params": "not a list"}, "/params"),
        ({"applicationIds": []}, "/applicationIds"),
        ({"applicationIds": ["x"]}, "/applicationIds/0"),
        ({"enabled": "maybe"}, "/enabled"),
        ({"signingSecret": "too short"}, "/signingSecret"),
    ],
)
def test_a_bad_definition_is_a_400_with_a_pointer_and_nothing_is_written(
    client: Client,
    application: Application,
    admin: dict[str, str],
    changes: dict[str, Any],
    pointer: str,
) -> None:
    body = body_for(application)
    body.update(changes)
    body = {key: value for key, value in body.items() if value is not None}
    webhook = make_webhook(application)

    created = send(client, "POST", "/v1/webhooks", admin, body)
    updated = send(client, "PUT", f"/v1/webhooks/{webhook.pk}", admin, body)

    for response in (created, updated):
        answer = response.json()
        assert response.status_code == 400, answer
        assert answer["StatusCode"] == 400
        assert pointer in [error["source"].get("pointer") for error in answer["errors"]], answer
    assert list(Webhook.objects.values_list("pk", "title")) == [(webhook.pk, "Hook")]


def test_a_body_that_is_not_json_is_a_400(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    response = client.post(
        "/v1/webhooks", data="{not json", content_type="application/json", headers=admin
    )

    assert response.status_code == 400
    assert not Webhook.objects.exists()


# ---------------------------------------------------------------------------------------------
# Access


def test_a_viewer_reads_but_cannot_write(
    client: Client, application: Application, viewer: dict[str, str]
) -> None:
    webhook = make_webhook(application)

    assert client.get(f"/v1/webhooks/{webhook.pk}", headers=viewer).status_code == 200
    assert client.get("/v1/webhooks", headers=viewer).json()["totalResultSize"] == 1
    created = send(client, "POST", "/v1/webhooks", viewer, body_for(application))
    assert_error(created, 400, "application_not_administered")
    updated = send(client, "PUT", f"/v1/webhooks/{webhook.pk}", viewer, body_for(application))
    assert_error(updated, 403, "role_too_low")
    assert_error(client.delete(f"/v1/webhooks/{webhook.pk}", headers=viewer), 403, "role_too_low")
    assert list(Webhook.objects.values_list("title", flat=True)) == ["Hook"]


def test_an_editor_cannot_write_webhooks_either(
    client: Client, application: Application, editor: dict[str, str]
) -> None:
    webhook = make_webhook(application)

    created = send(client, "POST", "/v1/webhooks", editor, body_for(application))
    deleted = client.delete(f"/v1/webhooks/{webhook.pk}", headers=editor)

    assert_error(created, 400, "application_not_administered")
    assert_error(deleted, 403, "role_too_low")
    assert Webhook.objects.count() == 1


def test_writes_need_the_admin_role_in_every_application_of_the_webhook(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    viewed = ApplicationFactory()
    user = ManagementToken.objects.get().user
    Membership.objects.create(user=user, application=viewed, role=Role.VIEWER)
    shared = make_webhook(application, viewed)
    own = make_webhook(application)

    # A webhook that also serves an application they only view: readable, not writable.
    assert client.get(f"/v1/webhooks/{shared.pk}", headers=admin).status_code == 200
    updated = send(client, "PUT", f"/v1/webhooks/{shared.pk}", admin, body_for(application))
    assert_error(updated, 403, "role_too_low")
    # Nor may they add such an application to their own webhook.
    body = body_for(application, applicationIds=[application.pk, viewed.pk])
    moved = send(client, "PUT", f"/v1/webhooks/{own.pk}", admin, body)
    assert_error(moved, 400, "application_not_administered")
    assert moved.json()["errors"][0]["source"] == {"pointer": "/applicationIds/1"}
    assert list(own.applications.all()) == [application]


def test_another_tenants_webhook_is_404(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    other = ApplicationFactory()
    theirs = make_webhook(other)

    for method in ("GET", "PUT", "DELETE"):
        body = body_for(application) if method == "PUT" else None
        response = send(client, method, f"/v1/webhooks/{theirs.pk}", admin, body)
        assert_error(response, 404, "webhook_not_found")
    assert client.get("/v1/webhooks", headers=admin).json()["data"] == []
    created = send(
        client, "POST", "/v1/webhooks", admin, body_for(application, applicationIds=[other.pk])
    )
    assert created.status_code == 400
    assert Webhook.objects.count() == 1


def test_a_management_key_acts_on_the_applications_it_lists(
    client: Client, application: Application
) -> None:
    ManagementKeyFactory(
        raw_key="k" * 64,
        allowed_endpoints=["createWebhook", "getWebhooks"],
        applications=[application],
    )
    headers = key_auth("k" * 64)

    created = send(client, "POST", "/v1/webhooks", headers, body_for(application))
    elsewhere = send(client, "POST", "/v1/webhooks", headers, body_for(ApplicationFactory()))
    refused = client.get(f"/v1/webhooks/{Webhook.objects.get().pk}", headers=headers)

    assert created.status_code == 201, created.content
    assert_error(elsewhere, 400, "application_not_administered")
    assert_error(refused, 403, "endpoint_not_allowed")


# ---------------------------------------------------------------------------------------------
# Message logs


def attempt_of(
    application: Application,
    webhook: Webhook | None,
    *,
    status: int | None,
    minutes_ago: int = 0,
    number: int = 1,
    delivery: WebhookDelivery | None = None,
) -> WebhookDeliveryAttempt:
    if delivery is None:
        delivery = WebhookDelivery.objects.create(
            application=application,
            webhook=webhook,
            webhook_title=webhook.title if webhook else "Gone",
            campaign=CampaignFactory(application=application),
            state=DeliveryState.DELIVERED,
            completed_at=timezone.now(),
        )
    started = timezone.now() - timedelta(minutes=minutes_ago)
    return WebhookDeliveryAttempt.objects.create(
        delivery=delivery,
        number=number,
        method="POST",
        url="https://hooks.example.com/",
        request_body='{"a": 1}',
        status_code=status,
        response_excerpt="ok" if status else "",
        error="" if status else "ConnectionRefusedError: refused",
        started_at=started,
        finished_at=started + timedelta(milliseconds=40),
        duration_ms=40,
    )


def test_message_logs_list_each_try_newest_first_in_talon_ones_shape(
    client: Client, application: Application, viewer: dict[str, str]
) -> None:
    webhook = make_webhook(application)
    failed = attempt_of(application, webhook, status=None, minutes_ago=5)
    delivered = attempt_of(
        application, webhook, status=200, minutes_ago=1, number=2, delivery=failed.delivery
    )
    attempt_of(ApplicationFactory(), make_webhook(ApplicationFactory()), status=200)

    response = client.get("/v1/message_logs?entityType=webhook", headers=viewer)

    assert response.status_code == 200, response.content
    body = response.json()
    assert "nextCursor" not in body
    assert [entry["id"] for entry in body["data"]] == [
        str(delivered.message_id),
        str(failed.message_id),
    ]
    newest, oldest = body["data"]
    assert newest["service"] == "WebhookService"
    assert newest["entityType"] == "webhook"
    assert newest["webhookId"] == webhook.pk
    assert newest["webhookName"] == "Hook"
    assert newest["applicationId"] == application.pk
    assert newest["campaignId"] == failed.delivery.campaign_id
    assert newest["attempt"] == 2
    assert base64.b64decode(newest["request"]["request"]) == b'{"a": 1}'
    assert newest["response"]["status"] == 200
    assert base64.b64decode(newest["response"]["response"]) == b"ok"
    assert "status" not in oldest["response"]
    assert oldest["error"] == "ConnectionRefusedError: refused"


def test_message_logs_are_filtered_and_paged_by_cursor(
    client: Client, application: Application, viewer: dict[str, str]
) -> None:
    webhook = make_webhook(application)
    other_webhook = make_webhook(application)
    ok = attempt_of(application, webhook, status=200, minutes_ago=60 * 5)
    failed = attempt_of(application, webhook, status=500, minutes_ago=10)
    other = attempt_of(application, other_webhook, status=200, minutes_ago=1)

    def ids(query: str) -> list[str]:
        response = client.get(f"/v1/message_logs?entityType=webhook&{query}", headers=viewer)
        assert response.status_code == 200, response.content
        return [entry["id"] for entry in response.json()["data"]]

    assert ids(f"webhookIDs={webhook.pk}") == [str(failed.message_id), str(ok.message_id)]
    assert ids("isSuccessful=false") == [str(failed.message_id)]
    assert ids("responseCode=200") == [str(other.message_id), str(ok.message_id)]
    assert ids("period=1h") == [str(other.message_id), str(failed.message_id)]
    assert ids(f"campaignId={ok.delivery.campaign_id}") == [str(ok.message_id)]
    assert ids(f"messageID={ok.message_id}") == [str(ok.message_id)]
    before = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"createdBefore={before}") == [str(ok.message_id)]
    assert ids(f"applicationId={application.pk + 1000}") == []
    # Pages follow nextCursor.
    first = client.get("/v1/message_logs?entityType=webhook&pageSize=2", headers=viewer).json()
    assert [entry["id"] for entry in first["data"]] == [
        str(other.message_id),
        str(failed.message_id),
    ]
    second = client.get(
        f"/v1/message_logs?entityType=webhook&pageSize=2&cursor={first['nextCursor']}",
        headers=viewer,
    ).json()
    assert [entry["id"] for entry in second["data"]] == [str(ok.message_id)]
    assert "nextCursor" not in second
    # Other entity types have no log here.
    assert len(ids("")) == 3
    app_logs = client.get("/v1/message_logs?entityType=application", headers=viewer).json()
    assert app_logs == {"data": []}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("", "entityType"),
        ("entityType=campaign", "entityType"),
        ("entityType=webhook&cursor=bm9wZQ==", "cursor"),
        ("entityType=webhook&cursor=%%%", "cursor"),
        ("entityType=webhook&isSuccessful=perhaps", "isSuccessful"),
        ("entityType=webhook&period=1y", "period"),
        ("entityType=webhook&createdAfter=yesterday", "createdAfter"),
        ("entityType=webhook&webhookIDs=" + ",".join(["1"] * 31), "webhookIDs"),
        ("entityType=webhook&pageSize=1001", "pageSize"),
        ("entityType=webhook&responseCode=42", "responseCode"),
    ],
)
def test_bad_message_log_queries_are_a_400_naming_the_parameter(
    client: Client, viewer: dict[str, str], query: str, parameter: str
) -> None:
    response = client.get(f"/v1/message_logs?{query}", headers=viewer)

    body = response.json()
    assert response.status_code == 400, body
    assert body["errors"][0]["source"] == {"parameter": parameter}


def test_a_superuser_sees_every_applications_logs(client: Client) -> None:
    application = ApplicationFactory()
    attempt_of(application, make_webhook(application), status=200)
    ManagementTokenFactory(raw_token="root-token", user=UserFactory(is_superuser=True))

    response = client.get("/v1/message_logs?entityType=webhook", headers=bearer("root-token"))

    assert len(response.json()["data"]) == 1


def test_the_answers_are_those_the_schema_documents(
    client: Client, application: Application, admin: dict[str, str]
) -> None:
    from tests.management.documented import assert_conforms, openapi

    document = openapi(client)
    created = send(client, "POST", "/v1/webhooks", admin, body_for(application))
    webhook_id = created.json()["id"]
    attempt_of(application, Webhook.objects.get(), status=None)
    attempt_of(application, Webhook.objects.get(), status=200)

    assert_conforms(document, "/v1/webhooks", "post", created.json(), status=201)
    one = client.get(f"/v1/webhooks/{webhook_id}", headers=admin).json()
    assert_conforms(document, "/v1/webhooks/{webhook_id}", "get", one)
    listed = client.get("/v1/webhooks", headers=admin).json()
    assert_conforms(document, "/v1/webhooks", "get", listed)
    logs = client.get("/v1/message_logs?entityType=webhook&pageSize=1", headers=admin).json()
    assert "nextCursor" in logs
    assert_conforms(document, "/v1/message_logs", "get", logs)
