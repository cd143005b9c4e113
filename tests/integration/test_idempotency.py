"""``Idempotency-Key`` on ``POST /v2/events`` and ``POST /v1/events`` through HTTP on
PostgreSQL: a retry is answered the stored answer and tracks nothing again, a reused key is a
409, a bad key a 400, a dry run ignores the key, two retries at once track one event; and
forgetting a customer deletes the answers stored for them (returns' answers included)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns.models import Application, CustomerProfile, EffectRecord, Event, IdempotentRequest
from campaigns.services.customers import customer_data_delete
from campaigns.services.keys import integration_key_create
from integration.render import dumps
from tests.concurrency import race
from tests.factories import ApplicationFactory, AttributeDefinitionFactory
from tests.integration.test_customers import BIG_SPENDER
from tests.integration.test_sessions import TEN_PERCENT, body_of, campaign, put

pytestmark = pytest.mark.django_db

KEY = "7d0c9a2e-purchase-1"
PURCHASE = {"profileId": "customer-9", "type": "purchase", "attributes": {"Amount": 150}}


@pytest.fixture
def application() -> Application:
    app = ApplicationFactory(currency="EUR")
    AttributeDefinitionFactory(application=app, entity="Event", name="Amount", type="number")
    campaign(app, [BIG_SPENDER])
    return app


def track(
    client: Client,
    auth: dict[str, str],
    body: dict[str, Any] = PURCHASE,
    *,
    key: str | None = KEY,
    version: str = "v2",
    query: str = "",
) -> Any:
    headers = {**auth, **({"Idempotency-Key": key} if key is not None else {})}
    return client.post(
        f"/{version}/events{query}",
        data=dumps(body),
        content_type="application/json",
        headers=headers,
    )


def tracked() -> tuple[int, int]:
    """How many events and effect records there are."""
    return Event.objects.count(), EffectRecord.objects.count()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_retried_event_gets_the_first_answer_and_is_tracked_once(
    client: Client, auth: dict[str, str], version: str
) -> None:
    first = track(client, auth, version=version)
    second = track(client, auth, version=version)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    answer = body_of(second)
    if version == "v1":  # the v1 IntegrationState: no top-level effects
        assert "effects" not in answer
        [effect] = answer["event"]["effects"]
        assert answer["profile"]["integrationId"] == "customer-9"
    else:
        [effect] = answer["effects"]
        assert answer["customerProfile"]["integrationId"] == "customer-9"
    assert effect["effectType"] == "showNotification"
    assert answer["event"]["id"] == Event.objects.get().pk
    assert tracked() == (1, 1)
    # Without the key, the same body is another event.
    body_of(track(client, auth, key=None, version=version))
    assert tracked() == (2, 2)


def test_a_replay_is_the_stored_answer_whatever_happened_since(
    client: Client, auth: dict[str, str]
) -> None:
    first = body_of(track(client, auth))
    # The customer changes after the first answer: the replay still tells what was answered then.
    CustomerProfile.objects.update(attributes={"Tier": "gold"})

    again = track(client, auth)

    assert again["Idempotent-Replayed"] == "true"
    assert body_of(again) == first
    assert again.content.decode() == IdempotentRequest.objects.get().response_body


def test_the_same_key_with_another_body_is_a_409_and_tracks_nothing(
    client: Client, auth: dict[str, str]
) -> None:
    stored = track(client, auth).content

    response = track(client, auth, {**PURCHASE, "attributes": {"Amount": 200}})

    assert response.status_code == 409
    assert response.json() == {
        "message": "The Idempotency-Key was already used for another request.",
        "StatusCode": 409,
        "errors": [
            {
                "title": "Idempotency key already used",
                "details": response.json()["errors"][0]["details"],
                "source": {"parameter": "Idempotency-Key"},
                "code": "idempotency_key_reused",
            }
        ],
    }
    assert tracked() == (1, 1)
    assert track(client, auth).content == stored


@pytest.mark.parametrize(
    ("other_version", "other_query"), [("v1", ""), ("v2", "?responseContent=x")]
)
def test_the_same_key_on_another_path_or_query_is_a_409(
    client: Client, auth: dict[str, str], other_version: str, other_query: str
) -> None:
    body_of(track(client, auth))

    response = track(client, auth, version=other_version, query=other_query)

    assert response.status_code == 409
    assert tracked() == (1, 1)


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_overlong_key_is_a_400_and_tracks_nothing(
    client: Client, auth: dict[str, str], key: str
) -> None:
    response = track(client, auth, key=key)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["source"]) == (
        "invalid_idempotency_key",
        {"parameter": "Idempotency-Key"},
    )
    assert tracked() == (0, 0)
    assert not CustomerProfile.objects.exists()


def test_a_dry_event_ignores_the_key(client: Client, auth: dict[str, str]) -> None:
    dry = [track(client, auth, query="?dry=true") for _ in range(2)]

    assert all(response.status_code == 200 for response in dry)
    assert not any(response.has_header("Idempotent-Replayed") for response in dry)
    assert tracked() == (0, 0)
    assert not IdempotentRequest.objects.exists()
    # The key is still free: the real event is tracked, and its retry replayed.
    assert not track(client, auth).has_header("Idempotent-Replayed")
    assert track(client, auth)["Idempotent-Replayed"] == "true"
    assert tracked() == (1, 1)


def test_a_refused_event_does_not_take_its_key(client: Client, auth: dict[str, str]) -> None:
    refused = track(client, auth, {**PURCHASE, "attributes": {"Amount": "many"}})
    assert refused.status_code == 400

    first = track(client, auth)

    assert (first.status_code, first.has_header("Idempotent-Replayed")) == (200, False)
    assert track(client, auth)["Idempotent-Replayed"] == "true"
    assert tracked() == (1, 1)


@race
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("known", [False, True], ids=["new customer", "known customer"])
def test_two_retries_with_the_same_key_at_once_track_one_event(
    auth: dict[str, str], known: bool
) -> None:
    if known:
        body_of(track(Client(), auth, key=None))
    before = tracked()
    start = threading.Barrier(2)
    answers: list[tuple[int, bytes, bool]] = []

    def retry() -> None:
        try:
            client = Client()
            start.wait()
            response = track(client, auth)
            answers.append(
                (response.status_code, response.content, response.has_header("Idempotent-Replayed"))
            )
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _, _ in answers] == [200, 200]
    assert answers[0][1] == answers[1][1]
    assert sorted(replayed for _, _, replayed in answers) == [False, True]
    assert tracked() == (before[0] + 1, before[1] + 1)
    assert CustomerProfile.objects.count() == 1


# --------------------------------------------------------------------------------------------
# Forgetting a customer forgets the answers stored for them


def closed_session(client: Client, auth: dict[str, str], session: str, profile: str | None) -> None:
    customer = {"profileId": profile} if profile is not None else {}
    items = [{"sku": "SHIRT", "quantity": 2, "price": Decimal("50.00")}]
    body = {"customerSession": {**customer, "state": "closed", "cartItems": items}}
    body_of(put(client, auth, session, body))


def give_back(client: Client, auth: dict[str, str], session: str, key: str) -> Any:
    body = {
        "return": {"returnedCartItems": [{"position": 0, "quantity": 1}]},
        "responseContent": ["customerSession", "customerProfile"],
    }
    return client.post(
        f"/v2/customer_sessions/{session}/returns",
        data=dumps(body),
        content_type="application/json",
        headers={**auth, "Idempotency-Key": key},
    )


def answers_of_two_customers_and_an_anonymous_session(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    """Stored answers: an event and a return of ``leaving``, an event of ``staying``, a return
    of an anonymous session, and an event of ``leaving`` in another application."""
    campaign(application, [TEN_PERCENT])
    body_of(track(client, auth, {**PURCHASE, "profileId": "leaving"}, key="leaving-event"))
    closed_session(client, auth, "s-leaving", "leaving")
    body_of(give_back(client, auth, "s-leaving", "leaving-return"))
    body_of(track(client, auth, {**PURCHASE, "profileId": "staying"}, key="staying-event"))
    closed_session(client, auth, "s-anonymous", None)
    body_of(give_back(client, auth, "s-anonymous", "anonymous-return"))
    elsewhere = ApplicationFactory()
    _, raw = integration_key_create(
        application=elsewhere, name="Other", expires_at=timezone.now() + timedelta(days=1)
    )
    other_auth = {"Authorization": f"ApiKey-v1 {raw}"}
    body = {"profileId": "leaving", "type": "visit", "attributes": {}}
    body_of(track(client, other_auth, body, key="leaving-elsewhere"))


def test_forgetting_a_customer_deletes_their_stored_answers_and_no_one_elses(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    answers_of_two_customers_and_an_anonymous_session(client, auth, application)
    assert '"leaving"' in IdempotentRequest.objects.get(key="leaving-return").response_body

    assert client.delete("/v1/customer_data/leaving", headers=auth).status_code == 204

    assert set(IdempotentRequest.objects.values_list("key", flat=True)) == {
        "staying-event",
        "anonymous-return",
        "leaving-elsewhere",
    }
    assert not IdempotentRequest.objects.filter(response_body__contains='"leaving"').exclude(
        key="leaving-elsewhere"
    )
    # The retry of a forgotten customer's event is no replay of their data: it is tracked anew.
    again = track(client, auth, {**PURCHASE, "profileId": "leaving"}, key="leaving-event")
    assert again.status_code == 200
    assert not again.has_header("Idempotent-Replayed")
    # The others' keys are still replayed.
    replayed = track(client, auth, {**PURCHASE, "profileId": "staying"}, key="staying-event")
    assert replayed["Idempotent-Replayed"] == "true"
    assert give_back(client, auth, "s-anonymous", "anonymous-return")["Idempotent-Replayed"] == (
        "true"
    )


def test_the_service_counts_the_stored_answers_it_forgot(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    answers_of_two_customers_and_an_anonymous_session(client, auth, application)

    deletion = customer_data_delete(application=application, integration_id="leaving")

    assert deletion.stored_answers == 2
    kept = json.loads(IdempotentRequest.objects.get(key="staying-event").response_body)
    assert kept["customerProfile"]["integrationId"] == "staying"
