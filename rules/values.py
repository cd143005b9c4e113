"""Run-time values of the rule language and their text forms.

Values are plain Python objects: ``Decimal`` (never float), ``str``, ``bool``, timezone-aware
``datetime``, ``None``, ``list`` and ``dict``. Talang works on the *text* of atoms in a few places
(``=`` between different kinds, ``toString``, map keys in ``.``), so each value has one canonical
text: decimals in the General Decimal Arithmetic form (which keeps the scale: ``1.20``), booleans
as ``true``/``false``, times in RFC 3339.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

DECIMAL_CONTEXT = Context(prec=16, rounding=ROUND_HALF_EVEN, traps=[])
"""Talang's arithmetic: 16 significant digits, half-even, no traps (1/0 is Infinity)."""

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_rfc3339(text: str) -> datetime | None:
    """Parse an RFC 3339 timestamp (as Go's ``time.RFC3339`` does), keeping its offset."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or ".0")[1:7].ljust(6, "0"))
    if offset in ("Z", "z"):
        zone: timezone = UTC
    else:
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone
        )
    except ValueError:
        return None


def parse_instant(text: str, *, dates: bool = False) -> datetime | None:
    """An RFC 3339 timestamp as the same instant in UTC, for what filters or stores times;
    with ``dates``, a date alone (``2026-07-01``) too, as its midnight in UTC (how Talon.One
    reads a query's date without a time).

    RFC 3339 allows offsets up to ±23:59 and PostgreSQL refuses those beyond ±15:59, so a time
    is moved to UTC before it reaches the database. ``None`` when ``text`` is not RFC 3339, or
    when the instant is outside the calendar (``9999-12-31T23:00:00-02:00``)."""
    moment = parse_rfc3339(text)
    if moment is None:
        day = _DATE.fullmatch(text) if dates else None
        if day is None:
            return None
        try:
            return datetime(int(day[1]), int(day[2]), int(day[3]), tzinfo=UTC)
        except ValueError:
            return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def format_rfc3339(moment: datetime) -> str:
    """RFC 3339 with ``Z`` for UTC and fractional seconds only when there are some."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat of the local time: YYYY-MM-DDTHH:MM:SS, then .ffffff when there are some.
    text = moment.replace(tzinfo=None).isoformat()
    if moment.microsecond:
        text = text.rstrip("0")
    offset = moment.utcoffset()
    if not offset:
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def to_text(value: Any) -> str:
    """The canonical text of a value (``toString``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return "[" + " ".join(to_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + " ".join(f"{k}:{to_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def to_decimal(value: int | float | str | Decimal) -> Decimal:
    """A number from outside (JSON, Python) as a Decimal, going through text for floats."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def from_json(value: Any) -> Any:
    """Turn decoded JSON (ints, floats, strings …) into run-time values (Decimals …).

    Strings stay strings: times in a binding are typed by the catalogue, not guessed here.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, int | float):
        return to_decimal(value)
    if isinstance(value, list):
        return [from_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): from_json(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value
    raise TypeError(f"not a JSON value: {type(value).__name__}")
