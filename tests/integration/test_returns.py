"""``POST /v2/customer_sessions/{id}/returns`` and ``PUT …/reopen`` through HTTP on PostgreSQL:
partial returns with their rollbacks, refused returns, idempotency keys, reopening, cancelling
what a return left, and two returns racing for the last unit."""

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

from campaigns.compiled import compiled_campaigns_forget
from campaigns.models import (
    Application,
    CartItem,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
    Event,
    IdempotentRequest,
)
from integration.render import dumps
from tests.concurrency import race
from tests.factories import ApplicationFactory
from tests.integration.test_sessions import TEN_PERCENT, body_of, campaign, put

pytestmark = pytest.mark.django_db

SHIRTS_OFF = {
    "title": "10 off the shirts",
    "condition": ["and"],
    "effects": [["setDiscountPerItem", "shirts", 10, 1]],
}


@pytest.fixture(autouse=True)
def _fresh_compiled_rules() -> None:
    compiled_campaigns_forget()


@pytest.fixture
def application() -> Application:
    return ApplicationFactory(currency="EUR")


def order(*lines: tuple[str, int, str], state: str = "closed") -> dict[str, Any]:
    """A session body with ``(sku, quantity, price)`` lines."""
    items = [{"sku": sku, "quantity": qty, "price": Decimal(price)} for sku, qty, price in lines]
    return {"customerSession": {"profileId": "customer-1", "state": state, "cartItems": items}}


def give_back(
    client: Client,
    auth: dict[str, str],
    session: str,
    *returned: dict[str, Any],
    headers: dict[str, str] | None = None,
    content: tuple[str, ...] = ("customerSession", "customerProfile", "previousReturns"),
    **params: str,
) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"/v2/customer_sessions/{session}/returns" + (f"?{query}" if query else "")
    body = {"return": {"returnedCartItems": list(returned)}, "responseContent": list(content)}
    return client.post(
        url,
        data=dumps(body),
        content_type="application/json",
        headers={**auth, **(headers or {})},
    )


def reopen(client: Client, auth: dict[str, str], session: str) -> Any:
    return client.put(f"/v2/customer_sessions/{session}/reopen", headers=auth)


def rollbacks(body: Any) -> list[tuple[str, Decimal, int | None]]:
    return [
        (e["effectType"], e["props"]["value"], e["props"].get("cartItemPosition"))
        for e in body["effects"]
    ]


def live_discounts() -> list[Decimal]:
    records = EffectRecord.objects.filter(rolled_back_at__isnull=True).order_by("pk")
    return [Decimal(record.props["value"]) for record in records]


def profile() -> CustomerProfile:
    return CustomerProfile.objects.get(integration_id="customer-1")


def closed_with_ten_percent(client: Client, auth: dict[str, str], application: Application) -> Any:
    """Three shirts at 50, closed with 10% off (15)."""
    campaign(application, [TEN_PERCENT])
    return body_of(put(client, auth, "s-1", order(("SHIRT", 3, "50.00"))))


def test_returning_part_of_a_cart_rolls_back_the_share_of_the_discount_it_took(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)

    body = body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}))

    assert rollbacks(body) == [("rollbackDiscount", Decimal("5"), None)]
    session = body["customerSession"]
    assert (session["state"], session["total"], session["cartItemTotal"]) == (
        "partially_returned",
        Decimal("100"),
        Decimal("100"),
    )
    [item] = session["cartItems"]
    assert (item["quantity"], item["returnedQuantity"], item["remainingQuantity"]) == (3, 1, 2)
    assert body["return"]["returnedCartItems"] == [{"position": 0, "quantity": 1, "sku": "SHIRT"}]
    assert body["return"]["sessionIntegrationId"] == "s-1"
    assert body["previousReturns"] == []
    # The 15 given at closing is rolled back and replaced by the 10 the customer keeps.
    assert live_discounts() == [Decimal("10")]
    assert EffectRecord.objects.filter(rolled_back_at__isnull=False).count() == 1
    assert body["customerProfile"]["totalSales"] == Decimal("100")
    assert (profile().closed_sessions, profile().total_sales) == (1, Decimal("100"))

    again = body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}))
    assert rollbacks(again) == [("rollbackDiscount", Decimal("5"), None)]
    assert live_discounts() == [Decimal("5")]
    assert [r["id"] for r in again["previousReturns"]] == [body["return"]["id"]]


def test_with_run_rule_engine_the_remaining_cart_is_evaluated_again(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)

    body = body_of(
        give_back(client, auth, "s-1", {"position": 0, "quantity": 1}, runRuleEngine="true")
    )

    # 100 is not a big cart any more: the whole 15 comes back.
    assert rollbacks(body) == [("rollbackDiscount", Decimal("15"), None)]
    assert live_discounts() == []


