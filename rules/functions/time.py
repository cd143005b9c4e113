"""Functions on times: comparing, parsing, formatting, parts, and date arithmetic.

Times are timezone-aware ``datetime`` values that keep their offset: ``(hour
2018-03-11T23:04:05+02:00)`` is ``"23"``. Comparisons (``after``, ``before``, and ``<`` … in
``compare``) use instants.

Parsing (``parseTime``):

- with one argument, a forgiving parser in the spirit of Go's ``araddon/dateparse``: RFC 3339,
  dates such as ``2018-01-02`` or ``01/02/2018`` (month first), date and time
  (``2018-01-02 15:04:05``, ``Mon, 02 Jan 2006 15:04:05 -0700``), and all-digit forms
  (``20180102``, ``20180102150405``, a year ``2018``, Unix seconds, milliseconds, microseconds
  or nanoseconds by length). Text must name a whole date (year, month and day); a plain number
  with a sign or a decimal point (``-42``) is an error. Without a zone a time is UTC; a zone
  *name* that is not ``UTC``/``GMT``/``Z`` counts as UTC, as in Go.
- with two arguments, a Joda layout (``HH:mm:ss``, ``yyyy-MM-dd``, ``dd/MM/yyyy``). Supported
  letters: ``y``/``Y``/``x`` (year; ``yy`` two digits), ``M`` (``M``/``MM`` number, ``MMM``
  ``Jan``, ``MMMM`` ``January``), ``d`` (day of month), ``D`` (day of year; but day of *month*
  in a layout that also has ``M``, so the common ``YYYY-MM-DD`` means the calendar date), ``H``
  (0-23), ``h`` (1-12) with ``a`` (AM/PM), ``m``, ``s``, ``S`` (fraction of a second), ``E``
  (day name, checked and ignored), ``Z`` (``+0200``, ``+02:00`` or ``Z``) and ``'quoted text'``.
  Any other letter is an error (quote it to match it literally). A layout without a date gives
  the date 0001-01-01 (Go gives year 0, which Python's ``datetime`` cannot hold). A single
  letter (``M``, ``d``, ``H``, ``m``, ``s``) takes one or two digits, a doubled one exactly two.

Formatting (``formatTime`` with a layout, ``matchTime``) uses the same letters, plus ``e`` (day
of week as a number, Sunday = 0 as in Talang's ``weekday``), ``EEEE`` (``Sunday``), ``w`` (ISO
week), ``K``/``k`` (hour 0-11 / 1-24), ``z`` (``UTC`` or the offset), ``G`` (``AD``) and ``C``
(century). Any other letter is copied as it is, as Go's formatter does. Where Go's formatter has
a bug (``a`` says ``AM`` at 12:xx, ``h`` gives 2 at 13:xx, ``k`` is one hour ahead, ``S`` prints
nanoseconds), we follow Joda.

``formatTime`` without a layout gives RFC 3339 without fractional seconds, like Go.
``addDuration``/``subDuration`` take an amount and a unit: ``seconds``, ``minutes``, ``hours``,
``days``, ``weeks`` (fractions allowed, rounded to the microsecond), ``months`` and ``years``
(whole numbers; the day is clamped to the month's end: Jan 31 + 1 month is Feb 28/29), singular
or plural, any case. Go Talang knows only minutes, hours and days. ``daysBetween a b`` is
``b - a`` in days, computed from float64 hours exactly as Go does (a signed value), and ``days t``
is the same from now until ``t``.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import re2
from dateutil import parser as dateutil_parser

from rules.errors import RuleRuntimeError
from rules.functions.registry import REGISTRY
from rules.runtime import State
from rules.types import Kind
from rules.values import parse_rfc3339

T = Kind.TIME
S = Kind.STRING
D = Kind.DECIMAL
B = Kind.BOOLEAN

MAX_LAYOUT_CHARS = 100
"""Longest Joda layout accepted."""

MAX_TIME_TEXT_CHARS = 100
"""Longest text ``parseTime`` reads."""

_MONTHS = [calendar.month_name[i] for i in range(1, 13)]
_WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


# -- comparing -------------------------------------------------------------------------------


@REGISTRY.function(
    "after",
    (T, T),
    B,
    inline="({0} > {1})",
    doc="True when the first time is later than the second.",
    category="time",
)
def after(a: datetime, b: datetime) -> bool:
    return a > b


@REGISTRY.function(
    "before",
    (T, T),
    B,
    inline="({0} < {1})",
    doc="True when the first time is earlier than the second.",
    category="time",
)
def before(a: datetime, b: datetime) -> bool:
    return a < b


# -- Joda layouts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    letter: str
    count: int


_Token = _Field | str


def _tokenize(layout: str) -> list[_Token]:
    """Split a Joda layout into fields (a letter and its repeat count) and literal text."""
    if len(layout) > MAX_LAYOUT_CHARS:
        raise RuleRuntimeError(f"a time layout may have at most {MAX_LAYOUT_CHARS} characters")
    tokens: list[_Token] = []
    literal: list[str] = []
    i = 0
    while i < len(layout):
        char = layout[i]
        if char == "'":
            if layout.startswith("''", i):
                literal.append("'")
                i += 2
                continue
            i += 1
            while True:  # quoted text, where '' is a quote
                end = layout.find("'", i)
                if end < 0:
                    raise RuleRuntimeError(f"unterminated quote in the time layout {layout!r}")
                literal.append(layout[i:end])
                if not layout.startswith("''", end):
                    i = end + 1
                    break
                literal.append("'")
                i = end + 2
            continue
        if char.isascii() and char.isalpha():
            j = i
            while j < len(layout) and layout[j] == char:
                j += 1
            if literal:
                tokens.append("".join(literal))
                literal = []
            tokens.append(_Field(char, j - i))
            i = j
            continue
        literal.append(char)
        i += 1
    if literal:
        tokens.append("".join(literal))
    return tokens


def _has_month(tokens: list[_Token]) -> bool:
    return any(isinstance(t, _Field) and t.letter == "M" for t in tokens)


def _number(value: int, count: int) -> str:
    return str(value).zfill(count)


def _offset_text(moment: datetime, colon: bool) -> str:
    offset = moment.utcoffset() or timedelta(0)
    total = int(offset.total_seconds()) // 60
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def _format_field(field: _Field, moment: datetime, month_present: bool) -> str:
    letter, count = field.letter, field.count
    hour = moment.hour
    if letter in "Yy":
        return f"{moment.year % 100:02d}" if count == 2 else _number(moment.year, count)
    if letter == "x":
        year = moment.isocalendar()[0]
        return f"{year % 100:02d}" if count == 2 else _number(year, count)
    if letter == "M":
        if count >= 4:
            return _MONTHS[moment.month - 1]
        if count == 3:
            return _MONTHS[moment.month - 1][:3]
        return _number(moment.month, count)
    if letter == "D":
        if month_present:
            return _number(moment.day, count)
        return _number(moment.timetuple().tm_yday, count)
    if letter == "d":
        return _number(moment.day, count)
    if letter == "w":
        return _number(moment.isocalendar()[1], count)
    if letter == "e":
        return _number(moment.isoweekday() % 7, count)
    if letter == "E":
        name = _WEEKDAYS[moment.isoweekday() % 7]
        return name if count >= 4 else name[:3]
    if letter == "a":
        return "PM" if hour >= 12 else "AM"
    if letter == "H":
        return _number(hour, count)
    if letter == "h":
        return _number(hour % 12 or 12, count)
    if letter == "K":
        return _number(hour % 12, count)
    if letter == "k":
        return _number(hour or 24, count)
    if letter == "m":
        return _number(moment.minute, count)
    if letter == "s":
        return _number(moment.second, count)
    if letter == "S":
        return f"{moment.microsecond:06d}".ljust(count, "0")[:count]
    if letter == "Z":
        return _offset_text(moment, colon=count >= 2)
    if letter == "z":
        return "UTC" if not moment.utcoffset() else _offset_text(moment, colon=True)
    if letter == "G":
        return "AD"
    if letter == "C":
        return _number(moment.year // 100, count)
    return letter * count


def format_joda(layout: str, moment: datetime) -> str:
    """``moment`` written with a Joda layout (see the module's documentation)."""
    tokens = _tokenize(layout)
    month_present = _has_month(tokens)
    return "".join(
        token if isinstance(token, str) else _format_field(token, moment, month_present)
        for token in tokens
    )


_PARSE_PATTERNS: dict[str, str] = {
    "year2": r"(\d{2})",
    "year4": r"(\d{4})",
    "num12": r"(\d{1,2})",
    "num2": r"(\d{2})",
    "num123": r"(\d{1,3})",
    "num3": r"(\d{3})",
    "fraction": r"(\d{1,9})",
    "month3": r"([A-Za-z]{3})",
    "month": r"([A-Za-z]{3,9})",
    "weekday3": r"([A-Za-z]{3})",
    "weekday": r"([A-Za-z]{6,9})",
    "ampm": r"([AaPp][Mm])",
    "offset": r"(Z|z|[+-]\d{2}:?\d{2})",
}


def _parse_plan(field: _Field, month_present: bool) -> tuple[str, str]:
    """What a field reads: (the name of the value it sets, the pattern it matches)."""
    letter, count = field.letter, field.count
    single = count == 1
    if letter in "Yyx":
        return ("year2", _PARSE_PATTERNS["year2"]) if count == 2 else ("year", r"(\d{4})")
    if letter == "M":
        if count >= 4:
            return "month_name", _PARSE_PATTERNS["month"]
        if count == 3:
            return "month_name", _PARSE_PATTERNS["month3"]
        return "month", _PARSE_PATTERNS["num12" if single else "num2"]
    if letter == "d" or (letter == "D" and month_present):
        return "day", _PARSE_PATTERNS["num12" if single else "num2"]
    if letter == "D":
        return "year_day", _PARSE_PATTERNS["num123" if count < 3 else "num3"]
    if letter == "H":
        return "hour", _PARSE_PATTERNS["num12"]
    if letter == "h":
        return "hour12", _PARSE_PATTERNS["num12" if single else "num2"]
    if letter == "a":
        return "ampm", _PARSE_PATTERNS["ampm"]
    if letter == "m":
        return "minute", _PARSE_PATTERNS["num12" if single else "num2"]
    if letter == "s":
        return "second", _PARSE_PATTERNS["num12" if single else "num2"]
    if letter == "S":
        return "fraction", _PARSE_PATTERNS["fraction"]
    if letter == "E":
        return "weekday", _PARSE_PATTERNS["weekday" if count >= 4 else "weekday3"]
    if letter == "Z":
        return "offset", _PARSE_PATTERNS["offset"]
    raise RuleRuntimeError(
        f"the time layout letter {letter!r} is not supported for parsing (quote literal text: 'T')"
    )


def _assign(values: dict[str, Any], name: str, value: Any) -> None:
    if name in values and values[name] != value:
        raise RuleRuntimeError(f"the text gives two different values for the {name}")
    values[name] = value


def _lookup_name(text: str, names: list[str], what: str) -> int:
    lowered = text.lower()
    for index, name in enumerate(names):
        if lowered in (name.lower(), name[:3].lower()):
            return index
    raise RuleRuntimeError(f"{text!r} is not a {what}")


def _offset_zone(text: str) -> timezone:
    if text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise RuleRuntimeError(f"{text!r} is not a time zone offset")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    return options


_RE2_OPTIONS = _re2_options()


@functools.lru_cache(maxsize=128)
def _layout_reader(layout: str) -> tuple[Any, tuple[str, ...]]:
    """The compiled reader of a layout (RE2, so linear in time) and the names of its groups."""
    tokens = _tokenize(layout)
    month_present = _has_month(tokens)
    names: list[str] = []
    pattern: list[str] = []
    for token in tokens:
        if isinstance(token, str):
            pattern.append(re2.escape(token))
        else:
            name, regex = _parse_plan(token, month_present)
            names.append(name)
            pattern.append(regex)
    return re2.compile("".join(pattern), _RE2_OPTIONS), tuple(names)


def parse_joda(layout: str, text: str) -> datetime:
    """Read ``text`` with a Joda layout (see the module's documentation)."""
    reader, names = _layout_reader(layout)
    if len(text) > MAX_TIME_TEXT_CHARS:
        raise RuleRuntimeError(f"a time text may have at most {MAX_TIME_TEXT_CHARS} characters")
    match = reader.fullmatch(text)
    if match is None:
        raise RuleRuntimeError(f"{text!r} does not have the layout {layout!r}")

    values: dict[str, Any] = {}
    for name, raw in zip(names, match.groups(), strict=True):
        if name == "year2":
            short = int(raw)
            _assign(values, "year", short + (1900 if short >= 69 else 2000))
        elif name == "month_name":
            _assign(values, "month", _lookup_name(raw, _MONTHS, "month") + 1)
        elif name == "weekday":
            _lookup_name(raw, _WEEKDAYS, "day of the week")
        elif name == "ampm":
            _assign(values, "ampm", raw.upper())
        elif name == "fraction":
            _assign(values, "microsecond", int(raw[:6].ljust(6, "0")))
        elif name == "offset":
            _assign(values, "zone", _offset_zone(raw))
        else:
            _assign(values, name, int(raw))
    return _build_time(values, text)


def _build_time(values: dict[str, Any], text: str) -> datetime:
    hour = values.get("hour", 0)
    if "hour12" in values:
        hour12 = values["hour12"]
        if not 1 <= hour12 <= 12:
            raise RuleRuntimeError(f"the hour in {text!r} is out of range")
        _assign(values, "hour", hour12 % 12 + (12 if values.get("ampm") == "PM" else 0))
        hour = values["hour"]
    elif values.get("ampm") == "PM" and hour < 12:
        hour += 12
    elif values.get("ampm") == "AM" and hour == 12:
        hour = 0
    zone = values.get("zone", UTC)
    try:
        if "year_day" in values:
            start = datetime(values.get("year", 1), 1, 1, tzinfo=zone)
            days_in_year = 366 if calendar.isleap(start.year) else 365
            if not 1 <= values["year_day"] <= days_in_year:
                raise RuleRuntimeError(f"the day of the year in {text!r} is out of range")
            day = start + timedelta(days=values["year_day"] - 1)
            month, day_of_month = day.month, day.day
        else:
            month, day_of_month = values.get("month", 1), values.get("day", 1)
        return datetime(
            values.get("year", 1),
            month,
            day_of_month,
            hour,
            values.get("minute", 0),
            values.get("second", 0),
            values.get("microsecond", 0),
            tzinfo=zone,
        )
    except (ValueError, OverflowError) as error:
        raise RuleRuntimeError(f"{text!r} is not a valid time: {error}") from None


# -- parsing any text ------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"[+-]?[0-9.]+")
_GO_ZONE_NAME = re.compile(r"([+-]\d{4}) [A-Z]{3,5}$")
"""Go's ``time.String()`` ends in an offset and a zone name (``-0700 MST``): keep the offset."""
_DIGITS_DATE = {8: "%Y%m%d", 14: "%Y%m%d%H%M%S"}
_DIGITS_EPOCH = {10: 1, 13: 1_000, 16: 1_000_000, 19: 1_000_000_000}
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))
"""Two different defaults: where they leave different dates, the text named no whole date."""


