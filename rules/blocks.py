"""The rule builder's blocks: what a marketer drags, and how each maps to and from Talang.

Each block is defined once, here: its fields (what the marketer fills in), the Talang it writes
(``to_talang``) and how to recognise that Talang again (``match``). The Campaign Manager draws
the palette from ``block_catalogue()`` / ``catalogue_as_json()``; saving a rule goes through
``blocks_to_talang``, opening one through ``talang_to_blocks``.

A placed block is a ``Block(id, values)``. Values are plain data: numbers are ``int`` or
``Decimal`` (never float), times are RFC 3339 strings, attribute paths are lists of names
(``["Profile", "Attributes", "Country"]``), the children of a group are ``Block``\\ s. Optional
fields are present with ``None``.

The mapping is exact in both directions for every block's own output: blocks → Talang → blocks
gives the same blocks, and that Talang → blocks → Talang gives the same Talang. An expression that
no block writes comes back as a ``raw`` block holding it unchanged, so opening and saving a rule
never loses anything. Two spellings are read but written differently: a top-level condition that
is not an ``and`` is read as the one block it is (saving wraps it in ``and``), and an effect
without Talon.One's ``(catch (noop) …)`` guard is read as its block (saving adds the guard, which
changes nothing for effects built from literals).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from rules.ast import parse_json
from rules.catalogue import (
    ATTRIBUTES,
    AUDIENCE_ID,
    AUDIENCE_MEMBERSHIPS,
    CART_ITEMS,
    CURRENT_TIME,
    EVENT,
    EVENT_TYPE,
    ITEM,
    ITEM_POSITION,
    ITEM_PRICE,
    ITEM_QUANTITY,
    LOYALTY,
    LOYALTY_BALANCES,
    PROFILE,
    SESSION,
    SESSION_TOTAL,
    attribute_paths,
    item_attribute_paths,
    resolve,
)
from rules.effects import UPDATABLE_ROOTS, NotificationType, SessionDiscountScope
from rules.errors import RuleTypeError, UnknownAttribute
from rules.types import Kind, Type
from rules.values import parse_rfc3339

BlockKind = Literal["condition", "effect"]
FieldInput = Literal[
    "number",  # a decimal, maybe bounded or whole
    "text",  # a non-empty string
    "choice",  # one of ``choices``
    "time",  # an RFC 3339 string
    "value",  # a literal to compare with: number, string or boolean
    "values",  # a list of such literals
    "payload",  # a map of names to such literals
    "attribute",  # an attribute path under one of ``roots``
    "conditions",  # child condition blocks (at least one)
    "condition",  # one child condition block
    "expression",  # any Talang expression (the raw block)
]

COMPARISON_OPERATORS = ("=", "!=", ">", ">=", "<", "<=")
ORDERING_OPERATORS = (">", ">=", "<", "<=")
_VALUE_KINDS = Kind.DECIMAL | Kind.STRING | Kind.BOOLEAN

RAW = "raw"
"""The id of the block that holds any expression unchanged."""

_GUARD_DEFAULT = ["noop"]
"""Talon.One's builder writes every effect as ``["catch", ["noop"], effect]``."""


# ---------------------------------------------------------------------------------------------
# Definitions


@dataclass(frozen=True, slots=True)
class BlockField:
    """One input of a block: what it holds (``kind``) and how the builder asks for it."""

    name: str
    label: str
    kind: Kind
    choices: tuple[str, ...] | None = None
    required: bool = True
    input: FieldInput = "text"
    roots: tuple[str, ...] = ()
    """For attribute fields: the entities a path may start at."""
    excluded: tuple[tuple[str, ...], ...] = ()
    """For attribute fields: paths another, more specific block owns."""
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    exclusive_minimum: bool = False
    integer: bool = False
    help: str = ""


@dataclass(frozen=True, slots=True)
class BlockDef:
    """A block of the palette: its fields and its two-way mapping to Talang."""

    id: str
    kind: BlockKind
    label: str
    category: str
    fields: tuple[BlockField, ...]
    to_talang: Callable[[Mapping[str, Any]], Any]
    """Values (already validated) → the block's Talang expression."""
    match: Callable[[Any], dict[str, Any] | None]
    """A Talang expression → the values this block would write it from, or None. The values are
    validated afterwards: a match whose values are invalid is no match."""
    description: str = ""
    check: Callable[[Mapping[str, Any], str, Type | None], None] | None = None
    """Checks between fields (and against the catalogue, when given); raises RuleTypeError."""
    guarded: bool = False
    """Written inside Talon.One's ``(catch (noop) …)`` guard (effects)."""

    def get_field(self, name: str) -> BlockField:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Block:
    """A placed block: the id of its definition and the values of its fields."""

    id: str
    values: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Talang shapes


def _read(path: Sequence[str]) -> list[Any]:
    return [".", *path]


def _lambda(name: str, body: Any) -> list[Any]:
    return [[name], body]


def _is_call(expr: Any, names: Iterable[str], arity: int | None = None) -> bool:
    return (
        isinstance(expr, list)
        and bool(expr)
        and isinstance(expr[0], str)
        and expr[0] in names
        and (arity is None or len(expr) == arity + 1)
    )


def _path_of(expr: Any) -> list[str] | None:
    """``[".", "A", "B"]`` → ``["A", "B"]``; None for anything else."""
    if not _is_call(expr, (".",)) or len(expr) < 2:
        return None
    segments = expr[1:]
    if all(isinstance(s, str) and s for s in segments):
        return list(segments)
    return None


def _lambda_body(expr: Any, name: str) -> Any:
    """The body of ``[[name], body]``, or None."""
    if isinstance(expr, list) and len(expr) == 2 and expr[0] == [name]:
        return expr[1]
    return None


def _guard(effect: Any) -> list[Any]:
    return ["catch", list(_GUARD_DEFAULT), effect]


