"""Special forms: the functions that take some arguments unevaluated.

Reading the binding (``.``, ``.|``), lambdas over lists (``map``, ``filter``, ``exists``,
``every``, ``sum``, ``sortBy…``), ``catch``, ``do``, ``kv``, ``set``, templates, and the
short-circuiting ``and``/``or``. Each compiles itself: it checks its arguments' shapes and
types and writes Python for them, with lambda bodies compiled once, in a scope where the
lambda's parameter is a local variable.

A lambda is written ``name body`` or, in the legacy and stored-rule form, ``((name) body)``
(JSON: ``[["Item"], body]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rules.ast import Atom, Block, Call, Node
from rules.compiler import Code, Compiler, Template
from rules.errors import NoMatchingFunction, RuleLimitExceeded, RuleRuntimeError, RuleTypeError
from rules.functions.registry import REGISTRY, SpecialForm
from rules.runtime import State
from rules.types import ANY, Kind, Type, kind_of, list_of, map_of
from rules.values import DECIMAL_CONTEXT, to_text


def _form(
    name: str, signature: str, doc: str, returns: Kind = Kind.ANY, category: str = "core"
) -> Callable[[Callable[[Compiler, Call], Code]], Callable[[Compiler, Call], Code]]:
    def register(compile_: Callable[[Compiler, Call], Code]) -> Callable[[Compiler, Call], Code]:
        REGISTRY.add_special(
            SpecialForm(
                name=name,
                compile=compile_,
                returns=returns,
                doc=doc,
                signature=signature,
                category=category,
            )
        )
        return compile_

    return register


def _arity(node: Call, low: int, high: int | None = None) -> None:
    count = len(node.args)
    if count < low or (high is not None and count > high):
        wanted = f"{low}" if high == low else f"{low} to {high}" if high else f"at least {low}"
        raise NoMatchingFunction(
            f"{node.name} takes {wanted} arguments, not {count}", pointer=node.pointer
        )


def _static_text(compiler: Compiler, node: Node) -> str | None:
    """The text of an argument that is known while compiling (a literal, or a folded call)."""
    if isinstance(node, Atom):
        return node.text
    code = compiler.compile(node)
    return to_text(code.value) if code.const else None


# ---------------------------------------------------------------------------------------------
# Reading the binding


def _read_path(compiler: Compiler, node: Call) -> Code:
    _arity(node, 1)
    first = _static_text(compiler, node.args[0])
    variable = compiler.lookup_variable(first) if first is not None else None
    walked: list[str] = []
    if variable is not None and first is not None:
        expr, current = variable
        rest = node.args[1:]
        walked.append(first)
    else:
        expr, current, rest = "b", compiler.catalogue, node.args
    for index, arg in enumerate(rest):
        name = _static_text(compiler, arg)
        if current.kind & Kind.MAP == 0:
            raise RuleTypeError(
                f"{'.'.join(walked) or 'the binding'} is {current.kind.describe()}, "
                f"it has no attribute {name or '(computed)'}",
                pointer=arg.pointer,
            )
        if name is None:
            key = compiler.compile(arg)
            expr = f"{expr}[_text({key.expr})]"
            current = ANY
            walked.append("(computed)")
            continue
        if variable is None and index == 0:
            found = compiler.root_field(name)
        else:
            found = current.field_type(name) if current.kind == Kind.MAP else ANY
        if found is None:
            known = ", ".join(sorted(current.fields)) or "none"
            raise _unknown(walked, name, known, arg)
        expr = f"{expr}[{compiler.const(name)}]"
        current = found
        walked.append(name)
    if "(computed)" in walked:
        return Code(expr, current)
    if variable is not None:
        return Code(expr, current, key=expr, locals=frozenset({variable[0]}))
    return compiler.memo(Code(expr, current, key=expr))


def _unknown(walked: list[str], name: str, known: str, arg: Node) -> RuleTypeError:
    from rules.errors import UnknownAttribute

    where = ".".join(walked) or "the binding"
    return UnknownAttribute(
        f"{where} has no attribute {name!r} (known: {known})", pointer=arg.pointer
    )


@_form(".", "(. Name Attribute…)", "Read an attribute: (. Session Total), (. Item Price).")
def _compile_read(compiler: Compiler, node: Call) -> Code:
    return _read_path(compiler, node)


def _safe_read(read: Callable[[], Any], default: Any) -> Any:
    try:
        value = read()
    except RuleLimitExceeded:
        raise
    except Exception:
        return default
    if kind_of(value) != kind_of(default):
        found, wanted = kind_of(value).describe(), kind_of(default).describe()
        raise RuleRuntimeError(f"the attribute is {found}, the default {wanted}")
    return value


@_form(
    ".|",
    "(.| default (. Name Attribute…))",
    "Read an attribute, or give the default when it is missing.",
)
def _compile_safe_read(compiler: Compiler, node: Call) -> Code:
    _arity(node, 2, 2)
    default = compiler.compile(node.args[0])
    path = node.args[1]
    if not (isinstance(path, Call) and path.name == "."):
        raise NoMatchingFunction(".| reads a path: (.| default (. A B))", pointer=path.pointer)
    read = _read_path(compiler, path)
    if read.kind != Kind.ANY and not read.kind & default.kind:
        raise RuleTypeError(
            f"the attribute is {read.kind.describe()}, the default {default.kind.describe()}",
            pointer=node.pointer,
        )
    helper = compiler.helper(_safe_read)
    return Code(f"{helper}(lambda: {read.expr}, {default.expr})", default.type)


def _set_path(binding: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    """Write ``value`` at ``keys``; maps on the way are copied, never changed in place,
    so a map shared with the caller or with a constant is never altered."""
    target = binding
    for key in keys[:-1]:
        inner = target.get(key)
        inner = dict(inner) if isinstance(inner, dict) else {}
        target[key] = inner
        target = inner
    target[keys[-1]] = value


@_form("set", "(set Name… value)", "Write a value into the binding.", Kind.NULL)
def _compile_set(compiler: Compiler, node: Call) -> Code:
    _arity(node, 2)
    keys: list[str] = []
    for arg in node.args[:-1]:
        if not isinstance(arg, Atom):
            raise RuleTypeError("set takes attribute names", pointer=arg.pointer)
        keys.append(arg.text)
    value = compiler.compile(node.args[-1])
    compiler.assign(keys[0])
    helper = compiler.helper(_set_path)
    return Code(f"{helper}(b, {compiler.const(tuple(keys))}, {value.expr})", Type(Kind.NULL))


# ---------------------------------------------------------------------------------------------
# Control


def _catch(expression: Callable[[], Any], default: Callable[[], Any]) -> Any:
    try:
        return expression()
    except RuleLimitExceeded:
        raise
    except Exception:
        return default()


@_form("catch", "(catch default expression)", "The expression's value, or the default on error.")
def _compile_catch(compiler: Compiler, node: Call) -> Code:
    _arity(node, 2, 2)
    default = compiler.compile(node.args[0])
    expression = compiler.compile(node.args[1])
    helper = compiler.helper(_catch)
    kind = default.kind | expression.kind
    return Code(f"{helper}(lambda: {expression.expr}, lambda: {default.expr})", Type(kind))


def _lambda(compiler: Compiler, node: Call, args: tuple[Node, ...]) -> tuple[str, Node, int]:
    """Read a lambda at the start of ``args``: its parameter, body, and how many nodes it took."""
    if args and isinstance(args[0], Block):
        items = args[0].items
        if len(items) == 2 and isinstance(items[0], Call) and not items[0].args:
            return items[0].name, items[1], 1
        if len(items) == 2 and isinstance(items[0], Atom) and isinstance(items[0].value, str):
            return items[0].text, items[1], 1
    if len(args) >= 2 and isinstance(args[0], Atom) and isinstance(args[0].value, str):
        return args[0].text, args[1], 2
    raise NoMatchingFunction(
        f"{node.name} takes a lambda: Item (body) or ((Item) (body))", pointer=node.pointer
    )


@_form("do", "(do value Name (body))", "Evaluate the body with Name bound to the value.")
def _compile_do(compiler: Compiler, node: Call) -> Code:
    _arity(node, 2, 3)
    value = compiler.compile(node.args[0])
    name, body_node, used = _lambda(compiler, node, node.args[1:])
    if 1 + used != len(node.args):
        raise NoMatchingFunction("do takes a value and a lambda", pointer=node.pointer)
    with compiler.variable(name, value.type) as variable:
        body = compiler.compile(body_node)
    return Code(f"(lambda {variable}: {body.expr})({value.expr})", body.type)


def _loop(state: State, items: Any) -> Any:
    """Charge a loop's iterations to the step budget before it runs (on the hot path, so the
    check is written out rather than calling ``State.charge``)."""
    steps = state.steps = state.steps + len(items) + 1
    if steps > state.step_budget:
        state.charge(0)
    return items


def _list_lambda(compiler: Compiler, node: Call, extra: int = 0) -> tuple[Code, str, Code, int]:
    """Compile ``(f list lambda extra…)``: the list (as the loop that charges the step budget),
    the loop variable, the body, and the index of the next argument."""
    _arity(node, 2)
    items = compiler.expect(compiler.compile(node.args[0]), Kind.LIST, node.args[0], "the list")
    name, body_node, used = _lambda(compiler, node, node.args[1:])
    if len(node.args) > 1 + used + extra:
        raise NoMatchingFunction(f"too many arguments to {node.name}", pointer=node.pointer)
    with compiler.variable(name, items.type.item or ANY) as variable:
        body = compiler.compile(body_node)
    source = f"{compiler.helper(_loop)}(S, {items.expr})"
    return Code(source, items.type, key=items.key, locals=items.locals), variable, body, 1 + used


def _shared(
    compiler: Compiler, expr: str, type_: Type, form: str, items: Code, variable: str, body: Code
) -> Code:
    """A list form's code, shared between its occurrences when its list and body allow."""
    body_key, body_locals = compiler.close_over(body, variable)
    if items.key is None or body_key is None:
        return Code(expr, type_)
    key = f"{form}({items.key}, {body_key})"
    return compiler.memo(Code(expr, type_, key=key, locals=items.locals | body_locals))