def _zone_for(name: str | None, offset: int | None) -> timezone:
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    return UTC


def _parse_digits(text: str) -> datetime:
    try:
        if len(text) == 4:
            return datetime(int(text), 1, 1, tzinfo=UTC)
        if len(text) in _DIGITS_DATE:
            return datetime.strptime(text, _DIGITS_DATE[len(text)]).replace(tzinfo=UTC)
        if len(text) in _DIGITS_EPOCH:
            whole, part = divmod(int(text), _DIGITS_EPOCH[len(text)])
            micro = part * 1_000_000 // _DIGITS_EPOCH[len(text)]
            return datetime.fromtimestamp(whole, UTC) + timedelta(microseconds=micro)
    except (ValueError, OverflowError, OSError):
        pass
    raise RuleRuntimeError(f"{text!r} is not a time")


def parse_any(text: str) -> datetime:
    """Read a time in any common layout (see the module's documentation)."""
    text = text.strip()
    if not text or len(text) > MAX_TIME_TEXT_CHARS:
        raise RuleRuntimeError(f"{text[:MAX_TIME_TEXT_CHARS]!r} is not a time")
    found = parse_rfc3339(text)
    if found is not None:
        return found
    if text.isascii() and text.isdigit():
        return _parse_digits(text)
    if _PLAIN_NUMBER.fullmatch(text):
        raise RuleRuntimeError(f"{text!r} is a number, not a time")
    text = _GO_ZONE_NAME.sub(r"\1", text)
    try:
        first, second = (
            dateutil_parser.parse(text, default=default, tzinfos=_zone_for) for default in _DEFAULTS
        )
    except (ValueError, OverflowError, TypeError, LookupError) as error:
        raise RuleRuntimeError(f"{text!r} is not a time: {error}") from None
    if first != second:
        raise RuleRuntimeError(f"{text!r} does not name a whole date (year, month and day)")
    offset = first.utcoffset()
    if offset is None:
        return first.replace(tzinfo=UTC)
    return first.replace(tzinfo=UTC if not offset else timezone(offset))


