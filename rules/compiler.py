"""Type-check a rule-language tree and compile it into a Python function.

The compiler walks the validated tree once. For every node it works out the static type (from the
literal, the attribute catalogue, or the chosen overload) and writes a Python expression that
computes it. Where the argument kinds settle which overload runs, the call is written directly,
often inline (``(b[k0][k1] > k2)``); where they don't (an attribute of unknown type), it goes
through a dispatcher that picks the overload at run time, as Talang does.

The generated source is built only from the tree, never from user text: every literal, attribute
name and regular expression reaches it as a named constant (``k0``, ``k1`` …), and the only other
names are our own helpers. It is compiled once and evaluated many times. Errors found while
compiling carry the JSON pointer of the node that caused them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rules.ast import Atom, Block, Call, Node, parse_json, parse_lisp
from rules.errors import (
    NoMatchingFunction,
    RuleError,
    RuleLimitExceeded,
    RuleRuntimeError,
    RuleTypeError,
)
from rules.functions.registry import REGISTRY, Overload, Registry
from rules.limits import MAX_DEPTH, MAX_TEMPLATE_EXPANSIONS
from rules.runtime import State
from rules.types import ANY, Kind, Type, kind_of
from rules.values import DECIMAL_CONTEXT, to_text

_SAFE_BUILTINS: dict[str, Any] = {
    "any": any,
    "all": all,
    "len": len,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "isinstance": isinstance,
}
"""The only builtins generated code can reach."""

_GLOBALS: dict[str, Any] = {"_CTX": DECIMAL_CONTEXT, "_text": to_text}
"""Names that inline templates of the function library may use."""

_ATOM_TYPES: dict[type, Type] = {
    Decimal: Type(Kind.DECIMAL),
    str: Type(Kind.STRING),
    bool: Type(Kind.BOOLEAN),
    datetime: Type(Kind.TIME),
    type(None): Type(Kind.NULL),
}


def type_of_value(value: Any) -> Type:
    """The static type of a known value."""
    found = _ATOM_TYPES.get(type(value))
    return found if found is not None else Type(kind_of(value))


@dataclass(frozen=True, slots=True)
class Code:
    """The Python expression computing a node, its static type, and its value if constant.

    ``key`` is set when the value depends on nothing but the binding and is computed without
    side effects (an attribute read, a pure function of such reads): it is the expression as
    written without memoization, the same wherever the expression occurs, so that repeated
    occurrences can share one computation per evaluation.
    """

    expr: str
    type: Type
    const: bool = False
    value: Any = None
    key: str | None = None
    locals: frozenset[str] = frozenset()
    """The lambda variables the expression reads: it is shared only when there are none."""

    @property
    def kind(self) -> Kind:
        return self.type.kind


@dataclass(frozen=True, slots=True)
class Template:
    """A template registered by ``setTemplate``: ``name(Kinds…)Kind`` and a body with ``(# i)``."""

    name: str
    params: tuple[Kind, ...]
    returns: Kind
    body: Node


@dataclass
class Compiler:
    """Compiles nodes against an attribute catalogue and a function registry.

    One compiler builds one unit of generated code (an expression, or a whole ruleset): it owns
    that unit's constants and helpers.
    """

    catalogue: Type = field(default_factory=lambda: Type(Kind.MAP))
    registry: Registry = field(default_factory=lambda: REGISTRY)
    templates: dict[str, Template] = field(default_factory=dict)
    namespace: dict[str, Any] = field(default_factory=dict)
    _constants: dict[tuple[type, Any], str] = field(default_factory=dict)
    _helpers: dict[int, str] = field(default_factory=dict)
    _scopes: list[dict[str, tuple[str, Type]]] = field(default_factory=list)
    _names: Iterator[int] = field(default_factory=itertools.count)
    _assigned: set[str] = field(default_factory=set)
    _expansions: int = 0
    _depth: int = 0
    _variable_depths: dict[str, int] = field(default_factory=dict)
    memo_counts: dict[str, int] | None = None
    """When set, count how often each memoizable expression occurs (the first pass)."""
    memo_slots: dict[str, int] | None = None
    """When set, expressions with a slot are read from, or computed into, ``M[slot]``."""
    scoped_names: frozenset[str] = frozenset()
    """Root names of the binding whose value differs from ruleset to ruleset (``Campaign``: the
    scopes of ``rules.engine.compile_rulesets``). A read rooted at one is never shared: it gets
    no memo key, so neither it nor anything computed from it is memoized across rulesets."""

    def __post_init__(self) -> None:
        self.namespace.update(_GLOBALS)

    # -- naming -------------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        """A new Python identifier, never derived from user text."""
        return f"{prefix}{next(self._names)}"

    def const(self, value: Any) -> str:
        """The name under which generated code reads a constant value."""
        try:
            key: tuple[type, Any] | None = (type(value), value)
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in self._constants:
            return self._constants[key]
        name = self.fresh("k")
        self.namespace[name] = value
        if key is not None:
            self._constants[key] = name
        return name

    def helper(self, function: Callable[..., Any]) -> str:
        """The name under which generated code calls one of our Python functions."""
        name = self._helpers.get(id(function))
        if name is None:
            name = self.fresh("_h")
            self.namespace[name] = function
            self._helpers[id(function)] = name
        return name

    # -- scopes of lambda variables -------------------------------------------------------------

    @contextmanager
    def variable(self, name: str, type_: Type) -> Iterator[str]:
        """Bind a lambda parameter for the body compiled inside the ``with`` block."""
        python_name = self.fresh("v")
        self._scopes.append({name: (python_name, type_)})
        self._variable_depths[python_name] = len(self._scopes)
        try:
            yield python_name
        finally:
            self._scopes.pop()

    def close_over(self, body: Code, variable: str) -> tuple[str | None, frozenset[str]]:
        """The key of a lambda's body with its parameter named by depth (so that the same
        lambda written twice has one key), and the variables it still reads."""
        if body.key is None:
            return None, frozenset()
        placeholder = f"λ{self._variable_depths[variable]}"
        return re.sub(rf"\b{variable}\b", placeholder, body.key), body.locals - {variable}

    def lookup_variable(self, name: str) -> tuple[str, Type] | None:
        for scope in reversed(self._scopes):
            if name in scope:
                return scope[name]
        return None

    def assign(self, name: str) -> None:
        """Note that ``set`` writes a root key, so later reads of it are not unknown."""
        self._assigned.add(name)

    def root_field(self, name: str) -> Type | None:
        if name in self._assigned:
            return ANY
        return self.catalogue.field_type(name)

    # -- compiling ------------------------------------------------------------------------------

    def compile(self, node: Node) -> Code:
        self._depth += 1
        try:
            if self._depth > 2 * MAX_DEPTH:
                raise RuleLimitExceeded(
                    f"the expression is nested deeper than {MAX_DEPTH} levels",
                    pointer=node.pointer,
                )
            if isinstance(node, Atom):
                return Code(self.const(node.value), type_of_value(node.value), True, node.value)
            if isinstance(node, Block):
                return self.sequence(node.items, node)
            return self.call(node)
        finally:
            self._depth -= 1

    def sequence(self, items: tuple[Node, ...], node: Node) -> Code:
        """Evaluate in order, yield the last (an anonymous block)."""
        if not items:
            raise RuleTypeError("an empty block has no value", pointer=node.pointer)
        codes = [self.compile(item) for item in items]
        if len(codes) == 1:
            return codes[0]
        return Code(f"({', '.join(c.expr for c in codes)})[-1]", codes[-1].type)

    def call(self, node: Call) -> Code:
        found = self.registry.lookup(node.name)
        if found is None:
            raise NoMatchingFunction(
                f"there is no function called {node.name!r}", pointer=node.pointer
            )
        if not isinstance(found, list):
            return found.compile(self, node)
        args = [self.compile(arg) for arg in node.args]
        return self.apply(node, found, args)

    def apply(self, node: Call, overloads: list[Overload], args: list[Code]) -> Code:
        """Choose among overloads by the arguments' static kinds and write the call."""
        possible = [o for o in overloads if _may_accept(o, args)]
        if not possible:
            raise NoMatchingFunction(
                _no_match_message(node.name, overloads, args), pointer=node.pointer
            )
        first = possible[0]
        if _surely_accepts(first, args):
            return self.emit(first, args)
        dispatch = _dispatcher(node.name, tuple(possible), node.pointer)
        kinds = Kind(0)
        for overload in possible:
            kinds |= overload.returns
        arg_list = ", ".join(["S", *(a.expr for a in args)])
        return Code(f"{self.helper(dispatch)}({arg_list})", Type(kinds))

    def emit(self, overload: Overload, args: list[Code]) -> Code:
        """Write a call to a statically chosen overload (folded when its inputs are known)."""
        if overload.pure and all(a.const for a in args):
            try:
                value = overload.impl(*(a.value for a in args))
            except Exception:  # noqa: S110 - an error here is the run time's to report
                pass
            else:
                if not isinstance(value, list | dict):
                    return Code(self.const(value), type_of_value(value), True, value)
        expr = self._call_text(overload, [a.expr for a in args])
        key = None
        if overload.pure and all(a.key is not None or a.const for a in args):
            key = self._call_text(overload, [a.key or a.expr for a in args])
        used = frozenset().union(*(a.locals for a in args))
        return self.memo(Code(expr, Type(overload.returns), key=key, locals=used))

    def _call_text(self, overload: Overload, exprs: list[str]) -> str:
        if overload.inline is not None:
            return overload.inline.format(
                *exprs,
                args=", ".join(exprs),
                rest=", ".join(exprs[len(overload.params) :]),
            )
        callee = self.helper(overload.impl)
        return f"{callee}({', '.join(['S', *exprs] if overload.stateful else exprs)})"

    def memo(self, code: Code) -> Code:
        """Share a binding-only, side-effect-free computation between its occurrences.

        The slot is filled on first use; when the computation fails the slot stays empty, so
        every rule that needs the value fails on its own, as it would without the memo."""
        if code.key is None or code.const or code.locals:
            return code
        if self.scoped_names and code.key.startswith(self._scoped_reads()):
            return Code(code.expr, code.type)
        if self.memo_counts is not None:
            self.memo_counts[code.key] = self.memo_counts.get(code.key, 0) + 1
        slot = None if self.memo_slots is None else self.memo_slots.get(code.key)
        if slot is None:
            return code
        expr = f"(M[{slot}] if M[{slot}] is not _U else _memo(M, {slot}, {code.expr}))"
        return Code(expr, code.type, key=code.key)

    def _scoped_reads(self) -> tuple[str, ...]:
        """How a read rooted at a scoped name begins (``b[k3]``, as the ``.`` form writes it:
        the binding indexed by the name's constant)."""
        return tuple(f"b[{self.const(name)}]" for name in sorted(self.scoped_names))

    @property
    def assigns(self) -> bool:
        """Whether compiled code writes to the binding (``set``), which rules out memos."""
        return bool(self._assigned)

    def expect(self, code: Code, kind: Kind, node: Node, what: str) -> Code:
        """Make sure a value is of ``kind``: statically when possible, else checked at run time."""
        if not code.kind & ~kind:
            return code
        if not code.kind & kind:
            raise RuleTypeError(
                f"{what} must be {kind.describe()}, not {code.kind.describe()}",
                pointer=node.pointer,
            )
        check = _kind_check(kind, what, node.pointer)
        return Code(f"{self.helper(check)}({code.expr})", Type(code.kind & kind))

    # -- templates ------------------------------------------------------------------------------

    def expand_template(self, name: str, args: tuple[Node, ...], node: Node) -> Code:
        template = self.templates.get(name.lower())
        if template is None:
            raise NoMatchingFunction(f"there is no template called {name!r}", pointer=node.pointer)
        if len(args) != len(template.params):
            raise NoMatchingFunction(
                f"template {name} takes {len(template.params)} arguments, not {len(args)}",
                pointer=node.pointer,
            )
        self._expansions += 1
        if self._expansions > MAX_TEMPLATE_EXPANSIONS:
            raise RuleLimitExceeded(
                f"more than {MAX_TEMPLATE_EXPANSIONS} template expansions", pointer=node.pointer
            )
        for index, (arg, kind) in enumerate(zip(args, template.params, strict=True)):
            self.expect(self.compile(arg), kind, arg, f"argument {index} of template {name}")
        code = self.compile(_substitute(template.body, args))
        return self.expect(code, template.returns, node, f"the result of template {name}")


def _substitute(body: Node, args: tuple[Node, ...]) -> Node:
    """Replace ``(# i)`` in a template body with the i-th argument."""
    if isinstance(body, Atom):
        return body
    if isinstance(body, Block):
        return Block(tuple(_substitute(item, args) for item in body.items), body.pointer)
    if body.name == "#" and len(body.args) == 1 and isinstance(body.args[0], Atom):
        index = body.args[0].value
        if isinstance(index, Decimal) and index == index.to_integral_value():
            position = int(index)
            if 0 <= position < len(args):
                return args[position]
        raise NoMatchingFunction(f"template argument {index} does not exist", pointer=body.pointer)
    return Call(body.name, tuple(_substitute(arg, args) for arg in body.args), body.pointer)


def _may_accept(overload: Overload, args: list[Code]) -> bool:
    if not overload.accepts_arity(len(args)):
        return False
    return all(a.kind & overload.param_kind(i) for i, a in enumerate(args))


def _surely_accepts(overload: Overload, args: list[Code]) -> bool:
    return all(not (a.kind & ~overload.param_kind(i)) for i, a in enumerate(args))


def _no_match_message(name: str, overloads: list[Overload], args: list[Code]) -> str:
    given = ", ".join(a.kind.describe() for a in args) or "no arguments"
    known = "; ".join(o.signature() for o in overloads)
    return f"{name} does not take ({given}); it takes {known}"


def _dispatcher(name: str, overloads: tuple[Overload, ...], pointer: str) -> Callable[..., Any]:
    """Run-time overload choice, for arguments whose kinds were not known statically."""

    def dispatch(state: State, *values: Any) -> Any:
        kinds = [kind_of(v) for v in values]
        for overload in overloads:
            if overload.accepts_arity(len(values)) and all(
                kind & overload.param_kind(i) for i, kind in enumerate(kinds)
            ):
                if overload.stateful:
                    return overload.impl(state, *values)
                return overload.impl(*values)
        given = ", ".join(k.describe() for k in kinds)
        raise NoMatchingFunction(f"{name} does not take ({given})", pointer=pointer)

    return dispatch


def _kind_check(kind: Kind, what: str, pointer: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not kind_of(value) & kind:
            raise RuleRuntimeError(
                f"{what} must be {kind.describe()}, not {kind_of(value).describe()}",
                pointer=pointer,
            )
        return value

    return check


# ---------------------------------------------------------------------------------------------
# Compiled expressions


def build_functions(
    source: str, namespace: Mapping[str, Any], entries: list[str]
) -> list[Callable[..., Any]]:
    """Turn generated source into functions. Only the compiler's own output comes here."""
    scope: dict[str, Any] = {"__builtins__": _SAFE_BUILTINS, **namespace}
    try:
        # Running the module only defines the functions; the source is generated from a
        # checked tree and names nothing but our constants and helpers.
        exec(compile(source, "<rules>", "exec"), scope)  # noqa: S102
    except (RecursionError, SyntaxError, MemoryError) as error:
        # Python's own parser caps nesting; the language's limits should stop us first.
        raise RuleLimitExceeded(f"the rule is too deeply nested to compile ({error})") from None
    return [scope[entry] for entry in entries]


MEMO_EMPTY: Any = type("MemoEmpty", (), {"__repr__": lambda self: "<memo empty>"})()
"""What a memo slot holds until its computation has run in this evaluation."""


def memo_store(memo: list[Any], slot: int, value: Any) -> Any:
    memo[slot] = value
    return value


def as_rule_error(error: BaseException) -> RuleError:
    """What a failure inside generated code means, as a ``RuleError``."""
    if isinstance(error, RuleError):
        return error
    if isinstance(error, KeyError):
        return RuleRuntimeError(f"there is no attribute {to_text(error.args[0])!r}")
    if isinstance(error, RecursionError):
        return RuleLimitExceeded("the evaluation nested too deeply")
    return RuleRuntimeError(f"evaluation failed: {type(error).__name__}: {error}")


def run_guarded(function: Callable[[State], Any], state: State) -> Any:
    """Run generated code; any failure inside comes out as a ``RuleError``."""
    try:
        return function(state)
    except Exception as error:
        raise as_rule_error(error) from None


@dataclass(frozen=True)
class CompiledExpression:
    """One expression, compiled: call ``evaluate`` as often as you like."""

    node: Node
    type: Type
    source: str
    function: Callable[[State], Any]

    def evaluate(self, binding: dict[str, Any] | None = None, *, state: State | None = None) -> Any:
        """Evaluate against a binding (or a prepared state); raises only ``RuleError``."""
        if state is None:
            state = State(binding)
        return run_guarded(self.function, state)


def compile_node(
    node: Node,
    *,
    catalogue: Type | None = None,
    registry: Registry | None = None,
    templates: dict[str, Template] | None = None,
) -> CompiledExpression:
    """Type-check and compile one expression."""
    _load_library()
    compiler = Compiler(
        catalogue=catalogue or Type(Kind.MAP),
        registry=registry or REGISTRY,
        templates=templates if templates is not None else {},
    )
    code = compiler.compile(node)
    source = f"def _expression(S):\n    b = S.binding\n    return {code.expr}\n"
    (function,) = build_functions(source, compiler.namespace, ["_expression"])
    return CompiledExpression(node, code.type, source, function)


def _load_library() -> None:
    from rules import library  # noqa: F401 - registers the functions on first use


def compile_expression(
    expression: Any, *, catalogue: Type | None = None, registry: Registry | None = None
) -> CompiledExpression:
    """Compile a JSON S-expression (already decoded)."""
    return compile_node(parse_json(expression), catalogue=catalogue, registry=registry)


def evaluate_lisp(text: str, binding: dict[str, Any] | None = None) -> Any:
    """Evaluate the Lisp text form once: for tests and the REPL-minded."""
    return compile_node(parse_lisp(text)).evaluate(binding)
