"""Rulesets one at a time: a callback between rulesets may change what the next one reads.

This is what cascading discounts are built on (``campaigns.evaluation.Cascade``); the engine only
promises to call back after each ruleset with the effects it produced, and to read the binding
afresh afterwards, shared computations included. The default evaluation is left as it was: one
generated function per 64 rulesets, computations shared across the whole evaluation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rules.engine import FiredEffect, compile_rulesets

TOTAL = [".", "Session", "Total"]
TEN_PERCENT: dict[str, Any] = {
    "title": "10% off",
    "condition": [">", TOTAL, 0],
    "effects": [["setDiscount", "10% off", ["*", TOTAL, Decimal("0.1")]]],
}


def _binding(total: str = "100") -> dict[str, Any]:
    return {"Session": {"Total": Decimal(total), "CartItems": []}}


def _values(effects: list[FiredEffect]) -> list[Decimal]:
    return [entry.effect.value for entry in effects]


class Recorder:
    """A ``between`` that records its calls, and takes each ruleset's discounts off the total."""

    def __init__(self, binding: dict[str, Any]) -> None:
        self.binding = binding
        self.calls: list[tuple[Any, list[Decimal]]] = []

    def __call__(self, key: Any, effects: list[FiredEffect]) -> None:
        self.calls.append((key, _values(effects)))
        session = self.binding["Session"]
        left = session["Total"] - sum(_values(effects), Decimal(0))
        self.binding["Session"] = {**session, "Total": left}


def test_the_callback_runs_after_each_ruleset_with_what_it_produced() -> None:
    never = {"title": "never", "condition": ["=", 1, 2], "effects": [["setDiscount", "x", 1]]}
    unit = compile_rulesets([("a", [TEN_PERCENT]), ("b", [never]), ("c", [TEN_PERCENT])])
    binding = _binding()
    recorder = Recorder(binding)
    result = unit.evaluate(binding, between=recorder)
    assert recorder.calls == [("a", [Decimal(10)]), ("b", []), ("c", [Decimal(9)])]
    assert _values(result.effects) == [Decimal(10), Decimal(9)]
    assert [rule.ruleset for rule in result.fired] == ["a", "c"]
    assert [failure.rule.ruleset for failure in result.failures] == ["b"]


def test_without_a_callback_every_ruleset_reads_the_same_binding() -> None:
    unit = compile_rulesets([("a", [TEN_PERCENT]), ("b", [TEN_PERCENT])])
    assert _values(unit.evaluate(_binding()).effects) == [Decimal(10), Decimal(10)]


def test_a_shared_computation_is_not_read_stale_after_the_callback() -> None:
    # Session.Total occurs twice in each ruleset (condition and effect), so it is memoized
    # within a ruleset; the memo must not carry 100 into the second ruleset.
    unit = compile_rulesets([("a", [TEN_PERCENT]), ("b", [TEN_PERCENT])])
    assert "_memo(M" in unit.one_at_a_time().source
    assert "_memo(M" in unit.source  # and across the whole default evaluation
    binding = _binding()
    result = unit.evaluate(binding, between=Recorder(binding))
    assert _values(result.effects) == [Decimal(10), Decimal(9)]


def test_a_computation_shared_only_across_rulesets_is_not_memoized_one_at_a_time() -> None:
    read_once = {
        "title": "10% off",
        "condition": ["and"],
        "effects": [["setDiscount", "10% off", ["*", TOTAL, Decimal("0.1")]]],
    }
    unit = compile_rulesets([("a", [read_once]), ("b", [read_once])])
    assert "_memo(M" in unit.source
    assert "_memo(M" not in unit.one_at_a_time().source


def test_the_default_evaluation_keeps_one_function_per_64_rulesets() -> None:
    unit = compile_rulesets([(key, [TEN_PERCENT]) for key in range(130)])
    assert unit.source.count("def _rulesets") == 3
    single = unit.one_at_a_time()
    assert len(single.functions) == 130
    assert unit.one_at_a_time() is single  # built once


def test_one_at_a_time_gives_the_same_result_when_the_callback_changes_nothing() -> None:
    rules: list[dict[str, Any]] = [
        TEN_PERCENT,
        {"title": "fails", "condition": ["and"], "effects": [["setDiscount", "bad", ["/", 1, 0]]]},
        {"title": "false", "condition": ["<", TOTAL, 0], "effects": []},
    ]
    unit = compile_rulesets([(1, rules), (2, rules)], one_at_a_time=True)
    together = unit.evaluate(_binding())
    apart = unit.evaluate(_binding(), between=lambda key, effects: None)
    assert together.effects == apart.effects
    assert together.fired == apart.fired
    assert [(f.rule, f.effect_index) for f in together.failures] == [
        (f.rule, f.effect_index) for f in apart.failures
    ]


def test_a_failed_effect_is_not_handed_to_the_callback() -> None:
    broken = {
        "title": "half done",
        "condition": ["and"],
        "effects": [["setDiscount", "fine", 1], ["setDiscount", "bad", ["/", 1, 0]]],
    }
    unit = compile_rulesets([("a", [broken, TEN_PERCENT])])
    binding = _binding()
    recorder = Recorder(binding)
    unit.evaluate(binding, between=recorder)
    assert recorder.calls == [("a", [Decimal(10)])]
