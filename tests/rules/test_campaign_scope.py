"""Each ruleset reads its own campaign: ``compile_rulesets(..., scopes=...)``.

Many rulesets share one generated function and one memo of shared computations; what a ruleset
reads as ``Campaign`` is its own, however the unit is run, and is never shared with another's.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from rules.catalogue import build_catalogue
from rules.engine import RuleRef, compile_rulesets
from rules.errors import RuleRuntimeError
from rules.types import DECIMAL, STRING

CATALOGUE = build_catalogue({"Campaign": {"Tier": STRING, "Budget": DECIMAL}})
OPEN_CATALOGUE = build_catalogue()
NAME = [".", "Campaign", "Name"]
TIER = [".", "Campaign", "Attributes", "Tier"]


def _scope(pk: int, name: str, **attributes: Any) -> dict[str, Any]:
    return {
        "Campaign": {
            "Id": Decimal(pk),
            "Name": name,
            "Tags": ["spring"],
            "Attributes": attributes,
        }
    }


SCOPES = {
    1: _scope(1, "Spring", Tier="gold", Budget=Decimal(150)),
    2: _scope(2, "Summer", Tier="silver", Budget=Decimal(50)),
}


def _binding() -> dict[str, Any]:
    return {"Session": {"Total": Decimal(100), "CartItems": []}}


def _named(name: str) -> dict[str, Any]:
    """A rule that fires for the campaign called ``name``, its discount the campaign's id."""
    return {
        "title": f"only {name}",
        "condition": ["=", NAME, name],
        "effects": [["setDiscount", ["+", "for ", NAME], [".", "Campaign", "Id"]]],
    }


def _discounts(result: Any) -> list[tuple[Any, str, Decimal]]:
    return [(f.rule.ruleset, f.effect.name, f.effect.value) for f in result.effects]


@pytest.mark.parametrize("one_at_a_time", [False, True])
def test_two_rulesets_in_one_unit_each_read_their_own_campaign(one_at_a_time: bool) -> None:
    rules = [_named("Spring"), _named("Summer")]
    unit = compile_rulesets([(1, rules), (2, rules)], catalogue=CATALOGUE, scopes=SCOPES)
    between = (lambda key, effects: None) if one_at_a_time else None

    result = unit.evaluate(_binding(), between=between)

    assert _discounts(result) == [(1, "for Spring", Decimal(1)), (2, "for Summer", Decimal(2))]
    assert result.fired == [RuleRef(1, 0, "only Spring"), RuleRef(2, 1, "only Summer")]
    assert [failure.condition_failed for failure in result.failures] == [True, True]


@pytest.mark.parametrize("one_at_a_time", [False, True])
def test_reads_of_the_campaign_are_never_shared_between_rulesets(one_at_a_time: bool) -> None:
    # Every ruleset repeats the same reads (and computations over them) several times, which
    # would make them shared computations if they were reads of the session.
    budget = [".", "Campaign", "Attributes", "Budget"]
    rule = {
        "title": "big budget, gold tier",
        "condition": ["and", [">", budget, 100], ["=", TIER, "gold"], ["=", TIER, "gold"]],
        "effects": [["setDiscount", TIER, ["*", budget, 0.1]], ["setDiscount", NAME, budget]],
    }
    rulesets = [(key, [rule, rule]) for key in (1, 2, 1, 2)]
    unit = compile_rulesets(rulesets, catalogue=CATALOGUE, scopes=SCOPES)
    between = (lambda key, effects: None) if one_at_a_time else None

    result = unit.evaluate(_binding(), between=between)

    assert {rule.ruleset for rule in result.fired} == {1}
    assert _discounts(result) == [(1, "gold", Decimal("15.0")), (1, "Spring", Decimal(150))] * 4
    # No memo slot holds a read of the campaign: each ruleset reads its own.
    source = unit.one_at_a_time().source if one_at_a_time else unit.source
    stores = [
        line.strip() for line in source.splitlines() if re.fullmatch(r"\s*b\[k\d+\] = k\d+", line)
    ]
    assert stores
    campaign = stores[0].split(" = ")[0]
    assert not any("M[" in line and campaign in line for line in source.splitlines())


