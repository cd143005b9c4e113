"""Parsing the Integration API's request bodies (``integration/payloads.py``).

Given a body as the shop sends it (decoded with ``parse_float=Decimal``, as the API does), when
it is parsed, then a valid body becomes typed values with every number exact, and an invalid
one raises a single ``PayloadError`` that lists every problem with a JSON pointer to it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.payloads import (
    MAX_CART_ITEMS,
    MAX_TOTAL_QUANTITY,
    TITLE_LIMIT,
    TITLE_REQUIRED,
    TITLE_TYPE,
    TITLE_UNKNOWN_ATTRIBUTE,
    TITLE_UNKNOWN_COST,
    TITLE_VALUE,
    AudiencesChanges,
    CartItemInput,
    ExperimentAllocation,
    PayloadError,
    SessionUpdate,
    parse_event,
    parse_profile_update,
    parse_session_update,
)


def decode(text: str) -> Any:
    """A body as the API decodes it: numbers with a fraction or exponent as ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


def problems_of(call: Any, *args: Any, **kwargs: Any) -> list[tuple[str, str, str]]:
    with pytest.raises(PayloadError) as caught:
        call(*args, **kwargs)
    return list(caught.value.problems)


def pointers_of(call: Any, *args: Any, **kwargs: Any) -> list[str]:
    return [pointer for pointer, _, _ in problems_of(call, *args, **kwargs)]


NO_ATTRIBUTES: dict[str, dict[str, str]] = {}


