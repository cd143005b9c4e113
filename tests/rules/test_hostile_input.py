"""Hostile and careless input: whatever a rule says, the engine answers with a value or a
``RuleError``, never another exception and never a hang.

Hypothesis generates random JSON documents, random well-formed calls of the real function
library, and mutations of valid rules (the conformance suite's expressions); each is read,
compiled and evaluated against a random binding. Hand-written cases pin the limits.
"""

from __future__ import annotations

import contextlib
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import library
from rules.ast import parse_json, parse_json_text, parse_lisp
from rules.compiler import compile_expression, compile_node
from rules.engine import check_rule, compile_ruleset
from rules.errors import NoMatchingFunction, RuleError, RuleLimitExceeded, RuleRuntimeError
from rules.functions.registry import REGISTRY
from rules.limits import MAX_DEPTH, MAX_NODES, MAX_SOURCE_BYTES, MAX_STEPS

library.load()

SUITE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "talang-core.json"
SEEDS: list[Any] = [c["sexpr"] for c in json.loads(SUITE.read_text())["cases"]]
FUNCTION_NAMES = REGISTRY.names()

HOSTILE = settings(
    max_examples=300,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(FUNCTION_NAMES),
    st.booleans(),
    st.none(),
    st.sampled_from(["Session", "Total", "Item", "CartItems", "Profile", "Attributes", ".*", ""]),
)

json_documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.tuples(st.sampled_from(FUNCTION_NAMES), st.lists(children, max_size=4)).map(
            lambda pair: [pair[0], *pair[1]]
        ),
        st.dictionaries(
            st.sampled_from(["decimal", "time", "bool", "text", "x"]), children, max_size=2
        ),
    ),
    max_leaves=40,
)

binding_values = st.recursive(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
        st.text(max_size=8),
        st.booleans(),
        st.none(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["Total", "Item", "Price", "Name", "x", "List"]), children, max_size=4
        ),
    ),
    max_leaves=20,
)
bindings = st.dictionaries(
    st.sampled_from(["Session", "Profile", "Item", "List", "Root", "x"]), binding_values, max_size=4
)


def _must_be_rule_error_or_value(expression: Any, binding: dict[str, Any]) -> None:
    started = time.monotonic()
    try:
        compiled = compile_expression(expression)
    except RuleError:
        return
    with contextlib.suppress(RuleError):
        compiled.evaluate(binding)
    assert time.monotonic() - started < 2.0


@HOSTILE
@given(expression=json_documents, binding=bindings)
def test_random_documents_give_values_or_rule_errors(
    expression: Any, binding: dict[str, Any]
) -> None:
    _must_be_rule_error_or_value(expression, binding)


def _mutate(tree: Any, data: st.DataObject) -> Any:
    """Replace, drop, duplicate or rename one random part of a tree."""
    if not isinstance(tree, list) or not tree or data.draw(st.integers(0, 4)) == 0:
        return data.draw(json_documents)
    index = data.draw(st.integers(0, len(tree) - 1))
    action = data.draw(st.sampled_from(["mutate", "drop", "duplicate", "rename", "wrap"]))
    copy = list(tree)
    if action == "mutate":
        copy[index] = _mutate(copy[index], data)
    elif action == "drop" and len(copy) > 1:
        del copy[index]
    elif action == "duplicate":
        copy.insert(index, copy[index])
    elif action == "rename":
        copy[0] = data.draw(st.sampled_from(FUNCTION_NAMES))
    else:
        copy[index] = [data.draw(st.sampled_from(FUNCTION_NAMES)), copy[index]]
    return copy


@HOSTILE
@given(seed=st.sampled_from(SEEDS), data=st.data(), binding=bindings)
def test_mutated_valid_expressions_give_values_or_rule_errors(
    seed: Any, data: st.DataObject, binding: dict[str, Any]
) -> None:
    mutated = seed
    for _ in range(data.draw(st.integers(1, 4))):
        mutated = _mutate(mutated, data)
    _must_be_rule_error_or_value(mutated, binding)


@HOSTILE
@given(text=st.text(alphabet='()"\\ abc+-.0123456789TZ:~ \n', max_size=80))
def test_random_lisp_text_reads_or_fails_with_a_syntax_error(text: str) -> None:
    try:
        node = parse_lisp(text)
    except RuleError:
        return
    with contextlib.suppress(RuleError):
        compile_node(node).evaluate({})