def _quantifier(builtin: str) -> Callable[[Compiler, Call], Code]:
    def compile_(compiler: Compiler, node: Call) -> Code:
        items, variable, body, _ = _list_lambda(compiler, node)
        test = compiler.expect(body, Kind.BOOLEAN, node, f"the body of {node.name}")
        expr = f"{builtin}({test.expr} for {variable} in {items.expr})"
        return _shared(compiler, expr, Type(Kind.BOOLEAN), builtin, items, variable, test)

    return compile_


REGISTRY.add_special(
    SpecialForm(
        "exists",
        _quantifier("any"),
        Kind.BOOLEAN,
        "True when the body holds for at least one item.",
        "(exists list Item (body))",
        "list",
    )
)
REGISTRY.add_special(
    SpecialForm(
        "every",
        _quantifier("all"),
        Kind.BOOLEAN,
        "True when the body holds for every item.",
        "(every list Item (body))",
        "list",
    )
)


@_form(
    "map",
    "(map list Item (body))",
    "The list of the body's values, one per item.",
    Kind.LIST,
    "list",
)
def _compile_map(compiler: Compiler, node: Call) -> Code:
    items, variable, body, _ = _list_lambda(compiler, node)
    expr = f"[{body.expr} for {variable} in {items.expr}]"
    return _shared(compiler, expr, list_of(body.type), "map", items, variable, body)