def _unguard(expr: Any) -> Any:
    """The effect inside ``["catch", ["noop"], effect]``, or None."""
    if _is_call(expr, ("catch",), 2) and expr[1] == _GUARD_DEFAULT:
        return expr[2]
    return None


# ---------------------------------------------------------------------------------------------
# Field constructors


def _operator(choices: tuple[str, ...] = COMPARISON_OPERATORS, required: bool = True) -> BlockField:
    return BlockField(
        "operator", "Comparison", Kind.STRING, choices=choices, input="choice", required=required
    )


def _number(
    name: str,
    label: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    exclusive_minimum: bool = False,
    integer: bool = False,
    required: bool = True,
    help: str = "",
) -> BlockField:
    return BlockField(
        name,
        label,
        Kind.DECIMAL,
        input="number",
        minimum=None if minimum is None else Decimal(minimum),
        maximum=None if maximum is None else Decimal(maximum),
        exclusive_minimum=exclusive_minimum,
        integer=integer,
        required=required,
        help=help,
    )


def _text(name: str, label: str, *, required: bool = True, help: str = "") -> BlockField:
    return BlockField(name, label, Kind.STRING, input="text", required=required, help=help)


def _choice(name: str, label: str, choices: Iterable[str], *, required: bool = True) -> BlockField:
    return BlockField(
        name, label, Kind.STRING, choices=tuple(choices), input="choice", required=required
    )


def _value(name: str = "value", label: str = "Value", *, required: bool = True) -> BlockField:
    return BlockField(name, label, _VALUE_KINDS, input="value", required=required)


def _attribute(
    name: str,
    label: str,
    roots: tuple[str, ...],
    *,
    excluded: tuple[tuple[str, ...], ...] = (),
    required: bool = True,
    help: str = "",
) -> BlockField:
    return BlockField(
        name,
        label,
        Kind.LIST,
        input="attribute",
        roots=roots,
        excluded=excluded,
        required=required,
        help=help,
    )


def _time(name: str, label: str) -> BlockField:
    return BlockField(name, label, Kind.TIME, input="time")


# ---------------------------------------------------------------------------------------------
# Checks between fields


def _value_kind(value: Any) -> Kind:
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, int | Decimal):
        return Kind.DECIMAL
    if isinstance(value, str):
        return Kind.TIME | Kind.STRING if parse_rfc3339(value) else Kind.STRING
    return Kind(0)


def _check_comparison(values: Mapping[str, Any], pointer: str, catalogue: Type | None) -> None:
    """An ordering compares numbers; with a catalogue, the value must fit the attribute."""
    value = values.get("value")
    if value is None:
        return
    kind = _value_kind(value)
    if values.get("operator") in ORDERING_OPERATORS and kind != Kind.DECIMAL:
        raise RuleTypeError(
            f"{values['operator']} compares numbers, not {(kind & ~Kind.TIME).describe()}",
            pointer=f"{pointer}/value",
        )
    path = values.get("attribute")
    if catalogue is None or path is None:
        return
    found = resolve(catalogue, path)
    if found is None or found.kind == Kind.ANY:
        return  # an unknown path is reported by the attribute field itself
    if not found.kind & kind:
        raise RuleTypeError(
            f"{'.'.join(path)} is {found.kind.describe()}, the value is "
            f"{(kind & ~Kind.TIME or kind).describe()}",
            pointer=f"{pointer}/value",
        )


def _all_or_none(*names: str) -> Callable[[Mapping[str, Any], str, Type | None], None]:
    def check(values: Mapping[str, Any], pointer: str, catalogue: Type | None) -> None:
        given = [name for name in names if values.get(name) is not None]
        if given and len(given) != len(names):
            missing = next(name for name in names if values.get(name) is None)
            raise RuleTypeError(
                f"fill in {', '.join(names)} together, or none of them",
                pointer=f"{pointer}/{missing}",
            )

    return check


def _check_period(values: Mapping[str, Any], pointer: str, catalogue: Type | None) -> None:
    start = parse_rfc3339(values["start"])
    end = parse_rfc3339(values["end"])
    if start is not None and end is not None and end <= start:
        raise RuleTypeError("the end must come after the start", pointer=f"{pointer}/end")


# ---------------------------------------------------------------------------------------------
# Condition blocks


def _group(block_id: str, function: str, label: str, description: str) -> BlockDef:
    def to_talang(values: Mapping[str, Any]) -> Any:
        return [function, *(_condition_talang(child) for child in values["conditions"])]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, (function,)) or len(expr) < 2:
            return None
        return {"conditions": [_condition_block(child) for child in expr[1:]]}

    return BlockDef(
        id=block_id,
        kind="condition",
        label=label,
        category="Logic",
        description=description,
        fields=(BlockField("conditions", "Conditions", Kind.LIST, input="conditions"),),
        to_talang=to_talang,
        match=match,
    )


def _not() -> BlockDef:
    def to_talang(values: Mapping[str, Any]) -> Any:
        return ["not", _condition_talang(values["condition"])]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("not",), 1):
            return None
        return {"condition": _condition_block(expr[1])}

    return BlockDef(
        id="not",
        kind="condition",
        label="It is not true that",
        category="Logic",
        description="Holds when the condition inside does not.",
        fields=(BlockField("condition", "Condition", Kind.TOKEN, input="condition"),),
        to_talang=to_talang,
        match=match,
    )


def _compare_expression(
    subject: Any, block_id: str, label: str, category: str, **extra: Any
) -> BlockDef:
    """``[op, subject, value]`` where ``subject`` is a fixed expression and value a number."""

    def to_talang(values: Mapping[str, Any]) -> Any:
        return [values["operator"], subject, values["value"]]

    def match(expr: Any) -> dict[str, Any] | None:
        if _is_call(expr, COMPARISON_OPERATORS, 2) and expr[1] == subject:
            return {"operator": expr[0], "value": expr[2]}
        return None

    return BlockDef(
        id=block_id,
        kind="condition",
        label=label,
        category=category,
        fields=(_operator(), _number("value", "Amount")),
        to_talang=to_talang,
        match=match,
        **extra,
    )


