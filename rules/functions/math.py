"""Arithmetic on decimals: ``+ - * / mod`` (variadic, left to right), ``floor`` and ``ceil``.

All arithmetic goes through ``DECIMAL_CONTEXT``: 16 significant digits, half-even, no traps, as in
Talang (``(/ 1.2 3.4)`` is ``0.3529411764705882``, ``(/ 1 0)`` is ``Infinity``, not an error).
Each operator has a fixed two-argument overload with an inline template (the common case, compiled
to a single context call) followed by the variadic overload: ``(- 1.2 3.4 -5.6)`` is
``((1.2 - 3.4) - -5.6)``. ``mod`` is the truncated remainder (the sign of the dividend), as Go's
``Rem``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from rules.functions.registry import REGISTRY
from rules.types import Kind
from rules.values import DECIMAL_CONTEXT

D = Kind.DECIMAL


def _fold(operation: Callable[[Decimal, Decimal], Decimal], values: tuple[Decimal, ...]) -> Decimal:
    result = values[0]
    for value in values[1:]:
        result = operation(result, value)
    return result


def _arithmetic(
    name: str, operation: Callable[[Decimal, Decimal], Decimal], method: str, doc: str
) -> None:
    """Register ``name`` as a two-argument inline overload, then a variadic one."""

    def pair(a: Decimal, b: Decimal) -> Decimal:
        return operation(a, b)

    def many(a: Decimal, b: Decimal, *rest: Decimal) -> Decimal:
        return _fold(operation, (a, b, *rest))

    pair.__name__ = many.__name__ = f"decimal_{method}"
    REGISTRY.function(
        name, (D, D), D, inline=f"_CTX.{method}({{0}}, {{1}})", doc=doc, category="math"
    )(pair)
    REGISTRY.function(name, (D, D), D, rest=D, doc=doc + " (left to right)", category="math")(many)


_arithmetic("+", DECIMAL_CONTEXT.add, "add", "Add numbers: (+ 1 2) is 3.")
_arithmetic("-", DECIMAL_CONTEXT.subtract, "subtract", "Subtract: (- 10 3) is 7.")
_arithmetic("*", DECIMAL_CONTEXT.multiply, "multiply", "Multiply: (* 2 3.5) is 7.0.")
_arithmetic("/", DECIMAL_CONTEXT.divide, "divide", "Divide: (/ 1 4) is 0.25; by zero: Infinity.")
_arithmetic(
    "mod", DECIMAL_CONTEXT.remainder, "remainder", "Remainder with the dividend's sign: (mod 7 3)."
)


@REGISTRY.function(
    "floor",
    (D,),
    D,
    inline="({0}).to_integral_value(rounding='ROUND_FLOOR', context=_CTX)",
    doc="Round down to a whole number: (floor 2.7) is 2, (floor -2.7) is -3.",
    category="math",
)
def floor(value: Decimal) -> Decimal:
    return value.to_integral_value(rounding=ROUND_FLOOR, context=DECIMAL_CONTEXT)


@REGISTRY.function(
    "ceil",
    (D,),
    D,
    inline="({0}).to_integral_value(rounding='ROUND_CEILING', context=_CTX)",
    doc="Round up to a whole number: (ceil 2.1) is 3, (ceil -2.7) is -2.",
    category="math",
)
def ceil(value: Decimal) -> Decimal:
    return value.to_integral_value(rounding=ROUND_CEILING, context=DECIMAL_CONTEXT)