@REGISTRY.function(
    "parseTime",
    (S,),
    T,
    doc='Read a time: (parseTime "2018-01-02") or (parseTime "2018-01-02T19:04:05Z").',
    category="time",
)
def parse_time(text: str) -> datetime:
    return parse_any(text)


@REGISTRY.function(
    "parseTime",
    (S, S),
    T,
    doc='Read a time with a Joda layout: (parseTime "02/01/2018" "dd/MM/yyyy").',
    category="time",
)
def parse_time_with_layout(text: str, layout: str) -> datetime:
    return parse_joda(layout, text)


# -- formatting and parts --------------------------------------------------------------------


def rfc3339_seconds(moment: datetime) -> str:
    """RFC 3339 without fractional seconds (Go's ``time.RFC3339`` layout)."""
    offset = moment.utcoffset()
    zone = "Z" if not offset else _offset_text(moment, colon=True)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{zone}"
    )


@REGISTRY.function(
    "formatTime",
    (T,),
    S,
    doc="The time in RFC 3339: (formatTime t) is like 2018-03-11T19:04:05Z.",
    category="time",
)
def format_time(moment: datetime) -> str:
    return rfc3339_seconds(moment)


@REGISTRY.function(
    "formatTime",
    (T, S),
    S,
    doc='The time written with a Joda layout: (formatTime t "dd/MM/yyyy").',
    category="time",
)
def format_time_with_layout(moment: datetime, layout: str) -> str:
    return format_joda(layout, moment)