def _attribute_comparison(
    block_id: str,
    root: str,
    label: str,
    category: str,
    description: str,
    excluded: tuple[tuple[str, ...], ...] = (),
) -> BlockDef:
    def match(expr: Any) -> dict[str, Any] | None:
        return _match_comparison(expr, root)

    return BlockDef(
        id=block_id,
        kind="condition",
        label=label,
        category=category,
        description=description,
        fields=(
            _attribute("attribute", "Attribute", (root,), excluded=excluded),
            _operator(),
            _value(),
        ),
        to_talang=_compare_attribute,
        match=match,
        check=_check_comparison,
    )


def _profile_attribute_exists() -> BlockDef:
    # A missing attribute makes the read fail; catch turns that into false.
    def to_talang(values: Mapping[str, Any]) -> Any:
        return ["catch", False, ["!=", _read(values["attribute"]), None]]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("catch",), 2) or expr[1] is not False:
            return None
        test = expr[2]
        if not _is_call(test, ("!=",), 2) or test[2] is not None:
            return None
        path = _path_of(test[1])
        if path is None or path[0] != PROFILE:
            return None
        return {"attribute": path}

    return BlockDef(
        id="profile_attribute_exists",
        kind="condition",
        label="Customer attribute is set",
        category="Customer",
        description="Holds when the customer profile has a value for the attribute.",
        fields=(_attribute("attribute", "Attribute", (PROFILE,)),),
        to_talang=to_talang,
        match=match,
    )


def _compare_attribute(values: Mapping[str, Any]) -> list[Any]:
    """``[operator, (. attribute…), value]``: an attribute compared with a value."""
    return [values["operator"], _read(values["attribute"]), values["value"]]


def _match_comparison(expr: Any, root: str) -> dict[str, Any] | None:
    """The values of ``_compare_attribute``'s shape, when its attribute lies under ``root``."""
    if not _is_call(expr, COMPARISON_OPERATORS, 2):
        return None
    path = _path_of(expr[1])
    if path is None or path[0] != root:
        return None
    return {"attribute": path, "operator": expr[0], "value": expr[2]}


def _match_item_comparison(expr: Any) -> dict[str, Any] | None:
    return _match_comparison(expr, ITEM)


_ITEM_FIELDS = (
    _attribute("attribute", "Item attribute", (ITEM,)),
    _operator(),
    _value(),
)


def _cart_contains_item() -> BlockDef:
    quantity = _read(ITEM_QUANTITY)

    def to_talang(values: Mapping[str, Any]) -> Any:
        test: list[Any] = _compare_attribute(values)
        if values.get("min_quantity") is not None:
            test = ["and", test, [">=", quantity, values["min_quantity"]]]
        return ["exists", _read(CART_ITEMS), _lambda(ITEM, test)]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("exists",), 2) or expr[1] != _read(CART_ITEMS):
            return None
        body = _lambda_body(expr[2], ITEM)
        min_quantity = None
        threshold: Any = body[2] if _is_call(body, ("and",), 2) else None
        if (
            _is_call(threshold, (">=",), 2)
            and threshold[1] == quantity
            and threshold[2] is not None
        ):
            body, min_quantity = body[1], threshold[2]
        values = _match_item_comparison(body)
        if values is None:
            return None
        return {**values, "min_quantity": min_quantity}

    return BlockDef(
        id="cart_contains_item",
        kind="condition",
        label="Cart contains an item where",
        category="Cart",
        description="Holds when at least one cart item matches (optionally in a quantity).",
        fields=(
            *_ITEM_FIELDS,
            _number(
                "min_quantity",
                "At least this many units",
                minimum=1,
                integer=True,
                required=False,
            ),
        ),
        to_talang=to_talang,
        match=match,
        check=_check_comparison,
    )


def _cart_every_item() -> BlockDef:
    def to_talang(values: Mapping[str, Any]) -> Any:
        return ["every", _read(CART_ITEMS), _lambda(ITEM, _compare_attribute(values))]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("every",), 2) or expr[1] != _read(CART_ITEMS):
            return None
        return _match_item_comparison(_lambda_body(expr[2], ITEM))

    return BlockDef(
        id="cart_every_item",
        kind="condition",
        label="Every item in the cart has",
        category="Cart",
        description="Holds when all cart items match (and when the cart is empty).",
        fields=_ITEM_FIELDS,
        to_talang=to_talang,
        match=match,
        check=_check_comparison,
    )


_AUDIENCE = "Audience"
"""The lambda variable of the audience block."""


def _audience_member() -> BlockDef:
    test_path = _read((_AUDIENCE, AUDIENCE_ID))

    def to_talang(values: Mapping[str, Any]) -> Any:
        test = ["=", test_path, values["audience_id"]]
        return ["exists", _read(AUDIENCE_MEMBERSHIPS), _lambda(_AUDIENCE, test)]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("exists",), 2) or expr[1] != _read(AUDIENCE_MEMBERSHIPS):
            return None
        body = _lambda_body(expr[2], _AUDIENCE)
        if _is_call(body, ("=",), 2) and body[1] == test_path:
            return {"audience_id": body[2]}
        return None

    return BlockDef(
        id="audience_member",
        kind="condition",
        label="Customer belongs to audience",
        category="Customer",
        fields=(_number("audience_id", "Audience ID", minimum=1, integer=True),),
        to_talang=to_talang,
        match=match,
    )