@_form(
    "filter", "(filter list Item (body))", "The items for which the body holds.", Kind.LIST, "list"
)
def _compile_filter(compiler: Compiler, node: Call) -> Code:
    items, variable, body, _ = _list_lambda(compiler, node)
    test = compiler.expect(body, Kind.BOOLEAN, node, "the body of filter")
    expr = f"[{variable} for {variable} in {items.expr} if {test.expr}]"
    return _shared(compiler, expr, items.type, "filter", items, variable, test)


def _sum(values: list[Any]) -> Decimal:
    total = Decimal(0)
    for value in values:
        if not isinstance(value, Decimal):
            raise RuleRuntimeError(f"sum adds decimals, not {kind_of(value).describe()}")
        total = DECIMAL_CONTEXT.add(total, value)
    return total


@_form("sum", "(sum list Item (body))", "The sum of the body's values.", Kind.DECIMAL, "list")
def _compile_sum(compiler: Compiler, node: Call) -> Code:
    items, variable, body, _ = _list_lambda(compiler, node)
    compiler.expect(body, Kind.DECIMAL, node, "the body of sum")
    helper = compiler.helper(_sum)
    expr = f"{helper}([{body.expr} for {variable} in {items.expr}])"
    return _shared(compiler, expr, Type(Kind.DECIMAL), "sum", items, variable, body)


