"""Conditions on the values held in JSON columns (custom attributes, tags), for the searches
of the Management API, alike on PostgreSQL and on SQLite (the embedded default).

Each narrows a queryset, so that the database does the filtering:

- ``having_number``: the value at a key is a number equal to the one given, stored as a JSON
  number or as the text of one (custom attributes keep numbers as text, so that no digit is
  lost): ``12`` finds ``12``, ``12.0`` and ``"12.00"``.
- ``having_instant``: the value at a key is the text of a time (RFC 3339, as custom attributes
  keep times) of the instant given, in whatever zone it was written.
- ``having_value``: the value at a key is equal JSON (a list in the same order).
- ``having_included``: JSON containment at a key, as Talon.One's searches: a list includes
  every element given (in any order; elements equal as JSON, numbers as numbers), anything
  else is equal (``having_value``).

``array_has_text`` is a condition to filter or annotate by: an element of a JSON array column
contains a text, ignoring case.

A number is what ``NUMBER_TEXT`` reads, a time what ``TIME_TEXT`` reads; any other value
(text of another type, a number too long for the float SQLite compares with, an offset beyond
PostgreSQL's ±15:59) is not one and never matches, so that no cast can fail. Two limits come
from SQLite and are not PostgreSQL's: it compares numbers as 64-bit floats (numbers that differ
only beyond their 15th significant digit are equal there), and its ``LIKE`` ignores the case of
ASCII letters only.

Most of this is Django's ORM (``KeyTransform``, ``Cast``, ``Case``, the ``regex`` lookup,
which Django gives SQLite too). What has no portable spelling is each one small expression
with a PostgreSQL and an SQLite form (``PerBackend``): reading a JSON array's elements
(``_IsArray``, ``_ArrayIncludes``, ``_ArrayTextLike``), and reading a time with its zone as an
instant to the microsecond (``_Instant``; SQLite's date functions keep milliseconds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from django.db import NotSupportedError
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    DecimalField,
    Model,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Expression, Func
from django.db.models.fields.json import (  # type: ignore[attr-defined]
    KeyTextTransform,
    KeyTransform,
    compile_json_path,
)
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, Regex

from integration.render import dumps

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

QS = TypeVar("QS", bound=QuerySet[Model])

#: The text of a number: a JSON number, or ``str`` of a ``Decimal``. Its length is bounded so
#: that PostgreSQL's ``numeric`` and SQLite's float both hold every one (``1e159`` at most).
NUMBER_TEXT: Final = r"\A-?[0-9]{1,60}(\.[0-9]{1,60})?([eE][-+]?[0-9]{1,2})?\Z"

#: The text of a time: RFC 3339 as ``datetime.isoformat`` writes it, with at most microseconds
#: and an offset PostgreSQL's ``timestamptz`` takes (up to ±15:59).
TIME_TEXT: Final = (
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[-+](0[0-9]|1[0-5]):[0-5][0-9])\Z"
)

#: The exponents (``Decimal.adjusted``) and digits of a number ``NUMBER_TEXT`` can read: a
#: number beyond them equals none of the values.
_NUMBER_EXPONENTS: Final = range(-160, 160)
_NUMBER_DIGITS: Final = 120


class _Numeric(DecimalField):  # type: ignore[type-arg,unused-ignore]
    """A cast to ``numeric`` without precision: any number ``NUMBER_TEXT`` reads fits."""

    def cast_db_type(self, connection: Any) -> str:
        return "numeric"


def json_number(column: str, key: str) -> Case:
    """The value of ``column`` at ``key`` as a number, NULL when it is no number (see
    ``NUMBER_TEXT``). SQLite reads a JSON number as a number and PostgreSQL's ``->>`` as its
    text; the pattern reads both."""
    text = KeyTextTransform(key, column)
    return Case(
        When(Regex(text, NUMBER_TEXT), then=Cast(text, _Numeric())), output_field=_Numeric()
    )


def having_number(queryset: QS, column: str, key: str, number: Decimal | int) -> QS:
    """``queryset`` narrowed to the rows whose ``column`` holds ``number`` at ``key`` (see
    the module)."""
    number = Decimal(number)
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")
    if digits and (number.adjusted() not in _NUMBER_EXPONENTS or len(digits) > _NUMBER_DIGITS):
        return queryset.none()  # no number NUMBER_TEXT reads is this one
    wanted = Value(number, output_field=_Numeric())
    return queryset.filter(Exact(json_number(column, key), wanted))


def json_instant(column: str, key: str) -> Case:
    """The value of ``column`` at ``key`` as an instant, NULL when it is no time (see
    ``TIME_TEXT``)."""
    text = KeyTextTransform(key, column)
    return Case(When(Regex(text, TIME_TEXT), then=_Instant(text)), output_field=DateTimeField())


def having_instant(queryset: QS, column: str, key: str, moment: datetime) -> QS:
    """``queryset`` narrowed to the rows whose ``column`` holds a time of the instant
    ``moment`` (aware) at ``key``."""
    return queryset.filter(Exact(json_instant(column, key), moment))


def having_value(queryset: QS, column: str, key: str, value: Any) -> QS:
    """``queryset`` narrowed to the rows whose ``column`` holds the JSON ``value`` at ``key``
    (``None``: a JSON null)."""
    # An alias, which Django's JSON lookups compare on each backend, rather than
    # ``<column>__<key>``, which would read a key with ``__`` in it as a path.
    alias = f"_json_value_{len(queryset.query.annotations)}"
    return queryset.alias(**{alias: KeyTransform(key, column)}).filter(**{alias: value})


def having_included(queryset: QS, column: str, key: str, value: Any) -> QS:
    """``queryset`` narrowed to the rows whose ``column`` includes ``value`` at ``key``: a
    list each of its elements, anything else (and a list holding lists or objects) as an
    equal value (``having_value``)."""
    if not isinstance(value, list) or any(isinstance(item, list | Mapping) for item in value):
        return having_value(queryset, column, key, value)
    condition = Q(_IsArray(column, key))
    for item in value:
        condition &= Q(_ArrayIncludes(column, key, item))
    return queryset.filter(condition)


def array_has_text(column: str, text: str) -> Func:
    """Whether an element of the JSON array ``column`` contains ``text``, ignoring case: a
    boolean expression, to filter by or annotate."""
    return _ArrayTextLike(column, f"%{_like_escaped(text)}%")


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------------------------------
# What each backend spells its own way


class PerBackend(Func):
    """An expression with a template per ``connection.vendor`` (``TEMPLATES``), in which
    ``{name}`` is the SQL of the source expression of that name (``PARTS``, in the order of the
    source expressions), or the quoted table of the model of that name (``TABLES``); a part may
    appear more than once, or not at all."""

    TEMPLATES: ClassVar[Mapping[str, str]]
    PARTS: ClassVar[tuple[str, ...]]
    TABLES: ClassVar[Mapping[str, Any]] = {}
    """Name → model, for the tables a template names."""

    def as_sql(  # type: ignore[override]
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        **extra_context: object,
    ) -> tuple[str, tuple[object, ...]]:
        template = self.TEMPLATES.get(connection.vendor)
        if template is None:
            raise NotSupportedError(f"{type(self).__name__} has no SQL for {connection.vendor}.")
        compiled = dict(
            zip(
                self.PARTS,
                (compiler.compile(e) for e in self.get_source_expressions()),
                strict=True,
            )
        )
        params: list[object] = []

        def part(match: re.Match[str]) -> str:
            model = self.TABLES.get(match[1])
            if model is not None:
                return connection.ops.quote_name(model._meta.db_table)
            sql, part_params = compiled[match[1]]
            params.extend(part_params)
            return sql

        return re.sub(r"\{(\w+)\}", part, template), tuple(params)


def _json_path(key: str) -> Value:
    """``key``'s path in SQLite's JSON functions, as Django's key transforms write it."""
    return Value(compile_json_path([key]))