def _loyalty_balance() -> BlockDef:
    def to_talang(values: Mapping[str, Any]) -> Any:
        path = (LOYALTY, str(int(values["program_id"])), values["balance"])
        return [values["operator"], _read(path), values["value"]]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, COMPARISON_OPERATORS, 2):
            return None
        path = _path_of(expr[1])
        if path is None or len(path) != 3 or path[0] != LOYALTY:
            return None
        program = path[1]
        if not (program.isascii() and program.isdigit()) or str(int(program)) != program:
            return None
        return {
            "program_id": int(program),
            "balance": path[2],
            "operator": expr[0],
            "value": expr[2],
        }

    return BlockDef(
        id="loyalty_balance",
        kind="condition",
        label="Loyalty balance is",
        category="Loyalty",
        description="Compares the customer's points in a loyalty program.",
        fields=(
            _number("program_id", "Loyalty program ID", minimum=1, integer=True),
            _choice("balance", "Balance", LOYALTY_BALANCES),
            _operator(),
            _number("value", "Points"),
        ),
        to_talang=to_talang,
        match=match,
    )


def _function_call(
    block_id: str, function: str, label: str, category: str, description: str
) -> BlockDef:
    def match(expr: Any) -> dict[str, Any] | None:
        return {} if expr == [function] else None

    return BlockDef(
        id=block_id,
        kind="condition",
        label=label,
        category=category,
        description=description,
        fields=(),
        to_talang=lambda values: [function],
        match=match,
    )


def _event_type() -> BlockDef:
    subject = _read(EVENT_TYPE)

    def match(expr: Any) -> dict[str, Any] | None:
        if _is_call(expr, ("=",), 2) and expr[1] == subject:
            return {"event_type": expr[2]}
        return None

    return BlockDef(
        id="event_type",
        kind="condition",
        label="Event type is",
        category="Event",
        fields=(_text("event_type", "Event type"),),
        to_talang=lambda values: ["=", subject, values["event_type"]],
        match=match,
    )


def _date_between() -> BlockDef:
    # JSON has no time literal (a JSON string is a string), so the bounds go through parseTime.
    now = _read(CURRENT_TIME)

    def to_talang(values: Mapping[str, Any]) -> Any:
        return ["betweenTimes", now, ["parseTime", values["start"]], ["parseTime", values["end"]]]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("betweenTimes",), 3) or expr[1] != now:
            return None
        if _is_call(expr[2], ("parseTime",), 1) and _is_call(expr[3], ("parseTime",), 1):
            return {"start": expr[2][1], "end": expr[3][1]}
        return None

    return BlockDef(
        id="date_between",
        kind="condition",
        label="Current time is between",
        category="Date & time",
        description="Holds after the start and before the end (both excluded).",
        fields=(_time("start", "Start"), _time("end", "End")),
        to_talang=to_talang,
        match=match,
        check=_check_period,
    )


def _raw(kind: BlockKind) -> BlockDef:
    return BlockDef(
        id=RAW,
        kind=kind,
        label="Talang expression",
        category="Advanced",
        description="Any expression of the rule language, kept as written.",
        fields=(BlockField("expression", "Expression", Kind.TOKEN, input="expression"),),
        to_talang=lambda values: values["expression"],
        match=lambda expr: {"expression": expr},
    )


CONDITION_BLOCKS: tuple[BlockDef, ...] = (
    _group("all", "and", "All of the following are true", "Holds when every condition holds."),
    _group("any", "or", "Any of the following is true", "Holds when at least one condition does."),
    _not(),
    _compare_expression(
        _read(SESSION_TOTAL),
        "cart_total",
        "Cart total is",
        "Cart",
        description="Compares the session total (items and additional costs, before discounts).",
    ),
    _compare_expression(
        ["sum", _read(CART_ITEMS), _lambda(ITEM, _read(ITEM_QUANTITY))],
        "cart_item_count",
        "Number of items in the cart is",
        "Cart",
        description="Compares the number of units in the cart (the sum of the quantities).",
    ),
    _cart_contains_item(),
    _cart_every_item(),
    _attribute_comparison(
        "session_attribute",
        SESSION,
        "Session attribute",
        "Session",
        "Compares an attribute of the session with a value.",
        excluded=(SESSION_TOTAL,),
    ),
    _attribute_comparison(
        "profile_attribute",
        PROFILE,
        "Customer attribute",
        "Customer",
        "Compares an attribute of the customer profile with a value.",
    ),
    _profile_attribute_exists(),
    _audience_member(),
    _event_type(),
    _attribute_comparison(
        "event_attribute",
        EVENT,
        "Event attribute",
        "Event",
        "Compares an attribute of the event with a value.",
        excluded=(EVENT_TYPE,),
    ),
    _function_call(
        "coupon_valid",
        "couponValid",
        "Coupon code is valid",
        "Coupons & referrals",
        "Holds when the session's coupon code can be used in this campaign.",
    ),
    _function_call(
        "referral_valid",
        "referralValid",
        "Referral code is valid",
        "Coupons & referrals",
        "Holds when the session's referral code can be used in this campaign.",
    ),
    _loyalty_balance(),
    _date_between(),
    _raw("condition"),
)


# ---------------------------------------------------------------------------------------------
# Effect blocks

_SCOPES = tuple(scope.value for scope in SessionDiscountScope)


def _set_discount(values: Mapping[str, Any], amount: Any) -> list[Any]:
    effect = ["setDiscount", values["name"], amount]
    if values.get("scope") is not None:
        effect.append(values["scope"])
    return effect


def _match_set_discount(expr: Any) -> tuple[dict[str, Any], Any] | None:
    if not (_is_call(expr, ("setDiscount",), 2) or _is_call(expr, ("setDiscount",), 3)):
        return None
    if len(expr) == 4 and expr[3] is None:
        return None  # an explicit null scope would not be written back
    scope = expr[3] if len(expr) == 4 else None
    return {"name": expr[1], "scope": scope}, expr[2]


