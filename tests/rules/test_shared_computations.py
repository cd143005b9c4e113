"""Sharing computations between rules (the memo of ``compile_rulesets``) changes no result.

Random units of rulesets, drawn from rule shapes that share parts (the same attribute reads,
the same cart-item tests, the same discount), are evaluated with and without sharing against
random bindings, including bindings that lack attributes, so that shared computations fail;
every fired rule, failure (with its error type and failing effect) and effect must agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.engine import compile_rulesets

TOTAL = [".", "Session", "Total"]
COUNTRY = [".", "Profile", "Attributes", "Country"]
ITEMS = [".", "Session", "CartItems"]


def _has(category: str, quantity: int) -> Any:
    test = [
        "and",
        ["=", [".", "Item", "Category"], category],
        [">=", [".", "Item", "Quantity"], quantity],
    ]
    return ["exists", ITEMS, [["Item"], test]]


conditions = st.one_of(
    st.builds(lambda x: [">", TOTAL, x], st.integers(0, 300)),
    st.builds(lambda c: ["=", COUNTRY, c], st.sampled_from(["CA", "US"])),
    st.builds(_has, st.sampled_from(["shoes", "hats"]), st.integers(1, 3)),
    st.builds(
        lambda c: ["every", ITEMS, [["Item"], ["!=", [".", "Item", "Category"], c]]],
        st.sampled_from(["shoes", "hats"]),
    ),
    st.builds(
        lambda x: [
            ">",
            ["sum", ITEMS, [["Item"], ["*", [".", "Item", "Price"], [".", "Item", "Quantity"]]]],
            x,
        ],
        st.integers(0, 300),
    ),
    st.builds(
        lambda x: [
            ">=",
            ["count", ["filter", ITEMS, [["Item"], [">", [".", "Item", "Price"], 20]]]],
            x,
        ],
        st.integers(0, 3),
    ),
    st.builds(
        lambda d: ["=", [".|", d, [".", "Profile", "Attributes", "Tier"]], "gold"],
        st.sampled_from(["none", "gold"]),
    ),
    st.builds(
        lambda x: ["catch", False, [">", [".", "Event", "Attributes", "Amount"], x]],
        st.integers(0, 10),
    ),
)
condition_trees = st.recursive(
    conditions,
    lambda children: (
        st.builds(
            lambda op, xs: [op, *xs],
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=3),
        )
        | st.builds(lambda c: ["not", c], children)
    ),
    max_leaves=4,
)
effects = st.one_of(
    st.just(["setDiscount", "10% off", ["*", TOTAL, 0.1]]),
    st.builds(lambda n: ["setDiscount", "flat", n], st.integers(0, 20)),
    st.just(["setDiscount", "broken", ["-", 0, TOTAL]]),
    st.just(["catch", ["noop"], ["setDiscount", "guarded", [".", "Coupon", "Value"]]]),
    st.just(["addFreeItem", "SKU-1", "A gift"]),
)
rules = st.builds(
    lambda title, condition, effects: {"title": title, "condition": condition, "effects": effects},
    st.sampled_from(["a", "b", "c"]),
    condition_trees,
    st.lists(effects, max_size=2),
)
units = st.lists(st.lists(rules, min_size=1, max_size=3), min_size=1, max_size=6)

items = st.lists(
    st.fixed_dictionaries(
        {
            "Category": st.sampled_from(["shoes", "hats", "socks"]),
            "Quantity": st.integers(1, 3).map(Decimal),
            "Price": st.decimals(min_value=1, max_value=100, places=2),
        }
    ),
    max_size=5,
)
bindings = st.fixed_dictionaries(
    {},
    optional={
        "Session": st.fixed_dictionaries(
            {},
            optional={
                "Total": st.decimals(min_value=0, max_value=400, places=2),
                "CartItems": items,
            },
        ),
        "Profile": st.fixed_dictionaries(
            {
                "Attributes": st.fixed_dictionaries(
                    {},
                    optional={
                        "Country": st.sampled_from(["CA", "US"]),
                        "Tier": st.sampled_from(["gold", "silver"]),
                    },
                )
            }
        ),
        "Event": st.fixed_dictionaries(
            {
                "Attributes": st.fixed_dictionaries(
                    {}, optional={"Amount": st.integers(0, 10).map(Decimal)}
                )
            }
        ),
    },
)


def _outcome(result: Any) -> Any:
    return (
        result.fired,
        [(f.rule, type(f.error), f.effect_index) for f in result.failures],
        result.effects,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=units, data=st.data())
def test_sharing_computations_changes_no_result(
    unit: list[list[dict[str, Any]]], data: st.DataObject
) -> None:
    rulesets = [(index, ruleset) for index, ruleset in enumerate(unit)]
    shared = compile_rulesets(rulesets)
    plain = compile_rulesets(rulesets, memoize=False)
    for binding in data.draw(st.lists(bindings, min_size=1, max_size=3)):
        assert _outcome(shared.evaluate(binding)) == _outcome(plain.evaluate(binding))


def test_repeated_computations_are_shared() -> None:
    rule = {"title": "t", "condition": ["and", [">", TOTAL, 1], _has("shoes", 2)], "effects": []}
    unit = compile_rulesets([(1, [rule]), (2, [rule])])
    assert "_memo(M" in unit.source
    assert "_memo(M" not in compile_rulesets([(1, [rule]), (2, [rule])], memoize=False).source


def test_set_turns_sharing_off() -> None:
    writes = {"title": "w", "condition": ["and"], "effects": [["set", "Session", "Total", 5]]}
    reads = {"title": "r", "condition": [">", TOTAL, 10], "effects": []}
    unit = compile_rulesets([(1, [reads, writes, reads])])
    assert "_memo(M" not in unit.source
    result = unit.evaluate({"Session": {"Total": Decimal(20)}})
    assert [(r.rule_index) for r in result.fired] == [0, 1]