def test_a_per_item_discount_shrinks_with_its_item_and_names_it(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(application, [SHIRTS_OFF])
    body_of(put(client, auth, "s-1", order(("SHOES", 1, "60.00"), ("SHIRT", 2, "20.00"))))

    body = body_of(give_back(client, auth, "s-1", {"position": 1, "quantity": 1, "sku": "SHIRT"}))

    assert rollbacks(body) == [("rollbackDiscount", Decimal("5"), 1)]
    assert body["customerSession"]["total"] == Decimal("80")
    assert live_discounts() == [Decimal("5")]
    # Returning the shoes takes nothing more of the shirts' discount.
    assert rollbacks(body_of(give_back(client, auth, "s-1", {"position": 0}))) == []


def test_a_discount_on_one_unit_goes_with_the_last_units_returned(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(
        application,
        [
            {
                "title": "a unit each",
                "condition": ["and"],
                "effects": [
                    ["setDiscountPerItem", "first shirt", 3, 1, 0],
                    ["setDiscountPerItem", "second shirt", 4, 1, 1],
                ],
            }
        ],
    )
    body_of(put(client, auth, "s-1", order(("SHOES", 1, "60.00"), ("SHIRT", 2, "20.00"))))

    body = body_of(give_back(client, auth, "s-1", {"position": 1, "quantity": 1}))

    assert rollbacks(body) == [("rollbackDiscount", Decimal("4"), 1)]
    assert body["effects"][0]["props"]["cartItemSubPosition"] == 1
    assert live_discounts() == [Decimal("3")]


def test_run_rule_engine_keeps_a_discount_the_rules_still_give(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(application, [SHIRTS_OFF])
    body_of(put(client, auth, "s-1", order(("SHOES", 1, "60.00"), ("SHIRT", 2, "20.00"))))

    body = body_of(
        give_back(client, auth, "s-1", {"position": 1, "quantity": 1}, runRuleEngine="true")
    )

    # The rule still takes 10 off the shirt that is left: nothing comes back.
    assert body["effects"] == []
    assert live_discounts() == [Decimal("10")]
    # Once the shirts are all back, it gives nothing, and all of it comes back.
    last = give_back(client, auth, "s-1", {"position": 1}, runRuleEngine="true")
    assert rollbacks(body_of(last)) == [("rollbackDiscount", Decimal("10"), 1)]


def test_returning_everything_rolls_back_all_that_closing_confirmed(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)

    body = body_of(give_back(client, auth, "s-1", {"position": 0}))

    assert rollbacks(body) == [("rollbackDiscount", Decimal("15"), None)]
    assert body["customerSession"]["state"] == "partially_returned"
    assert body["customerSession"]["total"] == Decimal("0")
    assert live_discounts() == []
    assert profile().total_sales == Decimal("0")
    # Cancelling it afterwards gives back nothing more, and takes it off the closed sessions.
    cancelled = body_of(put(client, auth, "s-1", {"customerSession": {"state": "cancelled"}}))
    assert cancelled["effects"] == []
    assert (profile().closed_sessions, profile().total_sales) == (0, Decimal("0"))


def test_cancelling_a_partially_returned_session_rolls_back_only_what_is_left(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)
    body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}))

    cancelled = body_of(put(client, auth, "s-1", {"customerSession": {"state": "cancelled"}}))

    assert rollbacks(cancelled) == [("rollbackDiscount", Decimal("10"), None)]
    assert live_discounts() == []
    assert CustomerSession.objects.get().state == "cancelled"
    assert (profile().closed_sessions, profile().total_sales) == (0, Decimal("0"))
    assert give_back(client, auth, "s-1", {"position": 0}).status_code == 400


def test_a_repeated_update_of_a_partially_returned_session_shows_what_it_keeps(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)
    body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}))

    body = body_of(put(client, auth, "s-1", {"customerSession": {}}))

    assert [(e["effectType"], e["props"]["value"]) for e in body["effects"]] == [
        ("setDiscount", Decimal("10"))
    ]
    assert put(client, auth, "s-1", {"customerSession": {"state": "closed"}}).status_code == 400


def _nothing_changed() -> None:
    item = CartItem.objects.get()
    assert (item.returned_quantity, item.remaining_quantity) == (0, 3)
    assert CustomerSession.objects.get().state == "closed"
    assert live_discounts() == [Decimal("15")]
    assert not Event.objects.filter(type="talon_session_partially_returned").exists()
    assert profile().total_sales == Decimal("150")


