"""Functions on strings.

Talang's: ``+``/``concat`` (concatenation; ``+`` on decimals is registered first, in ``math``),
``contains``/``notContains``/``startsWith``/``endsWith`` (the first argument is the text, then one
or more needles that must *all* match: ``(contains "Hello World" Hello World)`` is true), ``~``
(a regular expression, then one or more texts that must all match), ``firstName``, ``lastName``,
``split`` and ``toString``. ``join`` lives with the lists.

Ours, not in Go Talang: ``toUpper``, ``toLower``, ``trim`` (Unicode white space at both ends) and
``length`` (the number of characters, as a decimal).

Regular expressions use RE2, the syntax of Go's ``regexp`` (no back-references, no look-around),
which matches in linear time. A pattern longer than ``MAX_REGEX_BYTES`` or one that does not
compile is a run-time error. Matching is a *search*, like Go's ``MatchString``: ``(~ foo xfoox)``
is true; anchor with ``^…$`` for a whole-string match. A string longer than ``MAX_STRING_BYTES``
(UTF-8) is never built: the function fails with ``RuleLimitExceeded`` instead.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import re2

import rules.functions.math  # noqa: F401 - decimal + must be tried before string +
from rules.errors import RuleLimitExceeded, RuleRuntimeError
from rules.functions.registry import REGISTRY
from rules.limits import MAX_LIST_LENGTH, MAX_REGEX_BYTES, MAX_STRING_BYTES
from rules.types import Kind
from rules.values import to_text

S = Kind.STRING
B = Kind.BOOLEAN

_WORST_UTF8_BYTES_PER_CHAR = 4


def utf8_length(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes (surrogates count as 3, as Python would write them)."""
    return len(text.encode("utf-8", "surrogatepass"))


def check_string(text: str) -> str:
    """``text`` itself, or ``RuleLimitExceeded`` when it is longer than ``MAX_STRING_BYTES``."""
    if len(text) * _WORST_UTF8_BYTES_PER_CHAR > MAX_STRING_BYTES and (
        len(text) > MAX_STRING_BYTES or utf8_length(text) > MAX_STRING_BYTES
    ):
        raise RuleLimitExceeded(f"a string would be longer than {MAX_STRING_BYTES} bytes")
    return text


def concatenate(*parts: str) -> str:
    """The parts joined, refused before building it when the result would be too long."""
    total = sum(len(part) for part in parts)
    if total > MAX_STRING_BYTES:
        raise RuleLimitExceeded(f"a string would be longer than {MAX_STRING_BYTES} bytes")
    return check_string("".join(parts))


# -- concatenation ---------------------------------------------------------------------------

for _name in ("+", "concat"):
    REGISTRY.function(
        _name,
        (S, S),
        S,
        rest=S,
        doc='Join strings: (+ "Hello " (. Profile Name)).',
        category="string",
    )(concatenate)


# -- containment -----------------------------------------------------------------------------


def contains(text: str, needle: str) -> bool:
    return needle in text


def contains_all(text: str, *needles: str) -> bool:
    return all(needle in text for needle in needles)


def not_contains(text: str, needle: str) -> bool:
    return needle not in text


def not_contains_any(text: str, *needles: str) -> bool:
    return not any(needle in text for needle in needles)


def starts_with(text: str, prefix: str) -> bool:
    return text.startswith(prefix)


def starts_with_all(text: str, *prefixes: str) -> bool:
    return all(text.startswith(prefix) for prefix in prefixes)


def ends_with(text: str, suffix: str) -> bool:
    return text.endswith(suffix)


def ends_with_all(text: str, *suffixes: str) -> bool:
    return all(text.endswith(suffix) for suffix in suffixes)