def session(fields: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {"customerSession": fields, **body}


def parse(fields: dict[str, Any], **kwargs: Any) -> SessionUpdate:
    kwargs.setdefault("custom_attributes", NO_ATTRIBUTES)
    return parse_session_update(session(fields), **kwargs)


def session_pointers(fields: dict[str, Any], **kwargs: Any) -> list[str]:
    kwargs.setdefault("custom_attributes", NO_ATTRIBUTES)
    return pointers_of(parse_session_update, session(fields), **kwargs)


# ---------------------------------------------------------------------------------------------
# The reference's own examples (integration-api/paths/v2-customer_sessions-{id}.yaml, as JSON)

FULL_REQUEST = """
{"customerSession": {
   "profileId": "URNGV8294NV", "storeIntegrationId": "STORE-001",
   "evaluableCampaignIds": [10, 12], "couponCodes": ["XMAS-20-2021"],
   "referralCode": "NT2K54D9", "loyaltyCards": ["loyalty-card-1"], "state": "open",
   "cartItems": [{"name": "Air Glide", "sku": "SKU1241028", "quantity": 1, "price": 99.99,
                  "category": "shoes", "product": {"name": "sample_product"}, "weight": 1130,
                  "height": 0, "width": 0, "length": 0,
                  "attributes": {"image": "11.jpeg", "material": "leather"},
                  "additionalCosts": {"shipping": {"price": 9}}}],
   "experimentVariantAllocations": [{"experimentID": 1, "variantID": 2}],
   "additionalCosts": {"shipping": {"price": 9}},
   "identifiers": ["d41306257915f83fe01e54092ae470f631161ea16fcf4415842eed41470386ea"],
   "attributes": {"ShippingCity": "Berlin"}},
 "responseContent": ["customerSession", "customerProfile"]}
"""

ECOMMERCE = """
{"customerSession": {"profileId": "382370BKDB946", "cartItems": [
   {"name": "Wireless Bluetooth Headphones", "sku": "AUDIO-WH350", "quantity": 1,
    "price": 79.99, "weight": 310},
   {"name": "USB-C Charging Cable", "sku": "CABLE-USBC-2M", "quantity": 2, "price": 15.99,
    "weight": 40}]},
 "responseContent": ["customerSession", "customerProfile"]}
"""

QSR = """
{"customerSession": {"profileId": "382370BKDB946", "cartItems": [
   {"name": "Cheeseburger", "sku": "BURGER-001", "quantity": 1, "price": 8.99, "category": "Main"},
   {"name": "French Fries", "sku": "SIDE-002", "quantity": 1, "price": 3.49, "category": "Side"},
   {"name": "Cola", "sku": "DRINK-003", "quantity": 1, "price": 2.49, "category": "Beverage"}]},
 "responseContent": ["customerSession", "customerProfile", "loyalty"]}
"""

FINANCE = """
{"customerSession": {"profileId": "customer-789", "cartItems": [
   {"name": "Card Purchase - Electronics Store", "sku": "TXN-CC-001", "quantity": 1,
    "price": 250}],
  "attributes": {"CardType": "credit", "MerchantCategory": "electronics",
                 "TransactionType": "card_payment"}},
 "responseContent": ["customerSession", "customerProfile", "loyalty"]}
"""

TRAVEL = """
{"customerSession": {"profileId": "customer-321", "cartItems": [
   {"name": "Deluxe Room - 5 nights", "sku": "HOTEL-ROOM-DLX", "quantity": 5, "price": 189}],
  "attributes": {"CheckInDate": "2026-06-10", "CheckOutDate": "2026-06-15", "StayNights": 5,
                 "PropertyType": "hotel"}},
 "responseContent": ["customerSession", "customerProfile", "loyalty"]}
"""

EXAMPLE_ATTRIBUTES = {
    "CustomerSession": {
        "ShippingCity": "string",
        "CardType": "string",
        "MerchantCategory": "string",
        "TransactionType": "string",
        # The example sends dates, not RFC 3339 times, so these can only be text.
        "CheckInDate": "string",
        "CheckOutDate": "string",
        "StayNights": "number",
        "PropertyType": "string",
    },
    "CartItem": {"image": "string", "material": "string"},
}


def test_the_full_request_example_parses_with_every_field_exact() -> None:
    parsed = parse_session_update(decode(FULL_REQUEST), custom_attributes=EXAMPLE_ATTRIBUTES)

    assert parsed == SessionUpdate(
        profile_id="URNGV8294NV",
        store_integration_id="STORE-001",
        evaluable_campaign_ids=(10, 12),
        coupon_codes=("XMAS-20-2021",),
        referral_code="NT2K54D9",
        loyalty_cards=("loyalty-card-1",),
        state="open",
        cart_items=(
            CartItemInput(
                sku="SKU1241028",
                quantity=1,
                name="Air Glide",
                price=Decimal("99.99"),
                category="shoes",
                product_name="sample_product",
                weight=Decimal(1130),
                height=Decimal(0),
                width=Decimal(0),
                length=Decimal(0),
                attributes={"image": "11.jpeg", "material": "leather"},
                additional_costs={"shipping": Decimal(9)},
            ),
        ),
        additional_costs={"shipping": Decimal(9)},
        identifiers=("d41306257915f83fe01e54092ae470f631161ea16fcf4415842eed41470386ea",),
        attributes={"ShippingCity": "Berlin"},
        experiment_variant_allocations=(ExperimentAllocation(1, 2),),
        response_content=frozenset({"customerSession", "customerProfile"}),
    )
    price = parsed.cart_items[0].price if parsed.cart_items else None
    assert isinstance(price, Decimal)
    assert str(price) == "99.99"  # the text the shop sent, not a float's neighbour


@pytest.mark.parametrize("example", [ECOMMERCE, QSR, FINANCE, TRAVEL])
def test_the_vertical_examples_parse(example: str) -> None:
    body = decode(example)

    parsed = parse_session_update(body, custom_attributes=EXAMPLE_ATTRIBUTES)

    sent = body["customerSession"]
    assert parsed.profile_id == sent["profileId"]
    assert parsed.cart_items is not None
    assert [item.sku for item in parsed.cart_items] == [item["sku"] for item in sent["cartItems"]]
    assert [str(item.price) for item in parsed.cart_items] == [
        str(item["price"]) for item in sent["cartItems"]
    ]
    assert parsed.response_content == frozenset(body["responseContent"])
    assert parsed.coupon_codes is None  # not sent: the session keeps its codes


def test_the_travel_example_reads_its_number_attribute_as_a_decimal() -> None:
    parsed = parse_session_update(decode(TRAVEL), custom_attributes=EXAMPLE_ATTRIBUTES)

    assert parsed.attributes == {
        "CheckInDate": "2026-06-10",
        "CheckOutDate": "2026-06-15",
        "StayNights": Decimal(5),
        "PropertyType": "hotel",
    }
    assert parsed.attributes is not None
    assert type(parsed.attributes["StayNights"]) is Decimal


# ---------------------------------------------------------------------------------------------
# Omitted, null and empty


def test_an_empty_session_carries_nothing() -> None:
    parsed = parse({})

    assert parsed == SessionUpdate()
    assert parsed.response_content == frozenset()


def test_omitted_and_empty_coupon_codes_differ() -> None:
    assert parse({}).coupon_codes is None  # keep the stored codes
    assert parse({"couponCodes": None}).coupon_codes is None  # null is "not sent"
    assert parse({"couponCodes": []}).coupon_codes == ()  # discard them


def test_an_empty_referral_code_and_profile_id_are_kept_as_empty() -> None:
    parsed = parse({"referralCode": "", "profileId": ""})

    assert parsed.referral_code == ""  # discard the referral code
    assert parsed.profile_id == ""  # an anonymous session


def test_an_empty_cart_is_kept_apart_from_an_omitted_one() -> None:
    assert parse({"cartItems": []}).cart_items == ()
    assert parse({}).cart_items is None


def test_unknown_fields_are_ignored_everywhere() -> None:
    parsed = parse(
        {
            "total": 5,
            "created": "2020-01-01T00:00:00Z",
            "somethingNew": {"x": [1, 2]},
            "cartItems": [
                {
                    "sku": "A",
                    "quantity": 2,
                    "position": 7,
                    "returnedQuantity": 1,
                    "remainingQuantity": 1,
                    "catalogItemID": 3,
                    "prices": {"base": {"price": 100}},
                    "somethingNew": True,
                }
            ],
        }
    )

    assert parsed.cart_items == (CartItemInput(sku="A", quantity=2),)


def test_a_parsed_cart_item_is_frozen_and_equal_to_one_built_directly() -> None:
    parsed = parse({"cartItems": [{"sku": "A", "quantity": 2, "price": Decimal("1.5")}]})

    assert parsed.cart_items is not None
    item = parsed.cart_items[0]
    assert type(item) is CartItemInput
    assert item == CartItemInput(sku="A", quantity=2, price=Decimal("1.5"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.quantity = 3  # type: ignore[misc]
    assert not hasattr(item, "__dict__")


# ---------------------------------------------------------------------------------------------
# Problems: every one of them, each at its pointer


def test_every_problem_is_reported_with_its_pointer() -> None:
    body = decode(
        """
        {"customerSession": {
            "profileId": 42,
            "state": "paid",
            "couponCodes": ["OK", 7],
            "cartItems": [
                {"sku": "A", "quantity": 1, "price": 1.5},
                {"sku": "", "quantity": 0},
                {"quantity": "2", "price": -1, "attributes": []},
                {"sku": "B", "quantity": 1, "price": "9.99", "weight": -3},
                "not an item"
            ]},
         "responseContent": ["customerSession", "everything"]}
        """
    )

    problems = problems_of(parse_session_update, body, custom_attributes=NO_ATTRIBUTES)

    assert problems == [
        ("/responseContent/1", TITLE_VALUE, problems[0][2]),
        ("/customerSession/profileId", TITLE_TYPE, "must be a string"),
        ("/customerSession/couponCodes/1", TITLE_TYPE, "must be a string"),
        ("/customerSession/state", TITLE_VALUE, "must be one of open, closed, cancelled"),
        ("/customerSession/cartItems/1/sku", TITLE_VALUE, "must not be empty"),
        ("/customerSession/cartItems/1/quantity", TITLE_VALUE, "must be at least 1"),
        ("/customerSession/cartItems/2/sku", TITLE_REQUIRED, "is required"),
        ("/customerSession/cartItems/2/quantity", TITLE_TYPE, "must be an integer"),
        ("/customerSession/cartItems/2/price", TITLE_VALUE, "must be 0 or more"),
        ("/customerSession/cartItems/2/attributes", TITLE_TYPE, "must be an object"),
        ("/customerSession/cartItems/3/price", TITLE_TYPE, "must be a number"),
        ("/customerSession/cartItems/3/weight", TITLE_VALUE, "must be 0 or more"),
        ("/customerSession/cartItems/4", TITLE_TYPE, "must be an object"),
    ]
    assert "customerSession" in problems[0][2]  # the details name the allowed values


def test_the_error_carries_its_problems_and_says_how_many() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_session_update(session({"state": 1, "profileId": 2}), custom_attributes={})

    assert len(caught.value.problems) == 2
    assert "2 problems" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("body", "pointer", "title"),
    [
        ([], "", TITLE_TYPE),
        ("text", "", TITLE_TYPE),
        ({}, "/customerSession", TITLE_REQUIRED),
        ({"customerSession": None}, "/customerSession", TITLE_REQUIRED),
        ({"customerSession": []}, "/customerSession", TITLE_TYPE),
        (
            {"customerSession": {}, "responseContent": "customerSession"},
            "/responseContent",
            TITLE_TYPE,
        ),
    ],
)
def test_a_body_of_the_wrong_shape_is_refused(body: Any, pointer: str, title: str) -> None:
    problems = problems_of(parse_session_update, body, custom_attributes={})

    assert [(p, t) for p, t, _ in problems] == [(pointer, title)]


# ---------------------------------------------------------------------------------------------
# Limits


def test_a_cart_of_1000_items_is_accepted_and_1001_refused() -> None:
    item = {"sku": "A", "quantity": 1}

    assert len(parse({"cartItems": [item] * MAX_CART_ITEMS}).cart_items or ()) == 1000
    problems = problems_of(
        parse_session_update, session({"cartItems": [item] * 1001}), custom_attributes={}
    )
    assert problems == [
        ("/customerSession/cartItems", TITLE_LIMIT, "must have at most 1000 items, not 1001")
    ]


def test_quantities_may_add_up_to_10000_but_not_10001() -> None:
    items = [{"sku": "A", "quantity": 5000}, {"sku": "B", "quantity": 5000}]
    assert parse({"cartItems": items}).cart_items is not None

    items[1]["quantity"] = MAX_TOTAL_QUANTITY - 5000 + 1
    problems = problems_of(
        parse_session_update, session({"cartItems": items}), custom_attributes={}
    )
    assert problems == [
        (
            "/customerSession/cartItems",
            TITLE_LIMIT,
            "the quantities must add up to at most 10000, not 10001",
        )
    ]


@pytest.mark.parametrize(
    ("field", "allowed", "refused"),
    [
        ("identifiers", ["i"] * 5, ["i"] * 6),
        ("loyaltyCards", ["card-1"], ["card-1", "card-2"]),
        ("couponCodes", ["C"] * 100, ["C"] * 101),
        ("couponCodes", ["C" * 100], ["C" * 101]),
        ("loyaltyCards", ["c" * 108], ["c" * 109]),
        ("referralCode", "R" * 100, "R" * 101),
        ("profileId", "p" * 1000, "p" * 1001),
        ("storeIntegrationId", "s" * 1000, "s" * 1001),
    ],
)
def test_limits_of_lists_and_texts(field: str, allowed: Any, refused: Any) -> None:
    attribute = {
        "identifiers": "identifiers",
        "loyaltyCards": "loyalty_cards",
        "couponCodes": "coupon_codes",
        "referralCode": "referral_code",
        "profileId": "profile_id",
        "storeIntegrationId": "store_integration_id",
    }[field]
    parsed = getattr(parse({field: allowed}), attribute)
    assert parsed == (tuple(allowed) if isinstance(allowed, list) else allowed)

    problems = problems_of(parse_session_update, session({field: refused}), custom_attributes={})

    assert len(problems) == 1
    pointer, title, _ = problems[0]
    assert pointer.startswith(f"/customerSession/{field}")
    assert title == TITLE_LIMIT


def test_an_empty_store_id_is_refused() -> None:
    assert session_pointers({"storeIntegrationId": ""}) == ["/customerSession/storeIntegrationId"]


def test_item_texts_longer_than_their_columns_are_refused() -> None:
    item = {"sku": "S" * 1001, "quantity": 1, "name": "n" * 1001, "category": "c" * 1001}
    item["product"] = {"name": "p" * 1001}

    assert session_pointers({"cartItems": [item]}) == [
        "/customerSession/cartItems/0/sku",
        "/customerSession/cartItems/0/name",
        "/customerSession/cartItems/0/category",
        "/customerSession/cartItems/0/product/name",
    ]


# ---------------------------------------------------------------------------------------------
# Types


@pytest.mark.parametrize(
    ("value", "title"),
    [
        ("2", TITLE_TYPE),
        (True, TITLE_TYPE),  # a bool is an int in Python, but not a quantity
        (Decimal("2.0"), TITLE_TYPE),  # not a JSON integer
        (Decimal("2.5"), TITLE_TYPE),
        (0, TITLE_VALUE),
        (-1, TITLE_VALUE),
        ([1], TITLE_TYPE),
    ],
)
def test_a_quantity_is_a_positive_integer(value: Any, title: str) -> None:
    problems = problems_of(
        parse_session_update,
        session({"cartItems": [{"sku": "A", "quantity": value}]}),
        custom_attributes={},
    )

    assert [(p, t) for p, t, _ in problems] == [("/customerSession/cartItems/0/quantity", title)]


@pytest.mark.parametrize(
    ("value", "details"),
    [
        ("9.99", "must be a number"),
        (True, "must be a number, not a boolean"),
        (False, "must be a number, not a boolean"),
        (Decimal("-0.01"), "must be 0 or more"),
        (-1, "must be 0 or more"),
        (9.99, "must be a finite number (NaN and Infinity are not JSON numbers)"),
        (float("nan"), "must be a finite number (NaN and Infinity are not JSON numbers)"),
        (Decimal("NaN"), "must be a finite number (NaN and Infinity are not JSON numbers)"),
        (Decimal("1E+14"), "must be less than 10^14 in magnitude"),
        (10**14, "must be less than 10^14 in magnitude"),
        (Decimal("1E+999999"), "must be less than 10^14 in magnitude"),
        (Decimal("1E-13"), "must be 0 or at least 10^-12 in magnitude"),
        (None, None),  # null: no price sent
    ],
)
def test_a_price_is_an_exact_non_negative_number(value: Any, details: str | None) -> None:
    fields = {"cartItems": [{"sku": "A", "quantity": 1, "price": value}]}
    if details is None:
        assert parse(fields).cart_items == (CartItemInput(sku="A", quantity=1),)
        return

    problems = problems_of(parse_session_update, session(fields), custom_attributes={})

    assert [(p, d) for p, _, d in problems] == [("/customerSession/cartItems/0/price", details)]


@pytest.mark.parametrize(
    ("sent", "parsed"),
    [
        (0, Decimal(0)),
        (Decimal("0.00"), Decimal(0)),
        (Decimal("-0"), Decimal(0)),
        (Decimal("0E-999999"), Decimal(0)),
        (12, Decimal(12)),
        (Decimal("12.345"), Decimal("12.345")),
        (Decimal("99999999999999.999999"), Decimal("99999999999999.999999")),
        (Decimal("1E-12"), Decimal("1E-12")),
        (Decimal("1E+2"), Decimal(100)),
    ],
)
def test_prices_are_kept_exactly(sent: Any, parsed: Decimal) -> None:
    items = parse({"cartItems": [{"sku": "A", "quantity": 1, "price": sent}]}).cart_items

    assert items is not None
    assert items[0].price == parsed
    assert type(items[0].price) is Decimal
    if isinstance(sent, Decimal) and sent:
        assert items[0].price is sent  # the very Decimal json.loads made: no rounding


def test_the_product_needs_a_name() -> None:
    assert session_pointers({"cartItems": [{"sku": "A", "quantity": 1, "product": {}}]}) == [
        "/customerSession/cartItems/0/product/name"
    ]
    assert session_pointers({"cartItems": [{"sku": "A", "quantity": 1, "product": "x"}]}) == [
        "/customerSession/cartItems/0/product"
    ]


def test_additional_costs_need_a_non_negative_price() -> None:
    pointers = session_pointers(
        {
            "additionalCosts": {
                "shipping": {"price": Decimal("4.5")},
                "wrapping": {},
                "handling": {"price": -1},
                "fee": 3,
            },
            "cartItems": [{"sku": "A", "quantity": 1, "additionalCosts": {"a/b": {"price": "1"}}}],
        }
    )

    assert pointers == [
        "/customerSession/additionalCosts/wrapping/price",
        "/customerSession/additionalCosts/handling/price",
        "/customerSession/additionalCosts/fee",
        "/customerSession/cartItems/0/additionalCosts/a~1b/price",
    ]


def test_additional_costs_can_be_limited_to_the_defined_ones() -> None:
    fields = {"additionalCosts": {"shipping": {"price": 5}, "gift": {"price": 1}}}

    assert parse(fields, additional_costs={"shipping", "gift"}).additional_costs == {
        "shipping": Decimal(5),
        "gift": Decimal(1),
    }
    problems = problems_of(
        parse_session_update,
        session(fields),
        custom_attributes={},
        additional_costs={"shipping"},
    )
    assert [(p, t) for p, t, _ in problems] == [
        ("/customerSession/additionalCosts/gift", TITLE_UNKNOWN_COST)
    ]


@pytest.mark.parametrize("state", ["open", "closed", "cancelled"])
def test_a_session_can_be_opened_closed_or_cancelled(state: str) -> None:
    assert parse({"state": state}).state == state


def test_partially_returned_is_not_set_by_an_update() -> None:
    problems = problems_of(
        parse_session_update, session({"state": "partially_returned"}), custom_attributes={}
    )

    assert problems == [
        (
            "/customerSession/state",
            TITLE_VALUE,
            "is set by returning cart items (POST …/returns), not by an update",
        )
    ]


@pytest.mark.parametrize("state", [["open"], {"s": 1}, 1, None])
def test_a_state_of_another_type_is_refused_or_ignored(state: Any) -> None:
    if state is None:
        assert parse({"state": None}).state is None
    else:
        assert session_pointers({"state": state}) == ["/customerSession/state"]


def test_campaign_ids_are_positive_integers() -> None:
    assert parse({"evaluableCampaignIds": [1, 2**63 - 1]}).evaluable_campaign_ids == (1, 2**63 - 1)
    assert session_pointers({"evaluableCampaignIds": [1, True, "2", Decimal("3.0"), 0, 2**63]}) == [
        f"/customerSession/evaluableCampaignIds/{index}" for index in range(1, 6)
    ]
    assert session_pointers({"evaluableCampaignIds": 3}) == [
        "/customerSession/evaluableCampaignIds"
    ]


def test_experiment_allocations_need_both_ids() -> None:
    assert session_pointers(
        {
            "experimentVariantAllocations": [
                {"experimentID": 1},
                {"experimentID": 1, "variantID": "2"},
            ]
        }
    ) == [
        "/customerSession/experimentVariantAllocations/0/variantID",
        "/customerSession/experimentVariantAllocations/1/variantID",
    ]


@pytest.mark.parametrize("name", ["coupons", "loyalty", "previousReturns", "campaignEligibility"])
def test_every_documented_response_part_can_be_asked_for(name: str) -> None:
    parsed = parse_session_update(
        {"customerSession": {}, "responseContent": [name]}, custom_attributes={}
    )

    assert parsed.response_content == frozenset({name})


def test_unknown_or_misspelt_response_parts_are_refused() -> None:
    body = {"customerSession": {}, "responseContent": ["customerSession", "CustomerProfile", 3]}

    assert pointers_of(parse_session_update, body, custom_attributes={}) == [
        "/responseContent/1",
        "/responseContent/2",
    ]


# ---------------------------------------------------------------------------------------------
# Custom attributes

ALL_TYPES = {
    "CustomerSession": {
        "Text": "string",
        "Amount": "number",
        "Flag": "boolean",
        "When": "time",
        "Where": "location",
        "Tags": "(list string)",
        "Scores": "(list number)",
        "Dates": "(list time)",
        "Places": "(list location)",
    }
}


def test_each_attribute_type_is_read_into_its_python_value() -> None:
    parsed = parse(
        {
            "attributes": {
                "Text": "Berlin",
                "Amount": Decimal("-12.50"),
                "Flag": False,
                "When": "2024-05-29T15:04:05+07:00",
                "Where": "52.52,13.40",
                "Tags": ["a", "b"],
                "Scores": [1, Decimal("2.5")],
                "Dates": ["2024-01-01T00:00:00Z"],
                "Places": [],
            }
        },
        custom_attributes=ALL_TYPES,
    )

    assert parsed.attributes == {
        "Text": "Berlin",
        "Amount": Decimal("-12.50"),
        "Flag": False,
        "When": datetime(2024, 5, 29, 15, 4, 5, tzinfo=timezone(timedelta(hours=7))),
        "Where": "52.52,13.40",
        "Tags": ["a", "b"],
        "Scores": [Decimal(1), Decimal("2.5")],
        "Dates": [datetime(2024, 1, 1, tzinfo=UTC)],
        "Places": [],
    }
    assert parsed.attributes is not None
    assert parsed.attributes["When"].utcoffset() == timedelta(hours=7)  # aware, offset kept
    assert all(type(score) is Decimal for score in parsed.attributes["Scores"])


@pytest.mark.parametrize(
    ("name", "value", "suffix", "title"),
    [
        ("Text", 5, "", TITLE_TYPE),
        ("Amount", "5", "", TITLE_TYPE),
        ("Amount", True, "", TITLE_TYPE),
        ("Amount", 5.0, "", TITLE_VALUE),
        ("Flag", "true", "", TITLE_TYPE),
        ("Flag", 1, "", TITLE_TYPE),
        ("When", "2024-05-29", "", TITLE_VALUE),
        ("When", "yesterday", "", TITLE_VALUE),
        ("When", 1717000000, "", TITLE_TYPE),
        ("Where", {"lat": 1}, "", TITLE_TYPE),
        ("Tags", "a", "", TITLE_TYPE),
        ("Tags", ["a", 2], "/1", TITLE_TYPE),
        ("Scores", [1, "2"], "/1", TITLE_TYPE),
        ("Dates", ["2024-01-01T00:00:00Z", "2024-13-01T00:00:00Z"], "/1", TITLE_VALUE),
    ],
)
def test_an_attribute_of_the_wrong_type_is_refused(
    name: str, value: Any, suffix: str, title: str
) -> None:
    problems = problems_of(
        parse_session_update, session({"attributes": {name: value}}), custom_attributes=ALL_TYPES
    )

    assert len(problems) == 1
    pointer, got_title, details = problems[0]
    assert (pointer, got_title) == (f"/customerSession/attributes/{name}{suffix}", title)
    assert f"CustomerSession.{name} is of type {ALL_TYPES['CustomerSession'][name]}" in details


def test_null_is_accepted_for_any_attribute() -> None:
    parsed = parse({"attributes": {"Amount": None, "Tags": None}}, custom_attributes=ALL_TYPES)

    assert parsed.attributes == {"Amount": None, "Tags": None}


def test_an_undefined_attribute_is_refused_for_each_entity() -> None:
    definitions = {"CustomerSession": {"Known": "string"}, "CartItem": {"Colour": "string"}}
    body = session(
        {
            "attributes": {"Known": "x", "Unknown": "y", "ShippingCity": "Berlin"},
            "cartItems": [{"sku": "A", "quantity": 1, "attributes": {"Known": "x", "a/b~c": 1}}],
        }
    )

    problems = problems_of(parse_session_update, body, custom_attributes=definitions)

    assert [(p, t) for p, t, _ in problems] == [
        ("/customerSession/attributes/Unknown", TITLE_UNKNOWN_ATTRIBUTE),
        # No built-in attribute is accepted without a definition.
        ("/customerSession/attributes/ShippingCity", TITLE_UNKNOWN_ATTRIBUTE),
        # A session attribute is not a cart item attribute.
        ("/customerSession/cartItems/0/attributes/Known", TITLE_UNKNOWN_ATTRIBUTE),
        # Pointer segments are escaped (RFC 6901).
        ("/customerSession/cartItems/0/attributes/a~1b~0c", TITLE_UNKNOWN_ATTRIBUTE),
    ]
    assert "CustomerSession has no attribute 'Unknown'" in problems[0][2]


def test_an_attribute_type_this_module_does_not_know_is_the_callers_mistake() -> None:
    with pytest.raises(ValueError, match="unknown attribute type"):
        parse({"attributes": {"X": 1}}, custom_attributes={"CustomerSession": {"X": "integer"}})


# ---------------------------------------------------------------------------------------------
# Customer profiles (v2-customer_profiles-{integrationId}.yaml)

PROFILE_FULL_REQUEST = """
{"attributes": {"Language": "english", "ShippingCountry": "DE"},
 "evaluableCampaignIds": [10, 12],
 "responseContent": ["triggeredCampaigns", "customerProfile"],
 "audiencesChanges": {"adds": [2, 4], "deletes": [7]}}
"""

PROFILE_ECOMMERCE = """
{"attributes": {"Name": "Chris Taylor", "Email": "chris.taylor@example.com",
                "SignupDate": "2026-01-21T15:04:05+07:00", "PaymentMethod": "Bank transfer"}}
"""

PROFILE_ATTRIBUTES = {
    "CustomerProfile": {
        "Language": "string",
        "ShippingCountry": "string",
        "Name": "string",
        "Email": "string",
        "SignupDate": "time",
        "PaymentMethod": "string",
    }
}


def test_the_profile_examples_parse() -> None:
    full = parse_profile_update(decode(PROFILE_FULL_REQUEST), custom_attributes=PROFILE_ATTRIBUTES)
    shop = parse_profile_update(decode(PROFILE_ECOMMERCE), custom_attributes=PROFILE_ATTRIBUTES)

    assert full.attributes == {"Language": "english", "ShippingCountry": "DE"}
    assert full.audiences_changes == AudiencesChanges(adds=(2, 4), deletes=(7,))
    assert full.evaluable_campaign_ids == (10, 12)
    assert full.response_content == frozenset({"triggeredCampaigns", "customerProfile"})
    assert shop.attributes is not None
    assert shop.attributes["SignupDate"] == datetime(
        2026, 1, 21, 15, 4, 5, tzinfo=timezone(timedelta(hours=7))
    )
    assert shop.audiences_changes is None
    assert parse_profile_update({}, custom_attributes={}).attributes is None


def test_profile_problems_are_all_reported() -> None:
    body = {
        "attributes": {"Language": 1, "Nope": "x"},
        "audiencesChanges": {"adds": [1, "2"]},
        "responseContent": ["customerSession"],  # a session part: not for profiles
    }

    assert pointers_of(parse_profile_update, body, custom_attributes=PROFILE_ATTRIBUTES) == [
        "/responseContent/0",
        "/attributes/Language",
        "/attributes/Nope",
        "/audiencesChanges/adds/1",
        "/audiencesChanges/deletes",
    ]


def test_a_profile_body_must_be_an_object() -> None:
    assert pointers_of(parse_profile_update, [1], custom_attributes={}) == [""]
    assert pointers_of(parse_profile_update, {"audiencesChanges": []}, custom_attributes={}) == [
        "/audiencesChanges"
    ]


# ---------------------------------------------------------------------------------------------
# Events (v2-events.yaml)

EVENT_FULL_REQUEST = """
{"profileId": "URNGV8294NV", "storeIntegrationId": "STORE-001",
 "evaluableCampaignIds": [10, 12], "type": "pageViewed",
 "attributes": {"myAttribute": "myValue"},
 "responseContent": ["triggeredCampaigns", "customerProfile"],
 "loyaltyCards": ["loyalty-card-1"]}
"""

EVENT_TRAVEL = """
{"profileId": "customer-321", "type": "show_attendance",
 "attributes": {"Venue": "Grand Theater", "EventCategory": "live_music", "AttendanceCount": 5},
 "responseContent": ["customerProfile", "triggeredCampaigns"]}
"""

EVENT_ATTRIBUTES = {
    "Event": {
        "myAttribute": "string",
        "Venue": "string",
        "EventCategory": "string",
        "AttendanceCount": "number",
    }
}


def test_the_event_examples_parse() -> None:
    full = parse_event(decode(EVENT_FULL_REQUEST), custom_attributes=EVENT_ATTRIBUTES)
    travel = parse_event(decode(EVENT_TRAVEL), custom_attributes=EVENT_ATTRIBUTES)

    assert (full.profile_id, full.type, full.store_integration_id) == (
        "URNGV8294NV",
        "pageViewed",
        "STORE-001",
    )
    assert full.attributes == {"myAttribute": "myValue"}
    assert full.evaluable_campaign_ids == (10, 12)
    assert full.loyalty_cards == ("loyalty-card-1",)
    assert travel.attributes == {
        "Venue": "Grand Theater",
        "EventCategory": "live_music",
        "AttendanceCount": Decimal(5),
    }
    assert travel.loyalty_cards is None


def test_an_event_needs_a_type_and_a_profile() -> None:
    assert pointers_of(parse_event, {}, custom_attributes={}) == ["/profileId", "/type"]
    assert pointers_of(parse_event, {"profileId": "", "type": "t" * 256}, custom_attributes={}) == [
        "/profileId",
        "/type",
    ]
    assert parse_event({"profileId": "p", "type": "t" * 255}, custom_attributes={}).attributes == {}


def test_event_attributes_are_checked_against_the_event_definitions() -> None:
    body = {"profileId": "p", "type": "t", "attributes": {"Venue": 1, "Other": "x"}}

    assert pointers_of(parse_event, body, custom_attributes=EVENT_ATTRIBUTES) == [
        "/attributes/Venue",
        "/attributes/Other",
    ]


# ---------------------------------------------------------------------------------------------
# Whatever arrives, the parsers answer with a result or a PayloadError, never anything else

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.sampled_from([Decimal("1E+999999"), Decimal("-0"), Decimal("1E-999999"), float("nan")])
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ITEM_KEYS = [
    "sku",
    "quantity",
    "name",
    "price",
    "category",
    "product",
    "weight",
    "height",
    "width",
    "length",
    "attributes",
    "additionalCosts",
    "position",
]
SESSION_KEYS = [
    "profileId",
    "storeIntegrationId",
    "evaluableCampaignIds",
    "couponCodes",
    "referralCode",
    "loyaltyCards",
    "state",
    "additionalCosts",
    "identifiers",
    "attributes",
    "experimentVariantAllocations",
    "other",
]
items = st.dictionaries(st.sampled_from(ITEM_KEYS), json_values, max_size=6) | json_values
sessions = st.builds(
    lambda fields, cart: {**fields, **({"cartItems": cart} if cart is not None else {})},
    st.dictionaries(st.sampled_from(SESSION_KEYS), json_values, max_size=6),
    st.none() | st.lists(items, max_size=4) | json_values,
)
FUZZ_ATTRIBUTES = {
    "CustomerSession": ALL_TYPES["CustomerSession"],
    "CartItem": ALL_TYPES["CustomerSession"],
    "CustomerProfile": ALL_TYPES["CustomerSession"],
    "Event": ALL_TYPES["CustomerSession"],
}


def payload_error_of(parse_body: Any, body: Any) -> PayloadError | None:
    """The parser's ``PayloadError``, or None when it accepted the body; anything else it
    raises fails the test."""
    try:
        parse_body(body, custom_attributes=FUZZ_ATTRIBUTES)
    except PayloadError as error:
        return error
    return None


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    customer_session=sessions | json_values,
    response_content=st.none() | st.lists(st.sampled_from(["loyalty", "x", 1])) | json_values,
)
def test_any_session_body_parses_or_raises_a_payload_error(
    customer_session: Any, response_content: Any
) -> None:
    body = {"customerSession": customer_session, "responseContent": response_content}

    error = payload_error_of(parse_session_update, body)

    if error is not None:
        assert error.problems
        for pointer, title, details in error.problems:
            assert pointer == "" or pointer.startswith("/")
            assert title
            assert details


@settings(max_examples=200)
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "attributes",
                "audiencesChanges",
                "type",
                "profileId",
                "evaluableCampaignIds",
                "loyaltyCards",
                "responseContent",
            ]
        ),
        json_values,
    )
    | json_values
)
def test_any_profile_or_event_body_parses_or_raises_a_payload_error(body: Any) -> None:
    for parse_body in (parse_profile_update, parse_event):
        error = payload_error_of(parse_body, body)

        assert error is None or error.problems
