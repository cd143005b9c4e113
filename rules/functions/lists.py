"""Functions on lists: building, reading, ordering, and ``min``/``max``/``join``.

Lists are never changed in place: ``push``, ``append``, ``sort``, ``reverse``, ``tail`` and
``drop`` return a new list, so a list read from the binding stays as it was. A list longer than
``MAX_LIST_LENGTH`` is never built: the function fails with ``RuleLimitExceeded`` instead.

``sort`` orders a mixed list by kind first, then within each kind: decimals in numeric order, then
strings in text (code point) order, then times in chronological order, then everything else by its
text. ``(sort list true)`` sorts in the opposite order (items that compare equal keep their
order). Go Talang sorts every item by its token text (so ``10`` comes before ``9``); for lists of
strings the results are the same.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rules.errors import RuleLimitExceeded, RuleRuntimeError
from rules.functions.registry import REGISTRY
from rules.functions.strings import check_string
from rules.limits import MAX_LIST_LENGTH, MAX_STRING_BYTES
from rules.types import Kind, kind_of
from rules.values import to_text

L = Kind.LIST
D = Kind.DECIMAL
S = Kind.STRING
B = Kind.BOOLEAN
ANY = Kind.ANY


def check_list(items: list[Any]) -> list[Any]:
    """``items`` itself, or ``RuleLimitExceeded`` when it is longer than ``MAX_LIST_LENGTH``."""
    if len(items) > MAX_LIST_LENGTH:
        raise RuleLimitExceeded(f"a list would be longer than {MAX_LIST_LENGTH} items")
    return items


@REGISTRY.function(
    "list",
    (),
    L,
    rest=ANY,
    inline="[{args}]",
    doc="A list of the arguments: (list 1 2 3).",
    category="list",
)
def make_list(*items: Any) -> list[Any]:
    return check_list(list(items))


@REGISTRY.function(
    "head",
    (L,),
    ANY,
    doc="The first item, or null for an empty list.",
    category="list",
)
def head(items: list[Any]) -> Any:
    return items[0] if items else None


@REGISTRY.function(
    "tail",
    (L,),
    L,
    inline="({0})[1:]",
    doc="The list without its first item.",
    category="list",
)
def tail(items: list[Any]) -> list[Any]:
    return items[1:]


@REGISTRY.function(
    "drop",
    (L,),
    L,
    inline="({0})[:-1]",
    doc="The list without its last item.",
    category="list",
)
def drop(items: list[Any]) -> list[Any]:
    return items[:-1]


def _index(position: Decimal) -> int:
    if not position.is_finite() or position != position.to_integral_value():
        raise RuleRuntimeError(f"a list position must be a whole number, not {position}")
    return int(position)


@REGISTRY.function(
    "item",
    (L, D),
    ANY,
    doc="The item at a position counted from 0: (item (list a b) 1) is b.",
    category="list",
)
def item(items: list[Any], position: Decimal) -> Any:
    index = _index(position)
    if index < 0 or index >= len(items):
        raise RuleRuntimeError(
            f"position {position} is outside the list, which has {len(items)} items"
        )
    return items[index]


@REGISTRY.function(
    "count",
    (L,),
    D,
    inline="_CTX.create_decimal(len({0}))",
    doc="The number of items in the list.",
    category="list",
)
def count(items: list[Any]) -> Decimal:
    return Decimal(len(items))


@REGISTRY.function(
    "isEmpty",
    (L,),
    B,
    inline="(len({0}) == 0)",
    doc="True when the list has no items.",
    category="list",
)
def is_empty(items: list[Any]) -> bool:
    return len(items) == 0


@REGISTRY.function(
    "reverse",
    (L,),
    L,
    inline="({0})[::-1]",
    doc="The items in reverse order.",
    category="list",
)
def reverse(items: list[Any]) -> list[Any]:
    return items[::-1]


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, Decimal):
        if value.is_nan():
            return (1, 0)
        return (0, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, datetime):
        return (3, value)
    return (4, to_text(value))


@REGISTRY.function(
    "sort",
    (L,),
    L,
    doc="The items in ascending order (numbers, then strings, then times, then others).",
    category="list",
)
def sort(items: list[Any]) -> list[Any]:
    return sorted(items, key=_sort_key)


@REGISTRY.function(
    "sort",
    (L, B),
    L,
    doc="The items in ascending order, or descending when the second argument is true.",
    category="list",
)
def sort_ordered(items: list[Any], descending: bool) -> list[Any]:
    return sorted(items, key=_sort_key, reverse=descending)


def push(items: list[Any], *more: Any) -> list[Any]:
    if len(items) + len(more) > MAX_LIST_LENGTH:
        raise RuleLimitExceeded(f"a list would be longer than {MAX_LIST_LENGTH} items")
    return [*items, *more]


for _name in ("push", "append"):
    REGISTRY.function(
        _name,
        (L, ANY),
        L,
        rest=ANY,
        doc="A new list with the other arguments added at the end: (push (. List) 4 5).",
        category="list",
    )(push)


def _numbers(items: list[Any]) -> list[Decimal]:
    numbers = [value for value in items if isinstance(value, Decimal)]
    if not numbers:
        raise RuleRuntimeError("the list has no numbers")
    if any(value.is_nan() for value in numbers):
        raise RuleRuntimeError("the list holds a value that is not a number (NaN)")
    return numbers


@REGISTRY.function(
    "min",
    (L,),
    D,
    doc="The smallest number in the list (other items are ignored).",
    category="list",
)
def minimum(items: list[Any]) -> Decimal:
    return min(_numbers(items))


@REGISTRY.function(
    "max",
    (L,),
    D,
    doc="The largest number in the list (other items are ignored).",
    category="list",
)
def maximum(items: list[Any]) -> Decimal:
    return max(_numbers(items))


@REGISTRY.function(
    "join",
    (L, S),
    S,
    doc='The strings of a list joined with a separator: (join (list a b) "-") is "a-b".',
    category="list",
)
def join(items: list[Any], separator: str) -> str:
    total = len(separator) * max(len(items) - 1, 0)
    for value in items:
        if not isinstance(value, str):
            raise RuleRuntimeError(
                f"join needs a list of strings, but the list holds a {kind_of(value).describe()}"
            )
        total += len(value)
    if total > MAX_STRING_BYTES:
        raise RuleLimitExceeded(f"a string would be longer than {MAX_STRING_BYTES} bytes")
    return check_string(separator.join(items))