_TESTS = (
    (
        "contains",
        contains,
        contains_all,
        "({0}).__contains__({1})",
        'True when the first string contains the second: (contains "Hello World" World).',
        "True when the first string contains each of the others.",
    ),
    (
        "notContains",
        not_contains,
        not_contains_any,
        "(not ({0}).__contains__({1}))",
        "True when the first string does not contain the second.",
        "True when the first string contains none of the others.",
    ),
    (
        "startsWith",
        starts_with,
        starts_with_all,
        "({0}).startswith({1})",
        "True when the first string starts with the second.",
        "True when the first string starts with each of the others.",
    ),
    (
        "endsWith",
        ends_with,
        ends_with_all,
        "({0}).endswith({1})",
        "True when the first string ends with the second.",
        "True when the first string ends with each of the others.",
    ),
)

for _name, _pair, _many, _inline, _pair_doc, _many_doc in _TESTS:
    REGISTRY.function(_name, (S, S), B, inline=_inline, doc=_pair_doc, category="string")(_pair)
    REGISTRY.function(_name, (S, S), B, rest=S, doc=_many_doc, category="string")(_many)


# -- regular expressions ---------------------------------------------------------------------


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    return options


_RE2_OPTIONS = _options()


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> Any:
    """The compiled RE2 pattern; ``RuleRuntimeError`` when too long or invalid."""
    if utf8_length(pattern) > MAX_REGEX_BYTES:
        raise RuleRuntimeError(f"the regular expression is longer than {MAX_REGEX_BYTES} bytes")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as error:
        detail = error.args[0] if error.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise RuleRuntimeError(f"invalid regular expression {pattern!r}: {detail}") from None


@REGISTRY.function(
    "~",
    (S, S),
    B,
    rest=S,
    doc="True when the regular expression (first) matches every other string: (~ ^A\\d+ code).",
    category="string",
)
def matches(pattern: str, *texts: str) -> bool:
    regex = compile_regex(pattern)
    return all(regex.search(text) is not None for text in texts)


# -- names -----------------------------------------------------------------------------------


@REGISTRY.function(
    "firstName",
    (S,),
    S,
    doc='The first space-separated word: (firstName "Ada Lovelace") is "Ada".',
    category="string",
)
def first_name(text: str) -> str:
    return text.split(" ", 1)[0]


@REGISTRY.function(
    "lastName",
    (S,),
    S,
    doc='The last space-separated word: (lastName "Ada Lovelace") is "Lovelace".',
    category="string",
)
def last_name(text: str) -> str:
    return text.rsplit(" ", 1)[-1]


# -- split and conversions -------------------------------------------------------------------


@REGISTRY.function(
    "split",
    (S, S),
    Kind.LIST,
    doc='The list of parts between separators: (split "a,b" ",") is ["a" "b"].',
    category="string",
)
def split(text: str, separator: str) -> list[str]:
    parts = len(text) if separator == "" else text.count(separator) + 1
    if parts > MAX_LIST_LENGTH:
        raise RuleLimitExceeded(f"a list would be longer than {MAX_LIST_LENGTH} items")
    if separator == "":
        return list(text)
    return text.split(separator)


@REGISTRY.function(
    "toString",
    (Kind.ATOM,),
    S,
    inline="_text({0})",
    doc='The text of a value: (toString 1.50) is "1.50", (toString true) is "true".',
    category="string",
)
def to_string(value: Any) -> str:
    return to_text(value)


@REGISTRY.function(
    "toUpper", (S,), S, doc='Upper case: (toUpper "abc") is "ABC".', category="string"
)
def to_upper(text: str) -> str:
    return check_string(text.upper())


@REGISTRY.function(
    "toLower", (S,), S, doc='Lower case: (toLower "ABC") is "abc".', category="string"
)
def to_lower(text: str) -> str:
    return check_string(text.lower())


@REGISTRY.function(
    "trim",
    (S,),
    S,
    inline="({0}).strip()",
    doc='Without white space at both ends: (trim " a ") is "a".',
    category="string",
)
def trim(text: str) -> str:
    return text.strip()


@REGISTRY.function(
    "length",
    (S,),
    Kind.DECIMAL,
    inline="_CTX.create_decimal(len({0}))",
    doc='The number of characters: (length "abc") is 3.',
    category="string",
)
def length(text: str) -> Decimal:
    return Decimal(len(text))
