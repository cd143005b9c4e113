"""Small strict functions: ``noop`` and ``not``.

(``toString`` is with the strings; ``catch``, ``do``, ``.|``, ``and`` and ``or`` are special forms.)
"""

from __future__ import annotations

from rules.functions.registry import REGISTRY
from rules.types import Kind


@REGISTRY.function(
    "noop", (), Kind.NULL, inline="None", doc="Does nothing; its value is null.", category="misc"
)
def noop() -> None:
    return None


@REGISTRY.function(
    "not",
    (Kind.BOOLEAN,),
    Kind.BOOLEAN,
    inline="(not {0})",
    doc="The opposite of a boolean: (not false) is true.",
    category="misc",
)
def not_(value: bool) -> bool:
    return not value