class _IsArray(PerBackend):
    """Whether the value of ``column`` at ``key`` is a JSON array."""

    output_field = BooleanField()
    PARTS = ("value", "column", "path")
    TEMPLATES: ClassVar[Mapping[str, str]] = {
        "postgresql": "COALESCE(jsonb_typeof({value}) = 'array', false)",
        "sqlite": "COALESCE(json_type({column}, {path}) = 'array', 0)",
    }

    def __init__(self, column: str, key: str) -> None:
        super().__init__(KeyTransform(key, column), column, _json_path(key))


class _ArrayIncludes(PerBackend):
    """Whether the JSON array at ``key`` of ``column`` has an element equal to the JSON scalar
    ``item`` (numbers equal as numbers, as PostgreSQL's ``jsonb`` compares them). Not an array:
    false."""

    output_field = BooleanField()
    PARTS = ("value", "column", "path", "item", "items")
    TEMPLATES: ClassVar[Mapping[str, str]] = {
        "postgresql": "COALESCE(({value}) @> ({items})::jsonb, false)",
        # SQLite reads an element as an SQL value and its JSON type apart (true is 1):
        # both must be the same, an integer and a real being numbers alike.
        "sqlite": (
            "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type({column}, {path}) = 'array'"
            " THEN json_extract({column}, {path}) END) AS element"
            " WHERE replace(element.type, 'real', 'integer')"
            " = replace(json_type({item}), 'real', 'integer')"
            " AND element.value IS json_extract({item}, '$'))"
        ),
    }

    def __init__(self, column: str, key: str, item: Any) -> None:
        super().__init__(
            KeyTransform(key, column),
            column,
            _json_path(key),
            Value(dumps(item).decode()),
            Value(dumps([item]).decode()),
        )


