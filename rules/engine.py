"""Rules and rulesets: check them when saved, compile them once, evaluate them many times.

A rule is Talon.One's ``{title, description, bindings, condition, effects}``: JSON S-expressions
for its named bindings (for example a cart item filter), its condition, and its effects. A
ruleset is an ordered list of rules, one per campaign. ``check_rule`` reports every problem
with a JSON pointer into the rule (``/condition/1/2``). ``compile_rulesets`` turns the rulesets
of all running campaigns into one Python module, functions of up to 64 rulesets each with their
rules written out in order; ``CompiledRulesets.evaluate`` runs them against a binding and returns
the effects as values, each tagged with the rule that produced it, and why each other rule did
not fire.

``evaluate(..., between=...)`` runs the rulesets one at a time instead, calling back after each
with the effects it produced, so that the caller can change what the next ruleset reads (cascading
discounts: each campaign sees the cart as the campaigns before it left it). That mode has its own
functions, one per ruleset, built on first use or by ``compile_rulesets(one_at_a_time=True)``,
and forgets shared computations between rulesets; the default mode is untouched by it.

A ruleset may have binding entries of its own (``scopes``: its campaign, read as ``Campaign``),
which it sees, whichever mode runs it, while its rules run; reads of them are never shared with
other rulesets.

Evaluation is the hot path of every session update, so the generated code does the bookkeeping
itself (a ``try`` per rule, which costs nothing until a rule fails) rather than paying for a
Python-level loop and result object per rule.

The engine applies nothing: discounts, coupons, budgets and points are the caller's to reconcile
and persist, in one transaction, from the effects returned here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from rules.ast import parse_json
from rules.compiler import MEMO_EMPTY, Compiler, as_rule_error, build_functions, memo_store
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


class RuleRef(NamedTuple):
    """Which rule: the ruleset's key (the caller's, e.g. a campaign id), index and title."""

    ruleset: Any
    rule_index: int
    title: str


class FiredEffect(NamedTuple):
    """An effect, with the rule that produced it. (Results are named tuples: immutable, and
    cheap to make on the hot path, where a frozen dataclass costs three times as much.)"""

    rule: RuleRef
    effect: Any


class RuleFailure(NamedTuple):
    """Why a rule produced no effects: its condition was false, or something failed."""

    rule: RuleRef
    error: RuleError | None = None
    effect_index: int | None = None
    """The effect that failed; None when the bindings or the condition did."""

    @property
    def condition_failed(self) -> bool:
        return self.error is None


class EvaluationResult(NamedTuple):
    effects: list[FiredEffect]
    """In the order they were produced: rulesets in order, rules top to bottom."""
    failures: list[RuleFailure]
    fired: list[RuleRef]


_make_fired = partial(tuple.__new__, FiredEffect)
"""``FiredEffect`` without the Python-level ``__new__`` of named tuples."""

Scope = Mapping[str, Any]
"""Binding entries of one ruleset's own (``compile_rulesets``' ``scopes``): its campaign."""

Between = Callable[[Any, list[FiredEffect]], None]
"""Called after each ruleset, in one-at-a-time evaluation, with the ruleset's key and the
effects it produced (in order). It may change the binding (its contents, in place): the next
ruleset reads it afresh."""


def _failure(rule: RuleRef, error: BaseException, stage: int) -> RuleFailure:
    return RuleFailure(rule, as_rule_error(error), stage if stage >= 0 else None)


def _rule_lines(compiler: Compiler, rule: Rule, ref: RuleRef) -> list[str]:
    """The generated block of one rule: bindings, condition, effects, and the bookkeeping."""
    reference = compiler.const(ref)
    lines = []
    with ExitStack() as scope:
        body = []
        for index, binding in enumerate(rule.bindings):
            pointer = f"/bindings/{index}/expression"
            code = compiler.compile(parse_json(binding.expression, pointer=pointer))
            if not binding.name:
                raise RuleTypeError("a binding needs a name", pointer=f"/bindings/{index}/name")
            name = scope.enter_context(compiler.variable(binding.name, code.type))
            body.append(f"{name} = {code.expr}")
        condition_node = parse_json(rule.condition, pointer="/condition")
        condition = compiler.compile(condition_node)
        condition = compiler.expect(condition, Kind.BOOLEAN, condition_node, "the condition")
        body.append(f"if {condition.expr}:")
        if rule.effects:
            body.append(f"    S.rule = {reference}")
        for index, effect in enumerate(rule.effects):
            code = compiler.compile(parse_json(effect, pointer=f"/effects/{index}"))
            body += [f"    S.stage = {index}", f"    {code.expr}"]
        if rule.effects:
            body.append("    S.stage = -1")
        body += [f"    fired.append({reference})", "else:"]
        body.append(f"    failed.append({compiler.const(RuleFailure(ref))})")
    # S.stage is -1 outside effects (set when evaluation starts, reset after each rule's
    # effects), so a failure knows whether an effect or the condition failed.
    if rule.effects:
        lines.append("m = len(E)")
    lines += ["try:", *(f"    {line}" for line in body)]
    lines.append("except _Exception as _error:")
    if rule.effects:
        lines += ["    del E[m:]", "    del S.sources[m:]"]
    lines.append(f"    failed.append(_failure({reference}, _error, S.stage))")
    if rule.effects:
        lines.append("    S.stage = -1")
    return lines


def _unit_source(
    compiler: Compiler,
    entry: str,
    rulesets: Sequence[Sequence[tuple[RuleRef, Rule]]],
    scopes: Sequence[Scope | None] = (),
) -> str:
    """One generated function running several rulesets' rules in order; each ruleset with its
    ``scopes`` entries (by position) put into the binding first."""
    compiler.namespace.setdefault("_failure", _failure)
    compiler.namespace.setdefault("_Exception", Exception)
    compiler.namespace.setdefault("_U", MEMO_EMPTY)
    compiler.namespace.setdefault("_memo", memo_store)
    lines = [f"def {entry}(S, fired, failed, M):", "    b = S.binding", "    E = S.effects"]
    for position, rules in enumerate(rulesets):
        if compiler.scoped_names and rules:
            scope = scopes[position] if position < len(scopes) else None
            lines += [f"    {line}" for line in _scope_lines(compiler, scope)]
        for ref, rule in rules:
            try:
                lines += [f"    {line}" for line in _rule_lines(compiler, rule, ref)]
            except RuleError as error:
                error.pointer = f"/rulesets/{position}/rules/{ref.rule_index}{error.pointer}"
                raise
    lines.append("    return None")
    return "\n".join(lines) + "\n"


def _scope_lines(compiler: Compiler, scope: Scope | None) -> list[str]:
    """Put a ruleset's scope into the binding (one store per name; its values are constants),
    and take out the scoped names it does not give, which belong to other rulesets."""
    scope = scope or {}
    return [
        f"b[{compiler.const(name)}] = {compiler.const(scope[name])}"
        if name in scope
        else f"b.pop({compiler.const(name)}, None)"
        for name in sorted(compiler.scoped_names)
    ]


_RULESETS_PER_FUNCTION = 64
"""Rulesets written into one generated function: a call per ruleset costs as much as a rule's
bookkeeping, while a function of thousands of rules takes long to compile."""


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
        compiler = _compiler(catalogue, registry)
        try:
            source = _unit_source(compiler, "_check", [[(RuleRef(None, 0, part.title), part)]])
            build_functions(source, compiler.namespace, ["_check"])
        except RuleError as error:
            error.pointer = error.pointer.removeprefix("/rulesets/0/rules/0")
            if index > 0 and error.pointer.startswith("/bindings"):
                continue  # already reported by the first part
            if index >= 2 and error.pointer.startswith("/effects/0"):
                error.pointer = f"/effects/{index - 2}" + error.pointer[len("/effects/0") :]
            errors.append(error)
    return errors


def _compiler(
    catalogue: Type | None, registry: Registry | None, scoped_names: frozenset[str] = frozenset()
) -> Compiler:
    from rules import library  # noqa: F401 - registers the functions on first use

    return Compiler(
        catalogue=catalogue or Type(Kind.MAP),
        registry=registry or REGISTRY,
        scoped_names=scoped_names,
    )


class GeneratedUnit(NamedTuple):
    """Generated functions, run in order, their source, and the empty memo of the computations
    they share."""

    source: str
    functions: tuple[Any, ...]
    memo: list[Any]


_ABSENT: Any = object()


def _fired_since(state: State, start: int) -> list[FiredEffect]:
    return list(map(_make_fired, zip(state.sources[start:], state.effects[start:], strict=True)))


class CompiledRulesets:
    """Rulesets compiled into generated Python functions; safe to share between threads
    (all evaluation state lives in the ``State`` of each call)."""

    __slots__ = (
        "_build_single",
        "_functions",
        "_memo",
        "_scoped_names",
        "_single",
        "keys",
        "rulesets",
        "source",
    )

    def __init__(
        self,
        keys: Sequence[Any],
        rulesets: Sequence[Sequence[Rule]],
        source: str,
        functions: Sequence[Any],
        memo_slots: int = 0,
        *,
        build_single: Callable[[], GeneratedUnit] | None = None,
        scoped_names: Iterable[str] = (),
    ) -> None:
        self.keys = tuple(keys)
        self.rulesets = tuple(tuple(rules) for rules in rulesets)
        self.source = source
        self._functions = tuple(functions)
        self._memo = [MEMO_EMPTY] * memo_slots
        self._build_single = build_single
        self._single: GeneratedUnit | None = None
        self._scoped_names = tuple(sorted(scoped_names))

    def evaluate(
        self,
        binding: dict[str, Any],
        *,
        now: datetime | None = None,
        state: State | None = None,
        between: Between | None = None,
    ) -> EvaluationResult:
        """Run every ruleset, rules top to bottom. A rule whose condition fails, or which
        raises, contributes no effects; an effect that raises undoes its rule's effects.

        With ``between``, the rulesets run one at a time and ``between`` is called after each
        (the last one included; see ``Between``). Computations shared between rules are then
        shared within a ruleset only, so that none is read stale after the binding changed.

        The binding's entries named by the rulesets' scopes are as given again on return."""
        if state is None:
            state = State(binding, now=now)
        state.stage = -1
        fired: list[RuleRef] = []
        failed: list[RuleFailure] = []
        if self._scoped_names:
            given = state.binding
            saved = [(name, given.get(name, _ABSENT)) for name in self._scoped_names]
        try:
            if between is None:
                memo = self._memo.copy()
                for function in self._functions:
                    function(state, fired, failed, memo)
            else:
                single = self.one_at_a_time()
                for key, function in zip(self.keys, single.functions, strict=True):
                    start = len(state.effects)
                    function(state, fired, failed, single.memo.copy())
                    between(key, _fired_since(state, start))
        finally:
            if self._scoped_names:
                for name, value in saved:
                    if value is _ABSENT:
                        given.pop(name, None)
                    else:
                        given[name] = value
        effects = list(map(_make_fired, zip(state.sources, state.effects, strict=True)))
        return EvaluationResult(effects, failed, fired)

    def one_at_a_time(self) -> GeneratedUnit:
        """The functions of one-at-a-time evaluation: one per ruleset, built on first use.
        (Two threads may both build them the first time; either result is the same.)"""
        single = self._single
        if single is None:
            if self._build_single is None:
                raise ValueError("these rulesets were not compiled to run one at a time")
            single = self._single = self._build_single()
        return single


def compile_rulesets(
    rulesets: Iterable[tuple[Any, Iterable[Rule | Mapping[str, Any]]]],
    *,
    catalogue: Type | None = None,
    registry: Registry | None = None,
    memoize: bool = True,
    one_at_a_time: bool = False,
    scopes: Mapping[Any, Scope] | None = None,
) -> CompiledRulesets:
    """Check and compile ``(key, rules)`` pairs, in evaluation order, into one unit.

    Computations that several rules share (reading ``Session.Total``, testing whether the cart
    holds shoes) run once per evaluation, unless ``memoize`` is off or a rule writes to the
    binding with ``set``. Raises the first ``RuleError``, its pointer prefixed with
    ``/rulesets/<i>/rules/<j>``; use ``check_rule`` to collect every error of a rule.

    ``one_at_a_time`` also builds, now rather than on first use, the functions that
    ``evaluate(..., between=...)`` runs.

    ``scopes`` (key → binding entries, e.g. ``{7: {"Campaign": {"Id": …, "Name": …}}}``) gives
    each ruleset values of its own: while its rules run, the binding holds its entries (put in
    before its first rule, one store per name), and rulesets without them do not see the
    names at all. Reads of them are never shared between rulesets (``Compiler.scoped_names``).
    The names must be in the catalogue, which types them as when the rules were checked."""
    keys: list[Any] = []
    parsed: list[list[Rule]] = []
    for key, rules in rulesets:
        keys.append(key)
        parsed.append([r if isinstance(r, Rule) else Rule.from_dict(r) for r in rules])
    refs = [
        [(RuleRef(key, index, rule.title), rule) for index, rule in enumerate(rules)]
        for key, rules in zip(keys, parsed, strict=True)
    ]
    names = frozenset(name for scope in (scopes or {}).values() for name in scope)
    build = partial(
        _build,
        refs,
        catalogue,
        registry,
        memoize=memoize,
        scopes=[scopes.get(key) for key in keys] if scopes else [],
        scoped_names=names,
    )
    unit = build(one_at_a_time=False)
    compiled = CompiledRulesets(
        keys,
        parsed,
        unit.source,
        unit.functions,
        len(unit.memo),
        build_single=partial(build, one_at_a_time=True),
        scoped_names=names,
    )
    if one_at_a_time:
        compiled.one_at_a_time()
    return compiled


def _build(
    refs: list[list[tuple[RuleRef, Rule]]],
    catalogue: Type | None,
    registry: Registry | None,
    *,
    memoize: bool,
    one_at_a_time: bool,
    scopes: Sequence[Scope | None] = (),
    scoped_names: frozenset[str] = frozenset(),
) -> GeneratedUnit:
    """Generate and build the functions of a unit: up to ``_RULESETS_PER_FUNCTION`` rulesets
    each, run back to back on one memo; or ``one_at_a_time``, one ruleset each, each run on a
    fresh memo. A computation is memoized when it occurs more than once in what one memo
    serves: the whole evaluation, or one ruleset."""
    per_function = 1 if one_at_a_time else _RULESETS_PER_FUNCTION
    starts = range(0, len(refs), per_function)
    source_of = partial(_function_source, refs=refs, scopes=scopes, count=per_function)
    # First pass: check everything, and count the computations that rules share.
    counting = _compiler(catalogue, registry, scoped_names)
    counting.memo_counts = {}
    shared: dict[str, None] = {}
    for start in starts:
        source_of(counting, start=start)
        if one_at_a_time:
            shared.update(dict.fromkeys(k for k, n in counting.memo_counts.items() if n > 1))
            counting.memo_counts = {}
    if not one_at_a_time:
        shared = dict.fromkeys(k for k, n in counting.memo_counts.items() if n > 1)
    if counting.assigns or not memoize:
        shared = {}
    # Second pass: the code that runs, with shared computations memoized.
    compiler = _compiler(catalogue, registry, scoped_names)
    compiler.memo_slots = {key: slot for slot, key in enumerate(shared)}
    source = "".join(source_of(compiler, start=start) for start in starts)
    functions = build_functions(source, compiler.namespace, [f"_rulesets{i}" for i in starts])
    return GeneratedUnit(source, tuple(functions), [MEMO_EMPTY] * len(shared))


def _function_source(
    compiler: Compiler,
    *,
    refs: list[list[tuple[RuleRef, Rule]]],
    scopes: Sequence[Scope | None],
    start: int,
    count: int,
) -> str:
    """The source of the function ``_rulesets<start>``, running ``count`` rulesets."""
    try:
        return _unit_source(
            compiler,
            f"_rulesets{start}",
            refs[start : start + count],
            scopes[start : start + count],
        )
    except RuleError as error:
        position, _, rest = error.pointer.removeprefix("/rulesets/").partition("/")
        error.pointer = f"/rulesets/{start + int(position)}/{rest}"
        raise


def compile_ruleset(
    rules: Iterable[Rule | Mapping[str, Any]],
    *,
    key: Any = None,
    catalogue: Type | None = None,
    registry: Registry | None = None,
) -> CompiledRulesets:
    """Check and compile one ruleset; raises the first ``RuleError`` (pointer ``/rules/<i>…``)."""
    try:
        return compile_rulesets([(key, rules)], catalogue=catalogue, registry=registry)
    except RuleError as error:
        error.pointer = error.pointer.removeprefix("/rulesets/0")
        raise