def _discount_percent() -> BlockDef:
    total = _read(SESSION_TOTAL)

    def to_talang(values: Mapping[str, Any]) -> Any:
        return _set_discount(values, ["*", total, ["/", values["percent"], 100]])

    def match(expr: Any) -> dict[str, Any] | None:
        found = _match_set_discount(expr)
        if found is None:
            return None
        values, amount = found
        if (
            _is_call(amount, ("*",), 2)
            and amount[1] == total
            and _is_call(amount[2], ("/",), 2)
            and _is_int(amount[2][2], 100)
        ):
            return {"name": values["name"], "percent": amount[2][1], "scope": values["scope"]}
        return None

    return BlockDef(
        id="discount_percent",
        kind="effect",
        label="Discount the cart by a percentage",
        category="Discounts",
        description="Takes a percentage off the session total.",
        fields=(
            _text("name", "Discount name"),
            _number("percent", "Percent", minimum=0, maximum=100, exclusive_minimum=True),
            _choice("scope", "Applies to", _SCOPES, required=False),
        ),
        to_talang=to_talang,
        match=match,
        guarded=True,
    )


def _discount_fixed() -> BlockDef:
    def match(expr: Any) -> dict[str, Any] | None:
        found = _match_set_discount(expr)
        if found is None:
            return None
        values, amount = found
        return {"name": values["name"], "amount": amount, "scope": values["scope"]}

    return BlockDef(
        id="discount_fixed",
        kind="effect",
        label="Discount the cart by a fixed amount",
        category="Discounts",
        description="Takes an amount off the session (never more than it costs).",
        fields=(
            _text("name", "Discount name"),
            _number("amount", "Amount", minimum=0, exclusive_minimum=True),
            _choice("scope", "Applies to", _SCOPES, required=False),
        ),
        to_talang=lambda values: _set_discount(values, values["amount"]),
        match=match,
        guarded=True,
    )


def _discount_per_item() -> BlockDef:
    cart = _read(CART_ITEMS)
    line_price = [_read(ITEM_PRICE), _read(ITEM_QUANTITY)]
    position = _read(ITEM_POSITION)

    def to_talang(values: Mapping[str, Any]) -> Any:
        items: list[Any] = cart
        if values.get("attribute") is not None:
            items = ["filter", cart, _lambda(ITEM, _compare_attribute(values))]
        amount = ["*", *line_price, ["/", values["percent"], 100]]
        discount = ["setDiscountPerItem", values["name"], amount, position]
        return ["map", items, _lambda(ITEM, discount)]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("map",), 2):
            return None
        items, discount = expr[1], _lambda_body(expr[2], ITEM)
        selection: dict[str, Any] | None = {"attribute": None, "operator": None, "value": None}
        if items != cart:
            if not _is_call(items, ("filter",), 2) or items[1] != cart:
                return None
            selection = _match_item_comparison(_lambda_body(items[2], ITEM))
        if selection is None or not _is_call(discount, ("setDiscountPerItem",), 3):
            return None
        amount = discount[2]
        if (
            discount[3] != position
            or not _is_call(amount, ("*",), 3)
            or amount[1:3] != line_price
            or not _is_call(amount[3], ("/",), 2)
            or not _is_int(amount[3][2], 100)
        ):
            return None
        return {"name": discount[1], "percent": amount[3][1], **selection}

    return BlockDef(
        id="discount_per_item",
        kind="effect",
        label="Discount each matching item by a percentage",
        category="Discounts",
        description="Takes a percentage off every cart item that matches (all items if no test).",
        fields=(
            _text("name", "Discount name"),
            _number("percent", "Percent", minimum=0, maximum=100, exclusive_minimum=True),
            _attribute("attribute", "Only items whose", (ITEM,), required=False),
            _operator(required=False),
            _value(required=False),
        ),
        to_talang=to_talang,
        match=match,
        check=_check_per_item,
        guarded=True,
    )


def _check_per_item(values: Mapping[str, Any], pointer: str, catalogue: Type | None) -> None:
    _all_or_none("attribute", "operator", "value")(values, pointer, catalogue)
    _check_comparison(values, pointer, catalogue)


def _is_int(value: Any, expected: int) -> bool:
    return type(value) is int and value == expected


def _effect_call(
    block_id: str,
    function: str,
    label: str,
    category: str,
    fields: tuple[BlockField, ...],
    description: str = "",
) -> BlockDef:
    """An effect whose arguments are its fields in order; trailing optional fields may be None
    (left out of the call), and a ``values`` field spreads into the remaining arguments."""
    names = [f.name for f in fields]
    spread = fields[-1].name if fields and fields[-1].input == "values" else None
    fixed = names[:-1] if spread else names
    required = sum(1 for f in fields if f.required and f.name != spread)

    def to_talang(values: Mapping[str, Any]) -> Any:
        args = [values.get(name) for name in fixed]
        while len(args) > required and args[-1] is None:
            args.pop()
        if spread is not None:
            args.extend(values[spread])
        return [function, *args]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, (function,)):
            return None
        args = expr[1:]
        if len(args) < required or (spread is None and len(args) > len(fixed)):
            return None
        if any(arg is None for arg in args):
            return None  # an explicit null would not be written back
        found: dict[str, Any] = {name: None for name in fixed}
        found.update(zip(fixed, args, strict=False))
        if spread is not None:
            found[spread] = list(args[len(fixed) :])
        return found

    return BlockDef(
        id=block_id,
        kind="effect",
        label=label,
        category=category,
        description=description,
        fields=fields,
        to_talang=to_talang,
        match=match,
        guarded=True,
    )


def _check_update(values: Mapping[str, Any], pointer: str, catalogue: Type | None) -> None:
    path = values["attribute"]
    if len(path) != 3 or path[1] != ATTRIBUTES:
        raise RuleTypeError(
            "only custom attributes can be set: Session.Attributes.<name> or "
            "Profile.Attributes.<name>",
            pointer=f"{pointer}/attribute",
        )
    _check_comparison(values, pointer, catalogue)