def test_returning_more_than_is_left_is_a_400_that_points_at_the_quantity(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)

    response = give_back(client, auth, "s-1", {"position": 0, "quantity": 4})

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["source"] == {"pointer": "/return/returnedCartItems/0/quantity"}
    assert "at most 3" in error["details"]
    _nothing_changed()


def test_entries_for_the_same_item_add_up(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)

    response = give_back(
        client, auth, "s-1", {"position": 0, "quantity": 2}, {"position": 0, "quantity": 2}
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["source"] == {"pointer": "/return/returnedCartItems/1/quantity"}
    _nothing_changed()


@pytest.mark.parametrize(
    ("entry", "pointer"),
    [
        ({"position": 5}, "/return/returnedCartItems/0/position"),
        ({"position": 0, "sku": "SHOES"}, "/return/returnedCartItems/0/sku"),
        ({"sku": "SOCKS"}, "/return/returnedCartItems/0/sku"),
        ({"position": 0, "quantity": 0}, "/return/returnedCartItems/0/quantity"),
        ({"quantity": 1}, "/return/returnedCartItems/0/position"),
    ],
)
def test_an_item_the_cart_does_not_have_is_a_400_and_changes_nothing(
    client: Client,
    auth: dict[str, str],
    application: Application,
    entry: dict[str, Any],
    pointer: str,
) -> None:
    closed_with_ten_percent(client, auth, application)

    response = give_back(client, auth, "s-1", entry)

    assert response.status_code == 400
    assert [e["source"] for e in response.json()["errors"]] == [{"pointer": pointer}]
    _nothing_changed()


def test_the_body_follows_the_reference(client: Client, auth: dict[str, str]) -> None:
    response = client.post(
        "/v2/customer_sessions/s-1/returns",
        data=dumps({"returnedCartItems": [{"position": 0}]}),
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": "/return"}


def test_only_a_closed_session_accepts_returns(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    body_of(put(client, auth, "s-1", order(("SHIRT", 3, "50.00"), state="open")))

    response = give_back(client, auth, "s-1", {"position": 0, "quantity": 1})

    assert response.status_code == 400
    error = response.json()
    assert "Only a closed or partially returned session accepts returns" in error["message"]
    assert error["errors"][0]["source"] == {"resource": "/v2/customer_sessions/s-1/returns"}
    assert CartItem.objects.get().returned_quantity == 0
    assert CustomerSession.objects.get().state == "open"
    assert give_back(client, auth, "nope", {"position": 0}).status_code == 404


def test_a_dry_return_answers_the_same_and_writes_nothing(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)

    body = body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 3}, dry="true"))

    assert rollbacks(body) == [("rollbackDiscount", Decimal("15"), None)]
    assert body["customerSession"]["state"] == "partially_returned"
    _nothing_changed()


KEY = {"Idempotency-Key": "2f1c7d4e-return-1"}


def test_a_retry_with_the_same_key_answers_the_same_and_does_nothing_again(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)

    first = give_back(client, auth, "s-1", {"position": 0, "quantity": 1}, headers=KEY)
    second = give_back(client, auth, "s-1", {"position": 0, "quantity": 1}, headers=KEY)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    item = CartItem.objects.get()
    assert (item.returned_quantity, item.remaining_quantity) == (1, 2)
    assert live_discounts() == [Decimal("10")]
    assert Event.objects.filter(type="talon_session_partially_returned").count() == 1
    assert IdempotentRequest.objects.count() == 1
    # Without the key, the same body is another return.
    body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}))
    assert CartItem.objects.get().returned_quantity == 2


def test_the_same_key_for_another_request_is_a_409_and_changes_nothing(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)
    body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}, headers=KEY))

    response = give_back(client, auth, "s-1", {"position": 0, "quantity": 2}, headers=KEY)

    assert response.status_code == 409
    assert response.json()["errors"][0]["source"] == {"parameter": "Idempotency-Key"}
    assert CartItem.objects.get().returned_quantity == 1
    assert live_discounts() == [Decimal("10")]


def test_a_key_is_free_again_after_24_hours(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)
    body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}, headers=KEY))
    IdempotentRequest.objects.update(created=timezone.now() - timedelta(hours=24, seconds=1))

    body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}, headers=KEY))

    assert CartItem.objects.get().returned_quantity == 2


def test_a_refused_return_does_not_take_its_key(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    closed_with_ten_percent(client, auth, application)
    refused = give_back(client, auth, "s-1", {"position": 0, "quantity": 9}, headers=KEY)
    assert refused.status_code == 400

    body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}, headers=KEY))

    assert CartItem.objects.get().returned_quantity == 1


def test_an_overlong_key_is_a_400(client: Client, auth: dict[str, str]) -> None:
    response = give_back(
        client, auth, "s-1", {"position": 0}, headers={"Idempotency-Key": "k" * 256}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "Idempotency-Key"}


