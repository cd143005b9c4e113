"""``/v1/sessions``: logging in for a bearer token, logging out, and the login throttle.

Given a user with an email and a password, when they post them, then they get a token that
authenticates their next requests until it expires or they delete the session; wrong
credentials are a 401 in Talon.One's error shape; repeated failures lock the email out, and
hold even when the attempts arrive all at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from integration.keys import key_hash
from management import services
from management.models import LoginThrottle, ManagementToken
from tests.factories import UserFactory
from tests.management.factories import MembershipFactory, bearer

PASSWORD = "correct horse battery staple"
SESSIONS = "/v1/sessions"
APPLICATIONS = "/v1/applications"

pytestmark = pytest.mark.django_db


def login(client: Client, email: str, password: str = PASSWORD) -> Any:
    return client.post(
        SESSIONS, {"email": email, "password": password}, content_type="application/json"
    )


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The answer is ``status`` in Talon.One's error shape, its first error with ``code``."""
    body = response.json()
    assert response.status_code == status, body
    assert body["StatusCode"] == status
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["errors"][0]["code"] == code
    assert set(body["errors"][0]) == {"title", "details", "source", "code"}
    return body


# ---------------------------------------------------------------------------------------------
# Logging in and out


def test_a_user_logs_in_with_email_and_password_and_the_token_authenticates(
    client: Client,
) -> None:
    user = UserFactory(email="Ada@Example.com")

    response = login(client, "ada@example.com")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"userId", "token", "created"}
    assert body["userId"] == user.pk
    assert body["created"].endswith("Z")
    # Only the token's hash is stored.
    token = ManagementToken.objects.get(user=user)
    assert token.token_hash == key_hash(body["token"])
    assert body["token"] not in token.token_hash
    assert token.expires_at - token.created == timedelta(days=90)
    assert client.get(APPLICATIONS, headers=bearer(body["token"])).status_code == 200


def test_the_token_lifetime_is_a_setting(client: Client, settings: Settings) -> None:
    settings.MANAGEMENT_TOKEN_LIFETIME_DAYS = 7
    user = UserFactory()

    assert login(client, user.email).status_code == 201

    token = ManagementToken.objects.get(user=user)
    assert token.expires_at - token.created == timedelta(days=7)


def test_deleting_the_session_revokes_the_token_and_only_that_one(client: Client) -> None:
    user = UserFactory()
    first = login(client, user.email).json()["token"]
    second = login(client, user.email).json()["token"]

    response = client.delete(SESSIONS, headers=bearer(first))

    assert response.status_code == 204
    assert response.content == b""
    assert_error(client.get(APPLICATIONS, headers=bearer(first)), 401, "invalid_token")
    assert client.get(APPLICATIONS, headers=bearer(second)).status_code == 200
    assert_error(client.delete(SESSIONS, headers=bearer(first)), 401, "invalid_token")


def test_deleting_a_session_without_a_token_is_401(client: Client) -> None:
    response = client.delete(SESSIONS)

    body = assert_error(response, 401, "missing_credentials")
    assert body["errors"][0]["source"] == {"parameter": "Authorization"}
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_refused(client: Client) -> None:
    user = UserFactory()
    raw = login(client, user.email).json()["token"]
    ManagementToken.objects.filter(user=user).update(expires_at=timezone.now())

    assert_error(client.get(APPLICATIONS, headers=bearer(raw)), 401, "invalid_token")


def test_the_token_of_a_deactivated_user_is_refused(client: Client) -> None:
    user = UserFactory()
    raw = login(client, user.email).json()["token"]
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_error(client.get(APPLICATIONS, headers=bearer(raw)), 401, "invalid_token")


def test_a_stale_token_sent_with_a_login_does_not_refuse_it(client: Client) -> None:
    user = UserFactory()

    response = client.post(
        SESSIONS,
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
        headers=bearer("no-such-token"),
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("ada@example.com", ""),
    ],
)
def test_wrong_credentials_are_401_in_talon_ones_shape(
    client: Client, email: str, password: str
) -> None:
    UserFactory(email="ada@example.com")

    body = assert_error(login(client, email, password), 401, "invalid_credentials")

    assert body["message"] == "Invalid email or password."
    assert not ManagementToken.objects.exists()


def test_an_inactive_user_cannot_log_in(client: Client) -> None:
    user = UserFactory(is_active=False)

    assert_error(login(client, user.email), 401, "invalid_credentials")