@REGISTRY.function(
    "matchTime",
    (T, T, S),
    B,
    doc="True when both times look the same in a Joda layout: (matchTime a b YYYY-MM-DD).",
    category="time",
)
def match_time(a: datetime, b: datetime, layout: str) -> bool:
    return format_joda(layout, a) == format_joda(layout, b)


def _part(name: str, doc: str, inline: str) -> Any:
    return REGISTRY.function(name, (T,), S, inline=inline, doc=doc, category="time")


@_part("year", 'The year as text: "2018".', "('%d' % ({0}).year)")
def year(moment: datetime) -> str:
    return str(moment.year)


@_part("month", 'The month (1-12) as text: "1" for January.', "('%d' % ({0}).month)")
def month(moment: datetime) -> str:
    return str(moment.month)


@_part("monthDay", 'The day of the month (1-31) as text: "14".', "('%d' % ({0}).day)")
def month_day(moment: datetime) -> str:
    return str(moment.day)


@_part(
    "weekday",
    'The day of the week (0-6, Sunday is 0) as text: "0".',
    "('%d' % (({0}).isoweekday() % 7))",
)
def weekday(moment: datetime) -> str:
    return str(moment.isoweekday() % 7)


@_part("hour", 'The hour (0-23) as text: "4".', "('%d' % ({0}).hour)")
def hour(moment: datetime) -> str:
    return str(moment.hour)


