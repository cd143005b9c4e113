"""Immutable records that are cheap to build: frozen, slotted dataclasses with a fast
``__init__``.

A frozen dataclass's own ``__init__`` stores every field through ``object.__setattr__`` (its
``__setattr__`` refuses), which makes it about three times as slow as an ordinary class's. The
records here get an ``__init__`` that writes each slot through its descriptor instead: as fast as
an ordinary class, and the instance is still immutable to everyone else (assignment raises
``FrozenInstanceError``). Effects are built once per fired effect and cart items once per item of
every request, so the difference shows.

The ``__init__`` source is generated from the class's own field names, which Python has already
checked as identifiers; defaults and default factories behave as the dataclass's would.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

_R = typing.TypeVar("_R")


@typing.dataclass_transform(frozen_default=True, kw_only_default=True)
def record(cls: type[_R]) -> type[_R]:
    """A frozen, slotted dataclass whose fields are keyword-only, with a fast ``__init__``."""
    return _fast_init(dataclass(frozen=True, slots=True, kw_only=True)(cls), keywords=True)


@typing.dataclass_transform(frozen_default=True)
def positional_record(cls: type[_R]) -> type[_R]:
    """A frozen, slotted dataclass whose fields may be given by position, with a fast
    ``__init__``."""
    return _fast_init(dataclass(frozen=True, slots=True)(cls), keywords=False)


_FACTORY = object()
"""The default of a parameter whose field has a default factory."""


def _fast_init(made: Any, *, keywords: bool) -> Any:
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    params, body = [], []
    for f in dataclasses.fields(made):
        name = f.name
        if f.default is not dataclasses.MISSING:
            params.append(f"{name}=_default_{name}")
            namespace[f"_default_{name}"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            params.append(f"{name}=_FACTORY")
            namespace[f"_factory_{name}"] = f.default_factory
            body.append(f"    if {name} is _FACTORY: {name} = _factory_{name}()")
        else:
            params.append(name)
        namespace[f"_set_{name}"] = made.__dict__[name].__set__
        body.append(f"    _set_{name}(self, {name})")
    if keywords and params:
        params.insert(0, "*")
    lines = [f"def __init__(self, {', '.join(params)}):", *(body or ["    pass"])]
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<{made.__name__}.__init__>", "exec"), namespace)  # noqa: S102
    init = namespace["__init__"]
    init.__qualname__ = f"{made.__qualname__}.__init__"
    made.__init__ = init
    return made
