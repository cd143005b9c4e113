"""Authenticating Integration API requests: the API key, and the signature when there is one.

Given an application with an API key and signing secrets, when a shop calls an Integration API
endpoint (here a test endpoint on ``IntegrationView``, over HTTP, on PostgreSQL and Redis), then
a valid key lets it in; a signature, when sent, must be valid too (fresh, for this request,
never seen before); and every refusal is a 401 that says why, in Talon.One's error shape.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import path
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries, Settings
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application, IntegrationApiKey, SigningSecret
from campaigns.services import keys
from campaigns.services.keys import (
    LAST_USED_RESOLUTION,
    MAX_ACTIVE_SIGNING_SECRETS,
    integration_key_authenticate,
    integration_key_create,
    signing_secret_create,
)
from integration.authentication import IntegrationClient
from integration.signing import signature_header
from integration.views import IntegrationView
from tests.factories import ApplicationFactory, IntegrationApiKeyFactory, SigningSecretFactory


class PingView(IntegrationView):
    """Answers who is calling, and echoes the JSON body it was sent."""

    def get(self, request: Request, item: str = "") -> Response:
        return Response(self.whoami(request))

    def put(self, request: Request) -> Response:
        return Response({**self.whoami(request), "body": request.data})

    def whoami(self, request: Request) -> dict[str, Any]:
        assert isinstance(request.user, IntegrationClient)
        return {"application": self.application.pk, "signed": request.user.signed}


PING = "/v1/test/ping"
urlpatterns = [
    path(PING.lstrip("/"), PingView.as_view()),
    path(f"{PING.lstrip('/')}/<str:item>", PingView.as_view()),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

BODY = b'{"customerSession": {"profileId": "p1", "cartItems": []}}'
DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


@pytest.fixture(autouse=True)
def _own_replay_cache(settings: Settings) -> None:
    """A key prefix of this test's own in the shared cache (Redis), so that signatures other
    tests or runs have used are not seen as replays here, nor ours there."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def raw_key(application: Application) -> str:
    _, raw = integration_key_create(
        application=application, name="Checkout", expires_at=timezone.now() + timedelta(days=30)
    )
    return raw


@pytest.fixture
def secret(application: Application) -> str:
    return signing_secret_create(application=application).secret


def key_header(raw_key: str) -> dict[str, str]:
    return {"Authorization": f"ApiKey-v1 {raw_key}"}


def signed_headers(
    *,
    raw_key: str | None,
    secret: str,
    signer: int,
    method: str,
    path: str,
    body: bytes = b"",
    timestamp: int | None = None,
) -> dict[str, str]:
    headers = key_header(raw_key) if raw_key is not None else {}
    headers["Content-Signature"] = signature_header(
        secret=secret,
        signer=signer,
        method=method,
        path=path,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        body=body,
    )
    return headers


def put(client: Client, path: str, headers: dict[str, str], body: bytes = BODY) -> Any:
    return client.put(path, data=body, content_type="application/json", headers=headers)


def assert_refused(response: Any, code: str, parameter: str) -> None:
    """A 401 in Talon.One's error shape, with the scheme to authenticate with."""
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "ApiKey-v1"
    body = response.json()
    assert body["StatusCode"] == 401
    assert isinstance(body["message"], str)
    assert body["message"]
    [error] = body["errors"]
    assert error["code"] == code
    assert error["source"] == {"parameter": parameter}
    assert error["title"]
    assert error["details"]


# --- The API key ------------------------------------------------------------------------------


def test_a_valid_key_lets_the_application_in(
    client: Client, application: Application, raw_key: str
) -> None:
    response = client.get(PING, headers=key_header(raw_key))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"application": application.pk, "signed": False}


def test_the_scheme_is_case_insensitive(
    client: Client, application: Application, raw_key: str
) -> None:
    response = client.get(PING, headers={"Authorization": f"apikey-V1 {raw_key}"})

    assert response.status_code == 200


def test_a_request_without_a_key_is_refused(client: Client) -> None:
    assert_refused(client.get(PING), "missing_api_key", "Authorization")


def test_a_key_of_another_scheme_counts_as_no_key(client: Client, raw_key: str) -> None:
    response = client.get(PING, headers={"Authorization": f"Bearer {raw_key}"})

    assert_refused(response, "missing_api_key", "Authorization")