@_part("minute", 'The minute (0-59) as text: "52".', "('%d' % ({0}).minute)")
def minute(moment: datetime) -> str:
    return str(moment.minute)


@REGISTRY.function(
    "date",
    (T,),
    S,
    doc='The date as YYYY-MM-DD: "2018-01-02".',
    category="time",
)
def date(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


# -- durations -------------------------------------------------------------------------------

_MICROSECONDS = {
    "second": 1_000_000,
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
    "week": 604_800_000_000,
}
_MONTHS_PER_UNIT = {"month": 1, "year": 12}


def _unit(text: str) -> str:
    unit = text.strip().lower()
    if unit.endswith("s"):
        unit = unit[:-1]
    if unit not in _MICROSECONDS and unit not in _MONTHS_PER_UNIT:
        raise RuleRuntimeError(
            f"{text!r} is not a unit of time: use seconds, minutes, hours, days, weeks, months"
            " or years"
        )
    return unit


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) + months
    year_, month_index = divmod(index, 12)
    if not 1 <= year_ <= 9999:
        raise RuleRuntimeError("the resulting time is out of range")
    last = calendar.monthrange(year_, month_index + 1)[1]
    return moment.replace(year=year_, month=month_index + 1, day=min(moment.day, last))


def shift(moment: datetime, amount: Decimal, unit_text: str) -> datetime:
    """``moment`` moved by ``amount`` units (negative: back in time)."""
    unit = _unit(unit_text)
    if not amount.is_finite():
        raise RuleRuntimeError(f"cannot move a time by {amount}")
    try:
        if unit in _MONTHS_PER_UNIT:
            if amount != amount.to_integral_value():
                raise RuleRuntimeError(f"{unit}s must be a whole number, not {amount}")
            return _add_months(moment, int(amount) * _MONTHS_PER_UNIT[unit])
        micro = (amount * _MICROSECONDS[unit]).to_integral_value()
        return moment + timedelta(microseconds=int(micro))
    except (OverflowError, ValueError):
        raise RuleRuntimeError("the resulting time is out of range") from None