def test_reads_that_are_not_folded_still_read_the_rulesets_own_campaign() -> None:
    # The attribute name is computed, so the read happens while evaluating.
    computed = [".", "Campaign", "Attributes", [".", "Session", "Attributes", "Which"]]
    rule = {
        "title": "computed",
        "condition": ["=", computed, "gold"],
        "effects": [["setDiscount", NAME, 1]],
    }
    unit = compile_rulesets(
        [(1, [rule, rule]), (2, [rule, rule])], catalogue=OPEN_CATALOGUE, scopes=SCOPES
    )
    binding = {"Session": {"Total": Decimal(100), "Attributes": {"Which": "Tier"}}}

    result = unit.evaluate(binding)

    assert _discounts(result) == [(1, "Spring", Decimal(1))] * 2
    assert [f.rule.ruleset for f in result.failures] == [2, 2]


def test_a_rule_that_writes_the_campaign_reads_what_it_wrote_in_its_own_ruleset_only() -> None:
    rename = {
        "title": "rename",
        "condition": ["and"],
        "effects": [["set", "Campaign", "Name", ["+", NAME, "!"]]],
    }
    show = {"title": "show", "condition": ["and"], "effects": [["setDiscount", NAME, 1]]}
    unit = compile_rulesets([(1, [rename, show]), (2, [show])], catalogue=CATALOGUE, scopes=SCOPES)

    result = unit.evaluate(_binding())

    assert [name for _, name, _ in _discounts(result)] == ["Spring!", "Summer"]


def test_the_binding_is_given_back_as_it_was() -> None:
    unit = compile_rulesets([(1, [_named("Spring")])], catalogue=CATALOGUE, scopes=SCOPES)
    binding = _binding()

    unit.evaluate(binding)

    assert binding == _binding()


def test_a_ruleset_without_a_scope_does_not_see_another_rulesets_campaign() -> None:
    unit = compile_rulesets(
        [(1, [_named("Spring")]), (3, [_named("Spring")])], catalogue=CATALOGUE, scopes=SCOPES
    )

    result = unit.evaluate(_binding())

    assert _discounts(result) == [(1, "for Spring", Decimal(1))]
    [failure] = result.failures
    assert failure.rule.ruleset == 3
    assert isinstance(failure.error, RuleRuntimeError)
    assert "Campaign" in failure.error.message


def test_a_missing_attribute_fails_its_rule_while_evaluating() -> None:
    scopes = {1: _scope(1, "Spring")}  # no Tier
    rule = {"title": "gold", "condition": ["=", TIER, "gold"], "effects": []}
    safe = {"title": "safe", "condition": ["=", [".|", "none", TIER], "none"], "effects": []}
    unit = compile_rulesets([(1, [rule, safe])], catalogue=CATALOGUE, scopes=scopes)

    result = unit.evaluate(_binding())

    assert result.fired == [RuleRef(1, 1, "safe")]
    [failure] = result.failures
    assert isinstance(failure.error, RuleRuntimeError)


def test_a_campaign_value_that_makes_a_computed_name_static_still_compiles() -> None:
    # The campaign's name is a computed attribute name, read while evaluating; the reads of
    # the campaign are still never shared.
    catalogue = build_catalogue({"Campaign": {}, "Profile": {}})
    rule = {
        "title": "by name",
        "condition": ["=", [".|", "", [".", "Profile", "Attributes", NAME]], "x"],
        "effects": [],
    }
    rules = [rule, _named("Spring"), _named("Summer")]
    unit = compile_rulesets([(1, rules), (2, rules)], catalogue=catalogue, scopes=SCOPES)

    result = unit.evaluate({**_binding(), "Profile": {"Attributes": {"Spring": "x"}}})

    assert result.fired == [
        RuleRef(1, 0, "by name"),
        RuleRef(1, 1, "only Spring"),
        RuleRef(2, 2, "only Summer"),
    ]
    assert _discounts(result) == [(1, "for Spring", Decimal(1)), (2, "for Summer", Decimal(2))]


def test_without_scopes_nothing_is_put_into_the_binding() -> None:
    rule = {"title": "t", "condition": [">", [".", "Session", "Total"], 1], "effects": []}
    unit = compile_rulesets([(1, [rule]), (2, [rule])], catalogue=CATALOGUE)

    assert not re.search(r"^\s*b\[k\d+\] = ", unit.source, re.MULTILINE)
    assert "b.pop" not in unit.source