@HOSTILE
@given(
    rule=st.fixed_dictionaries(
        {
            "title": st.text(max_size=5),
            "condition": json_documents,
            "effects": st.lists(json_documents, max_size=3),
        }
    )
)
def test_random_rules_check_into_rule_errors(rule: dict[str, Any]) -> None:
    errors = check_rule(rule)
    assert all(isinstance(e, RuleError) for e in errors)
    if not errors:
        compile_ruleset([rule]).evaluate({})


# -- the limits, one by one --------------------------------------------------------------------


def _nested(depth: int) -> Any:
    tree: Any = True
    for _ in range(depth):
        tree = ["not", tree]
    return tree


def test_nesting_at_the_limit_compiles_and_runs() -> None:
    expected = (MAX_DEPTH - 1) % 2 == 0
    assert compile_expression(_nested(MAX_DEPTH - 1)).evaluate({}) is expected


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 10_000, 100_000])
def test_deeper_nesting_is_refused(depth: int) -> None:
    with pytest.raises(RuleLimitExceeded) as raised:
        compile_expression(_nested(depth))
    assert raised.value.pointer.count("/") == MAX_DEPTH + 1


def test_deeply_nested_json_text_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(RuleLimitExceeded):
        parse_json_text("[" * 200_000 + "]" * 200_000)


def test_deeply_nested_lisp_is_refused() -> None:
    with pytest.raises(RuleLimitExceeded):
        parse_lisp("(not " * 5_000 + "true" + ")" * 5_000)


def test_too_many_nodes_is_refused() -> None:
    with pytest.raises(RuleLimitExceeded):
        parse_json(["list", *range(MAX_NODES + 1)])


def test_too_large_text_is_refused() -> None:
    with pytest.raises(RuleLimitExceeded):
        parse_json_text(json.dumps(["+", "x" * MAX_SOURCE_BYTES, "y"]))


def test_nested_loops_run_out_of_steps_quickly() -> None:
    big = [Decimal(i) for i in range(1_000)]
    expression = parse_lisp("(map (. L) x (map (. L) y (map (. L) z (+ (. x) (. y) (. z)))))")
    started = time.monotonic()
    with pytest.raises(RuleLimitExceeded):
        compile_node(expression).evaluate({"L": big})
    assert time.monotonic() - started < 5
    assert MAX_STEPS < 1_000**3


def test_catch_does_not_swallow_the_step_budget() -> None:
    big = [Decimal(i) for i in range(2_000)]
    expression = parse_lisp("(catch 0 (count (map (. L) x (map (. L) y 1))))")
    with pytest.raises(RuleLimitExceeded):
        compile_node(expression).evaluate({"L": big})


def test_pathological_regex_is_linear() -> None:
    subject = "a" * 50_000 + "!"
    started = time.monotonic()
    result = compile_node(parse_lisp('(~ "(a+)+$" (. S))')).evaluate({"S": subject})
    assert result is False
    assert time.monotonic() - started < 1


def test_oversized_regex_is_refused() -> None:
    with pytest.raises(RuleError):
        compile_node(parse_lisp(f'(~ "{"a" * 5000}" "a")')).evaluate({})


def test_invalid_regex_is_a_rule_error() -> None:
    with pytest.raises(RuleError):
        compile_node(parse_lisp('(~ "[a" (. S))')).evaluate({"S": "a"})


@pytest.mark.parametrize(
    "text",
    [
        "(* 1E999999 1E999999 1E999999)",
        "(/ 1 0)",
        "(mod 1E999999 7)",
        "(floor 1E999999)",
        "(addDuration 2020-01-01T00:00:00Z 1E20 days)",
        '(+ "2" 2)',
        "(item (list 1 2) 99)",
        "(. Nothing Here)",
        "(sum (list 1 2) x (. x Price))",
    ],
)
def test_extreme_values_are_values_or_rule_errors(text: str) -> None:
    with contextlib.suppress(RuleError):
        compile_node(parse_lisp(text)).evaluate({})


def test_wrong_types_are_reported_while_compiling() -> None:
    with pytest.raises(NoMatchingFunction) as raised:
        compile_expression(["and", [">", "big", 100]])
    assert raised.value.pointer == "/1"


def test_runtime_failures_are_rule_runtime_errors() -> None:
    compiled = compile_expression([">", [".", "Session", "Total"], 100])
    with pytest.raises(RuleRuntimeError):
        compiled.evaluate({"Session": {}})
    with pytest.raises(RuleError):
        compiled.evaluate({"Session": {"Total": "a lot"}})