def _sorter(key_kind: Kind) -> Callable[[list[Any], Callable[[Any], Any], Any], list[Any]]:
    def sort(items: list[Any], key: Callable[[Any], Any], descending: Any = False) -> list[Any]:
        if not isinstance(descending, bool):
            raise RuleRuntimeError("the sort order is a boolean (true: descending)")
        keyed = []
        for item in items:
            value = key(item)
            if not kind_of(value) & key_kind:
                raise RuleRuntimeError(f"sort keys must be {key_kind.describe()}")
            keyed.append((value, item))
        keyed.sort(key=lambda pair: pair[0], reverse=descending)
        return [item for _, item in keyed]

    return sort


def _sort_form(key_kind: Kind) -> Callable[[Compiler, Call], Code]:
    sort = _sorter(key_kind)

    def compile_(compiler: Compiler, node: Call) -> Code:
        items, variable, body, used = _list_lambda(compiler, node, extra=1)
        compiler.expect(body, key_kind, node, f"the key of {node.name}")
        descending = "False"
        if len(node.args) > used:
            order = compiler.compile(node.args[used])
            descending = compiler.expect(order, Kind.BOOLEAN, node.args[used], "the order").expr
        helper = compiler.helper(sort)
        return Code(
            f"{helper}({items.expr}, lambda {variable}: {body.expr}, {descending})", items.type
        )

    return compile_


REGISTRY.add_special(
    SpecialForm(
        "sortByNumber",
        _sort_form(Kind.DECIMAL),
        Kind.LIST,
        "Sort by a numeric key; true as the last argument sorts descending.",
        "(sortByNumber list Item (key) [descending])",
        "list",
    )
)
REGISTRY.add_special(
    SpecialForm(
        "sortByString",
        _sort_form(Kind.STRING),
        Kind.LIST,
        "Sort by a text key; true as the last argument sorts descending.",
        "(sortByString list Item (key) [descending])",
        "list",
    )
)


@_form("kv", "(kv (Key value)…)", "Build a map.", Kind.MAP)
def _compile_kv(compiler: Compiler, node: Call) -> Code:
    entries: list[str] = []
    fields: dict[str, Type] = {}
    for arg in node.args:
        if not isinstance(arg, Call) or len(arg.args) != 1:
            raise NoMatchingFunction("kv takes pairs: (Key value)", pointer=arg.pointer)
        value = compiler.compile(arg.args[0])
        entries.append(f"{compiler.const(arg.name)}: {value.expr}")
        fields[arg.name] = value.type
    return Code("{" + ", ".join(entries) + "}", map_of(fields))


# ---------------------------------------------------------------------------------------------
# Logic that short-circuits


def _truth(value: Any) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, list):
        return bool(value)
    raise RuleRuntimeError(f"expected a boolean, not {kind_of(value).describe()}")


