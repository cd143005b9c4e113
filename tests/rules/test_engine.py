"""Rulesets end to end: checking with pointers, compiling once, evaluating top to bottom."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rules.engine import Rule, check_rule, compile_ruleset, compile_rulesets
from rules.errors import NoMatchingFunction, RuleRuntimeError, UnknownAttribute
from rules.types import BOOLEAN, DECIMAL, STRING, list_of, map_of

ITEM = map_of({"Category": STRING, "Quantity": DECIMAL, "Price": DECIMAL})
CATALOGUE = map_of(
    {
        "Session": map_of({"Total": DECIMAL, "CartItems": list_of(ITEM)}),
        "Profile": map_of({"Attributes": map_of({"Country": STRING, "Vip": BOOLEAN})}),
    }
)


def _fired(result: Any) -> list[int]:
    return [rule.rule_index for rule in result.fired]


SHOES = [
    "exists",
    [".", "Session", "CartItems"],
    [
        ["Item"],
        ["and", ["=", [".", "Item", "Category"], "shoes"], [">=", [".", "Item", "Quantity"], 2]],
    ],
]


def _binding(
    total: str = "120", country: str = "CA", items: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "Session": {"Total": Decimal(total), "CartItems": items or []},
        "Profile": {"Attributes": {"Country": country, "Vip": False}},
    }


def test_a_big_canadian_cart_fires_and_others_do_not() -> None:
    rule = {
        "title": "10% off big Canadian carts",
        "condition": [
            "and",
            [">", [".", "Session", "Total"], 100],
            ["=", [".", "Profile", "Attributes", "Country"], "CA"],
        ],
        "effects": [],
    }
    ruleset = compile_ruleset([rule], catalogue=CATALOGUE)
    assert _fired(ruleset.evaluate(_binding())) == [0]
    assert _fired(ruleset.evaluate(_binding(total="99.99"))) == []
    assert _fired(ruleset.evaluate(_binding(country="DE"))) == []


def test_lambdas_over_cart_items() -> None:
    ruleset = compile_ruleset([{"title": "shoes", "condition": SHOES}], catalogue=CATALOGUE)
    two_pairs = [{"Category": "shoes", "Quantity": Decimal(2), "Price": Decimal("30")}]
    one_pair = [{"Category": "shoes", "Quantity": Decimal(1), "Price": Decimal("30")}]
    assert _fired(ruleset.evaluate(_binding(items=two_pairs))) == [0]
    assert _fired(ruleset.evaluate(_binding(items=one_pair))) == []


def test_rules_run_top_to_bottom_and_report_why_others_did_not_fire() -> None:
    rules = [
        {"title": "always", "condition": ["and"]},
        {"title": "never", "condition": ["=", 1, 2]},
        {"title": "breaks", "condition": [">", [".", "Session", "Total"], 1]},
    ]
    result = compile_ruleset(rules).evaluate({"Session": {}})
    assert _fired(result) == [0]
    assert [(f.rule.rule_index, f.condition_failed) for f in result.failures] == [
        (1, True),
        (2, False),
    ]
    assert isinstance(result.failures[1].error, RuleRuntimeError)


def test_rule_bindings_are_named_values_of_the_rule() -> None:
    rule = {
        "title": "two or more shoes",
        "bindings": [
            {
                "name": "Shoes",
                "expression": [
                    "filter",
                    [".", "Session", "CartItems"],
                    [["Item"], ["=", [".", "Item", "Category"], "shoes"]],
                ],
            }
        ],
        "condition": [">=", ["count", [".", "Shoes"]], 2],
    }
    items = [{"Category": "shoes", "Quantity": Decimal(1), "Price": Decimal(1)}] * 2
    assert _fired(compile_ruleset([rule], catalogue=CATALOGUE).evaluate(_binding(items=items))) == [
        0
    ]


def test_check_rule_points_at_every_problem() -> None:
    rule = {
        "title": "broken",
        "condition": ["and", [">", [".", "Session", "Totl"], 100], ["=", 1, 1]],
        "effects": [["+", 1, "x"], ["noop"], ["nosuchfunction"]],
    }
    errors = check_rule(rule, catalogue=CATALOGUE)
    assert [(type(e), e.pointer) for e in errors] == [
        (UnknownAttribute, "/condition/1/1/2"),
        (NoMatchingFunction, "/effects/0"),
        (NoMatchingFunction, "/effects/2"),
    ]
    assert "Total" in errors[0].message


def test_a_valid_rule_has_no_errors() -> None:
    assert check_rule({"title": "ok", "condition": SHOES}, catalogue=CATALOGUE) == []


def test_compile_ruleset_names_the_rule_in_the_pointer() -> None:
    with pytest.raises(UnknownAttribute) as raised:
        compile_ruleset(
            [{"title": "a", "condition": ["and"]}, {"title": "b", "condition": [".", "Nope"]}],
            catalogue=CATALOGUE,
        )
    assert raised.value.pointer == "/rules/1/condition/1"


def test_the_condition_must_be_a_boolean() -> None:
    assert check_rule({"title": "t", "condition": ["+", 1, 2]})


def test_rule_round_trips_through_its_dict() -> None:
    rule = Rule.from_dict(
        {
            "title": "t",
            "description": "d",
            "condition": SHOES,
            "effects": [["noop"]],
            "bindings": [],
        }
    )
    assert Rule.from_dict(rule.as_dict()) == rule


def test_set_does_not_leak_between_evaluations() -> None:
    rules = [
        {
            "title": "write",
            "condition": ["and"],
            "effects": [["set", "Profile", "Attributes", "Country", "XX"]],
        }
    ]
    ruleset = compile_ruleset(rules)
    binding = _binding()
    ruleset.evaluate(binding)
    assert binding["Profile"]["Attributes"]["Country"] == "XX"
    fresh = _binding()
    assert fresh["Profile"]["Attributes"]["Country"] == "CA"


def test_generated_code_never_contains_user_text() -> None:
    hostile = "'); import os; os.system('echo pwned'); ('"
    rule = {"title": hostile, "condition": ["=", [".", "Profile", "Attributes", hostile], hostile]}
    ruleset = compile_ruleset([rule])
    assert hostile not in ruleset.source
    assert "pwned" not in ruleset.source
    assert _fired(ruleset.evaluate({"Profile": {"Attributes": {hostile: hostile}}})) == [0]


def test_many_rulesets_evaluate_in_order_and_tag_their_effects() -> None:
    discount = ["setDiscount", "5 off", 5]
    rulesets = [
        ("campaign-a", [{"title": "a0", "condition": ["and"], "effects": [discount]}]),
        ("campaign-b", [{"title": "b0", "condition": ["=", 1, 2], "effects": [discount]}]),
        (
            "campaign-c",
            [
                {"title": "c0", "condition": ["and"], "effects": [discount, discount]},
                {"title": "c1", "condition": ["and"], "effects": [discount, ["item", ["list"], 3]]},
            ],
        ),
    ]
    result = compile_rulesets(rulesets).evaluate({})
    assert [(r.ruleset, r.rule_index) for r in result.fired] == [
        ("campaign-a", 0),
        ("campaign-c", 0),
    ]
    assert [(e.rule.ruleset, e.rule.title) for e in result.effects] == [
        ("campaign-a", "a0"),
        ("campaign-c", "c0"),
        ("campaign-c", "c0"),
    ]
    failures = {(f.rule.ruleset, f.rule.title): f for f in result.failures}
    assert failures["campaign-b", "b0"].condition_failed
    broken = failures["campaign-c", "c1"]
    assert broken.effect_index == 1
    assert isinstance(broken.error, RuleRuntimeError)


def test_compile_rulesets_points_into_the_failing_ruleset() -> None:
    with pytest.raises(UnknownAttribute) as raised:
        compile_rulesets(
            [
                ("a", [{"title": "ok", "condition": ["and"]}]),
                ("b", [{"title": "bad", "condition": [".", "Nope"]}]),
            ],
            catalogue=CATALOGUE,
        )
    assert raised.value.pointer == "/rulesets/1/rules/0/condition/1"
