"""Kinds and types of the rule language.

A *kind* is what Talang's overloads dispatch on: decimal, string, boolean, time, null, list, map,
or an unevaluated expression (a *token*, how lambdas and special forms receive their bodies).
Kinds combine as flags: ``Kind.DECIMAL | Kind.STRING`` accepts either.

A *type* adds structure for the checker: a map's known fields, a list's item type. The attribute
catalogue is one ``Type`` describing the root binding (``Session``, ``Profile``, ``Event`` …).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


class Kind(enum.IntFlag):
    DECIMAL = 1
    STRING = 2
    BOOLEAN = 4
    TIME = 8
    NULL = 16
    LIST = 32
    MAP = 64
    TOKEN = 128

    ATOM = DECIMAL | STRING | BOOLEAN | TIME | NULL
    COLLECTION = LIST | MAP
    ANY = ATOM | COLLECTION
    """Any value (not an unevaluated token)."""

    def describe(self) -> str:
        """A human name: ``decimal``, ``string or decimal``, ``any value``."""
        named = _NAMED_UNIONS.get(self)
        if named is not None:
            return named
        names = [k.name.lower() for k in _SINGLE_KINDS if k & self and k.name]
        return " or ".join(names) if names else "nothing"


_SINGLE_KINDS = (
    Kind.DECIMAL,
    Kind.STRING,
    Kind.BOOLEAN,
    Kind.TIME,
    Kind.NULL,
    Kind.LIST,
    Kind.MAP,
    Kind.TOKEN,
)

_NAMED_UNIONS = {
    Kind.ANY: "any value",
    Kind.ATOM: "atom",
    Kind.COLLECTION: "list or map",
    Kind.ANY | Kind.TOKEN: "anything",
}

_KIND_OF_TYPE: dict[type, Kind] = {
    Decimal: Kind.DECIMAL,
    str: Kind.STRING,
    bool: Kind.BOOLEAN,
    datetime: Kind.TIME,
    type(None): Kind.NULL,
    list: Kind.LIST,
    dict: Kind.MAP,
}


def kind_of(value: Any) -> Kind:
    """The kind of a run-time value; values are plain Python objects (``Decimal``, ``str`` …)."""
    kind = _KIND_OF_TYPE.get(type(value))
    if kind is None:
        if isinstance(value, bool):
            return Kind.BOOLEAN
        if isinstance(value, Decimal):
            return Kind.DECIMAL
        if isinstance(value, str):
            return Kind.STRING
        if isinstance(value, datetime):
            return Kind.TIME
        if isinstance(value, list | tuple):
            return Kind.LIST
        if isinstance(value, Mapping):
            return Kind.MAP
        raise TypeError(f"not a rule-language value: {type(value).__name__}")
    return kind


@dataclass(frozen=True, slots=True)
class Type:
    """The static type of a value, as precise as the checker knows it.

    ``fields`` lists a map's known keys; ``open`` says whether other keys may exist. ``item`` is
    a list's element type, or the type of every value of a map keyed by data (loyalty balances
    by program id). ``description`` is shown in the rule builder.
    """

    kind: Kind
    fields: Mapping[str, Type] = field(default_factory=dict)
    item: Type | None = None
    open: bool = True
    description: str = ""

    def field_type(self, name: str) -> Type | None:
        """The type of ``self[name]``: None when the key is certainly absent."""
        found = self.fields.get(name)
        if found is not None:
            return found
        if self.kind == Kind.MAP and self.item is not None:
            return self.item
        return ANY if self.open else None


ANY = Type(Kind.ANY)
DECIMAL = Type(Kind.DECIMAL)
STRING = Type(Kind.STRING)
BOOLEAN = Type(Kind.BOOLEAN)
TIME = Type(Kind.TIME)
NULL = Type(Kind.NULL)


def list_of(item: Type, description: str = "") -> Type:
    return Type(Kind.LIST, item=item, description=description)


def map_of(fields: Mapping[str, Type], *, open: bool = False, description: str = "") -> Type:
    return Type(Kind.MAP, fields=dict(fields), open=open, description=description)
