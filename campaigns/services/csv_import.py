"""What the CSV imports of codes (``coupon_csv``, ``referral_csv``) share: reading the header
and the rows, and reporting problems with their line and column.

An import checks every row before it writes anything. Each problem goes to an
``ImportProblems`` (``problems(line, column, message)``), which stops the reading with
``TooManyProblems`` once ``IMPORT_ERRORS_MAX`` are found; the import then answers
``problems.result()`` and writes nothing::

    problems = ImportProblems()
    with contextlib.suppress(TooManyProblems):
        rows = csv_rows_read(text, LAYOUT, read_row=..., key_of=..., error=problems)
        codes_taken_report(rows, ..., error=problems)
    if problems:
        return problems.result()
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

from campaigns.services.attribute_values import attributes_read
from rules.values import parse_instant

R = TypeVar("R")

IMPORT_ERRORS_MAX: Final = 1000
"""The most problems an import reports: checking stops there."""

#: How many codes one query looks up when checking which are taken.
_TAKEN_CHUNK: Final = 5_000


@dataclass(frozen=True, slots=True)
class ImportRowError:
    """A problem with one field of an imported file: ``line`` is the line the row starts on
    (the header is line 1) and ``column`` the column's name (empty for the row as a whole)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: ``imported`` rows (coupons, referrals) under ``batch_id``, or
    nothing and ``errors`` (at most ``IMPORT_ERRORS_MAX``; checking stops there)."""

    imported: int
    batch_id: str
    errors: tuple[ImportRowError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


class TooManyProblems(Exception):
    """Raised by ``ImportProblems`` at its ``IMPORT_ERRORS_MAX``-th problem."""


class ImportProblems:
    """The problems found in a file, in the order found; callable as ``error(line, column,
    message)``. True when there are any."""

    def __init__(self) -> None:
        self.found: list[ImportRowError] = []

    def __call__(self, line: int, column: str, message: str) -> None:
        self.found.append(ImportRowError(line, column, message))
        if len(self.found) >= IMPORT_ERRORS_MAX:
            raise TooManyProblems

    def __bool__(self) -> bool:
        return bool(self.found)

    def result(self) -> ImportResult:
        """The result of an import that wrote nothing: the problems, by line."""
        return ImportResult(0, "", tuple(sorted(self.found, key=lambda e: e.line)))


@dataclass(frozen=True)
class CsvLayout:
    """The columns a kind of file has: ``columns`` read (any order, any case), ``required``
    among them, ``aliases`` (a column of an export read as one of ``columns``) and ``skipped``
    (an export's columns that an import ignores). ``key`` is the column of the row's code,
    which a file may hold once; ``noun`` names the rows in messages (``"coupons"``)."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    key: str
    noun: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    skipped: frozenset[str] = frozenset()


def csv_rows_read(
    rows: Iterable[str],
    layout: CsvLayout,
    *,
    read_row: Callable[[Mapping[str, str], int], R | None],
    key_of: Callable[[R], str],
    error: Callable[[int, str, str], None],
) -> list[R]:
    """The file's rows, read by ``read_row(fields, line)`` (the row's fields by column, stripped;
    ``None`` when it reported a problem), in order; problems go to ``error``.

    A header with an unknown, repeated or missing required column is reported alone (the rows
    would only echo it). Blank lines are skipped; a row with another number of fields than the
    header, or whose code (``key_of``) an earlier row has, is reported."""
    reader = csv.reader(rows)
    header = next(reader, None)
    if header is None:
        error(1, "", "the file is empty: it needs a header row naming the columns")
        return []
    columns = _header_read([name.strip().lower() for name in header], layout, error)
    if columns is None:
        return []
    parsed: list[R] = []
    first_line: dict[str, int] = {}
    data_rows = 0
    end_of_previous = reader.line_num
    for fields in reader:
        line = end_of_previous + 1
        end_of_previous = reader.line_num
        if not fields or fields == [""]:
            continue  # a blank line
        data_rows += 1
        if len(fields) != len(header):
            error(line, "", f"has {len(fields)} fields; the header has {len(header)}")
            continue
        row = read_row({column: fields[at].strip() for column, at in columns.items()}, line)
        if row is None:
            continue
        code = key_of(row)
        if code in first_line:
            error(line, layout.key, f"{code!r} is already on line {first_line[code]}")
            continue
        first_line[code] = line
        parsed.append(row)
    if not data_rows:
        error(2, "", f"the file has no {layout.noun}")
    return parsed


def _header_read(
    names: Sequence[str], layout: CsvLayout, error: Callable[[int, str, str], None]
) -> dict[str, int] | None:
    """Each column's position, or None when the header has problems (reported)."""
    columns: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for position, name in enumerate(names):
        column = layout.aliases.get(name, name)
        if column in layout.skipped:
            continue
        if column not in layout.columns:
            known = ", ".join(layout.columns)
            problems.append((name, f"unknown column; the columns are {known}"))
        elif column in columns:
            problems.append((name, "the column appears twice"))
        else:
            columns[column] = position
    problems.extend(
        (required, "the required column is missing")
        for required in layout.required
        if required not in columns
    )
    for column, message in problems:
        error(1, column, message)
    return None if problems else columns


def codes_taken_report(
    rows: Sequence[R],
    *,
    code_of: Callable[[R], str],
    line_of: Callable[[R], int],
    taken_among: Callable[[Collection[str]], Iterable[str]],
    column: str,
    already: str,
    error: Callable[[int, str, str], None],
) -> None:
    """Report the rows whose code is taken: ``taken_among(codes)`` names those of ``codes``
    that exist (one query per chunk of codes); each is reported as ``'<code>' <already>``."""
    for start in range(0, len(rows), _TAKEN_CHUNK):
        part = {code_of(row): line_of(row) for row in rows[start : start + _TAKEN_CHUNK]}
        for code in sorted(taken_among(part), key=part.__getitem__):
            error(part[code], column, f"{code!r} {already}")


class RowCheck:
    """One row's fields (by column), read and checked; each problem goes to ``error`` with the
    row's line, and ``problems`` counts them. The columns that coupons and referrals share are
    read here: ``startdate``/``expirydate``, ``limitval`` and ``attributes``."""

    def __init__(
        self, fields: Mapping[str, str], *, line: int, error: Callable[[int, str, str], None]
    ) -> None:
        self.fields = fields
        self.line = line
        self.error = error
        self.problems = 0

    def wrong(self, column: str, message: str) -> None:
        self.problems += 1
        self.error(self.line, column, message)

    def validity(self) -> tuple[datetime | None, datetime | None]:
        """``startdate`` and ``expirydate``: RFC 3339 times, both optional, the expiry after
        the start."""
        dates: dict[str, datetime | None] = {}
        for column in ("startdate", "expirydate"):
            text = self.fields.get(column, "")
            dates[column] = parse_instant(text) if text else None
            if text and dates[column] is None:
                self.wrong(
                    column, f"{text!r} is not an RFC 3339 time, such as 2025-07-01T04:00:00Z"
                )
        start, expiry = dates["startdate"], dates["expirydate"]
        if start is not None and expiry is not None and expiry <= start:
            self.wrong("expirydate", "is not after startdate")
        return start, expiry

    def usage_limit(self, maximum: int) -> int:
        """``limitval``: a whole number from 0 (unlimited) to ``maximum``; 1 when empty."""
        text = self.fields.get("limitval", "")
        if not text:
            return 1
        if text.isascii() and text.isdigit() and int(text) <= maximum:
            return int(text)
        self.wrong("limitval", f"{text!r} is not a whole number from 0 to {maximum}")
        return 1

    def attributes(self, definitions: Mapping[str, str], *, entity: str) -> dict[str, Any]:
        """``attributes``: a JSON object of the custom attributes ``definitions`` (of
        ``entity``) define, of their types; ``{}`` when empty."""
        text = self.fields.get("attributes", "")
        if not text:
            return {}
        try:
            raw = json.loads(text, parse_float=Decimal)
        except ValueError:
            self.wrong("attributes", "is not a JSON object")
            return {}
        attributes, problem = attributes_read(raw, definitions, entity=entity)
        if problem is not None:
            self.wrong("attributes", problem)
        return attributes
