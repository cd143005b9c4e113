"""Who may call the Management API: bearer tokens and management keys.

Given a token or a key, when it is malformed, unknown, expired or revoked, then the answer is a
401 in Talon.One's shape; a key may call only the operations it allows, on the applications it
lists, and only so many times a minute.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from management.authentication import ManagementKeyRate, credential
from management.models import ManagementKey
from tests.factories import ApplicationFactory, UserFactory
from tests.management.factories import (
    ManagementKeyFactory,
    ManagementTokenFactory,
    MembershipFactory,
    bearer,
    key_auth,
)
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db

APPLICATIONS = "/v1/applications"


def get(client: Client, path: str, headers: dict[str, str]) -> Any:
    return client.get(path, headers=headers)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("ApiKey-v1 abc", None),
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Bearer", ""),
        ("Bearer  abc", ""),
        ("Bearer abc def", ""),
        ("Bearer " + "a" * 257, ""),
    ],
)
def test_credential_reads_one_token_after_the_scheme(
    header: str | None, expected: str | None
) -> None:
    assert credential(header, "Bearer") == expected


# ---------------------------------------------------------------------------------------------
# Bearer tokens


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer", "malformed_token"),
        ("Bearer two tokens", "malformed_token"),
        ("Bearer unknown-token", "invalid_token"),
        ("ManagementKey-v1", "malformed_management_key"),
        ("ManagementKey-v1 " + "0" * 64, "invalid_management_key"),
        ("Basic dXNlcjpwYXNz", "missing_credentials"),
    ],
)
def test_refused_credentials_are_401_in_talon_ones_shape(
    client: Client, header: str, code: str
) -> None:
    response = get(client, APPLICATIONS, {"Authorization": header})

    body = assert_error(response, 401, code)
    assert body["errors"][0]["source"] == {"parameter": "Authorization"}
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_refused(client: Client) -> None:
    token = ManagementTokenFactory(raw_token="revoked", revoked_at=timezone.now())

    assert_error(get(client, APPLICATIONS, bearer("revoked")), 401, "invalid_token")
    assert token.user.is_active


def test_a_live_token_authenticates_its_user(client: Client) -> None:
    token = ManagementTokenFactory(raw_token="live")
    MembershipFactory(user=token.user, application=ApplicationFactory(name="Shop"))

    response = get(client, APPLICATIONS, bearer("live"))

    assert response.status_code == 200
    assert [application["name"] for application in response.json()["data"]] == ["Shop"]


# ---------------------------------------------------------------------------------------------
# Management keys


def test_a_key_lists_the_applications_it_may_use(client: Client) -> None:
    shop, _ = ApplicationFactory(name="Shop"), ApplicationFactory(name="Other")
    ManagementKeyFactory(
        raw_key="k" * 64, allowed_endpoints=["getApplications"], applications=[shop]
    )

    response = get(client, APPLICATIONS, key_auth("k" * 64))

    assert response.status_code == 200
    assert [application["id"] for application in response.json()["data"]] == [shop.pk]


def test_a_key_may_call_only_the_endpoints_it_allows(client: Client) -> None:
    shop = ApplicationFactory()
    ManagementKeyFactory(
        raw_key="k" * 64, allowed_endpoints=["getApplication"], applications=[shop]
    )

    assert get(client, f"{APPLICATIONS}/{shop.pk}", key_auth("k" * 64)).status_code == 200
    assert_error(get(client, APPLICATIONS, key_auth("k" * 64)), 403, "endpoint_not_allowed")


def test_a_key_without_endpoints_may_call_none(client: Client) -> None:
    shop = ApplicationFactory()
    ManagementKeyFactory(raw_key="k" * 64, allowed_endpoints=[], applications=[shop])

    response = get(client, f"{APPLICATIONS}/{shop.pk}", key_auth("k" * 64))

    assert_error(response, 403, "endpoint_not_allowed")


def test_a_key_sees_no_application_it_does_not_list(client: Client) -> None:
    shop, other = ApplicationFactory(), ApplicationFactory()
    ManagementKeyFactory(
        raw_key="k" * 64, allowed_endpoints=["getApplication"], applications=[shop]
    )

    response = get(client, f"{APPLICATIONS}/{other.pk}", key_auth("k" * 64))

    assert_error(response, 404, "application_not_found")


@pytest.mark.parametrize(
    "change",
    [
        {"expires_at": timezone.now() - timedelta(seconds=1)},
        {"revoked_at": timezone.now()},
    ],
)
def test_an_expired_or_revoked_key_is_refused(client: Client, change: dict[str, Any]) -> None:
    shop = ApplicationFactory()
    key = ManagementKeyFactory(
        raw_key="k" * 64, allowed_endpoints=["getApplications"], applications=[shop]
    )
    ManagementKey.objects.filter(pk=key.pk).update(**change)

    assert_error(get(client, APPLICATIONS, key_auth("k" * 64)), 401, "invalid_management_key")


def test_a_key_cannot_destroy_a_session(client: Client) -> None:
    ManagementKeyFactory(raw_key="k" * 64, allowed_endpoints=["destroySession"])

    response = client.delete("/v1/sessions", headers=key_auth("k" * 64))

    assert_error(response, 403, "not_a_session")


def test_a_key_is_limited_to_its_rate_per_minute(
    client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MANAGEMENT_KEY_RATE_PER_MINUTE = 3
    # A minute of its own, whose counts no other test (or test process) shares.
    minute_start = 60.0 * random.randrange(10**9, 2 * 10**9)
    monkeypatch.setattr(ManagementKeyRate, "clock", lambda: minute_start + 20)
    shop = ApplicationFactory()
    ManagementKeyFactory(
        raw_key="k" * 64, allowed_endpoints=["getApplications"], applications=[shop]
    )
    ManagementKeyFactory(
        raw_key="o" * 64, allowed_endpoints=["getApplications"], applications=[shop]
    )
    token = ManagementTokenFactory(raw_token="user")
    MembershipFactory(user=token.user, application=shop)

    statuses = [get(client, APPLICATIONS, key_auth("k" * 64)).status_code for _ in range(3)]
    limited = get(client, APPLICATIONS, key_auth("k" * 64))

    assert statuses == [200, 200, 200]
    assert_error(limited, 429, "rate_limited")
    assert limited["Retry-After"] == "40"
    # Another key, and a user's token, are not counted with it.
    assert get(client, APPLICATIONS, key_auth("o" * 64)).status_code == 200
    for _ in range(4):
        assert get(client, APPLICATIONS, bearer("user")).status_code == 200
    # The next minute starts a new count.
    monkeypatch.setattr(ManagementKeyRate, "clock", lambda: minute_start + 60)
    assert get(client, APPLICATIONS, key_auth("k" * 64)).status_code == 200


def test_a_user_without_memberships_sees_no_applications(client: Client) -> None:
    ApplicationFactory()
    ManagementTokenFactory(raw_token="lonely", user=UserFactory())

    response = get(client, APPLICATIONS, bearer("lonely"))

    assert response.json() == {"hasMore": False, "totalResultSize": 0, "data": []}
