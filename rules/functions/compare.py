"""Comparisons: ``= != < <= > >=``, ``between`` and ``betweenTimes``.

Equality (``=``, ``!=``) takes any atoms:

- decimal with decimal compares *numerically*: ``(= 1 1.0)`` is true. This is a deliberate
  difference from Go Talang, which compares the token text there (``(= 1 1.0)`` is false in Go);
  a marketer comparing ``(. Cart Total)`` with ``100`` means the number.
- string with string, boolean with boolean compare by value; time with time as instants
  (``2018-01-01T01:00:00+01:00`` equals ``2018-01-01T00:00:00Z``).
- any other mix compares the canonical text (``to_text``), as Go does: ``(= 1 "1")`` is true.

``(= a b c…)`` holds when every later argument equals the first. ``(!= a b c…)`` holds when *no*
later argument equals the first (Go's definition: ``(!= "Hello" "Hello" "Bye")`` is false), so
for more than two arguments ``!=`` is not ``(not (= …))``.

Ordering (``< <= > >=``) takes decimals or times; with more than two arguments the first is
compared with each of the others (``(> 5 1 2)``: 5 is greater than both). ``between`` is exclusive
at both ends: ``(between x lo hi)``, and ``(between x y … lo hi)`` when all of ``x y …`` are
strictly inside.

Inline templates evaluate their arguments exactly once, left to right, and never short-circuit,
so that a compiled call fails (or not) exactly as the implementation does; that is why
``between`` (a chained comparison would skip its last argument) has none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rules.functions.registry import REGISTRY
from rules.types import Kind
from rules.values import to_text

D = Kind.DECIMAL
S = Kind.STRING
B = Kind.BOOLEAN
T = Kind.TIME
A = Kind.ATOM

_SAME_KIND_PAIRS: tuple[tuple[Kind, str], ...] = (
    (D, "numbers"),
    (S, "strings"),
    (B, "booleans"),
    (T, "times (as instants)"),
)


def equal(a: Any, b: Any) -> bool:
    """Talang equality of two atoms (see the module's documentation)."""
    if type(a) is type(b):
        return bool(a == b)
    return to_text(a) == to_text(b)


# -- = and != --------------------------------------------------------------------------------

for _kind, _what in _SAME_KIND_PAIRS:
    REGISTRY.function(
        "=",
        (_kind, _kind),
        B,
        inline="({0} == {1})",
        doc=f"True when the two {_what} are equal.",
        category="compare",
    )(equal)


@REGISTRY.function(
    "=",
    (A, A),
    B,
    rest=A,
    doc="True when all arguments equal the first; different kinds compare as text.",
    category="compare",
)
def equal_all(first: Any, *others: Any) -> bool:
    return all(equal(first, other) for other in others)


def not_equal(a: Any, b: Any) -> bool:
    return not equal(a, b)


for _kind, _what in _SAME_KIND_PAIRS:
    REGISTRY.function(
        "!=",
        (_kind, _kind),
        B,
        inline="({0} != {1})",
        doc=f"True when the two {_what} differ.",
        category="compare",
    )(not_equal)


@REGISTRY.function(
    "!=",
    (A, A),
    B,
    rest=A,
    doc="True when no other argument equals the first; different kinds compare as text.",
    category="compare",
)
def not_equal_any(first: Any, *others: Any) -> bool:
    return not any(equal(first, other) for other in others)


# -- ordering --------------------------------------------------------------------------------


def _ordering(
    name: str, test: Callable[[Any, Any], bool], operator: str, decimal_doc: str, time_doc: str
) -> None:
    def pair(a: Any, b: Any) -> bool:
        return test(a, b)

    def many(first: Any, *others: Any) -> bool:
        return all(test(first, other) for other in others)

    for kind, doc in ((D, decimal_doc), (T, time_doc)):
        REGISTRY.function(
            name, (kind, kind), B, inline=f"({{0}} {operator} {{1}})", doc=doc, category="compare"
        )(pair)
        REGISTRY.function(
            name,
            (kind, kind),
            B,
            rest=kind,
            doc=doc.rstrip(".") + ", comparing the first with each of the others.",
            category="compare",
        )(many)


_ordering(
    ">",
    lambda a, b: bool(a > b),
    ">",
    "True when the first number is greater than the second.",
    "True when the first time is later than the second.",
)
_ordering(
    ">=",
    lambda a, b: bool(a >= b),
    ">=",
    "True when the first number is greater than or equal to the second.",
    "True when the first time is the same as or later than the second.",
)
_ordering(
    "<",
    lambda a, b: bool(a < b),
    "<",
    "True when the first number is less than the second.",
    "True when the first time is earlier than the second.",
)
_ordering(
    "<=",
    lambda a, b: bool(a <= b),
    "<=",
    "True when the first number is less than or equal to the second.",
    "True when the first time is the same as or earlier than the second.",
)


# -- between ---------------------------------------------------------------------------------


def between(value: Any, low: Any, high: Any) -> bool:
    return bool(low < value < high)


def between_all(first: Any, second: Any, *more: Any) -> bool:
    *values, low, high = (first, second, *more)
    return all(low < value < high for value in values)


for _kind, _noun in ((D, "number"), (T, "time")):
    REGISTRY.function(
        "between",
        (_kind, _kind, _kind),
        B,
        doc=f"True when the {_noun} is strictly between the last two: (between x low high).",
        category="compare",
    )(between)
    REGISTRY.function(
        "between",
        (_kind, _kind, _kind),
        B,
        rest=_kind,
        doc=f"True when every {_noun} but the last two is strictly between them.",
        category="compare",
    )(between_all)


REGISTRY.function(
    "betweenTimes",
    (T, T, T),
    B,
    doc="True when the time is strictly between the other two: (betweenTimes t start end).",
    category="compare",
)(between)