@pytest.mark.parametrize(
    "header",
    ["ApiKey-v1", "ApiKey-v1 ", "ApiKey-v1  {key}", "ApiKey-v1 {key} {key}", 'ApiKey-v1 "{key}"'],
)
def test_a_malformed_authorization_is_refused(client: Client, raw_key: str, header: str) -> None:
    response = client.get(PING, headers={"Authorization": header.format(key=raw_key)})

    assert_refused(response, "malformed_api_key", "Authorization")


def test_an_unknown_key_is_refused(client: Client, raw_key: str) -> None:
    response = client.get(PING, headers=key_header(raw_key[:-1] + "x"))

    assert_refused(response, "invalid_api_key", "Authorization")


def test_an_expired_key_is_refused(client: Client, application: Application) -> None:
    raw = secrets.token_hex(32)
    IntegrationApiKeyFactory(
        application=application, raw_key=raw, expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert_refused(client.get(PING, headers=key_header(raw)), "invalid_api_key", "Authorization")


def test_an_application_is_known_by_its_own_key_only(client: Client, raw_key: str) -> None:
    other = ApplicationFactory()
    other_raw = secrets.token_hex(32)
    IntegrationApiKeyFactory(application=other, raw_key=other_raw)

    response = client.get(PING, headers=key_header(other_raw))

    assert response.json()["application"] == other.pk


# --- Keys and secrets, as created -------------------------------------------------------------


def test_a_new_key_is_returned_once_and_only_its_hash_is_stored(application: Application) -> None:
    key, raw = integration_key_create(
        application=application, name=" Checkout ", expires_at=timezone.now() + timedelta(days=1)
    )

    stored = IntegrationApiKey.objects.get(pk=key.pk)
    assert re.fullmatch(r"[0-9a-f]{64}", raw)
    assert stored.name == "Checkout"
    assert stored.prefix == raw[:8]
    assert stored.key_hash == IntegrationApiKey.hash_key(raw) != raw
    assert raw not in repr(IntegrationApiKey.objects.filter(pk=key.pk).values().get())
    assert stored.last_used_at is None


@pytest.mark.parametrize(
    ("name", "expires_at", "field"),
    [
        ("  ", timezone.now() + timedelta(days=1), "name"),
        ("Checkout", timezone.now() - timedelta(seconds=1), "expires_at"),
        ("Checkout", datetime(2999, 1, 1), "expires_at"),  # naive
    ],
)
def test_a_key_needs_a_name_and_an_aware_future_expiry(
    application: Application, name: str, expires_at: datetime, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        integration_key_create(application=application, name=name, expires_at=expires_at)

    assert list(raised.value.message_dict) == [field]
    assert not IntegrationApiKey.objects.exists()


def test_at_most_two_signing_secrets_are_active(application: Application) -> None:
    SigningSecretFactory(application=application, expires_at=timezone.now() - timedelta(days=1))
    created = [signing_secret_create(application=application) for _ in range(2)]

    with pytest.raises(ValidationError):
        signing_secret_create(application=application)

    assert MAX_ACTIVE_SIGNING_SECRETS == 2
    assert all(len(secret.secret) == 64 for secret in created)
    assert created[0].secret != created[1].secret
    assert SigningSecret.objects.filter(application=application).count() == 3


# --- last_used_at -----------------------------------------------------------------------------


def test_last_used_at_is_written_at_most_once_a_minute(
    application: Application, raw_key: str, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    key = IntegrationApiKey.objects.get(application=application)
    first = timezone.now()

    # The key with its application's version; the application, which the process then keeps
    # while its version holds; last_used_at.
    with django_assert_num_queries(3):
        assert integration_key_authenticate(raw_key=raw_key, now=first) == application
    with django_assert_num_queries(1):  # the key only
        assert integration_key_authenticate(raw_key=raw_key, now=first + timedelta(seconds=59))
    key.refresh_from_db()
    assert key.last_used_at == first

    later = first + LAST_USED_RESOLUTION + timedelta(seconds=1)
    with django_assert_num_queries(2):
        assert integration_key_authenticate(raw_key=raw_key, now=later)
    key.refresh_from_db()
    assert key.last_used_at == later


def test_last_used_at_is_not_written_twice_by_concurrent_requests(
    application: Application, raw_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = IntegrationApiKey.objects.get(application=application)
    now = timezone.now()
    other_request_at = now - timedelta(seconds=5)
    read_key = keys.api_key_find

    def read_then_another_request_writes(**kwargs: Any) -> Any:
        # This request read the key before another one, a moment later, wrote last_used_at.
        found = read_key(**kwargs)
        IntegrationApiKey.objects.filter(pk=key.pk).update(last_used_at=other_request_at)
        return found

    monkeypatch.setattr(keys, "api_key_find", read_then_another_request_writes)
    assert integration_key_authenticate(raw_key=raw_key, now=now) == application

    key.refresh_from_db()
    assert key.last_used_at == other_request_at


def test_a_busy_shop_costs_one_query_per_request(
    client: Client, raw_key: str, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(3):  # the key, the application, last_used_at
        assert client.get(PING, headers=key_header(raw_key)).status_code == 200
    for _ in range(3):
        with django_assert_num_queries(1):
            assert client.get(PING, headers=key_header(raw_key)).status_code == 200


def test_an_unknown_key_writes_nothing(
    client: Client, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(1):
        client.get(PING, headers=key_header("0" * 64))


# --- Signed requests --------------------------------------------------------------------------


def test_a_valid_signature_lets_the_request_in(
    client: Client, application: Application, raw_key: str, secret: str
) -> None:
    target = f"{PING}?dry=true&x=%C3%A9"
    headers = signed_headers(
        raw_key=raw_key, secret=secret, signer=application.pk, method="PUT", path=target, body=BODY
    )

    response = put(client, target, headers)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "application": application.pk,
        "signed": True,
        "body": {"customerSession": {"profileId": "p1", "cartItems": []}},
    }


def test_a_signed_request_without_a_body(
    client: Client, application: Application, raw_key: str, secret: str
) -> None:
    headers = signed_headers(
        raw_key=raw_key, secret=secret, signer=application.pk, method="GET", path=PING
    )

    assert client.get(PING, headers=headers).json()["signed"] is True


def test_a_signature_is_accepted_once(
    client: Client, application: Application, raw_key: str, secret: str
) -> None:
    headers = signed_headers(
        raw_key=raw_key, secret=secret, signer=application.pk, method="PUT", path=PING, body=BODY
    )

    first = put(client, PING, headers)
    second = put(client, PING, headers)

    assert first.status_code == 200
    assert_refused(second, "replayed", "Content-Signature")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"body": BODY.replace(b"p1", b"p2")}, "bad_signature"),
        ({"path": "/v1/test/other"}, "bad_signature"),
        ({"path": f"{PING}?dry=true"}, "bad_signature"),
        ({"method": "POST"}, "bad_signature"),
        ({"secret": "not-the-application-secret"}, "bad_signature"),
        ({"timestamp": int(time.time()) - 301}, "stale_timestamp"),
        ({"timestamp": int(time.time()) + 3600}, "future_timestamp"),
    ],
    ids=[
        "tampered body",
        "other path",
        "other query",
        "other method",
        "other secret",
        "stale",
        "future",
    ],
)
def test_a_signature_that_does_not_fit_the_request_is_refused(
    client: Client,
    application: Application,
    raw_key: str,
    secret: str,
    change: dict[str, Any],
    code: str,
) -> None:
    signed_for = {"secret": secret, "method": "PUT", "path": PING, "body": BODY, **change}
    headers = signed_headers(raw_key=raw_key, signer=application.pk, **signed_for)

    assert_refused(put(client, PING, headers), code, "Content-Signature")


def test_talon_ones_legacy_signature_is_refused(client: Client, raw_key: str) -> None:
    headers = {**key_header(raw_key), "Content-Signature": f"signer=1; signature={'ab' * 16}"}

    assert_refused(put(client, PING, headers), "missing_timestamp", "Content-Signature")


def test_a_signature_for_another_application_is_refused(
    client: Client, application: Application, raw_key: str, secret: str
) -> None:
    other = ApplicationFactory()
    headers = signed_headers(
        raw_key=raw_key, secret=secret, signer=other.pk, method="PUT", path=PING, body=BODY
    )

    assert_refused(put(client, PING, headers), "wrong_signer", "Content-Signature")


def test_a_signature_does_not_replace_the_key(
    client: Client, application: Application, secret: str
) -> None:
    headers = signed_headers(
        raw_key=None, secret=secret, signer=application.pk, method="PUT", path=PING, body=BODY
    )

    assert_refused(put(client, PING, headers), "missing_api_key", "Authorization")


def test_a_bad_key_is_refused_before_the_signature_is_used(
    client: Client, application: Application, raw_key: str, secret: str
) -> None:
    headers = signed_headers(
        raw_key="0" * 64, secret=secret, signer=application.pk, method="PUT", path=PING, body=BODY
    )

    refused = put(client, PING, headers)
    # The signature was not spent on the refused request: with the right key it passes.
    accepted = put(client, PING, {**headers, **key_header(raw_key)})

    assert_refused(refused, "invalid_api_key", "Authorization")
    assert accepted.status_code == 200


def test_either_of_two_active_secrets_signs_during_a_rotation(
    client: Client, application: Application, raw_key: str, secret: str
) -> None:
    new_secret = signing_secret_create(application=application).secret
    timestamp = int(time.time())

    answers = [
        put(
            client,
            PING,
            signed_headers(
                raw_key=raw_key,
                secret=signing_with,
                signer=application.pk,
                method="PUT",
                path=PING,
                body=BODY,
                timestamp=timestamp,
            ),
        )
        for signing_with in (secret, new_secret)
    ]

    assert [answer.status_code for answer in answers] == [200, 200]


def test_a_retired_secret_signs_nothing(
    client: Client, application: Application, raw_key: str, secret: str
) -> None:
    SigningSecret.objects.filter(secret=secret).update(expires_at=timezone.now())
    signing_secret_create(application=application)
    headers = signed_headers(
        raw_key=raw_key, secret=secret, signer=application.pk, method="PUT", path=PING, body=BODY
    )

    assert_refused(put(client, PING, headers), "bad_signature", "Content-Signature")


def test_a_signed_request_costs_one_query_more(
    client: Client,
    application: Application,
    raw_key: str,
    secret: str,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    client.get(PING, headers=key_header(raw_key))  # last_used_at is now fresh
    headers = signed_headers(
        raw_key=raw_key, secret=secret, signer=application.pk, method="GET", path=PING
    )

    with django_assert_num_queries(2):  # the key with its application; the active secrets
        assert client.get(PING, headers=headers).status_code == 200


def test_an_empty_signature_header_is_refused(client: Client, raw_key: str) -> None:
    headers = {**key_header(raw_key), "Content-Signature": ""}

    assert_refused(put(client, PING, headers), "missing_header", "Content-Signature")


@pytest.mark.parametrize(
    ("sent", "signed", "status"),
    [
        ("/a%20b", "/a%20b", 200),
        ("/caf%C3%A9", "/caf%C3%A9", 200),
        ("/a~b", "/a~b", 200),
        ("/a%7Eb", "/a~b", 200),  # the server signs what it rebuilds, not what was sent
        ("/a%7Eb", "/a%7Eb", 401),  # an escape too many does not match
    ],
)
def test_the_path_is_signed_as_the_server_rebuilds_it(
    client: Client,
    application: Application,
    raw_key: str,
    secret: str,
    sent: str,
    signed: str,
    status: int,
) -> None:
    headers = signed_headers(
        raw_key=raw_key, secret=secret, signer=application.pk, method="GET", path=PING + signed
    )

    assert client.get(PING + sent, headers=headers).status_code == status


def test_the_documented_refusals_are_what_the_server_answers(
    client: Client, application: Application, raw_key: str, secret: str
) -> None:
    examples = [
        json.loads(block)
        for block in re.findall(r"```json\n(.*?)```", DOCUMENT.read_text(), re.S)
        if '"StatusCode": 401' in block
    ]
    stale = signed_headers(
        raw_key=raw_key,
        secret=secret,
        signer=application.pk,
        method="GET",
        path=PING,
        timestamp=int(time.time()) - 301,
    )
    answers = {
        "invalid_api_key": client.get(PING, headers=key_header("0" * 64)),
        "stale_timestamp": client.get(PING, headers=stale),
    }

    assert sorted(example["errors"][0]["code"] for example in examples) == sorted(answers)
    for example in examples:
        answer = answers[example["errors"][0]["code"]]
        assert answer.status_code == 401
        assert answer["WWW-Authenticate"] == "ApiKey-v1"
        assert answer.json() == example