def test_two_users_with_one_email_cannot_log_in_with_it(client: Client) -> None:
    UserFactory(email="shared@example.com")
    UserFactory(email="shared@example.com")

    assert_error(login(client, "shared@example.com"), 401, "invalid_credentials")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"password": PASSWORD}, "/email"),
        ({"email": "ada@example.com"}, "/password"),
        ({"email": "not an email", "password": PASSWORD}, "/email"),
        ({"email": "ada@example.com", "password": "x" * 5000}, "/password"),
    ],
)
def test_a_malformed_login_is_400_pointing_at_the_field(
    client: Client, body: dict[str, str], pointer: str
) -> None:
    response = client.post(SESSIONS, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": pointer}
    assert not LoginThrottle.objects.exists()


def test_a_login_that_is_not_json_is_refused(client: Client) -> None:
    response = client.post(SESSIONS, "email=a", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["StatusCode"] == 415


# ---------------------------------------------------------------------------------------------
# The login throttle


def test_five_failures_lock_the_email_out_even_for_the_right_password(client: Client) -> None:
    user = UserFactory(email="ada@example.com")
    for _ in range(5):
        assert_error(login(client, user.email, "wrong"), 401, "invalid_credentials")

    response = login(client, user.email)

    assert_error(response, 429, "too_many_failed_logins")
    assert 0 < int(response["Retry-After"]) <= 15 * 60 + 1
    assert not ManagementToken.objects.exists()


def test_the_lock_is_per_email_and_ends_after_the_lockout(client: Client) -> None:
    locked = UserFactory(email="ada@example.com")
    other = UserFactory(email="bob@example.com")
    for _ in range(5):
        login(client, locked.email, "wrong")

    assert login(client, other.email).status_code == 201

    LoginThrottle.objects.filter(email=locked.email).update(
        locked_until=timezone.now() - timedelta(seconds=1),
        window_started=timezone.now() - timedelta(minutes=16),
    )
    assert login(client, locked.email).status_code == 201


def test_a_success_forgets_the_failures_before_it(client: Client) -> None:
    user = UserFactory()
    for _ in range(4):
        login(client, user.email, "wrong")
    assert login(client, user.email).status_code == 201

    for _ in range(4):
        assert_error(login(client, user.email, "wrong"), 401, "invalid_credentials")
    assert login(client, user.email).status_code == 201


def test_failures_outside_the_window_are_forgotten(client: Client) -> None:
    user = UserFactory()
    for _ in range(4):
        login(client, user.email, "wrong")
    LoginThrottle.objects.filter(email=user.email).update(
        window_started=timezone.now() - timedelta(minutes=15)
    )

    for _ in range(4):
        assert_error(login(client, user.email, "wrong"), 401, "invalid_credentials")
    assert login(client, user.email).status_code == 201


def test_an_unknown_email_is_locked_out_like_a_known_one(client: Client) -> None:
    for _ in range(5):
        assert_error(login(client, "nobody@example.com", "wrong"), 401, "invalid_credentials")

    assert_error(login(client, "NOBODY@example.com", "wrong"), 429, "too_many_failed_logins")


T = TypeVar("T")


def all_at_once(work: Callable[[int], T], count: int) -> list[T]:
    """Run ``work(0)`` … ``work(count - 1)`` in ``count`` threads released together, each on
    its own database connection; the results, in any order. An exception in any thread fails
    the test."""
    go = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            go.wait()
            results.append(work(index))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="real concurrent transactions need PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_wrong_passwords_get_at_most_five_password_checks() -> None:
    user = UserFactory(email="ada@example.com")
    MembershipFactory(user=user)
    checks = 0
    counting = threading.Lock()
    real_authenticate = services.authenticate

    def counted_authenticate(**credentials: Any) -> Any:
        nonlocal checks
        with counting:
            checks += 1
        return real_authenticate(**credentials)

    with mock.patch.object(services, "authenticate", counted_authenticate):
        statuses = all_at_once(
            lambda index: login(Client(), user.email, f"wrong {index}").status_code, 20
        )
        # Then the right password, during the lockout, is refused without a check.
        right = login(Client(), user.email)

    assert checks == 5
    assert sorted(statuses) == [401] * 5 + [429] * 15
    assert_error(right, 429, "too_many_failed_logins")
    assert not ManagementToken.objects.exists()
    throttle = LoginThrottle.objects.get(email=user.email)
    assert throttle.failures == 5
    assert throttle.locked_until is not None
    assert throttle.locked_until > timezone.now()
