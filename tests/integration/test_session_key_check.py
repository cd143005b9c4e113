"""``PUT /v2/customer_sessions/{id}`` with an API key alone: the key is checked by the
statement that locks the session (``integration.sessions.CustomerSessionView``), and answers as
DRF's authentication would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns.models import Application, CustomerSession, IntegrationApiKey
from campaigns.rows import KEY_SESSION_STATEMENT
from campaigns.services.keys import LAST_USED_RESOLUTION, integration_key_create
from integration.render import dumps
from tests.concurrency import postgresql_only
from tests.factories import ApplicationFactory

pytestmark = pytest.mark.django_db

BODY = {"customerSession": {"profileId": "p1", "cartItems": [{"sku": "A", "quantity": 1}]}}


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def raw_key(application: Application) -> str:
    _, raw = integration_key_create(
        application=application, name="Shop", expires_at=timezone.now() + timedelta(days=1)
    )
    return raw


def put(client: Client, authorization: str, session: str = "s-1", **params: str) -> Any:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return client.put(
        f"/v2/customer_sessions/{session}" + (f"?{query}" if query else ""),
        data=dumps(BODY),
        content_type="application/json",
        headers={"Authorization": authorization},
    )


def assert_refused(response: Any, code: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "ApiKey-v1"
    [error] = response.json()["errors"]
    assert error["code"] == code
    assert error["source"] == {"parameter": "Authorization"}


def test_a_valid_key_updates_the_session_and_names_the_application(
    client: Client, application: Application, raw_key: str
) -> None:
    response = put(client, f"ApiKey-v1 {raw_key}")
    assert response.status_code == 200
    assert response.json()["effects"] == []
    assert CustomerSession.objects.get(integration_id="s-1").application == application
    # The request is authenticated as the key's application, for the access log too.
    assert response.wsgi_request.talon_application_id == application.pk  # type: ignore[attr-defined]


def test_an_expired_key_is_refused_and_nothing_is_written(
    client: Client, application: Application, raw_key: str
) -> None:
    assert put(client, f"ApiKey-v1 {raw_key}").status_code == 200
    IntegrationApiKey.objects.filter(application=application).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_refused(put(client, f"ApiKey-v1 {raw_key}", "s-2"), "invalid_api_key")
    assert_refused(put(client, f"ApiKey-v1 {raw_key}", "s-1"), "invalid_api_key")
    assert list(CustomerSession.objects.values_list("integration_id", "update_count")) == [
        ("s-1", 0)
    ]


def test_a_deleted_key_is_refused_at_once(
    client: Client, application: Application, raw_key: str
) -> None:
    assert put(client, f"ApiKey-v1 {raw_key}").status_code == 200
    IntegrationApiKey.objects.filter(application=application).delete()
    assert_refused(put(client, f"ApiKey-v1 {raw_key}"), "invalid_api_key")


def test_an_unknown_or_malformed_key_is_refused_before_the_body_is_read(client: Client) -> None:
    assert_refused(put(client, "ApiKey-v1 " + "0" * 64), "invalid_api_key")
    assert_refused(put(client, "ApiKey-v1 two keys"), "malformed_api_key")
    assert not CustomerSession.objects.exists()


def test_another_applications_key_sees_its_own_session_only(
    client: Client, application: Application, raw_key: str
) -> None:
    _, other_key = integration_key_create(
        application=ApplicationFactory(),
        name="Other",
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert put(client, f"ApiKey-v1 {raw_key}").json()["effects"] == []
    assert put(client, f"ApiKey-v1 {other_key}").status_code == 200
    assert CustomerSession.objects.filter(integration_id="s-1").count() == 2
    mine = CustomerSession.objects.get(application=application)
    assert mine.update_count == 0


def test_the_key_is_marked_used_after_the_update_even_a_dry_one(
    client: Client, application: Application, raw_key: str
) -> None:
    key = IntegrationApiKey.objects.get(application=application)
    assert put(client, f"ApiKey-v1 {raw_key}", dry="true").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert not CustomerSession.objects.exists()  # the dry run wrote nothing else

    stale = timezone.now() - LAST_USED_RESOLUTION - timedelta(seconds=1)
    IntegrationApiKey.objects.filter(pk=key.pk).update(last_used_at=stale)
    assert put(client, f"ApiKey-v1 {raw_key}").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert key.last_used_at > stale


@postgresql_only
def test_the_statement_is_prepared_once_per_connection(client: Client, raw_key: str) -> None:
    from django.test.utils import CaptureQueriesContext

    connection.ensure_connection()
    with CaptureQueriesContext(connection) as captured:
        put(client, f"ApiKey-v1 {raw_key}", "s-1")
        put(client, f"ApiKey-v1 {raw_key}", "s-2")
    statements = [query["sql"] for query in captured]
    executes = [sql for sql in statements if sql.startswith(f"EXECUTE {KEY_SESSION_STATEMENT}")]
    assert len(executes) == 2
    assert sum(sql.startswith(f"PREPARE {KEY_SESSION_STATEMENT}") for sql in statements) <= 1