def _update_attribute() -> BlockDef:
    # Talang carries the path as one dotted string: "Profile.Attributes.Tier".
    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("updateAttribute",), 2) or not isinstance(expr[1], str):
            return None
        return {"attribute": expr[1].split("."), "value": expr[2]}

    return BlockDef(
        id="update_attribute",
        kind="effect",
        label="Set an attribute",
        category="Attributes",
        description="Gives a session or customer attribute a new value.",
        fields=(
            _attribute("attribute", "Attribute", tuple(UPDATABLE_ROOTS)),
            _value(),
        ),
        to_talang=lambda values: [
            "updateAttribute",
            ".".join(values["attribute"]),
            values["value"],
        ],
        match=match,
        check=_check_update,
        guarded=True,
    )


def _custom_effect() -> BlockDef:
    def to_talang(values: Mapping[str, Any]) -> Any:
        payload = [[key, value] for key, value in values["payload"].items()]
        return ["customEffect", values["name"], ["kv", *payload]]

    def match(expr: Any) -> dict[str, Any] | None:
        if not _is_call(expr, ("customEffect",), 2) or not _is_call(expr[2], ("kv",)):
            return None
        payload: dict[str, Any] = {}
        for pair in expr[2][1:]:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                return None
            if pair[0] in payload:
                return None
            payload[pair[0]] = pair[1]
        return {"name": expr[1], "payload": payload}

    return BlockDef(
        id="custom_effect",
        kind="effect",
        label="Custom effect",
        category="Integrations",
        description="Sends one of the application's custom effects with its parameters.",
        fields=(
            _text("name", "Custom effect (API name)"),
            BlockField("payload", "Parameters", Kind.MAP, input="payload"),
        ),
        to_talang=to_talang,
        match=match,
        guarded=True,
    )


_LOYALTY_FIELDS = (
    _number("program_id", "Loyalty program ID", minimum=1, integer=True),
    _text("name", "Reason"),
    _number("points", "Points", minimum=0, exclusive_minimum=True),
    _text("subledger_id", "Subledger", required=False),
)

EFFECT_BLOCKS: tuple[BlockDef, ...] = (
    _discount_percent(),
    _discount_fixed(),
    _discount_per_item(),
    _effect_call(
        "add_free_item",
        "addFreeItem",
        "Add a free item",
        "Items",
        (_text("sku", "SKU"), _text("name", "Reward name")),
        "Adds one unit of the product to the cart at no cost.",
    ),
    _effect_call(
        "add_loyalty_points",
        "addLoyaltyPoints",
        "Add loyalty points",
        "Loyalty",
        _LOYALTY_FIELDS,
        "Awards points in a loyalty program when the session closes.",
    ),
    _effect_call(
        "deduct_loyalty_points",
        "deductLoyaltyPoints",
        "Deduct loyalty points",
        "Loyalty",
        _LOYALTY_FIELDS,
        "Spends points from the customer's balance, earliest expiring first.",
    ),
    _effect_call(
        "show_notification",
        "showNotification",
        "Show a notification",
        "Messages",
        (
            _choice("notification_type", "Type", (t.value for t in NotificationType)),
            _text("title", "Title"),
            _text("body", "Message"),
        ),
        "Sends a message for the shop to show the customer.",
    ),
    _update_attribute(),
    _effect_call(
        "trigger_webhook",
        "triggerWebhook",
        "Trigger a webhook",
        "Integrations",
        (
            _number("webhook_id", "Webhook ID", minimum=1, integer=True),
            BlockField("arguments", "Parameters", Kind.LIST, input="values"),
        ),
        "Calls a webhook after the session is saved, with values for its parameters.",
    ),
    _custom_effect(),
    _raw("effect"),
)

_BY_KIND: dict[BlockKind, dict[str, BlockDef]] = {
    "condition": {d.id: d for d in CONDITION_BLOCKS},
    "effect": {d.id: d for d in EFFECT_BLOCKS},
}


def block_catalogue() -> list[BlockDef]:
    """Every block, conditions first, in palette order."""
    return [*CONDITION_BLOCKS, *EFFECT_BLOCKS]


def block_def(kind: BlockKind, block_id: str) -> BlockDef:
    """The definition of a condition or effect block; KeyError if there is none."""
    return _BY_KIND[kind][block_id]


# ---------------------------------------------------------------------------------------------
# Validation


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, Decimal) and value.is_finite()


def _is_atom(value: Any) -> bool:
    return _is_number(value) or isinstance(value, str | bool)


def _check_number(spec: BlockField, value: Any, pointer: str) -> None:
    if not _is_number(value):
        raise RuleTypeError(f"{spec.label} must be a number", pointer=pointer)
    number = Decimal(value)
    if spec.integer and number != number.to_integral_value():
        raise RuleTypeError(f"{spec.label} must be a whole number", pointer=pointer)
    if spec.minimum is not None:
        if spec.exclusive_minimum and number <= spec.minimum:
            raise RuleTypeError(f"{spec.label} must be more than {spec.minimum}", pointer=pointer)
        if number < spec.minimum:
            raise RuleTypeError(f"{spec.label} must be at least {spec.minimum}", pointer=pointer)
    if spec.maximum is not None and number > spec.maximum:
        raise RuleTypeError(f"{spec.label} must be at most {spec.maximum}", pointer=pointer)


def _check_attribute(spec: BlockField, value: Any, pointer: str, catalogue: Type | None) -> None:
    if not (
        isinstance(value, list | tuple)
        and len(value) >= 2
        and all(isinstance(s, str) and s and "." not in s for s in value)
    ):
        raise RuleTypeError(
            f"{spec.label} must be an attribute path, a list of names such as "
            f'["{spec.roots[0]}", "Attributes", "Name"]',
            pointer=pointer,
        )
    if value[0] not in spec.roots:
        raise RuleTypeError(
            f"{spec.label} must be an attribute of {' or '.join(spec.roots)}", pointer=pointer
        )
    if tuple(value) in spec.excluded:
        raise RuleTypeError(f"{'.'.join(value)} has its own block; use that one", pointer=pointer)
    if catalogue is None:
        return
    found = resolve(catalogue, value)
    if found is None:
        raise UnknownAttribute(f"there is no attribute {'.'.join(value)}", pointer=pointer)
    if found.kind != Kind.ANY and found.kind & (Kind.LIST | Kind.MAP):
        raise RuleTypeError(
            f"{'.'.join(value)} is a {found.kind.describe()}; choose an attribute with one value",
            pointer=pointer,
        )