@REGISTRY.function(
    "addDuration",
    (T, D, S),
    T,
    doc='The time moved forward: (addDuration t 2 "days"); units: seconds … years.',
    category="time",
)
def add_duration(moment: datetime, amount: Decimal, unit: str) -> datetime:
    return shift(moment, amount, unit)


@REGISTRY.function(
    "subDuration",
    (T, D, S),
    T,
    doc='The time moved back: (subDuration t 30 "minutes"); units: seconds … years.',
    category="time",
)
def sub_duration(moment: datetime, amount: Decimal, unit: str) -> datetime:
    return shift(moment, -amount, unit)


_NANOS_PER_HOUR = 3_600_000_000_000


def go_days(delta: timedelta) -> Decimal:
    """Days in ``delta`` as Go computes them: ``float64(d.Hours()) / 24``, converted exactly."""
    nanos = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    whole = abs(nanos) // _NANOS_PER_HOUR
    rest = abs(nanos) % _NANOS_PER_HOUR
    hours = float(whole) + float(rest) / 3.6e12
    if nanos < 0:
        hours = -hours
    return Decimal(hours / 24)


@REGISTRY.function(
    "daysBetween",
    (T, T),
    D,
    doc="The days from the first time to the second (negative when it is earlier).",
    category="time",
)
def days_between(start: datetime, end: datetime) -> Decimal:
    return go_days(end - start)


@REGISTRY.function(
    "days",
    (T,),
    D,
    stateful=True,
    doc="The days from now until the time (negative when it is past).",
    category="time",
)
def days(state: State, moment: datetime) -> Decimal:
    return go_days(moment - state.now)