class _ArrayTextLike(PerBackend):
    """Whether an element of the JSON array ``column`` is text ``LIKE`` the ``pattern`` (with
    ``\\`` escaping), ignoring case."""

    output_field = BooleanField()
    PARTS = ("column", "pattern")
    TEMPLATES: ClassVar[Mapping[str, str]] = {
        "postgresql": (
            "EXISTS (SELECT 1 FROM jsonb_array_elements_text({column}) AS element"
            " WHERE element ILIKE {pattern})"
        ),
        # SQLite's LIKE ignores the case of ASCII letters (and has no default escape).
        "sqlite": (
            "EXISTS (SELECT 1 FROM json_each({column}) AS element"
            " WHERE element.value LIKE {pattern} ESCAPE '\\')"
        ),
    }

    def __init__(self, column: str, pattern: str) -> None:
        super().__init__(column, Value(pattern))


class _Instant(PerBackend):
    """The instant a text matching ``TIME_TEXT`` is, as a ``DateTimeField`` holds it:
    PostgreSQL's ``timestamptz``; on SQLite the text Django stores (UTC, ``YYYY-MM-DD
    HH:MM:SS`` and ``.ffffff`` unless zero), so that it compares with Django's parameters.

    SQLite's ``strftime`` moves the time to UTC but rounds to milliseconds, so it is given the
    time without its fraction, and the microseconds are taken from the text."""

    output_field = DateTimeField()
    PARTS = ("text",)
    TEMPLATES: ClassVar[Mapping[str, str]] = {
        "postgresql": "({text})::timestamptz",
        "sqlite": (
            "(SELECT utc || CASE micro WHEN '000000' THEN '' ELSE '.' || micro END FROM ("
            "SELECT strftime('%%Y-%%m-%%d %%H:%%M:%%S', substr(t, 1, 19) || zone) AS utc,"
            " substr(CASE WHEN substr(t, 20, 1) = '.'"
            " THEN substr(t, 21, length(t) - 20 - length(zone)) ELSE '' END || '000000', 1, 6)"
            " AS micro FROM ("
            "SELECT t, CASE WHEN substr(t, -1) = 'Z' THEN 'Z' ELSE substr(t, -6) END AS zone"
            " FROM (SELECT {text} AS t))))"
        ),
    }

    def __init__(self, text: Expression) -> None:
        super().__init__(text)