def test_reopening_rolls_back_once_and_only_a_closed_session_reopens(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = campaign(application, [TEN_PERCENT])
    body_of(put(client, auth, "s-1", order(("SHIRT", 3, "50.00"))))

    reopened = reopen(client, auth, "s-1")

    body = body_of(reopened)
    assert list(body) == ["effects"]
    [effect] = body["effects"]
    assert (effect["effectType"], effect["props"]["value"], effect["campaignId"]) == (
        "rollbackDiscount",
        Decimal("15"),
        made.pk,
    )
    assert CustomerSession.objects.get().state == "open"
    assert live_discounts() == []
    assert (profile().closed_sessions, profile().total_sales) == (0, Decimal("0"))
    assert Event.objects.filter(type="talon_session_reopened").count() == 1

    again = reopen(client, auth, "s-1")
    assert again.status_code == 400
    assert "Only a closed session can be reopened" in again.json()["message"]
    assert (profile().closed_sessions, profile().total_sales) == (0, Decimal("0"))

    # Closed again, it confirms afresh; a repeated close shows only the new confirmation.
    closed = body_of(put(client, auth, "s-1", {"customerSession": {"state": "closed"}}))
    assert [e["props"]["value"] for e in closed["effects"]] == [Decimal("15")]
    repeated = body_of(put(client, auth, "s-1", {"customerSession": {"state": "closed"}}))
    assert repeated["effects"] == closed["effects"]
    assert (profile().closed_sessions, profile().total_sales) == (1, Decimal("150"))


@pytest.mark.parametrize("state", ["open", "cancelled", "partially_returned"])
def test_a_session_that_is_not_closed_does_not_reopen(
    client: Client, auth: dict[str, str], application: Application, state: str
) -> None:
    body_of(put(client, auth, "s-1", order(("SHIRT", 3, "50.00"), state="closed")))
    if state == "open":
        body_of(reopen(client, auth, "s-1"))
    elif state == "cancelled":
        body_of(put(client, auth, "s-1", {"customerSession": {"state": "cancelled"}}))
    else:
        body_of(give_back(client, auth, "s-1", {"position": 0, "quantity": 1}))

    response = reopen(client, auth, "s-1")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_state_transition"
    assert CustomerSession.objects.get().state == state
    assert reopen(client, auth, "nope").status_code == 404


def test_cancelling_a_closed_session_without_effects_still_takes_its_sale_back(
    client: Client, auth: dict[str, str]
) -> None:
    body_of(put(client, auth, "s-1", order(("SHIRT", 1, "50.00"))))
    assert (profile().closed_sessions, profile().total_sales) == (1, Decimal("50"))

    body_of(put(client, auth, "s-1", {"customerSession": {"state": "cancelled"}}))

    assert (profile().closed_sessions, profile().total_sales) == (0, Decimal("0"))


@race
@pytest.mark.django_db(transaction=True)
def test_two_returns_of_the_last_unit_at_once_only_one_succeeds(
    auth: dict[str, str], application: Application
) -> None:
    campaign(application, [TEN_PERCENT])
    body_of(put(Client(), auth, "s-1", order(("SHIRT", 3, "50.00"))))
    body_of(give_back(Client(), auth, "s-1", {"position": 0, "quantity": 2}))
    start = threading.Barrier(2)
    statuses: list[int] = []

    def return_the_last_one() -> None:
        try:
            client = Client()
            start.wait()
            response = give_back(client, auth, "s-1", {"position": 0, "quantity": 1})
            statuses.append(response.status_code)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=return_the_last_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 400]
    item = CartItem.objects.get()
    assert (item.returned_quantity, item.remaining_quantity) == (3, 0)
    assert live_discounts() == []
    assert Event.objects.filter(type="talon_session_partially_returned").count() == 2


@race
@pytest.mark.django_db(transaction=True)
def test_two_retries_with_the_same_key_at_once_return_once(
    auth: dict[str, str], application: Application
) -> None:
    campaign(application, [TEN_PERCENT])
    body_of(put(Client(), auth, "s-1", order(("SHIRT", 3, "50.00"))))
    start = threading.Barrier(2)
    bodies: list[bytes] = []

    def retry() -> None:
        try:
            client = Client()
            start.wait()
            response = give_back(client, auth, "s-1", {"position": 0, "quantity": 1}, headers=KEY)
            assert response.status_code == 200, response.content
            bodies.append(response.content)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert json.loads(bodies[0])["customerSession"]["cartItems"][0]["returnedQuantity"] == 1
    assert CartItem.objects.get().returned_quantity == 1
