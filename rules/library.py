"""Loads the whole function library into ``REGISTRY``, in the order overloads must be tried."""

from __future__ import annotations

import importlib

_MODULES = (
    "rules.functions.math",
    "rules.functions.compare",
    "rules.functions.strings",
    "rules.functions.lists",
    "rules.functions.time",
    "rules.functions.misc",
    "rules.functions.forms",
    "rules.functions.domain",
    "rules.effects",
)


def load() -> None:
    """Import every module that registers functions (idempotent)."""
    for name in _MODULES:
        importlib.import_module(name)


load()
