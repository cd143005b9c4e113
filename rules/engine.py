"""Rules and rulesets: check them when saved, compile them once, evaluate them many times.

A rule is Talon.One's ``{title, description, bindings, condition, effects}``: JSON S-expressions
for its named bindings (for example a cart item filter), its condition, and its effects. A
ruleset is an ordered list of rules. ``check_rule`` reports every problem with a JSON pointer
into the rule (``/condition/1/2``); ``compile_ruleset`` turns checked rules into one Python
module with one function per rule; ``CompiledRuleset.evaluate`` runs the rules top to bottom
against a binding and returns the effects as values, tagged with the rule that produced them,
and why each other rule did not fire.

The engine applies nothing: discounts, coupons, budgets and points are the caller's to reconcile
and persist, in one transaction, from the effects returned here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from rules.ast import parse_json
from rules.compiler import Compiler, as_rule_error, build_functions
from rules.errors import RuleError, RuleTypeError
from rules.functions.registry import REGISTRY, Registry
from rules.runtime import State
from rules.types import Kind, Type


@dataclass(frozen=True, slots=True)
class RuleBinding:
    """A named value computed before the condition: ``(. Name)`` reads it in the rule."""

    name: str
    expression: Any


@dataclass(frozen=True, slots=True)
class Rule:
    title: str
    condition: Any
    effects: tuple[Any, ...] = ()
    description: str = ""
    bindings: tuple[RuleBinding, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Read Talon.One's rule shape (``title``, ``condition``, ``effects``, ``bindings``)."""
        if not isinstance(data, Mapping):
            raise RuleTypeError("a rule is an object")
        bindings = data.get("bindings") or ()
        effects = data.get("effects") or ()
        if not isinstance(bindings, list | tuple) or not isinstance(effects, list | tuple):
            raise RuleTypeError("bindings and effects are lists")
        return cls(
            title=str(data.get("title", "")),
            description=str(data.get("description", "")),
            condition=data.get("condition", ["and"]),
            effects=tuple(effects),
            bindings=tuple(
                RuleBinding(str(b.get("name", "")), b.get("expression"))
                if isinstance(b, Mapping)
                else RuleBinding("", b)
                for b in bindings
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "bindings": [{"name": b.name, "expression": b.expression} for b in self.bindings],
            "condition": self.condition,
            "effects": list(self.effects),
        }


class FiredEffect(NamedTuple):
    """An effect, with the rule that produced it. (Named tuples: immutable, and cheap to make
    on the hot path, where a frozen dataclass costs three times as much.)"""

    rule_index: int
    rule_name: str
    effect: Any


class RuleFailure(NamedTuple):
    """Why a rule produced no effects: its condition was false, or something failed."""

    rule_index: int
    rule_name: str
    error: RuleError | None = None
    effect_index: int | None = None
    """The effect that failed; None when the bindings or the condition did."""

    @property
    def condition_failed(self) -> bool:
        return self.error is None


class RulesetResult(NamedTuple):
    effects: list[FiredEffect]
    failures: list[RuleFailure]
    fired: list[int]


def _rule_source(compiler: Compiler, rule: Rule, entry: str) -> str:
    """Generate one rule's function: bindings, then condition, then effects in order."""
    lines = [f"def {entry}(S):", "    b = S.binding"]
    with ExitStack() as scope:
        for index, binding in enumerate(rule.bindings):
            pointer = f"/bindings/{index}/expression"
            code = compiler.compile(parse_json(binding.expression, pointer=pointer))
            if not binding.name:
                raise RuleTypeError("a binding needs a name", pointer=f"/bindings/{index}/name")
            name = scope.enter_context(compiler.variable(binding.name, code.type))
            lines.append(f"    {name} = {code.expr}")
        condition_node = parse_json(rule.condition, pointer="/condition")
        condition = compiler.compile(condition_node)
        condition = compiler.expect(condition, Kind.BOOLEAN, condition_node, "the condition")
        lines.append(f"    if not {condition.expr}:")
        lines.append("        return False")
        for index, effect in enumerate(rule.effects):
            code = compiler.compile(parse_json(effect, pointer=f"/effects/{index}"))
            lines.append(f"    S.stage = {index}")
            lines.append(f"    {code.expr}")
    lines.append("    return True")
    return "\n".join(lines) + "\n"


def check_rule(
    rule: Rule | Mapping[str, Any],
    *,
    catalogue: Type | None = None,
    registry: Registry | None = None,
) -> list[RuleError]:
    """Every problem in a rule, each with a JSON pointer into it; an empty list means valid."""
    try:
        parsed = rule if isinstance(rule, Rule) else Rule.from_dict(rule)
    except RuleError as error:
        return [error]
    errors: list[RuleError] = []
    parts: list[Rule] = [
        # Check bindings, the condition and each effect on their own so that one mistake does
        # not hide the next; bindings come along so that the parts that use them still check.
        Rule(parsed.title, ["and"], (), bindings=parsed.bindings),
        Rule(parsed.title, parsed.condition, (), bindings=parsed.bindings),
        *(
            Rule(parsed.title, ["and"], (effect,), bindings=parsed.bindings)
            for effect in parsed.effects
        ),
    ]
    for index, part in enumerate(parts):
        try:
            _rule_source(_compiler(catalogue, registry), part, "_check")
        except RuleError as error:
            if index > 0 and error.pointer.startswith("/bindings"):
                continue  # already reported by the first part
            if index >= 2 and error.pointer.startswith("/effects/0"):
                error.pointer = f"/effects/{index - 2}" + error.pointer[len("/effects/0") :]
            errors.append(error)
    return errors


def _compiler(catalogue: Type | None, registry: Registry | None) -> Compiler:
    from rules import library  # noqa: F401 - registers the functions on first use

    return Compiler(catalogue=catalogue or Type(Kind.MAP), registry=registry or REGISTRY)


class CompiledRuleset:
    """A ruleset compiled into Python functions, one per rule; safe to share between threads."""

    __slots__ = ("_functions", "_not_fired", "_titles", "rules", "source")

    def __init__(self, rules: Sequence[Rule], source: str, functions: Sequence[Any]) -> None:
        self.rules = tuple(rules)
        self.source = source
        self._functions = tuple(functions)
        self._titles = tuple(rule.title for rule in self.rules)
        self._not_fired = tuple(RuleFailure(i, title) for i, title in enumerate(self._titles))

    def evaluate(
        self,
        binding: dict[str, Any],
        *,
        now: datetime | None = None,
        state: State | None = None,
    ) -> RulesetResult:
        """Run the rules top to bottom. A rule whose condition fails, or which raises,
        contributes no effects; an effect that raises undoes its rule's earlier effects."""
        if state is None:
            state = State(binding, now=now)
        fired: list[int] = []
        produced: list[FiredEffect] = []
        failures: list[RuleFailure] = []
        effects = state.effects
        for index, function in enumerate(self._functions):
            mark = len(effects)
            state.stage = -1
            try:
                passed = function(state)
            except Exception as error:
                del effects[mark:]
                stage = state.stage if state.stage >= 0 else None
                failures.append(
                    RuleFailure(index, self._titles[index], as_rule_error(error), stage)
                )
                continue
            if passed:
                fired.append(index)
                if len(effects) > mark:
                    title = self._titles[index]
                    produced.extend(FiredEffect(index, title, e) for e in effects[mark:])
            else:
                failures.append(self._not_fired[index])
        return RulesetResult(produced, failures, fired)


def compile_ruleset(
    rules: Iterable[Rule | Mapping[str, Any]],
    *,
    catalogue: Type | None = None,
    registry: Registry | None = None,
) -> CompiledRuleset:
    """Check and compile rules; raises the first ``RuleError`` (use ``check_rule`` for all)."""
    parsed = [r if isinstance(r, Rule) else Rule.from_dict(r) for r in rules]
    compiler = _compiler(catalogue, registry)
    sources = []
    for index, rule in enumerate(parsed):
        try:
            sources.append(_rule_source(compiler, rule, f"_rule{index}"))
        except RuleError as error:
            error.pointer = f"/rules/{index}{error.pointer}"
            raise
    source = "".join(sources)
    functions = build_functions(
        source, compiler.namespace, [f"_rule{index}" for index in range(len(parsed))]
    )
    return CompiledRuleset(parsed, source, functions)
