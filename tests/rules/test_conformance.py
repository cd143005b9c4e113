"""Talang's own expression tests (shared/conformance/talang-core.json), run against our engine.

Every case is read from the Lisp text and from the JSON S-expression; both readings must agree
with the suite's ``sexpr``, and evaluating them must give the expected value, error, or "no
matching function". The few cases where we deliberately differ are listed in DEVIATIONS, with
the reason, and documented in docs/rule-language.md.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rules.ast import parse_json, parse_lisp, to_json
from rules.compiler import Template, compile_node
from rules.errors import NoMatchingFunction, RuleError, RuleRuntimeError
from rules.functions.registry import REGISTRY, Overload, Registry
from rules.runtime import State
from rules.types import Kind
from rules.values import parse_rfc3339

SUITE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "talang-core.json"
CASES: list[dict[str, Any]] = json.loads(SUITE.read_text())["cases"]

DEVIATIONS = {
    "time/TestParseTime/3": "Go gives year 0, which Python's datetime cannot hold; "
    "we give 0001-01-01 with the same time of day",
}


def _panic() -> None:
    raise RuleRuntimeError("panic")


def _registry() -> Registry:
    """The language's registry plus Talang's test-only (panic)."""
    import rules.library  # noqa: F401

    registry = Registry(
        overloads={name: list(o) for name, o in REGISTRY.overloads.items()},
        special_forms=dict(REGISTRY.special_forms),
    )
    registry.add(Overload("panic", (), Kind.ANY, _panic, rest=Kind.ANY, pure=False))
    return registry


def _value(typed: dict[str, Any]) -> Any:
    kind, value = typed["type"], typed["value"]
    if kind == "decimal":
        return Decimal(value)
    if kind == "time":
        return parse_rfc3339(value)
    if kind == "list":
        return [_value(item) for item in value]
    if kind == "map":
        return {key: _value(item) for key, item in value.items()}
    return value


def _same(expected: dict[str, Any], actual: Any) -> bool:
    kind, value = expected["type"], expected["value"]
    if kind == "decimal":
        return isinstance(actual, Decimal) and actual == Decimal(value)
    if kind == "string":
        return isinstance(actual, str) and actual == value
    if kind == "bool":
        return isinstance(actual, bool) and actual is value
    if kind == "null":
        return actual is None
    if kind == "time":
        return isinstance(actual, datetime) and actual == parse_rfc3339(value)
    if kind == "list":
        return (
            isinstance(actual, list)
            and len(actual) == len(value)
            and all(_same(e, a) for e, a in zip(value, actual, strict=True))
        )
    if kind == "map":
        return (
            isinstance(actual, dict)
            and set(actual) == set(value)
            and all(_same(value[k], actual[k]) for k in value)
        )
    raise AssertionError(f"unknown expected type {kind}")


def _run(case: dict[str, Any], registry: Registry, *, from_lisp: bool) -> Any:
    binding = _value(case["binding"]) if case["binding"] else {}
    templates: dict[str, Template] = {}
    state = State(binding)
    for setup in case["setup"]:
        compile_node(parse_lisp(setup), registry=registry, templates=templates).evaluate(
            state=state
        )
    node = parse_lisp(case["lisp"]) if from_lisp else parse_json(case["sexpr"])
    return compile_node(node, registry=registry, templates=templates).evaluate(state=state)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return _registry()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_lisp_reads_as_the_suites_sexpr(case: dict[str, Any]) -> None:
    assert to_json(parse_lisp(case["lisp"]), tagged=True) == case["sexpr"]
    assert to_json(parse_json(case["sexpr"]), tagged=True) == case["sexpr"]


@pytest.mark.parametrize("from_lisp", [True, False], ids=["lisp", "json"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any], from_lisp: bool, registry: Registry) -> None:
    expect = case["expect"]
    if case["id"] in DEVIATIONS:
        result = _run(case, registry, from_lisp=from_lisp)
        wanted = parse_rfc3339("0001-01-01T10:30:31Z")
        assert result == wanted, DEVIATIONS[case["id"]]
    elif expect.get("error"):
        with pytest.raises(RuleError):
            _run(case, registry, from_lisp=from_lisp)
    elif expect.get("unevaluated"):
        with pytest.raises(NoMatchingFunction):
            _run(case, registry, from_lisp=from_lisp)
    else:
        result = _run(case, registry, from_lisp=from_lisp)
        assert _same(expect, result), f"{case['lisp']} gave {result!r}, expected {expect}"


def test_the_suite_is_complete() -> None:
    assert len(CASES) == 309