def _check_field(
    spec: BlockField, value: Any, pointer: str, catalogue: Type | None, deep: bool
) -> None:
    if spec.input == "number":
        _check_number(spec, value, pointer)
    elif spec.input in ("text", "choice"):
        if not isinstance(value, str) or not value.strip():
            raise RuleTypeError(f"{spec.label} must be a non-empty text", pointer=pointer)
        if spec.choices is not None and value not in spec.choices:
            allowed = ", ".join(spec.choices)
            raise RuleTypeError(f"{spec.label} must be one of {allowed}", pointer=pointer)
    elif spec.input == "time":
        if not isinstance(value, str) or parse_rfc3339(value) is None:
            raise RuleTypeError(
                f"{spec.label} must be an RFC 3339 time such as 2024-05-01T00:00:00Z",
                pointer=pointer,
            )
    elif spec.input == "value":
        if not _is_atom(value):
            raise RuleTypeError(
                f"{spec.label} must be a number, a text or true/false", pointer=pointer
            )
    elif spec.input == "values":
        if not isinstance(value, list):
            raise RuleTypeError(f"{spec.label} must be a list", pointer=pointer)
        for index, item in enumerate(value):
            if not _is_atom(item):
                raise RuleTypeError(
                    "each must be a number, a text or true/false", pointer=f"{pointer}/{index}"
                )
    elif spec.input == "payload":
        if not isinstance(value, dict):
            raise RuleTypeError(f"{spec.label} must be a map of names to values", pointer=pointer)
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise RuleTypeError("parameter names must be non-empty texts", pointer=pointer)
            if not _is_atom(item):
                raise RuleTypeError(
                    "each must be a number, a text or true/false", pointer=f"{pointer}/{key}"
                )
    elif spec.input == "attribute":
        _check_attribute(spec, value, pointer, catalogue)
    elif spec.input == "conditions":
        if not isinstance(value, list) or not value:
            raise RuleTypeError(f"{spec.label}: add at least one condition", pointer=pointer)
        if deep:
            for index, child in enumerate(value):
                _validate(child, "condition", f"{pointer}/{index}", catalogue, deep)
    elif spec.input == "condition":
        if deep:
            _validate(value, "condition", pointer, catalogue, deep)
        elif not isinstance(value, Block):
            raise RuleTypeError(f"{spec.label} must be a block", pointer=pointer)
    elif spec.input == "expression":
        parse_json(value, pointer=pointer)  # syntax and size limits; raises RuleError
    else:  # pragma: no cover - a mistake in the definitions above
        raise AssertionError(spec.input)


def _check_values(
    definition: BlockDef,
    values: Mapping[str, Any],
    pointer: str,
    catalogue: Type | None,
    deep: bool,
) -> None:
    if not isinstance(values, Mapping):
        raise RuleTypeError("a block's values must be a map", pointer=pointer)
    names = {spec.name for spec in definition.fields}
    for name in values:
        if name not in names:
            raise RuleTypeError(
                f"{definition.label!r} has no field {name!r}", pointer=f"{pointer}/{name}"
            )
    for spec in definition.fields:
        value = values.get(spec.name)
        where = f"{pointer}/{spec.name}"
        # JSON null is an expression too (a raw block may hold it); elsewhere None means unset.
        if value is None and not (spec.input == "expression" and spec.name in values):
            if spec.required:
                raise RuleTypeError(f"{spec.label} is required", pointer=where)
            continue
        _check_field(spec, value, where, catalogue, deep)
    if definition.check is not None:
        definition.check(values, pointer, catalogue)


def _validate(
    block: Any, kind: BlockKind, pointer: str, catalogue: Type | None, deep: bool = True
) -> BlockDef:
    if not isinstance(block, Block):
        raise RuleTypeError(f"expected a {kind} block", pointer=pointer)
    definition = _BY_KIND[kind].get(block.id)
    if definition is None:
        raise RuleTypeError(f"there is no {kind} block {block.id!r}", pointer=f"{pointer}/id")
    _check_values(definition, block.values, pointer, catalogue, deep)
    return definition


def validate_block(
    block: Block, kind: BlockKind, *, pointer: str = "", catalogue: Type | None = None
) -> None:
    """Check a block and its children; raises RuleTypeError pointing at the bad value.

    With a catalogue, attribute paths must exist in it and compared values must fit them.
    """
    _validate(block, kind, pointer, catalogue)


# ---------------------------------------------------------------------------------------------
# Blocks → Talang


def _condition_talang(block: Block) -> Any:
    return block_def("condition", block.id).to_talang(block.values)


def _effect_talang(block: Block) -> Any:
    definition = block_def("effect", block.id)
    effect = definition.to_talang(block.values)
    return _guard(effect) if definition.guarded else effect


def blocks_to_talang(
    condition_blocks: Sequence[Block],
    effect_blocks: Sequence[Block],
    *,
    catalogue: Type | None = None,
) -> dict[str, Any]:
    """A rule's ``{"condition": …, "effects": […]}`` from its blocks.

    The top-level conditions are joined with ``and`` (``["and"]`` when there are none, which
    holds). Every block is validated first; a bad value raises ``RuleTypeError`` whose pointer
    names it: ``/conditions/2/value``, ``/conditions/0/conditions/1/operator``,
    ``/effects/0/percent``.
    """
    for index, block in enumerate(condition_blocks):
        _validate(block, "condition", f"/conditions/{index}", catalogue)
    for index, block in enumerate(effect_blocks):
        _validate(block, "effect", f"/effects/{index}", catalogue)
    return {
        "condition": ["and", *(_condition_talang(block) for block in condition_blocks)],
        "effects": [_effect_talang(block) for block in effect_blocks],
    }


