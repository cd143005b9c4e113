"""The rule builder's blocks: every block maps to Talang and back without losing anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.blocks import (
    COMPARISON_OPERATORS,
    ORDERING_OPERATORS,
    RAW,
    Block,
    BlockDef,
    block_catalogue,
    block_def,
    block_from_json,
    block_to_json,
    blocks_to_talang,
    catalogue_as_json,
    talang_to_blocks,
    validate_block,
)
from rules.catalogue import ANY_KEY, attribute_paths, build_catalogue, item_attribute_paths
from rules.engine import check_rule, compile_ruleset
from rules.errors import RuleError, RuleSyntaxError, RuleTypeError, UnknownAttribute
from rules.types import DECIMAL, STRING, Kind, Type
from rules.values import format_rfc3339

# ---------------------------------------------------------------------------------------------
# Helpers


def typed(value: Any) -> Any:
    """A form of JSON-ish data where True and 1 (or 1 and "1") no longer compare equal."""
    if isinstance(value, list | tuple):
        return ["list", [typed(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", {key: typed(item) for key, item in value.items()}]
    if isinstance(value, Block):
        return ["block", value.id, typed(value.values)]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return [type(value).__name__, value]
    if isinstance(value, int | Decimal):
        return ["number", Decimal(value)]
    raise TypeError(type(value))


def place(block: Block, kind: str) -> tuple[list[Block], list[Block]]:
    return ([block], []) if kind == "condition" else ([], [block])


def talang_of(conditions: list[Block], effects: list[Block]) -> dict[str, Any]:
    return blocks_to_talang(conditions, effects)


def assert_round_trips(conditions: list[Block], effects: list[Block]) -> None:
    """blocks → Talang → blocks is the identity, and so is that Talang → blocks → Talang."""
    talang = blocks_to_talang(conditions, effects)
    json.dumps(talang, default=str)  # plain JSON data (Decimals aside)

    back_conditions, back_effects = talang_to_blocks(talang["condition"], talang["effects"])

    assert typed(back_conditions) == typed(conditions)
    assert typed(back_effects) == typed(effects)
    again = blocks_to_talang(back_conditions, back_effects)
    assert typed(again) == typed(talang)


def pointer_of(error: pytest.ExceptionInfo[RuleError]) -> str:
    return error.value.pointer


# ---------------------------------------------------------------------------------------------
# One representative placed block per definition

CHILD = Block("cart_total", {"operator": ">", "value": 100})

REPRESENTATIVE: dict[tuple[str, str], dict[str, Any]] = {
    ("condition", "all"): {
        "conditions": [CHILD, Block("coupon_valid", {})],
    },
    ("condition", "any"): {
        "conditions": [CHILD, Block("referral_valid", {})],
    },
    ("condition", "not"): {"condition": Block("coupon_valid", {})},
    ("condition", "cart_total"): {"operator": ">=", "value": Decimal("99.90")},
    ("condition", "cart_item_count"): {"operator": ">=", "value": 3},
    ("condition", "cart_contains_item"): {
        "attribute": ["Item", "Category"],
        "operator": "=",
        "value": "shoes",
        "min_quantity": 2,
    },
    ("condition", "cart_every_item"): {
        "attribute": ["Item", "Price"],
        "operator": "<",
        "value": 50,
    },
    ("condition", "session_attribute"): {
        "attribute": ["Session", "Attributes", "ShippingCity"],
        "operator": "=",
        "value": "Berlin",
    },
    ("condition", "profile_attribute"): {
        "attribute": ["Profile", "Attributes", "Country"],
        "operator": "=",
        "value": "CA",
    },
    ("condition", "profile_attribute_exists"): {"attribute": ["Profile", "Attributes", "Country"]},
    ("condition", "audience_member"): {"audience_id": 42},
    ("condition", "event_type"): {"event_type": "talon_session_updated"},
    ("condition", "event_attribute"): {
        "attribute": ["Event", "Attributes", "PageViews"],
        "operator": ">",
        "value": 3,
    },
    ("condition", "coupon_valid"): {},
    ("condition", "referral_valid"): {},
    ("condition", "loyalty_balance"): {
        "program_id": 7,
        "balance": "ActivePoints",
        "operator": ">=",
        "value": 500,
    },
    ("condition", "date_between"): {
        "start": "2024-11-29T00:00:00Z",
        "end": "2024-12-02T23:59:59+01:00",
    },
    ("condition", RAW): {"expression": ["startsWith", "VIP", [".", "Session", "CouponCode"]]},
    ("effect", "discount_percent"): {"name": "10% off", "percent": 10, "scope": None},
    ("effect", "discount_fixed"): {
        "name": "5 off shipping",
        "amount": Decimal("5.00"),
        "scope": "additionalCosts",
    },
    ("effect", "discount_per_item"): {
        "name": "Kitchen sale",
        "percent": Decimal("12.5"),
        "attribute": ["Item", "Category"],
        "operator": "=",
        "value": "Kitchen",
    },
    ("effect", "add_free_item"): {"sku": "SKU-TOTE", "name": "Free tote bag"},
    ("effect", "add_loyalty_points"): {
        "program_id": 3,
        "name": "Welcome bonus",
        "points": 100,
        "subledger_id": None,
    },
    ("effect", "deduct_loyalty_points"): {
        "program_id": 3,
        "name": "Redeemed for a voucher",
        "points": Decimal("250"),
        "subledger_id": "eu",
    },
    ("effect", "show_notification"): {
        "notification_type": "Offer",
        "title": "Free shipping",
        "body": "Add 10 more to get free shipping.",
    },
    ("effect", "update_attribute"): {
        "attribute": ["Profile", "Attributes", "Tier"],
        "value": "gold",
    },
    ("effect", "trigger_webhook"): {"webhook_id": 9, "arguments": ["order", 3, True]},
    ("effect", "custom_effect"): {
        "name": "show_banner",
        "payload": {"Banner": "summer", "Priority": 2},
    },
    ("effect", RAW): {"expression": ["acceptCoupon", [".", "Session", "CouponCode"]]},
}

CUSTOM = build_catalogue(
    {
        "Profile": {"Country": STRING, "Tier": STRING},
        "Session": {"ShippingCity": STRING},
        "Event": {"PageViews": DECIMAL},
    }
)

DEFINITIONS = [pytest.param(d, id=f"{d.kind}:{d.id}") for d in block_catalogue()]


def representative(definition: BlockDef) -> Block:
    return Block(definition.id, REPRESENTATIVE[(definition.kind, definition.id)])


def test_every_block_has_a_representative() -> None:
    assert {(d.kind, d.id) for d in block_catalogue()} == set(REPRESENTATIVE)


def test_block_ids_are_unique_per_kind() -> None:
    for kind in ("condition", "effect"):
        ids = [d.id for d in block_catalogue() if d.kind == kind]
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_every_block_round_trips(definition: BlockDef) -> None:
    block = representative(definition)

    assert_round_trips(*place(block, definition.kind))


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_every_blocks_talang_is_recognised_by_that_block_only(definition: BlockDef) -> None:
    block = representative(definition)
    expr = definition.to_talang(block.values)
    if definition.kind == "effect" and definition.guarded:
        expr = ["catch", ["noop"], expr]

    conditions, effects = talang_to_blocks(*_as_rule(expr, definition.kind))
    recognised = conditions + effects

    assert [b.id for b in recognised] == [definition.id]
    others = [
        d.id
        for d in block_catalogue()
        if d.kind == definition.kind and d.id not in (definition.id, RAW)
        if _accepts(d, definition.to_talang(block.values))
    ]
    assert others == []


def _as_rule(expr: Any, kind: str) -> tuple[Any, list[Any]]:
    return (["and", expr], []) if kind == "condition" else (["and"], [expr])


def _accepts(definition: BlockDef, expr: Any) -> bool:
    values = definition.match(expr)
    if values is None:
        return False
    try:
        validate_block(Block(definition.id, values), definition.kind)
    except RuleError:
        return False
    return True


@pytest.mark.parametrize("catalogue", [build_catalogue(), CUSTOM], ids=["built-in", "custom"])
@pytest.mark.parametrize("definition", DEFINITIONS)
def test_every_blocks_talang_type_checks_against_the_catalogue(
    definition: BlockDef, catalogue: Type
) -> None:
    block = representative(definition)
    talang = blocks_to_talang(*place(block, definition.kind), catalogue=catalogue)
    rule = {"title": definition.label, **talang}

    assert check_rule(rule, catalogue=catalogue) == []


# ---------------------------------------------------------------------------------------------
# The Talang each block writes (Talon.One's forms)


def test_cart_total_and_attribute_conditions_are_plain_comparisons() -> None:
    talang = talang_of(
        [
            Block("cart_total", {"operator": ">", "value": 100}),
            Block(
                "profile_attribute",
                {"attribute": ["Profile", "Attributes", "Country"], "operator": "=", "value": "CA"},
            ),
        ],
        [],
    )

    assert talang["condition"] == [
        "and",
        [">", [".", "Session", "Total"], 100],
        ["=", [".", "Profile", "Attributes", "Country"], "CA"],
    ]


def test_cart_contains_item_is_an_exists_lambda() -> None:
    block = Block("cart_contains_item", REPRESENTATIVE[("condition", "cart_contains_item")])

    talang = talang_of([block], [])

    assert talang["condition"] == [
        "and",
        [
            "exists",
            [".", "Session", "CartItems"],
            [
                ["Item"],
                [
                    "and",
                    ["=", [".", "Item", "Category"], "shoes"],
                    [">=", [".", "Item", "Quantity"], 2],
                ],
            ],
        ],
    ]


def test_cart_contains_item_without_a_quantity() -> None:
    values = {**REPRESENTATIVE[("condition", "cart_contains_item")], "min_quantity": None}

    talang = talang_of([Block("cart_contains_item", values)], [])

    assert talang["condition"][1][2] == [["Item"], ["=", [".", "Item", "Category"], "shoes"]]
    assert_round_trips([Block("cart_contains_item", values)], [])


def test_talon_one_stored_rule_reads_as_blocks_and_writes_back_unchanged() -> None:
    condition = ["and", ["couponValid"]]
    effects = [
        [
            "catch",
            ["noop"],
            ["setDiscount", "10% off", ["*", [".", "Session", "Total"], ["/", 10, 100]]],
        ]
    ]

    conditions, effect_blocks = talang_to_blocks(condition, effects)

    assert conditions == [Block("coupon_valid", {})]
    assert effect_blocks == [
        Block("discount_percent", {"name": "10% off", "percent": 10, "scope": None})
    ]
    assert blocks_to_talang(conditions, effect_blocks) == {
        "condition": condition,
        "effects": effects,
    }


@pytest.mark.parametrize(
    ("block", "effect"),
    [
        (
            Block("discount_fixed", {"name": "5 off", "amount": 5, "scope": None}),
            ["setDiscount", "5 off", 5],
        ),
        (
            Block("add_free_item", {"sku": "TOTE", "name": "Tote"}),
            ["addFreeItem", "TOTE", "Tote"],
        ),
        (
            Block(
                "add_loyalty_points",
                {"program_id": 3, "name": "Bonus", "points": 100, "subledger_id": None},
            ),
            ["addLoyaltyPoints", 3, "Bonus", 100],
        ),
        (
            Block(
                "deduct_loyalty_points",
                {"program_id": 3, "name": "Spent", "points": 50, "subledger_id": "eu"},
            ),
            ["deductLoyaltyPoints", 3, "Spent", 50, "eu"],
        ),
        (
            Block(
                "show_notification",
                {"notification_type": "Info", "title": "Hi", "body": "Welcome"},
            ),
            ["showNotification", "Info", "Hi", "Welcome"],
        ),
        (
            Block(
                "update_attribute",
                {"attribute": ["Profile", "Attributes", "Tier"], "value": "gold"},
            ),
            ["updateAttribute", "Profile.Attributes.Tier", "gold"],
        ),
        (
            Block("trigger_webhook", {"webhook_id": 9, "arguments": []}),
            ["triggerWebhook", 9],
        ),
        (
            Block("custom_effect", {"name": "banner", "payload": {"Colour": "red"}}),
            ["customEffect", "banner", ["kv", ["Colour", "red"]]],
        ),
    ],
    ids=lambda value: value.id if isinstance(value, Block) else "",
)
def test_effects_use_talon_ones_functions_and_argument_orders(
    block: Block, effect: list[Any]
) -> None:
    assert talang_of([], [block])["effects"] == [["catch", ["noop"], effect]]


def test_effects_without_the_guard_are_read_as_blocks_and_written_guarded() -> None:
    conditions, effects = talang_to_blocks(["and"], [["addFreeItem", "TOTE", "Tote"]])

    assert effects == [Block("add_free_item", {"sku": "TOTE", "name": "Tote"})]
    assert talang_of(conditions, effects)["effects"] == [
        ["catch", ["noop"], ["addFreeItem", "TOTE", "Tote"]]
    ]


def test_the_per_item_discount_discounts_each_matching_line() -> None:
    block = Block("discount_per_item", REPRESENTATIVE[("effect", "discount_per_item")])
    rule = {"title": "Kitchen", **talang_of([], [block])}
    binding = {
        "Session": {
            "CartItems": [
                {
                    "Category": "Kitchen",
                    "Price": Decimal(20),
                    "Quantity": Decimal(2),
                    "Position": Decimal(0),
                },
                {
                    "Category": "Garden",
                    "Price": Decimal(30),
                    "Quantity": Decimal(1),
                    "Position": Decimal(1),
                },
            ]
        }
    }

    result = compile_ruleset([rule], catalogue=build_catalogue()).evaluate(binding)

    discounts = [(fired.effect.position, fired.effect.value) for fired in result.effects]
    assert discounts == [(0, Decimal("5.000"))]


def test_blocks_evaluate_as_their_labels_say() -> None:
    conditions = [
        Block("cart_contains_item", REPRESENTATIVE[("condition", "cart_contains_item")]),
        Block("date_between", REPRESENTATIVE[("condition", "date_between")]),
        Block("profile_attribute_exists", {"attribute": ["Profile", "Attributes", "Country"]}),
    ]
    effects = [Block("add_free_item", {"sku": "TOTE", "name": "Tote"})]
    ruleset = compile_ruleset([{"title": "t", **talang_of(conditions, effects)}])

    def evaluate(quantity: int, now: datetime, attributes: dict[str, Any]) -> bool:
        binding = {
            "Session": {
                "CartItems": [{"Category": "shoes", "Quantity": Decimal(quantity)}],
            },
            "Profile": {"Attributes": attributes},
            "Now": now,
        }
        return bool(ruleset.evaluate(binding).fired)

    black_friday = datetime(2024, 11, 29, 12, tzinfo=UTC)
    assert evaluate(2, black_friday, {"Country": "CA"})
    assert not evaluate(1, black_friday, {"Country": "CA"})
    assert not evaluate(2, black_friday - timedelta(days=1), {"Country": "CA"})
    assert not evaluate(2, black_friday, {})


# ---------------------------------------------------------------------------------------------
# Groups, raw blocks, edge cases


def test_nested_groups_round_trip() -> None:
    tree = [
        Block(
            "any",
            {
                "conditions": [
                    Block(
                        "all",
                        {
                            "conditions": [
                                CHILD,
                                Block("not", {"condition": Block("referral_valid", {})}),
                                Block(
                                    "any",
                                    {
                                        "conditions": [
                                            Block("coupon_valid", {}),
                                            Block("raw", {"expression": ["isEmpty", ["list"]]}),
                                        ]
                                    },
                                ),
                            ]
                        },
                    ),
                    Block("event_type", {"event_type": "order_paid"}),
                ]
            },
        ),
        Block("all", {"conditions": [Block("coupon_valid", {})]}),
    ]

    assert_round_trips(tree, [])
    assert talang_of(tree, [])["condition"][1][0] == "or"


@pytest.mark.parametrize(
    "expr",
    [
        ["startsWith", "VIP", [".", "Session", "CouponCode"]],
        [">", [".", "Session", "Total"], "100"],  # looks like cart total, compares a string
        [">", [".", "Session", "Total"], True],
        [">", [".", "Session", "Total"], [".", "Profile", "TotalSales"]],
        ["=", [".", "Event", "Type"], 5],
        ["AND", ["couponValid"]],
        ["and"],
        ["or"],
        ["not", ["couponValid"], ["referralValid"]],
        ["=", [".", "Profile", "Attributes", "Country"], "CA", "US"],
        [">", [".", "Profile", "Attributes", "Country"], "CA"],
        ["exists", [".", "Session", "CartItems"], [["Thing"], ["=", [".", "Thing", "SKU"], "x"]]],
        ["exists", [".", "Session", "CartItems"], [["Item"], ["couponValid"]]],
        [
            "exists",
            [".", "Session", "CartItems"],
            [
                ["Item"],
                ["and", ["=", [".", "Item", "SKU"], "x"], [">=", [".", "Item", "Quantity"], None]],
            ],
        ],
        [">=", [".", "Loyalty", "07", "ActivePoints"], 10],
        [">=", [".", "Loyalty", "7", "Balance"], 10],
        ["betweenTimes", [".", "Now"], "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"],
        [
            "betweenTimes",
            [".", "Now"],
            ["parseTime", "2024-02-01T00:00:00Z"],
            ["parseTime", "2024-01-01T00:00:00Z"],
        ],
        ["catch", False, ["!=", [".", "Session", "Attributes", "X"], None]],
        True,
        Decimal("1.5"),
        "text",
        None,
    ],
)
def test_conditions_no_block_writes_come_back_raw_and_unchanged(expr: Any) -> None:
    conditions, _ = talang_to_blocks(["and", expr], [])

    assert conditions == [Block(RAW, {"expression": expr})]
    assert typed(talang_of(conditions, [])["condition"]) == typed(["and", expr])


@pytest.mark.parametrize(
    "expr",
    [
        ["setDiscount", "free", -5],
        ["setDiscount", "x", 5, None],
        ["addLoyaltyPoints", 3, "Bonus", 100, None],
        ["setDiscount", "", 5],
        ["setDiscount", "x", 5, "everything"],
        ["setDiscount", "x", ["*", [".", "Session", "Total"], ["/", 10, 50]]],
        ["setDiscount", "x", ["*", [".", "Session", "Total"], ["/", 150, 100]]],
        ["catch", ["noop"], ["rejectCoupon", "X", "CouponExpired"]],
        ["catch", ["noop"], ["setDiscount", "free", -5]],
        ["catch", "nope", ["addFreeItem", "TOTE", "Tote"]],
        ["addLoyaltyPoints", "3", "Bonus", 100],
        ["addLoyaltyPoints", 3, "Bonus", 100, "eu", None, None],
        ["showNotification", "Shout", "t", "b"],
        ["updateAttribute", "Coupon.Attributes.X", 1],
        ["updateAttribute", ["Profile", "Attributes", "Tier"], "gold"],
        ["customEffect", "x", ["kv", ["A", 1], ["A", 2]]],
        ["customEffect", "x", ["kv", ["A", ["list"]]]],
        ["triggerWebhook", 0],
        ["map", [".", "Session", "CartItems"], [["Item"], ["noop"]]],
    ],
)
def test_effects_no_block_writes_come_back_raw_and_unchanged(expr: Any) -> None:
    _, effects = talang_to_blocks(["and"], [expr])

    assert effects == [Block(RAW, {"expression": expr})]
    assert typed(talang_of([], effects)["effects"]) == typed([expr])


def test_no_conditions_is_an_empty_and() -> None:
    assert blocks_to_talang([], []) == {"condition": ["and"], "effects": []}
    assert talang_to_blocks(["and"], []) == ([], [])
    assert talang_to_blocks(None, []) == ([], [])


def test_a_top_level_condition_that_is_not_an_and_is_one_block() -> None:
    condition = ["or", ["couponValid"], ["referralValid"]]

    conditions, _ = talang_to_blocks(condition, [])

    assert [b.id for b in conditions] == ["any"]
    assert talang_of(conditions, [])["condition"] == ["and", condition]


def test_malformed_talang_is_refused_with_a_pointer() -> None:
    with pytest.raises(RuleSyntaxError) as condition_error:
        talang_to_blocks(["and", ["couponValid"], []], [])
    with pytest.raises(RuleSyntaxError) as effect_error:
        talang_to_blocks(["and"], [["noop"], [{"x": 1}]])

    assert pointer_of(condition_error) == "/condition/2"
    assert pointer_of(effect_error) == "/effects/1/0"


# ---------------------------------------------------------------------------------------------
# Validation


def cart_total(value: Any, operator: str = ">") -> Block:
    return Block("cart_total", {"operator": operator, "value": value})


@pytest.mark.parametrize(
    ("conditions", "effects", "pointer"),
    [
        ([CHILD, CHILD, cart_total("100")], [], "/conditions/2/value"),
        ([cart_total(100.0)], [], "/conditions/0/value"),
        ([cart_total(True)], [], "/conditions/0/value"),
        ([cart_total(Decimal("NaN"))], [], "/conditions/0/value"),
        ([cart_total(100, "~")], [], "/conditions/0/operator"),
        ([Block("cart_total", {"operator": ">"})], [], "/conditions/0/value"),
        (
            [Block("cart_total", {"operator": ">", "value": 1, "unit": "EUR"})],
            [],
            "/conditions/0/unit",
        ),
        ([Block("basket_total", {})], [], "/conditions/0/id"),
        ([Block("all", {"conditions": []})], [], "/conditions/0/conditions"),
        (
            [
                Block(
                    "all", {"conditions": [CHILD, Block("any", {"conditions": [cart_total("x")]})]}
                )
            ],
            [],
            "/conditions/0/conditions/1/conditions/0/value",
        ),
        ([Block("not", {"condition": cart_total(None)})], [], "/conditions/0/condition/value"),
        ([Block("not", {"condition": "couponValid"})], [], "/conditions/0/condition"),
        (
            [
                Block(
                    "profile_attribute",
                    {"attribute": ["Profile", "Attributes", "Age"], "operator": ">", "value": "30"},
                )
            ],
            [],
            "/conditions/0/value",
        ),
        (
            [
                Block(
                    "profile_attribute",
                    {"attribute": ["Session", "Total"], "operator": "=", "value": 1},
                )
            ],
            [],
            "/conditions/0/attribute",
        ),
        (
            [
                Block(
                    "session_attribute",
                    {"attribute": ["Session", "Total"], "operator": "=", "value": 1},
                )
            ],
            [],
            "/conditions/0/attribute",
        ),
        (
            [
                Block(
                    "profile_attribute",
                    {"attribute": "Profile.Country", "operator": "=", "value": 1},
                )
            ],
            [],
            "/conditions/0/attribute",
        ),
        (
            [
                Block(
                    "date_between", {"start": "2024-02-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"}
                )
            ],
            [],
            "/conditions/0/end",
        ),
        (
            [Block("date_between", {"start": "1 Feb 2024", "end": "2024-01-01T00:00:00Z"})],
            [],
            "/conditions/0/start",
        ),
        (
            [Block("audience_member", {"audience_id": Decimal("1.5")})],
            [],
            "/conditions/0/audience_id",
        ),
        ([Block("event_type", {"event_type": "  "})], [], "/conditions/0/event_type"),
        ([], [Block("discount_percent", {"name": "x", "percent": 150})], "/effects/0/percent"),
        ([], [Block("discount_percent", {"name": "x", "percent": 0})], "/effects/0/percent"),
        (
            [],
            [Block("discount_fixed", {"name": "x", "amount": 5, "scope": "all"})],
            "/effects/0/scope",
        ),
        (
            [],
            [
                Block("add_free_item", {"sku": "A", "name": "B"}),
                Block(
                    "discount_per_item",
                    {"name": "x", "percent": 10, "attribute": ["Item", "Category"]},
                ),
            ],
            "/effects/1/operator",
        ),
        (
            [],
            [Block("show_notification", {"notification_type": "Shout", "title": "t", "body": "b"})],
            "/effects/0/notification_type",
        ),
        (
            [],
            [Block("update_attribute", {"attribute": ["Coupon", "Attributes", "X"], "value": 1})],
            "/effects/0/attribute",
        ),
        (
            [],
            [Block("update_attribute", {"attribute": ["Session", "Total"], "value": 1})],
            "/effects/0/attribute",
        ),
        (
            [],
            [Block("trigger_webhook", {"webhook_id": 1, "arguments": [["x"]]})],
            "/effects/0/arguments/0",
        ),
        (
            [],
            [Block("custom_effect", {"name": "x", "payload": {"A": None}})],
            "/effects/0/payload/A",
        ),
        ([], [Block("coupon_valid", {})], "/effects/0/id"),
        (["couponValid"], [], "/conditions/0"),
    ],
)
def test_bad_values_are_refused_where_they_are(
    conditions: list[Any], effects: list[Any], pointer: str
) -> None:
    with pytest.raises(RuleTypeError) as error:
        blocks_to_talang(conditions, effects)

    assert pointer_of(error) == pointer


def test_a_raw_block_must_hold_well_formed_talang() -> None:
    with pytest.raises(RuleSyntaxError) as error:
        blocks_to_talang([Block(RAW, {"expression": ["and", []]})], [])

    assert pointer_of(error) == "/conditions/0/expression/1"


def test_with_a_catalogue_attributes_must_exist_and_values_must_fit() -> None:
    def profile(attribute: list[str], value: Any) -> Block:
        return Block("profile_attribute", {"attribute": attribute, "operator": "=", "value": value})

    with pytest.raises(UnknownAttribute) as unknown:
        blocks_to_talang([profile(["Profile", "Attributes", "Cuntry"], "CA")], [], catalogue=CUSTOM)
    with pytest.raises(RuleTypeError) as mismatch:
        blocks_to_talang([profile(["Profile", "Attributes", "Country"], 12)], [], catalogue=CUSTOM)
    with pytest.raises(RuleTypeError) as collection:
        blocks_to_talang([profile(["Profile", "AudienceMemberships"], 1)], [], catalogue=CUSTOM)

    assert pointer_of(unknown) == "/conditions/0/attribute"
    assert pointer_of(mismatch) == "/conditions/0/value"
    assert pointer_of(collection) == "/conditions/0/attribute"
    # Without custom attributes the Attributes maps are open: anything goes.
    blocks_to_talang(
        [profile(["Profile", "Attributes", "Cuntry"], "CA")], [], catalogue=build_catalogue()
    )
    # A time attribute takes an RFC 3339 time.
    blocks_to_talang(
        [profile(["Profile", "CreatedAt"], "2024-01-01T00:00:00Z")], [], catalogue=CUSTOM
    )


# ---------------------------------------------------------------------------------------------
# JSON forms for the Campaign Manager


def test_the_palette_is_json() -> None:
    plain = json.loads(json.dumps(catalogue_as_json()))
    with_attributes = json.loads(json.dumps(catalogue_as_json(CUSTOM)))

    assert [b["id"] for b in plain] == [d.id for d in block_catalogue()]
    total = next(b for b in plain if b["id"] == "cart_total")
    assert total["kind"] == "condition"
    assert total["fields"][0]["choices"] == list(COMPARISON_OPERATORS)
    assert total["fields"][1]["kind"] == ["decimal"]
    percent = next(b for b in plain if b["id"] == "discount_percent")["fields"][1]
    assert (percent["minimum"], percent["maximum"], percent["exclusiveMinimum"]) == (0, 100, True)
    profile = next(b for b in with_attributes if b["id"] == "profile_attribute")
    palette = [entry["path"] for entry in profile["fields"][0]["attributes"]]
    assert ["Profile", "Attributes", "Country"] in palette
    assert ["Profile", "TotalSales"] in palette
    assert all(path[0] == "Profile" for path in palette)
    session = next(b for b in with_attributes if b["id"] == "session_attribute")
    assert ["Session", "Total"] not in [e["path"] for e in session["fields"][0]["attributes"]]
    item = next(b for b in with_attributes if b["id"] == "cart_contains_item")
    assert ["Item", "Category"] in [e["path"] for e in item["fields"][0]["attributes"]]


def test_blocks_have_a_json_form() -> None:
    tree = Block(
        "all",
        {"conditions": [CHILD, Block("not", {"condition": Block("coupon_valid", {})})]},
    )

    data = json.loads(json.dumps(block_to_json(tree, "condition")))

    assert data["values"]["conditions"][1]["values"]["condition"] == {
        "id": "coupon_valid",
        "values": {},
    }
    assert block_from_json(data, "condition") == tree


def test_malformed_json_blocks_are_refused() -> None:
    with pytest.raises(RuleTypeError) as shape:
        block_from_json({"values": {}}, "condition", pointer="/conditions/0")
    with pytest.raises(RuleTypeError) as child:
        block_from_json(
            {"id": "all", "values": {"conditions": [{"id": "nope"}]}},
            "condition",
            pointer="/conditions/3",
        )

    assert pointer_of(shape) == "/conditions/0"
    assert pointer_of(child) == "/conditions/3/conditions/0/id"


def test_block_def_lookup() -> None:
    assert block_def("condition", "cart_total").label == "Cart total is"
    assert block_def("effect", RAW).kind == "effect"
    with pytest.raises(KeyError):
        block_def("effect", "cart_total")


# ---------------------------------------------------------------------------------------------
# Random block trees

CATALOGUE = build_catalogue()

numbers = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    ),
)
texts = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")
names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True)
atoms = st.one_of(numbers, texts, st.booleans())
times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC]),
)


def positive(maximum: int | None = None, integer: bool = False) -> st.SearchStrategy[Any]:
    upper = maximum if maximum is not None else 10**6
    whole = st.integers(min_value=1, max_value=upper)
    if integer:
        return whole
    return st.one_of(
        whole,
        st.decimals(min_value=Decimal("0.01"), max_value=upper, places=2),
    )


def _known_attributes(
    root: str, excluded: tuple[tuple[str, ...], ...] = ()
) -> list[tuple[list[str], Kind]]:
    paths = item_attribute_paths(CATALOGUE) if root == "Item" else attribute_paths(CATALOGUE)
    return [
        (list(path), type_.kind)
        for path, type_ in paths
        if path[0] == root
        and ANY_KEY not in path
        and tuple(path) not in excluded
        and not type_.kind & (Kind.LIST | Kind.MAP)
    ]


def _custom_attribute(root: str) -> st.SearchStrategy[tuple[list[str], Kind]]:
    # Without custom attributes an Attributes map is open: its attributes may hold anything.
    return names.map(lambda name: ([root, "Attributes", name], Kind.ANY))


def attribute_and_kind(
    root: str, excluded: tuple[tuple[str, ...], ...] = ()
) -> st.SearchStrategy[tuple[list[str], Kind]]:
    known = _known_attributes(root, excluded)
    custom = _custom_attribute(root)
    return st.one_of(st.sampled_from(known), custom) if known else custom


def attributes_of(
    root: str, excluded: tuple[tuple[str, ...], ...] = ()
) -> st.SearchStrategy[list[str]]:
    return attribute_and_kind(root, excluded).map(lambda pair: pair[0])


rfc3339_times = times.map(format_rfc3339)


def values_of(kind: Kind) -> st.SearchStrategy[Any]:
    """Literals that fit an attribute of this kind."""
    if kind == Kind.DECIMAL:
        return numbers
    if kind == Kind.STRING:
        return texts
    if kind == Kind.BOOLEAN:
        return st.booleans()
    if kind == Kind.TIME:
        return rfc3339_times
    return atoms


def _comparison(pair: tuple[list[str], Kind]) -> st.SearchStrategy[dict[str, Any]]:
    path, kind = pair
    operators = COMPARISON_OPERATORS if kind in (Kind.DECIMAL, Kind.ANY) else ("=", "!=")
    return st.sampled_from(operators).flatmap(
        lambda operator: (numbers if operator in ORDERING_OPERATORS else values_of(kind)).map(
            lambda value: {"attribute": path, "operator": operator, "value": value}
        )
    )


def comparisons(
    root: str, excluded: tuple[tuple[str, ...], ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """An attribute, an operator and a value that fit together."""
    return attribute_and_kind(root, excluded).flatmap(_comparison)


def _assignment(pair: tuple[list[str], Kind]) -> st.SearchStrategy[dict[str, Any]]:
    path, kind = pair
    return values_of(kind).map(lambda value: {"attribute": path, "value": value})


def _period(pair: tuple[datetime, timedelta]) -> dict[str, Any]:
    start, length = pair
    return {"start": format_rfc3339(start), "end": format_rfc3339(start + length)}


LEAF_CONDITIONS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "cart_total": st.fixed_dictionaries(
        {"operator": st.sampled_from(COMPARISON_OPERATORS), "value": numbers}
    ),
    "cart_item_count": st.fixed_dictionaries(
        {"operator": st.sampled_from(COMPARISON_OPERATORS), "value": numbers}
    ),
    "cart_contains_item": st.tuples(comparisons("Item"), st.none() | positive(integer=True)).map(
        lambda pair: {**pair[0], "min_quantity": pair[1]}
    ),
    "cart_every_item": comparisons("Item"),
    "session_attribute": comparisons("Session", (("Session", "Total"),)),
    "profile_attribute": comparisons("Profile"),
    "event_attribute": comparisons("Event", (("Event", "Type"),)),
    "profile_attribute_exists": st.fixed_dictionaries({"attribute": attributes_of("Profile")}),
    "audience_member": st.fixed_dictionaries({"audience_id": positive(integer=True)}),
    "event_type": st.fixed_dictionaries({"event_type": texts}),
    "coupon_valid": st.just({}),
    "referral_valid": st.just({}),
    "loyalty_balance": st.fixed_dictionaries(
        {
            "program_id": positive(integer=True),
            "balance": st.sampled_from(
                ("ActivePoints", "PendingPoints", "SpentPoints", "ExpiredPoints")
            ),
            "operator": st.sampled_from(COMPARISON_OPERATORS),
            "value": numbers,
        }
    ),
    "date_between": st.tuples(
        times, st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3650))
    ).map(_period),
    RAW: st.sampled_from(
        [
            ["startsWith", "VIP", [".", "Session", "CouponCode"]],
            ["isEmpty", [".", "Session", "Identifiers"]],
            [">", ["count", [".", "Session", "CartItems"]], 2],
        ]
    ).map(lambda expr: {"expression": expr}),
}

EFFECTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "discount_percent": st.fixed_dictionaries(
        {
            "name": texts,
            "percent": positive(100),
            "scope": st.none() | st.sampled_from(("cartItems", "sessionTotal")),
        }
    ),
    "discount_fixed": st.fixed_dictionaries(
        {"name": texts, "amount": positive(), "scope": st.none() | st.just("additionalCosts")}
    ),
    "discount_per_item": st.tuples(texts, positive(100), st.none() | comparisons("Item")).map(
        lambda triple: {
            "name": triple[0],
            "percent": triple[1],
            **(triple[2] or {"attribute": None, "operator": None, "value": None}),
        }
    ),
    "add_free_item": st.fixed_dictionaries({"sku": texts, "name": texts}),
    "add_loyalty_points": st.fixed_dictionaries(
        {
            "program_id": positive(integer=True),
            "name": texts,
            "points": positive(),
            "subledger_id": st.none() | texts,
        }
    ),
    "deduct_loyalty_points": st.fixed_dictionaries(
        {
            "program_id": positive(integer=True),
            "name": texts,
            "points": positive(),
            "subledger_id": st.none() | texts,
        }
    ),
    "show_notification": st.fixed_dictionaries(
        {
            "notification_type": st.sampled_from(("Info", "Offer", "Error", "Misc")),
            "title": texts,
            "body": texts,
        }
    ),
    "update_attribute": st.one_of(
        _custom_attribute("Session"), _custom_attribute("Profile")
    ).flatmap(_assignment),
    "trigger_webhook": st.fixed_dictionaries(
        {"webhook_id": positive(integer=True), "arguments": st.lists(atoms, max_size=3)}
    ),
    "custom_effect": st.fixed_dictionaries(
        {"name": texts, "payload": st.dictionaries(texts, atoms, max_size=3)}
    ),
    RAW: st.sampled_from([["acceptCoupon", "X"], ["createCoupon", None]]).map(
        lambda expr: {"expression": expr}
    ),
}


def test_the_random_strategies_cover_every_block() -> None:
    groups = {"all", "any", "not"}
    assert set(LEAF_CONDITIONS) | groups == {
        d.id for d in block_catalogue() if d.kind == "condition"
    }
    assert set(EFFECTS) == {d.id for d in block_catalogue() if d.kind == "effect"}


def _leaf(block_id: str) -> st.SearchStrategy[Block]:
    return LEAF_CONDITIONS[block_id].map(lambda values: Block(block_id, values))


leaf_conditions = st.one_of([_leaf(block_id) for block_id in LEAF_CONDITIONS])
condition_trees = st.recursive(
    leaf_conditions,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda c: Block("all", {"conditions": c})),
        st.lists(children, min_size=1, max_size=4).map(lambda c: Block("any", {"conditions": c})),
        children.map(lambda c: Block("not", {"condition": c})),
    ),
    max_leaves=12,
)
effect_blocks = st.one_of(
    [
        values.map(lambda v, block_id=block_id: Block(block_id, v))
        for block_id, values in EFFECTS.items()
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    conditions=st.lists(condition_trees, max_size=4),
    effects=st.lists(effect_blocks, max_size=4),
)
def test_random_block_trees_round_trip(conditions: list[Block], effects: list[Block]) -> None:
    assert_round_trips(conditions, effects)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    conditions=st.lists(condition_trees, max_size=3), effects=st.lists(effect_blocks, max_size=3)
)
def test_random_block_trees_type_check(conditions: list[Block], effects: list[Block]) -> None:
    rule = {"title": "random", **blocks_to_talang(conditions, effects, catalogue=CATALOGUE)}

    assert check_rule(rule, catalogue=CATALOGUE) == []


# Random Talang, most of it close to what blocks write: reading it as blocks and writing it back
# gives the same Talang, whatever was recognised and whatever came back raw.

_HEADS = (
    "and", "or", "not", "=", "!=", ">", ">=", "<", "<=", "exists", "every", "sum", "map",
    "filter", "catch", "noop", "couponValid", "referralValid", "betweenTimes", "parseTime",
    "setDiscount", "setDiscountPerItem", "addFreeItem", "addLoyaltyPoints",
    "deductLoyaltyPoints", "showNotification", "updateAttribute", "triggerWebhook",
    "customEffect", "kv", "*", "/", ".",
)  # fmt: skip
_PATHS = [
    [".", "Session", "Total"],
    [".", "Session", "CartItems"],
    [".", "Item", "Category"],
    [".", "Item", "Quantity"],
    [".", "Item", "Price"],
    [".", "Item", "Position"],
    [".", "Profile", "Attributes", "Country"],
    [".", "Event", "Type"],
    [".", "Loyalty", "7", "ActivePoints"],
    [".", "Now"],
    [".", "Profile", "AudienceMemberships"],
]
_BLOCK_SHAPES = [
    blocks_to_talang(*place(representative(d), d.kind))[
        "condition" if d.kind == "condition" else "effects"
    ]
    for d in block_catalogue()
]
_SHAPES = [shape[1] if shape and shape[0] == "and" else shape[0] for shape in _BLOCK_SHAPES]

talang_leaves = st.one_of(
    numbers,
    texts,
    st.booleans(),
    st.none(),
    st.sampled_from(_PATHS),
    st.sampled_from(["Profile.Attributes.Tier", "Info", "ActivePoints", "2024-01-01T00:00:00Z"]),
    st.sampled_from(_SHAPES),
)
talang_expressions = st.recursive(
    talang_leaves,
    lambda children: st.one_of(
        st.tuples(st.sampled_from(_HEADS), st.lists(children, max_size=4)).map(
            lambda pair: [pair[0], *pair[1]]
        ),
        children.map(lambda body: [["Item"], body]),
        children.map(lambda body: ["catch", ["noop"], body]),
    ),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    conditions=st.lists(talang_expressions, max_size=4),
    effects=st.lists(talang_expressions, max_size=3),
)
def test_any_talang_survives_a_trip_through_blocks(
    conditions: list[Any], effects: list[Any]
) -> None:
    condition = ["and", *conditions]
    guarded = [["catch", ["noop"], effect] for effect in effects]

    condition_blocks, effect_blocks = talang_to_blocks(condition, guarded)
    talang = blocks_to_talang(condition_blocks, effect_blocks)

    assert typed(talang) == typed({"condition": condition, "effects": guarded})
