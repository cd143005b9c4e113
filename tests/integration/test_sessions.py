"""``PUT``/``GET /v2/customer_sessions/{id}`` through HTTP on PostgreSQL: effects in Talon.One's
shape, discounts true to the cart, the state machine with its rollbacks, dry runs, bad input,
and a constant number of queries however many campaigns run."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.compiled import compiled_campaigns_forget
from campaigns.models import Application, CustomerProfile, CustomerSession, EffectRecord
from campaigns.rows import KEY_SESSION_STATEMENT
from campaigns.services.keys import integration_key_create
from campaigns.services.rulesets import ruleset_create
from integration.render import dumps
from tests.factories import ApplicationFactory, CampaignFactory, EvaluationGroupFactory

pytestmark = pytest.mark.django_db

TOTAL = [".", "Session", "Total"]
TEN_PERCENT = {
    "title": "10% off big carts",
    "condition": [">", TOTAL, 100],
    "effects": [["setDiscount", "10% off", ["*", TOTAL, 0.1]]],
}


@pytest.fixture(autouse=True)
def _fresh_compiled_rules() -> None:
    compiled_campaigns_forget()


@pytest.fixture
def application() -> Application:
    return ApplicationFactory(currency="EUR")


def campaign(application: Application, rules: list[dict[str, Any]]) -> Any:
    made = CampaignFactory(application=application)
    ruleset_create(campaign=made, rules=rules, activate=True)
    made.refresh_from_db()
    return made


def put(
    client: Client, auth: dict[str, str], session: str, body: dict[str, Any], **params: str
) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"/v2/customer_sessions/{session}" + (f"?{query}" if query else "")
    return client.put(url, data=dumps(body), content_type="application/json", headers=auth)


def cart(
    *prices: str, state: str = "open", profile: str = "customer-1", **extra: Any
) -> dict[str, Any]:
    items = [{"sku": f"SKU-{i}", "quantity": 1, "price": Decimal(p)} for i, p in enumerate(prices)]
    return {
        "customerSession": {"profileId": profile, "state": state, "cartItems": items, **extra},
        "responseContent": ["customerSession", "customerProfile", "ruleFailureReasons"],
    }


def body_of(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def test_a_big_cart_gets_its_discount_in_talon_ones_shape(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    made = campaign(application, [TEN_PERCENT])
    body = body_of(put(client, auth, "s-1", cart("80.00", "43.45")))
    [effect] = body["effects"]
    assert effect["campaignId"] == made.pk
    assert effect["rulesetId"] == made.active_ruleset_id
    assert (effect["ruleIndex"], effect["ruleName"], effect["effectType"]) == (
        0,
        "10% off big carts",
        "setDiscount",
    )
    assert effect["props"] == {
        "name": "10% off",
        "value": Decimal("12.35"),
    }  # 12.345 rounds half up
    session = body["customerSession"]
    assert (session["integrationId"], session["state"], session["total"]) == (
        "s-1",
        "open",
        Decimal("123.45"),
    )
    assert body["customerProfile"]["integrationId"] == "customer-1"
    assert body["createdCoupons"] == []
    assert body["createdReferrals"] == []


def test_a_small_cart_gets_nothing_and_says_why(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(application, [TEN_PERCENT])
    body = body_of(put(client, auth, "s-1", cart("10.00")))
    assert body["effects"] == []
    [reason] = body["ruleFailureReasons"]
    assert reason["ruleName"] == "10% off big carts"


def test_a_discount_never_exceeds_the_cart(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(
        application,
        [{"title": "huge", "condition": ["and"], "effects": [["setDiscount", "huge", 500]]}],
    )
    [effect] = body_of(put(client, auth, "s-1", cart("120.00")))["effects"]
    assert effect["props"]["value"] == Decimal("120")
    assert effect["props"]["desiredValue"] == Decimal("500")


def test_closing_confirms_once_and_cancelling_rolls_back_once(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(application, [TEN_PERCENT])
    body_of(put(client, auth, "s-1", cart("150.00")))
    closed = body_of(put(client, auth, "s-1", cart("150.00", state="closed")))
    assert [e["effectType"] for e in closed["effects"]] == ["setDiscount"]
    again = body_of(put(client, auth, "s-1", cart("150.00", state="closed")))
    assert again["effects"] == closed["effects"]
    assert EffectRecord.objects.count() == 1
    profile = CustomerProfile.objects.get(integration_id="customer-1")
    assert (profile.closed_sessions, profile.total_sales) == (1, Decimal("150"))

    cancelled = body_of(put(client, auth, "s-1", {"customerSession": {"state": "cancelled"}}))
    assert [(e["effectType"], e["props"]["value"]) for e in cancelled["effects"]] == [
        ("rollbackDiscount", Decimal("15"))
    ]
    again = body_of(put(client, auth, "s-1", {"customerSession": {"state": "cancelled"}}))
    assert again["effects"] == []
    assert EffectRecord.objects.get().rolled_back_at is not None
    profile.refresh_from_db()
    assert (profile.closed_sessions, profile.total_sales) == (0, Decimal("0"))


@pytest.mark.parametrize(
    ("first", "then"), [("cancelled", "open"), ("closed", "open"), ("cancelled", "closed")]
)
def test_a_forbidden_transition_is_a_400_and_changes_nothing(
    client: Client, auth: dict[str, str], first: str, then: str
) -> None:
    body_of(put(client, auth, "s-1", cart("10.00")))
    body_of(put(client, auth, "s-1", {"customerSession": {"state": first}}))
    before = CustomerSession.objects.get().state
    response = put(client, auth, "s-1", {"customerSession": {"state": then}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": "/customerSession/state"}
    assert CustomerSession.objects.get().state == before


def test_a_dry_run_answers_the_same_and_writes_nothing(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(application, [TEN_PERCENT])
    dry = body_of(put(client, auth, "s-1", cart("150.00", state="closed"), dry="true"))
    assert [e["effectType"] for e in dry["effects"]] == ["setDiscount"]
    assert not CustomerSession.objects.exists()
    assert not CustomerProfile.objects.exists()
    assert not EffectRecord.objects.exists()


def test_now_is_only_for_dry_runs(client: Client, auth: dict[str, str]) -> None:
    response = put(client, auth, "s-1", cart("1.00"), now="2026-01-01T00:00:00Z")
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "now"}


def test_a_dry_run_now_with_any_offset_rfc_3339_allows_is_read_as_its_instant(
    client: Client, auth: dict[str, str]
) -> None:
    # +16:00 is beyond what PostgreSQL stores: read as the same instant in UTC, never a 500.
    response = put(client, auth, "s-1", cart("1.00"), dry="true", now="2030-01-01T00:00:00%2B16:00")
    assert response.status_code == 200, response.content


def test_bad_input_is_a_400_with_pointers_and_nothing_is_written(
    client: Client, auth: dict[str, str]
) -> None:
    body = {"customerSession": {"cartItems": [{"sku": "A", "quantity": 0, "price": -1}]}}
    response = put(client, auth, "s-1", body)
    assert response.status_code == 400
    pointers = {e["source"]["pointer"] for e in response.json()["errors"]}
    assert {
        "/customerSession/cartItems/0/quantity",
        "/customerSession/cartItems/0/price",
    } <= pointers
    assert not CustomerSession.objects.exists()


def test_an_unauthenticated_request_is_a_401(client: Client) -> None:
    assert put(client, {}, "s-1", cart("1.00")).status_code == 401


def test_get_reads_the_session_and_404s_for_an_unknown_one(
    client: Client, auth: dict[str, str]
) -> None:
    body_of(put(client, auth, "s-1", cart("12.50")))
    got = client.get("/v2/customer_sessions/s-1", headers=auth)
    assert got.status_code == 200
    assert got.json()["customerSession"]["cartItems"][0]["sku"] == "SKU-0"
    missing = client.get("/v2/customer_sessions/nope", headers=auth)
    assert missing.status_code == 404


def test_another_applications_session_is_not_found(client: Client, auth: dict[str, str]) -> None:
    other = ApplicationFactory()
    _, raw = integration_key_create(
        application=other, name="Other", expires_at=timezone.now() + timedelta(days=1)
    )
    body_of(put(client, {"Authorization": f"ApiKey-v1 {raw}"}, "s-1", cart("1.00")))
    assert client.get("/v2/customer_sessions/s-1", headers=auth).status_code == 404


def _queries(client: Client, auth: dict[str, str], session: str) -> int:
    body_of(put(client, auth, session, cart("150.00")))  # warm: compiles and caches
    with CaptureQueriesContext(connection) as captured:
        body_of(put(client, auth, session, cart("150.00", "10.00")))
    return len(captured)


def test_the_number_of_queries_does_not_grow_with_the_campaigns(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(application, [TEN_PERCENT])
    with_one = _queries(client, auth, "s-1")
    for _ in range(20):
        campaign(application, [TEN_PERCENT])
    assert _queries(client, auth, "s-2") == with_one


def test_an_update_of_a_known_session_takes_four_statements_in_two_round_trips(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign(application, [TEN_PERCENT])
    body_of(put(client, auth, "s-1", cart("150.00")))  # warm: compiles, keeps the application
    with CaptureQueriesContext(connection) as captured:
        body_of(put(client, auth, "s-1", cart("150.00", "10.00")))
    trips = [query["sql"] for query in captured]
    # (The test runs in a transaction, so the service's own is a savepoint.)
    trips = [sql for sql in trips if not sql.startswith(("SAVEPOINT", "RELEASE"))]
    # The key (with the application's version) and the session with its profile (locked) in
    # one prepared statement, then the cart replaced and the session written, in one round trip
    # of three prepared statements (prepared on the connection by the first request).
    if connection.vendor == "postgresql":
        writes = ["talonone_items_delete", "talonone_items_insert", "talonone_session_update"]
        expected = [[KEY_SESSION_STATEMENT], writes]
        assert [
            [s.removeprefix("EXECUTE ").split("(", 1)[0] for s in sql.split("; ")] for sql in trips
        ] == expected
    else:  # SQLite runs one statement at a time, unprepared
        expected = [["SELECT"], ["SELECT"], ["DELETE"], ["INSERT"], ["UPDATE"]]
        assert [[s.split(" ", 1)[0] for s in sql.split("; ")] for sql in trips] == expected


@pytest.mark.parametrize(
    ("mode", "kept"),
    [("stackable", ["first", "second"]), ("listOrder", ["first"]), ("highestDiscount", ["second"])],
)
def test_evaluation_groups_decide_which_campaigns_apply(
    client: Client, auth: dict[str, str], application: Application, mode: str, kept: list[str]
) -> None:
    group = EvaluationGroupFactory(application=application, mode=mode)
    for position, (name, amount) in enumerate([("first", 5), ("second", 9)]):
        made = CampaignFactory(application=application, evaluation_group=group, position=position)
        rule = {"title": name, "condition": ["and"], "effects": [["setDiscount", name, amount]]}
        ruleset_create(campaign=made, rules=[rule], activate=True)
    effects = body_of(put(client, auth, "s-1", cart("50.00")))["effects"]
    assert [e["props"]["name"] for e in effects] == kept


def test_awkward_text_and_exact_numbers_are_stored_as_sent(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    awkward = "Quote \" back\\slash ' %s %(x)s ; -- é ü 漢字 🥾 \t tab"
    item = {
        "sku": awkward,
        "name": awkward,
        "quantity": 3,
        "price": Decimal("0.0001"),
        "weight": Decimal("12345678.1234"),
        "product": {"name": awkward},
    }
    body = {"customerSession": {"profileId": "p", "cartItems": [item, {**item, "sku": "B"}]}}
    body_of(put(client, auth, "s-awkward", body))
    stored = body_of(client.get("/v2/customer_sessions/s-awkward", headers=auth))
    first, second = stored["customerSession"]["cartItems"]
    assert (first["sku"], first["name"], first["product"]["name"]) == (awkward,) * 3
    assert (first["price"], first["weight"], first["quantity"]) == (
        Decimal("0.0001"),
        Decimal("12345678.1234"),
        3,
    )
    assert second["sku"] == "B"
    assert stored["customerSession"]["total"] == Decimal("0.0006")


@pytest.mark.parametrize(("cascading", "second"), [(True, "9.00"), (False, "10.00")])
def test_discounts_cascade_when_the_application_says_so(
    client: Client, auth: dict[str, str], application: Application, cascading: bool, second: str
) -> None:
    application.enable_cascading_discounts = cascading
    application.save()
    for name in ("first", "second"):
        effect = ["setDiscount", name, ["*", TOTAL, 0.1]]
        campaign(application, [{"title": name, "condition": ["and"], "effects": [effect]}])
    body = body_of(put(client, auth, "s-1", cart("60.00", "40.00", state="closed")))
    assert [e["props"]["value"] for e in body["effects"]] == [Decimal("10.00"), Decimal(second)]
    recorded = EffectRecord.objects.order_by("pk").values_list("props", flat=True)
    assert [props["value"] for props in recorded] == ["10.00", second]


def test_a_campaign_its_group_sets_aside_says_why(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    group = EvaluationGroupFactory(application=application, mode="highestDiscount")
    made = {}
    for position, (name, amount) in enumerate([("small", 5), ("big", 9)]):
        made[name] = CampaignFactory(
            application=application, evaluation_group=group, position=position, name=name
        )
        rule = {"title": name, "condition": ["and"], "effects": [["setDiscount", name, amount]]}
        ruleset_create(campaign=made[name], rules=[rule], activate=True)
        made[name].refresh_from_db()
    body = body_of(put(client, auth, "s-1", cart("50.00")))
    assert [e["props"]["name"] for e in body["effects"]] == ["big"]
    [reason] = body["ruleFailureReasons"]
    assert reason["campaignID"] == made["small"].pk
    assert reason["campaignName"] == "small"
    assert reason["rulesetID"] == made["small"].active_ruleset_id
    assert (reason["ruleIndex"], reason["ruleName"]) == (0, "small")
    assert (reason["evaluationGroupID"], reason["evaluationGroupMode"]) == (
        group.pk,
        "highestDiscount",
    )
    assert reason["details"].startswith("CampaignGaveLowerDiscount")


def test_additional_costs_are_answered_on_the_session_and_its_items(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    item = {
        "sku": "SKU-1",
        "quantity": 2,
        "price": Decimal("10.00"),
        "additionalCosts": {"wrapping": {"price": Decimal("1.50")}},
    }
    body = {
        "customerSession": {
            "profileId": "p",
            "cartItems": [item],
            "additionalCosts": {"shipping": {"price": Decimal("4.90")}},
        },
        "responseContent": ["customerSession"],
    }
    session = body_of(put(client, auth, "s-costs", body))["customerSession"]
    assert session["additionalCosts"] == {"shipping": {"price": Decimal("4.90")}}
    assert session["cartItems"][0]["additionalCosts"] == {"wrapping": {"price": Decimal("1.50")}}
    assert session["total"] == Decimal("27.90")  # 20.00 + 2 x 1.50 + 4.90
    stored = body_of(client.get("/v2/customer_sessions/s-costs", headers=auth))
    assert stored["customerSession"]["additionalCosts"] == session["additionalCosts"]