def _logic(operator: str, empty: str) -> Callable[[Compiler, Call], Code]:
    def compile_(compiler: Compiler, node: Call) -> Code:
        parts, keys = [], []
        used: frozenset[str] = frozenset()
        for arg in node.args:
            code = compiler.compile(arg)
            key = code.expr if code.const else code.key
            keys.append(key if code.kind == Kind.BOOLEAN else None)
            used |= code.locals
            if code.kind == Kind.BOOLEAN:
                parts.append(code.expr)
            elif code.kind & (Kind.BOOLEAN | Kind.LIST):
                parts.append(f"{compiler.helper(_truth)}({code.expr})")
            else:
                raise NoMatchingFunction(
                    f"{node.name} combines booleans, not {code.kind.describe()}",
                    pointer=arg.pointer,
                )
        if not parts:
            return Code(empty, Type(Kind.BOOLEAN), True, empty == "True")
        expr = "(" + f" {operator} ".join(parts) + ")"
        if any(key is None for key in keys):
            return Code(expr, Type(Kind.BOOLEAN))
        key = "(" + f" {operator} ".join(k for k in keys if k is not None) + ")"
        return compiler.memo(Code(expr, Type(Kind.BOOLEAN), key=key, locals=used))

    return compile_


REGISTRY.add_special(
    SpecialForm("and", _logic("and", "True"), Kind.BOOLEAN, "True when all hold.", "(and a b…)")
)
REGISTRY.add_special(
    SpecialForm("or", _logic("or", "False"), Kind.BOOLEAN, "True when one holds.", "(or a b…)")
)


# ---------------------------------------------------------------------------------------------
# Templates

_TEMPLATE_SIGNATURE = re.compile(r"\s*([^\s(]+)\s*\(([^)]*)\)\s*(\w+)\s*")
_KIND_NAMES = {
    "decimal": Kind.DECIMAL,
    "string": Kind.STRING,
    "boolean": Kind.BOOLEAN,
    "bool": Kind.BOOLEAN,
    "time": Kind.TIME,
    "null": Kind.NULL,
    "list": Kind.LIST,
    "map": Kind.MAP,
    "atom": Kind.ATOM,
    "collection": Kind.COLLECTION,
    "any": Kind.ANY,
}


def _kind_named(name: str, node: Node) -> Kind:
    kind = _KIND_NAMES.get(name.strip().lower())
    if kind is None:
        raise RuleTypeError(f"{name!r} is not a kind", pointer=node.pointer)
    return kind


@_form(
    "setTemplate",
    '(setTemplate "name(Kind, …)Kind" (body with (# 0) …))',
    "Define a template, called with (! name args…).",
    Kind.NULL,
)
def _compile_set_template(compiler: Compiler, node: Call) -> Code:
    _arity(node, 2, 2)
    signature = node.args[0]
    if not isinstance(signature, Atom) or not isinstance(signature.value, str):
        raise RuleTypeError("a template signature is a string", pointer=signature.pointer)
    match = _TEMPLATE_SIGNATURE.fullmatch(signature.value)
    if match is None:
        raise RuleTypeError(
            "a template signature reads name(Kind, …)Kind", pointer=signature.pointer
        )
    name, params, returns = match.groups()
    kinds = tuple(_kind_named(p, signature) for p in params.split(",") if p.strip())
    compiler.templates[name.lower()] = Template(
        name, kinds, _kind_named(returns, signature), node.args[1]
    )
    return Code("None", Type(Kind.NULL), True, None)


@_form("!", "(! name args…)", "Call a template.")
def _compile_template_call(compiler: Compiler, node: Call) -> Code:
    _arity(node, 1)
    name = node.args[0]
    if not isinstance(name, Atom):
        raise RuleTypeError("! takes a template name", pointer=name.pointer)
    return compiler.expand_template(name.text, node.args[1:], node)


@_form("#", "(# index)", "A template's argument (only inside a template).")
def _compile_template_argument(compiler: Compiler, node: Call) -> Code:
    raise NoMatchingFunction("(# i) is only meaningful inside a template", pointer=node.pointer)