# ---------------------------------------------------------------------------------------------
# Talang → blocks


def _recognise(definitions: Iterable[BlockDef], expr: Any) -> Block | None:
    for definition in definitions:
        if definition.id == RAW:
            continue
        values = definition.match(expr)
        if values is None:
            continue
        try:
            # Children were built by _condition_block, so they are valid already.
            _check_values(definition, values, "", None, deep=False)
        except RuleTypeError:
            continue
        return Block(definition.id, values)
    return None


def _condition_block(expr: Any) -> Block:
    found = _recognise(CONDITION_BLOCKS, expr)
    return found if found is not None else Block(RAW, {"expression": expr})


def _effect_block(expr: Any) -> Block:
    guarded = [d for d in EFFECT_BLOCKS if d.guarded]
    inner = _unguard(expr)
    found = _recognise(guarded, inner if inner is not None else expr)
    return found if found is not None else Block(RAW, {"expression": expr})


def talang_to_blocks(condition: Any, effects: Sequence[Any]) -> tuple[list[Block], list[Block]]:
    """The blocks that write a rule's condition and effects (``raw`` for what none writes).

    The input must be well-formed Talang (``RuleSyntaxError`` / ``RuleLimitExceeded``
    otherwise, pointing into ``/condition`` or ``/effects/<n>``). A condition that is ``None`` has
    no blocks.
    """
    if condition is not None:
        parse_json(condition, pointer="/condition")
    for index, effect in enumerate(effects):
        parse_json(effect, pointer=f"/effects/{index}")
    if condition is None:
        conditions: list[Block] = []
    elif _is_call(condition, ("and",)):
        conditions = [_condition_block(child) for child in condition[1:]]
    else:
        conditions = [_condition_block(condition)]
    return conditions, [_effect_block(effect) for effect in effects]


# ---------------------------------------------------------------------------------------------
# JSON forms, for the Campaign Manager


def block_to_json(block: Block, kind: BlockKind) -> dict[str, Any]:
    """``{"id": …, "values": {…}}`` with child blocks in the same form."""
    definition = block_def(kind, block.id)
    values: dict[str, Any] = {}
    for name, value in block.values.items():
        spec = definition.get_field(name)
        if spec.input == "conditions":
            values[name] = [block_to_json(child, "condition") for child in value]
        elif spec.input == "condition":
            values[name] = block_to_json(value, "condition")
        else:
            values[name] = value
    return {"id": block.id, "values": values}


def block_from_json(data: Any, kind: BlockKind, *, pointer: str = "") -> Block:
    """The inverse of ``block_to_json``; raises RuleTypeError on a malformed block.

    It checks the shape only; ``validate_block`` (or ``blocks_to_talang``) checks the values.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
        raise RuleTypeError('a block is {"id": …, "values": {…}}', pointer=pointer)
    definition = _BY_KIND[kind].get(data["id"])
    if definition is None:
        raise RuleTypeError(f"there is no {kind} block {data['id']!r}", pointer=f"{pointer}/id")
    raw_values = data.get("values", {})
    if not isinstance(raw_values, Mapping):
        raise RuleTypeError("a block's values must be a map", pointer=f"{pointer}/values")
    inputs = {spec.name: spec.input for spec in definition.fields}
    values: dict[str, Any] = {}
    for name, value in raw_values.items():
        where = f"{pointer}/{name}"
        if inputs.get(name) == "conditions" and isinstance(value, list):
            value = [
                block_from_json(child, "condition", pointer=f"{where}/{index}")
                for index, child in enumerate(value)
            ]
        elif inputs.get(name) == "condition" and value is not None:
            value = block_from_json(value, "condition", pointer=where)
        values[name] = value
    return Block(data["id"], values)


def _json_number(number: Decimal | None) -> int | str | None:
    if number is None:
        return None
    return int(number) if number == number.to_integral_value() else str(number)


def _kind_names(kind: Kind) -> list[str]:
    return [str(member.name).lower() for member in Kind if member & kind and member.name]


def _palette(spec: BlockField, catalogue: Type) -> list[dict[str, Any]]:
    entries = []
    for root in spec.roots:
        paths = item_attribute_paths(catalogue) if root == ITEM else attribute_paths(catalogue)
        for path, type_ in paths:
            if path[0] != root or tuple(path) in spec.excluded or "*" in path:
                continue
            if type_.kind != Kind.ANY and type_.kind & (Kind.LIST | Kind.MAP):
                continue
            entries.append(
                {
                    "path": list(path),
                    "kind": _kind_names(type_.kind),
                    "description": type_.description,
                }
            )
    return entries


def _field_json(spec: BlockField, catalogue: Type | None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": spec.name,
        "label": spec.label,
        "kind": _kind_names(spec.kind),
        "input": spec.input,
        "required": spec.required,
    }
    if spec.choices is not None:
        described["choices"] = list(spec.choices)
    if spec.roots:
        described["roots"] = list(spec.roots)
        described["excluded"] = [list(path) for path in spec.excluded]
        if catalogue is not None:
            described["attributes"] = _palette(spec, catalogue)
    if spec.minimum is not None:
        described["minimum"] = _json_number(spec.minimum)
        described["exclusiveMinimum"] = spec.exclusive_minimum
    if spec.maximum is not None:
        described["maximum"] = _json_number(spec.maximum)
    if spec.integer:
        described["integer"] = True
    if spec.help:
        described["help"] = spec.help
    return described


def catalogue_as_json(catalogue: Type | None = None) -> list[dict[str, Any]]:
    """The palette as JSON-able data for the rule builder.

    With an attribute catalogue, each attribute field also lists the attributes it may pick
    (path, kinds, description).
    """
    return [
        {
            "id": definition.id,
            "kind": definition.kind,
            "label": definition.label,
            "category": definition.category,
            "description": definition.description,
            "fields": [_field_json(spec, catalogue) for spec in definition.fields],
        }
        for definition in block_catalogue()
    ]
