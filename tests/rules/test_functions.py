"""The strict functions of the rule language, called through the registry.

Each function is looked up in ``REGISTRY`` and the overload is chosen by the arguments' kinds, as
the run-time dispatcher does. Every overload with an inline template is also checked to give the
same result as its implementation when the template is evaluated (here, in the test only) with
the names the compiler provides.
"""

from __future__ import annotations

import ast
import string
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import rules.functions.compare
import rules.functions.lists
import rules.functions.math
import rules.functions.misc
import rules.functions.strings
import rules.functions.time
from rules.errors import RuleLimitExceeded, RuleRuntimeError
from rules.functions.registry import REGISTRY, Overload
from rules.runtime import State
from rules.types import Kind, kind_of
from rules.values import DECIMAL_CONTEXT, parse_rfc3339, to_text

try:  # the compiler's restricted builtins, when the compiler exists
    from rules.compiler import _SAFE_BUILTINS as SAFE_BUILTINS
except ImportError:  # pragma: no cover - the compiler is written in parallel
    SAFE_BUILTINS = {"any": any, "all": all, "len": len, "list": list, "tuple": tuple}

TEMPLATE_GLOBALS = {"_CTX": DECIMAL_CONTEXT, "_text": to_text}


def d(text: str | int) -> Decimal:
    return Decimal(str(text))


def t(text: str) -> datetime:
    moment = parse_rfc3339(text)
    assert moment is not None, text
    return moment


def overloads(name: str) -> list[Overload]:
    found = REGISTRY.lookup(name)
    assert isinstance(found, list), f"{name} is not a strict function"
    return found


def pick(name: str, *values: Any) -> Overload | None:
    """The overload the run-time dispatcher would choose, or None."""
    kinds = [kind_of(v) for v in values]
    for overload in overloads(name):
        if overload.accepts_arity(len(values)) and all(
            kind & overload.param_kind(i) for i, kind in enumerate(kinds)
        ):
            return overload
    return None


def inline_value(overload: Overload, *values: Any) -> Any:
    """Evaluate the overload's template over variables holding ``values``."""
    assert overload.inline is not None
    names = [f"a{i}" for i in range(len(values))]
    expr = overload.inline.format(
        *names, args=", ".join(names), rest=", ".join(names[len(overload.params) :])
    )
    scope = {"__builtins__": SAFE_BUILTINS, **TEMPLATE_GLOBALS}
    return eval(expr, scope, dict(zip(names, values, strict=True)))


def call(name: str, *values: Any, state: State | None = None) -> Any:
    """Call ``name`` like the dispatcher; also check the template (if any) agrees."""
    overload = pick(name, *values)
    assert overload is not None, f"no overload of {name} for {values!r}"
    if overload.stateful:
        return overload.impl(state or State(), *values)
    result = overload.impl(*values)
    if overload.inline is not None:
        templated = inline_value(overload, *values)
        assert type(templated) is type(result)
        assert templated == result or (result != result and templated != templated)
        if isinstance(result, Decimal):
            assert str(templated) == str(result)
    return result


def fails(name: str, *values: Any, error: type[Exception] = RuleRuntimeError) -> str:
    overload = pick(name, *values)
    assert overload is not None, f"no overload of {name} for {values!r}"
    arguments = (State(), *values) if overload.stateful else values
    with pytest.raises(error) as caught:
        overload.impl(*arguments)
    return str(caught.value)


# -- the registry ---------------------------------------------------------------------------

STRICT_FUNCTIONS = [
    "+", "-", "*", "/", "mod", "floor", "ceil",
    "=", "!=", "<", "<=", ">", ">=", "between", "betweenTimes",
    "concat", "contains", "notContains", "startsWith", "endsWith", "~", "firstName",
    "lastName", "split", "toString", "toUpper", "toLower", "trim", "length",
    "list", "head", "tail", "drop", "item", "count", "isEmpty", "reverse", "sort", "push",
    "append", "min", "max", "join",
    "after", "before", "parseTime", "formatTime", "matchTime", "addDuration", "subDuration",
    "daysBetween", "days", "year", "month", "monthDay", "weekday", "hour", "minute", "date",
    "noop", "not",
]  # fmt: skip


@pytest.mark.parametrize("name", STRICT_FUNCTIONS)
def test_every_function_is_registered_with_docs(name: str) -> None:
    for overload in overloads(name):
        assert overload.doc, f"{overload.signature()} has no doc"
        assert "\n" not in overload.doc
        assert overload.category in {"math", "compare", "string", "list", "time", "misc"}


def test_names_are_case_insensitive() -> None:
    assert REGISTRY.lookup("weekDay") is REGISTRY.lookup("weekday")
    assert REGISTRY.lookup("ISEMPTY") is REGISTRY.lookup("isEmpty")


def _all_overloads() -> list[Overload]:
    return [o for name in STRICT_FUNCTIONS for o in overloads(name)]


_TEMPLATE_FIELDS = {"args", "rest"}


@pytest.mark.parametrize(
    "overload", [o for o in _all_overloads() if o.inline], ids=lambda o: o.signature()
)
def test_templates_use_only_allowed_names(overload: Overload) -> None:
    assert overload.inline is not None
    fields = [f for _, f, _, _ in string.Formatter().parse(overload.inline) if f is not None]
    positions = [int(f) for f in fields if f.isdigit()]
    assert set(fields) - {str(p) for p in positions} <= _TEMPLATE_FIELDS
    assert all(p < len(overload.params) for p in positions)
    names = [f"a{i}" for i in range(len(overload.params) + 2)]
    expr = overload.inline.format(*names, args=", ".join(names), rest=", ".join(names[2:]))
    tree = ast.parse(expr, mode="eval")
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert used <= set(names) | set(TEMPLATE_GLOBALS) | set(SAFE_BUILTINS)
    # fully parenthesised: the template is one atom (a call, a subscript, a display, a name,
    # or an expression in brackets)
    stripped = overload.inline.strip()
    assert stripped[0] in "([_" or stripped == "None" or stripped.endswith(")")


@pytest.mark.parametrize(
    "overload", [o for o in _all_overloads() if o.inline], ids=lambda o: o.signature()
)
def test_templates_evaluate_each_argument_once_in_order(overload: Overload) -> None:
    """Like a call: every argument once, left to right, with no short-circuit."""
    assert overload.inline is not None
    fields = [f for _, f, _, _ in string.Formatter().parse(overload.inline) if f is not None]
    if "args" in fields:
        assert fields == ["args"]
        return
    assert fields == [str(i) for i in range(len(overload.params))]
    names = [f"a{i}" for i in range(len(overload.params))]
    tree = ast.parse(overload.inline.format(*names), mode="eval")
    for node in ast.walk(tree):
        assert not isinstance(node, ast.BoolOp | ast.IfExp | ast.Lambda)
        if isinstance(node, ast.Compare):
            assert len(node.ops) == 1
            assert not isinstance(node.ops[0], ast.In | ast.NotIn)


def test_every_fixed_pair_precedes_its_variadic_overload() -> None:
    for name in ["+", "-", "*", "/", "mod", "=", "!=", "<", "<=", ">", ">=", "between"]:
        found = overloads(name)
        seen_variadic: set[tuple[Kind, ...]] = set()
        for overload in found:
            if overload.rest is not None:
                seen_variadic.add(overload.params)
            else:
                assert overload.params not in seen_variadic, f"{name} {overload.params}"


def test_decimal_plus_is_tried_before_string_plus() -> None:
    kinds = [o.params[0] for o in overloads("+")]
    assert kinds.index(Kind.DECIMAL) < kinds.index(Kind.STRING)


# -- math -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("+", ["1", "2"], "3"),
        ("+", ["1.2", "3.4"], "4.6"),
        ("+", ["1.2", "3.4", "-5.6"], "-1.0"),
        ("+", ["1.20", "0"], "1.20"),
        ("-", ["1", "2"], "-1"),
        ("-", ["1.2", "3.4"], "-2.2"),
        ("-", ["1.2", "3.4", "-5.6"], "3.4"),
        ("*", ["1", "2"], "2"),
        ("*", ["1.2", "3.4"], "4.08"),
        ("*", ["1.2", "3.4", "-5.6"], "-22.848"),
        ("/", ["1", "2"], "0.5"),
        ("/", ["1.2", "3.4"], "0.3529411764705882"),
        ("/", ["1.2", "3.4", "-5.6"], "-0.06302521008403361"),
        ("/", ["1", "0"], "Infinity"),
        ("/", ["-1", "0"], "-Infinity"),
        ("/", ["2", "3"], "0.6666666666666667"),
        ("+", ["9999999999999999", "1"], "1.000000000000000E+16"),
        ("mod", ["2", "1"], "0"),
        ("mod", ["3", "2"], "1"),
        ("mod", ["4", "3", "2"], "1"),
        ("mod", ["-7", "3"], "-1"),
        ("mod", ["7", "-3"], "1"),
        ("mod", ["5.5", "2"], "1.5"),
    ],
)
def test_arithmetic(name: str, args: list[str], expected: str) -> None:
    result = call(name, *(d(a) for a in args))
    assert isinstance(result, Decimal)
    assert str(result) == expected


def test_arithmetic_needs_two_numbers() -> None:
    for name in ["+", "-", "*", "/", "mod"]:
        assert pick(name, d(1)) is None
        assert pick(name) is None
    assert pick("-", "a", "b") is None
    assert pick("+", "2", d(2)) is None


def test_zero_divided_by_zero_is_nan_not_an_error() -> None:
    assert call("/", d(0), d(0)).is_nan()


@pytest.mark.parametrize(
    ("value", "floor", "ceil"),
    [
        ("2", "2", "2"),
        ("2.4", "2", "3"),
        ("2.5", "2", "3"),
        ("2.9", "2", "3"),
        ("-2.7", "-3", "-2"),
        ("-2", "-2", "-2"),
        ("1E+3", "1E+3", "1E+3"),
        ("12345678901234567.5", "12345678901234567", "12345678901234568"),
    ],
)
def test_floor_and_ceil(value: str, floor: str, ceil: str) -> None:
    assert call("floor", d(value)) == d(floor)
    assert call("ceil", d(value)) == d(ceil)


# -- comparisons ----------------------------------------------------------------------------

NOON = t("2018-01-01T12:00:00Z")
NOON_IN_BERLIN = t("2018-01-01T13:00:00+01:00")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([d(1), d(1)], True),
        (["Hello World", "Hello World"], True),
        ([True, True], True),
        ([False, True], False),
        ([t("2006-01-02T15:04:05Z"), t("2006-01-02T15:04:05Z")], True),
        ([d(1), "1"], True),
        (["Hello", "Bye"], False),
        (["Hello", "Hello", "Bye"], False),
        (["Hello", "Hello", "Hello"], True),
        ([d("1.0"), d(1)], True),  # numeric, unlike Go's text comparison
        ([d("1.0"), "1"], False),  # text: "1.0" is not "1"
        ([NOON, NOON_IN_BERLIN], True),  # instants
        ([NOON, "2018-01-01T12:00:00Z"], True),
        ([True, "true"], True),
        ([True, d(1)], False),
        ([None, None], True),
        ([None, ""], True),
        ([d(1), d(1), d("1.00")], True),
    ],
)
def test_equal(args: list[Any], expected: bool) -> None:
    assert call("=", *args) is expected
    not_expected = not expected if len(args) == 2 else None
    if not_expected is not None:
        assert call("!=", *args) is not_expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([d(1), d(1)], False),
        (["Hello World", "Hello World"], False),
        ([True, True], False),
        ([t("2006-01-02T15:04:05Z"), t("2006-01-02T15:04:05Z")], False),
        ([d(1), "1"], False),
        (["Hello", "Bye"], True),
        (["Hello", "Hello", "Bye"], False),  # Go: false as soon as one equals the first
        (["Hello", "Bye", "Ciao"], True),
    ],
)
def test_not_equal(args: list[Any], expected: bool) -> None:
    assert call("!=", *args) is expected


def test_equality_needs_two_atoms() -> None:
    assert pick("=", d(1)) is None
    assert pick("!=", d(1)) is None
    assert pick("=", [d(1)], [d(1)]) is None


@pytest.mark.parametrize(
    ("name", "a", "b", "expected"),
    [
        (">", 0, 1, False),
        (">", 1, 1, False),
        (">", 2, 1, True),
        ("<", 0, 1, True),
        ("<", 1, 1, False),
        ("<", 2, 1, False),
        (">=", 0, 1, False),
        (">=", 1, 1, True),
        (">=", 2, 1, True),
        ("<=", 0, 1, True),
        ("<=", 1, 1, True),
        ("<=", 2, 1, False),
    ],
)
def test_ordering(name: str, a: int, b: int, expected: bool) -> None:
    assert call(name, d(a), d(b)) is expected
    years = [t(f"{2006 + x}-01-02T15:04:05Z") for x in (a, b)]
    assert call(name, *years) is expected


def test_ordering_is_numeric_and_by_instant() -> None:
    assert call(">", d("10"), d("9")) is True
    assert call("=", d("1.50"), d("1.5")) is True
    assert call("<=", NOON, NOON_IN_BERLIN) is True
    assert call("<", NOON, NOON_IN_BERLIN) is False


def test_ordering_variadic_compares_the_first_with_each() -> None:
    assert call(">", d(5), d(1), d(2)) is True
    assert call(">", d(5), d(1), d(7)) is False
    assert call("<", d(1), d(2), d(3)) is True
    assert call("<=", d(1), d(1), d(0)) is False
    assert call(">=", NOON, NOON, NOON_IN_BERLIN) is True
    assert pick(">", d(0)) is None
    assert pick(">", d(0), NOON) is None
    assert pick(">", "b", "a") is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([1, 0, 3], True),
        ([1, 2, 0, 3], True),
        ([0, 0, 2], False),
        ([2, 0, 2], False),
        ([1, 4, 0, 3], False),
    ],
)
def test_between(args: list[int], expected: bool) -> None:
    assert call("between", *(d(a) for a in args)) is expected
    times = [t(f"{2006 + a}-01-02T00:00:00Z") for a in args]
    assert call("between", *times) is expected


def test_between_times() -> None:
    assert (
        call(
            "betweenTimes",
            t("2006-01-02T19:04:05Z"),
            t("2006-01-01T15:04:05Z"),
            t("2006-01-03T19:04:05Z"),
        )
        is True
    )
    assert (
        call(
            "betweenTimes",
            t("2006-01-01T19:04:05Z"),
            t("2006-01-02T15:04:05Z"),
            t("2006-01-03T19:04:05Z"),
        )
        is False
    )
    assert call("betweenTimes", NOON, NOON, NOON_IN_BERLIN + timedelta(1)) is False
    assert pick("betweenTimes", d(1), d(0), d(2)) is None


# -- strings --------------------------------------------------------------------------------


def test_concatenation() -> None:
    assert call("+", "Hello World", " and ", "Universe") == "Hello World and Universe"
    assert call("+", "a", "b") == "ab"
    assert call("concat", "a", "b", "c") == "abc"
    assert pick("+", "a") is None
    assert pick("concat", "a") is None


def test_string_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules.functions.strings, "MAX_STRING_BYTES", 10)
    assert call("+", "12345", "67890") == "1234567890"
    fails("+", "12345", "678901", error=RuleLimitExceeded)
    fails("+", "ééééé", "é", error=RuleLimitExceeded)  # 12 bytes in UTF-8
    fails("concat", "€€€", "€", error=RuleLimitExceeded)
    fails("toUpper", "ßßßßßß", error=RuleLimitExceeded)  # SS: 12 bytes


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("contains", ["Hello World", "Universe"], False),
        ("contains", ["Hello World", "Hello", "Universe"], False),
        ("contains", ["Hello World", "Hello", "World"], True),
        ("contains", ["Hello World", "o W"], True),
        ("contains", ["Hello", ""], True),
        ("notContains", ["Hello World", "Universe"], True),
        ("notContains", ["Hello World", "Hello", "Universe"], False),
        ("notContains", ["Hello World", "Hello", "World"], False),
        ("notContains", ["Hello World", "Bye", "Universe"], True),
        ("startsWith", ["Hello World", "Bye"], False),
        ("startsWith", ["Hello World", "Hello", "Bye"], False),
        ("startsWith", ["Hello World", "Hello", "Hell"], True),
        ("endsWith", ["Hello World", "Universe"], False),
        ("endsWith", ["Hello World", "World", "Universe"], False),
        ("endsWith", ["Hello World", "World", "ld"], True),
    ],
)
def test_string_tests(name: str, args: list[str], expected: bool) -> None:
    assert call(name, *args) is expected


def test_string_tests_need_a_needle() -> None:
    for name in ["contains", "notContains", "startsWith", "endsWith", "~"]:
        assert pick(name, "Hello") is None
    assert pick("contains", [d(1)], d(1)) is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["^foo", "foobar"], True),
        (["^foo$", "foobar"], False),
        (["oba", "foobar"], True),  # a search, like Go's MatchString
        ([r"^Hello\s\w+", "Hello World", "Hello Universe"], True),
        ([r"^Hello\s\w+", "Hello World", "Bye Universe"], False),
        ([r"(?i)^hello", "HELLO"], True),
        ([r"^\d{3}-\d{4}$", "555-1234"], True),
        (["^é+$", "ééé"], True),
    ],
)
def test_regex(args: list[str], expected: bool) -> None:
    assert call("~", *args) is expected


def test_bad_regex_is_a_run_time_error() -> None:
    assert "invalid regular expression" in fails("~", "[a", "foo")
    fails("~", r"(a)\1", "aa")  # no back-references in RE2
    fails("~", "(?=a)", "a")  # no look-ahead
    fails("~", "a" * 1001, "a")
    assert call("~", "a" * 1000, "a" * 1000) is True


def test_regex_is_linear_time() -> None:
    # catastrophic for a backtracking engine, instant for RE2
    assert call("~", "^(a+)+$", "a" * 50_000 + "b") is False


def test_names() -> None:
    assert call("firstName", "Hello Mr Mock") == "Hello"
    assert call("firstName", "Bond") == "Bond"
    assert call("firstName", "") == ""
    assert call("lastName", "Hello Mr Mock") == "Mock"
    assert call("lastName", "Bond") == "Bond"
    assert call("lastName", "trailing ") == ""


def test_split() -> None:
    assert call("split", "1,2,3,a", ",") == ["1", "2", "3", "a"]
    assert call("split", "", ",") == [""]
    assert call("split", "a,,b", ",") == ["a", "", "b"]
    assert call("split", "abc", "") == ["a", "b", "c"]
    assert call("split", "a--b", "--") == ["a", "b"]


def test_split_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules.functions.strings, "MAX_LIST_LENGTH", 3)
    assert call("split", "a,b,c", ",") == ["a", "b", "c"]
    fails("split", "a,b,c,d", ",", error=RuleLimitExceeded)
    fails("split", "abcd", "", error=RuleLimitExceeded)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (d(1), "1"),
        (d("1.50"), "1.50"),
        (d("1E-8"), "1E-8"),
        (True, "true"),
        (False, "false"),
        ("text", "text"),
        (t("2018-03-11T19:04:05+02:00"), "2018-03-11T19:04:05+02:00"),
        (None, ""),
    ],
)
def test_to_string(value: Any, expected: str) -> None:
    assert call("toString", value) == expected


def test_to_string_takes_atoms_only() -> None:
    assert pick("toString", [d(1)]) is None
    assert pick("toString", {}) is None


def test_string_extras() -> None:
    assert call("toUpper", "abc ß") == "ABC SS"
    assert call("toLower", "ÀBC") == "àbc"
    assert call("trim", "  a b \n") == "a b"
    assert call("length", "héllo") == d(5)
    assert call("length", "") == d(0)


# -- lists ----------------------------------------------------------------------------------

HELLO_WORLD = ["Hello", "World"]


def test_list() -> None:
    assert call("list", "Hello", "World") == HELLO_WORLD
    assert call("list") == []
    assert call("list", d(1), [d(2)], {"a": d(3)}, None, True) == [
        d(1),
        [d(2)],
        {"a": d(3)},
        None,
        True,
    ]


def test_head_tail_drop() -> None:
    assert call("head", HELLO_WORLD) == "Hello"
    assert call("head", ["Hello"]) == "Hello"
    assert call("head", []) is None
    assert call("tail", HELLO_WORLD) == ["World"]
    assert call("tail", ["Hello"]) == []
    assert call("tail", []) == []
    assert call("drop", HELLO_WORLD) == ["Hello"]
    assert call("drop", ["Hello"]) == []
    assert call("drop", []) == []


def test_item() -> None:
    assert call("item", HELLO_WORLD, d(0)) == "Hello"
    assert call("item", HELLO_WORLD, d(1)) == "World"
    assert call("item", HELLO_WORLD, d("1.0")) == "World"
    assert "outside" in fails("item", HELLO_WORLD, d(-1))
    fails("item", HELLO_WORLD, d(2))
    fails("item", [], d(0))
    assert "whole number" in fails("item", HELLO_WORLD, d("0.5"))
    fails("item", HELLO_WORLD, d("Infinity"))
    fails("item", HELLO_WORLD, d("NaN"))
    assert pick("item", HELLO_WORLD, "A") is None


def test_count_is_empty_reverse() -> None:
    assert call("count", [d(1), d(2), d(3), d(4)]) == d(4)
    assert call("count", ["hola", "hola", "amigos"]) == d(3)
    assert call("count", []) == d(0)
    assert call("isEmpty", HELLO_WORLD) is False
    assert call("isEmpty", []) is True
    assert call("reverse", [d(1), d(2), d(3), d(4)]) == [d(4), d(3), d(2), d(1)]
    assert call("reverse", []) == []


def test_list_functions_never_change_their_argument() -> None:
    original = ["World", d(2), "Hello", d(1)]
    snapshot = list(original)
    for name, extra in [
        ("sort", ()),
        ("sort", (True,)),
        ("reverse", ()),
        ("tail", ()),
        ("drop", ()),
        ("push", ("x",)),
        ("append", ("x", "y")),
    ]:
        result = call(name, original, *extra)
        assert result is not original
        assert original == snapshot


def test_sort() -> None:
    mixed = ["World", d(2), "Hello", d(1)]
    assert call("sort", mixed) == [d(1), d(2), "Hello", "World"]
    assert call("sort", mixed, True) == ["World", "Hello", d(2), d(1)]
    assert call("sort", mixed, False) == [d(1), d(2), "Hello", "World"]
    assert call("sort", [d(10), d(9), d("-1.5")]) == [d("-1.5"), d(9), d(10)]
    later, earlier = t("2018-01-02T00:00:00Z"), t("2018-01-02T00:30:00+01:00")
    assert call("sort", [True, later, "b", earlier, d(1), None]) == [
        d(1),
        "b",
        earlier,
        later,
        None,
        True,
    ]
    assert call("sort", ["b", "B", "a"]) == ["B", "a", "b"]
    assert call("sort", []) == []


def test_sort_keeps_equal_items_in_order() -> None:
    one, one_point_oh = d("1"), d("1.0")
    assert [str(x) for x in call("sort", [one, one_point_oh])] == ["1", "1.0"]
    assert [str(x) for x in call("sort", [one, one_point_oh], True)] == ["1", "1.0"]


def test_push_and_append() -> None:
    assert call("push", HELLO_WORLD, "and", "Universe") == [*HELLO_WORLD, "and", "Universe"]
    assert call("append", HELLO_WORLD, "and") == [*HELLO_WORLD, "and"]
    assert call("push", [], [d(1)]) == [[d(1)]]
    assert pick("push", HELLO_WORLD) is None


def test_list_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules.functions.lists, "MAX_LIST_LENGTH", 3)
    assert call("push", ["a", "b"], "c") == ["a", "b", "c"]
    fails("push", ["a", "b"], "c", "d", error=RuleLimitExceeded)
    fails("append", ["a", "b", "c"], "d", error=RuleLimitExceeded)
    assert rules.functions.lists.make_list("a", "b", "c") == ["a", "b", "c"]
    with pytest.raises(RuleLimitExceeded):
        rules.functions.lists.make_list("a", "b", "c", "d")


def test_min_and_max() -> None:
    numbers = [d(x) for x in (100, 4, 3, 10, 6000, 90, 99)]
    assert call("min", numbers) == d(3)
    assert call("max", numbers) == d(6000)
    assert call("min", [*numbers[:5], "Hello", *numbers[5:]]) == d(3)
    assert call("max", [*numbers[:5], "Hello", *numbers[5:]]) == d(6000)
    assert call("min", [d("-1.5"), True, d(0)]) == d("-1.5")
    assert "no numbers" in fails("min", ["Hello", "World"])
    fails("max", ["Hello", "World"])
    fails("max", [])
    fails("min", [d(1), d("NaN")])


def test_join() -> None:
    assert call("join", ["hello", "world"], "-") == "hello-world"
    assert call("join", ["lol"], "-") == "lol"
    assert call("join", ["lo ll"], "-") == "lo ll"
    assert call("join", ["1", "2", "3"], "-") == "1-2-3"
    assert call("join", [], "-") == ""
    assert "strings" in fails("join", [d(1), d(2), d(3)], "-")
    fails("join", ["a", None], "-")


def test_join_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules.functions.lists, "MAX_STRING_BYTES", 5)
    assert call("join", ["a", "b", "c"], "-") == "a-b-c"
    fails("join", ["a", "b", "c"], "--", error=RuleLimitExceeded)


# -- time -----------------------------------------------------------------------------------


def test_after_and_before() -> None:
    early, late = t("2006-01-01T19:04:05Z"), t("2006-01-02T15:04:05Z")
    assert call("after", t("2006-01-02T19:04:05Z"), late) is True
    assert call("after", early, late) is False
    assert call("before", t("2006-01-02T19:04:05Z"), late) is False
    assert call("before", early, late) is True
    assert call("after", NOON, NOON_IN_BERLIN) is False
    assert call("before", NOON, NOON_IN_BERLIN) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-01-02T19:04:05Z", "2018-01-02T19:04:05Z"),
        ("2018-01-02T19:04:05.25+02:00", "2018-01-02T19:04:05.25+02:00"),
        ("2018-01-02", "2018-01-02T00:00:00Z"),
        ("2018-01-02 15:04:05", "2018-01-02T15:04:05Z"),
        ("2018-01-02 15:04", "2018-01-02T15:04:00Z"),
        ("  2018-01-02  ", "2018-01-02T00:00:00Z"),
        ("01/02/2018", "2018-01-02T00:00:00Z"),
        ("Mon, 02 Jan 2006 15:04:05 -0700", "2006-01-02T15:04:05-07:00"),
        ("Mon, 02 Jan 2006 15:04:05 MST", "2006-01-02T15:04:05Z"),
        ("2006-01-02 15:04:05 +0000 UTC", "2006-01-02T15:04:05Z"),
        ("2006-01-02 15:04:05.5 -0700 MST", "2006-01-02T15:04:05.5-07:00"),
        ("March 5, 2018", "2018-03-05T00:00:00Z"),
        ("5 March 2018 10:30", "2018-03-05T10:30:00Z"),
        ("2018", "2018-01-01T00:00:00Z"),
        ("20180102", "2018-01-02T00:00:00Z"),
        ("20180102150405", "2018-01-02T15:04:05Z"),
        ("1332151919", "2012-03-19T10:11:59Z"),
        ("1332151919123", "2012-03-19T10:11:59.123Z"),
        ("1332151919123456", "2012-03-19T10:11:59.123456Z"),
        ("1332151919123456789", "2012-03-19T10:11:59.123456Z"),
    ],
)
def test_parse_time(text: str, expected: str) -> None:
    result = call("parseTime", text)
    assert result == t(expected)
    assert result.utcoffset() == t(expected).utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "-42",
        "42",
        "4.2",
        "+2018",
        "",
        "   ",
        "hello",
        "March 2018",  # no day
        "March 5",  # no year
        "10:30",  # no date
        "2018-02-30",
        "123456789",
        "0000",
        "1" * 101,
        "x" * 200,
        "2018-01-02 25:00",
    ],
)
def test_parse_time_rejects(text: str) -> None:
    fails("parseTime", text)


@pytest.mark.parametrize(
    ("text", "layout", "expected"),
    [
        ("10:30:31", "HH:mm:ss", "0001-01-01T10:30:31Z"),  # Go: year 0
        ("2018-01-02", "YYYY-MM-DD", "2018-01-02T00:00:00Z"),
        ("2018-03-11", "yyyy-MM-dd", "2018-03-11T00:00:00Z"),
        ("11/03/2018", "dd/MM/yyyy", "2018-03-11T00:00:00Z"),
        ("1/3/2018", "d/M/yyyy", "2018-03-01T00:00:00Z"),
        ("11/03/18", "dd/MM/yy", "2018-03-11T00:00:00Z"),
        ("11/03/70", "dd/MM/yy", "1970-03-11T00:00:00Z"),
        ("2018-070", "yyyy-DDD", "2018-03-11T00:00:00Z"),
        ("11 Mar 2018", "dd MMM yyyy", "2018-03-11T00:00:00Z"),
        ("11 march 2018", "dd MMMM yyyy", "2018-03-11T00:00:00Z"),
        ("Sun, 11 Mar 2018", "EEE, dd MMM yyyy", "2018-03-11T00:00:00Z"),
        ("2018-03-11T10:30:00", "yyyy-MM-dd'T'HH:mm:ss", "2018-03-11T10:30:00Z"),
        ("2018-03-11 10:30 +0200", "yyyy-MM-dd HH:mm Z", "2018-03-11T10:30:00+02:00"),
        ("2018-03-11 10:30 -05:30", "yyyy-MM-dd HH:mm ZZ", "2018-03-11T10:30:00-05:30"),
        ("2018-03-11 10:30 Z", "yyyy-MM-dd HH:mm Z", "2018-03-11T10:30:00Z"),
        ("3:04 PM", "h:mm a", "0001-01-01T15:04:00Z"),
        ("12:04 am", "hh:mm a", "0001-01-01T00:04:00Z"),
        ("12:04 PM", "hh:mm a", "0001-01-01T12:04:00Z"),
        ("10:30:31.25", "HH:mm:ss.SSS", "0001-01-01T10:30:31.25Z"),
        ("it's 10", "'it''s' HH", "0001-01-01T10:00:00Z"),
        ("5", "H", "0001-01-01T05:00:00Z"),
    ],
)
def test_parse_time_with_layout(text: str, layout: str, expected: str) -> None:
    result = call("parseTime", text, layout)
    assert result == t(expected)
    assert result.utcoffset() == t(expected).utcoffset()


@pytest.mark.parametrize(
    ("text", "layout", "message"),
    [
        ("10:30:31", "OO:TT:{{", "not supported"),
        ("2018-03-11T10", "yyyy-MM-ddTHH", "not supported"),  # quote literal letters
        ("10:30", "HH:mm:ss", "layout"),
        ("10:30:31 ", "HH:mm:ss", "layout"),
        ("1:3", "HH:mm", "layout"),
        ("25:00", "HH:mm", "valid"),
        ("10:61", "HH:mm", "valid"),
        ("13:00 PM", "hh:mm a", "range"),
        ("2018-02-30", "yyyy-MM-dd", "valid"),
        ("0000-01-01", "yyyy-MM-dd", "valid"),
        ("2018-366", "yyyy-DDD", "range"),
        ("11 Foo 2018", "dd MMM yyyy", "month"),
        ("10 +2500", "HH Z", "offset"),
        ("10 11", "HH H", "two different"),
        ("10", "'HH", "quote"),
        ("10", "H" * 101, "at most"),
    ],
)
def test_parse_time_with_layout_rejects(text: str, layout: str, message: str) -> None:
    assert message in fails("parseTime", text, layout)


def test_parse_time_layout_is_linear() -> None:
    layout = "Hm" * 49
    fails("parseTime", "1" * 99 + "x", layout)


def test_parts() -> None:
    assert call("date", t("2018-01-02T19:04:05Z")) == "2018-01-02"
    assert call("month", t("2018-01-02T19:04:05Z")) == "1"
    assert call("year", t("2018-01-02T19:04:05Z")) == "2018"
    assert call("monthDay", t("2018-01-14T19:04:05Z")) == "14"
    assert call("weekDay", t("2018-03-11T19:04:05Z")) == "0"
    assert call("weekday", t("2018-03-17T19:04:05Z")) == "6"
    assert call("hour", t("2018-03-11T00:04:05Z")) == "0"
    assert call("hour", t("2018-03-11T23:04:05Z")) == "23"
    assert call("hour", t("2018-03-11T04:04:05Z")) == "4"
    assert call("minute", t("2018-03-11T00:04:05Z")) == "4"
    assert call("minute", t("2018-03-11T00:52:05Z")) == "52"
    # the time's own offset counts, not UTC
    late = t("2018-03-11T23:04:05+02:00")
    assert (call("hour", late), call("date", late), call("weekday", late)) == (
        "23",
        "2018-03-11",
        "0",
    )
    assert call("date", datetime(7, 2, 3, tzinfo=UTC)) == "0007-02-03"
    assert call("year", datetime(7, 2, 3, tzinfo=UTC)) == "7"


def test_format_time() -> None:
    assert call("formatTime", t("2018-03-11T19:04:05Z")) == "2018-03-11T19:04:05Z"
    assert call("formatTime", t("2018-03-11T19:04:05.5+02:00")) == "2018-03-11T19:04:05+02:00"
    assert call("formatTime", datetime(1, 1, 1, 10, 30, 31, tzinfo=UTC)) == "0001-01-01T10:30:31Z"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("yyyy-MM-dd", "2018-03-04"),
        ("YYYY-MM-DD", "2018-03-04"),  # D with M: the day of the month
        ("DDD", "063"),  # D alone: the day of the year
        ("D", "63"),
        ("dd/MM/yy", "04/03/18"),
        ("d.M.yyyy", "4.3.2018"),
        ("MMM MMMM", "Mar March"),
        ("E EEEE e", "Sun Sunday 0"),
        ("HH:mm:ss", "13:05:09"),
        ("H:m:s", "13:5:9"),
        ("h:mm a", "1:05 PM"),
        ("K k", "1 13"),
        ("SSS S", "250 2"),
        ("Z ZZ z", "+0530 +05:30 +05:30"),
        ("'Week' w, G C", "Week 9, AD 20"),
        ("'quoted ''text'''", "quoted 'text'"),
        ("yyyy-MM-ddTHH", "2018-03-04T13"),  # unknown letters are copied, as in Go
        ("xxxx", "2018"),
    ],
)
def test_format_time_with_layout(layout: str, expected: str) -> None:
    moment = datetime(2018, 3, 4, 13, 5, 9, 250_000, tzinfo=timezone(timedelta(hours=5.5)))
    assert call("formatTime", moment, layout) == expected


def test_format_time_edge_hours() -> None:
    midnight = t("2018-03-04T00:00:00Z")
    noon = t("2018-03-04T12:00:00Z")
    assert call("formatTime", midnight, "h a k K z") == "12 AM 24 0 UTC"
    assert call("formatTime", noon, "hh a kk KK") == "12 PM 12 00"


def test_match_time() -> None:
    a, b = t("2018-03-11T00:04:05Z"), t("2018-03-11T23:04:05Z")
    assert call("matchTime", a, a, "YYYY-MM-DD") is True
    assert call("matchTime", t("2018-04-11T00:04:05Z"), a, "YYYY-MM-DD") is False
    assert call("matchTime", a, b, "yyyy-MM-dd") is True
    assert call("matchTime", a, b, "yyyy-MM-dd HH") is False
    assert call("matchTime", a, t("2019-03-11T00:04:05Z"), "MM-dd") is True


@pytest.mark.parametrize(
    ("start", "amount", "unit", "expected"),
    [
        ("2018-03-11T00:04:05Z", "1", "minutes", "2018-03-11T00:05:05Z"),
        ("2018-03-12T00:04:05Z", "2", "hours", "2018-03-12T02:04:05Z"),
        ("2018-03-14T02:04:05Z", "5", "days", "2018-03-19T02:04:05Z"),
        ("2018-03-14T02:04:05Z", "1", "day", "2018-03-15T02:04:05Z"),
        ("2018-03-14T02:04:05Z", "1", "Days", "2018-03-15T02:04:05Z"),
        ("2018-03-14T02:04:05Z", "30", "seconds", "2018-03-14T02:04:35Z"),
        ("2018-03-14T02:04:05Z", "2", "weeks", "2018-03-28T02:04:05Z"),
        ("2018-03-14T02:04:05Z", "1.5", "hours", "2018-03-14T03:34:05Z"),
        ("2018-03-14T02:04:05Z", "-1", "days", "2018-03-13T02:04:05Z"),
        ("2018-01-31T02:04:05Z", "1", "month", "2018-02-28T02:04:05Z"),
        ("2020-01-31T02:04:05Z", "1", "months", "2020-02-29T02:04:05Z"),
        ("2018-11-30T02:04:05Z", "3", "months", "2019-02-28T02:04:05Z"),
        ("2020-02-29T02:04:05Z", "1", "years", "2021-02-28T02:04:05Z"),
        ("2018-03-14T02:04:05+02:00", "1", "hours", "2018-03-14T03:04:05+02:00"),
    ],
)
def test_add_duration(start: str, amount: str, unit: str, expected: str) -> None:
    result = call("addDuration", t(start), d(amount), unit)
    assert result == t(expected)
    assert result.utcoffset() == t(expected).utcoffset()
    back = call("subDuration", t(expected), d(amount), unit)
    if "month" not in unit and "year" not in unit:
        assert back == t(start)


def test_sub_duration() -> None:
    assert call("subDuration", t("2018-03-11T00:04:05Z"), d(1), "minutes") == t(
        "2018-03-11T00:03:05Z"
    )
    assert call("subDuration", t("2018-03-31T00:04:05Z"), d(1), "months") == t(
        "2018-02-28T00:04:05Z"
    )


def test_duration_errors() -> None:
    moment = t("2018-03-14T02:04:05Z")
    assert "unit of time" in fails("addDuration", moment, d(5), "eons")
    fails("subDuration", moment, d(5), "eons")
    fails("addDuration", moment, d(5), "")
    assert "whole number" in fails("addDuration", moment, d("1.5"), "months")
    fails("addDuration", moment, d("Infinity"), "days")
    fails("addDuration", moment, d("NaN"), "days")
    assert "out of range" in fails("addDuration", moment, d("1E+10"), "days")
    fails("addDuration", moment, d("9000"), "years")
    fails("subDuration", moment, d("3000"), "years")


def test_days_between() -> None:
    result = call("daysBetween", t("2006-01-02T19:04:05Z"), t("2006-01-02T22:19:05Z"))
    assert result == Decimal("0.1354166666666666574148081281236954964697360992431640625")
    assert result == Decimal(3.25 / 24)
    assert (
        call("daysBetween", t("2006-01-02T22:19:05Z"), t("2006-01-02T19:04:05Z"))
        == result.copy_negate()
    )
    assert call("daysBetween", NOON, NOON_IN_BERLIN) == d(0)
    assert call("daysBetween", NOON, NOON + timedelta(days=3)) == d(3)


def test_days_counts_from_now() -> None:
    now = t("2018-03-14T12:00:00Z")
    state = State(now=now)
    assert call("days", t("2018-03-16T00:00:00Z"), state=state) == Decimal("1.5")
    assert call("days", t("2018-03-13T12:00:00Z"), state=state) == d(-1)
    overload = pick("days", now)
    assert overload is not None
    assert overload.stateful


# -- misc -----------------------------------------------------------------------------------


def test_noop_and_not() -> None:
    assert call("noop") is None
    assert call("not", False) is True
    assert call("not", True) is False
    assert call("not", call("not", False)) is False
    assert pick("not", d(0)) is None
    assert pick("noop", d(0)) is None


# -- templates agree with implementations on many values -------------------------------------

SAMPLES: dict[Kind, list[Any]] = {
    Kind.DECIMAL: [d(0), d(1), d("-2.5"), d("1.20"), d("1E+3"), d("0.3333333333333333")],
    Kind.STRING: ["", "a", "Hello World", "World", "é"],
    Kind.BOOLEAN: [True, False],
    Kind.TIME: [NOON, NOON_IN_BERLIN, t("2018-03-11T23:04:05+02:00"), t("2006-01-02T15:04:05Z")],
    Kind.LIST: [[], [d(1)], ["a", d(2), None]],
}


def _samples_for(kind: Kind) -> list[Any]:
    return [value for k, values in SAMPLES.items() if k & kind for value in values]


@pytest.mark.parametrize(
    "overload", [o for o in _all_overloads() if o.inline], ids=lambda o: o.signature()
)
def test_inline_templates_agree_with_implementations(overload: Overload) -> None:
    import itertools

    arity = len(overload.params) + (2 if overload.rest is not None else 0)
    kinds = [overload.param_kind(i) for i in range(arity)]
    checked = 0
    for values in itertools.product(*(_samples_for(k)[:4] for k in kinds)):
        try:
            expected = overload.impl(*values)
        except Exception as error:
            with pytest.raises(type(error)):
                inline_value(overload, *values)
            continue
        got = inline_value(overload, *values)
        assert type(got) is type(expected), values
        assert got == expected or (expected != expected and got != got), values
        if isinstance(expected, Decimal):
            assert str(got) == str(expected)
        checked += 1
    assert checked


# -- whole expressions, when the compiler is there -------------------------------------------


def test_whole_expressions_through_the_compiler() -> None:
    compiler = pytest.importorskip("rules.compiler")
    evaluate = compiler.evaluate_lisp
    binding = {"Total": d("99.90"), "Name": "Ada Lovelace", "When": t("2018-03-11T23:04:05Z")}
    assert evaluate("(+ (. Total) 0.10)", binding) == d("100.00")
    assert evaluate("(= (. Total) 99.9)", binding) is True
    assert evaluate('(+ "Hi " (firstName (. Name)))', binding) == "Hi Ada"
    assert evaluate("(weekday (. When))", binding) == "0"
    assert evaluate('(formatTime (addDuration (. When) 1 "hours") "yyyy-MM-dd")', binding) == (
        "2018-03-12"
    )
    assert evaluate("(sort (list 10 9 b a) true)") == ["b", "a", d(10), d(9)]
    with pytest.raises(RuleRuntimeError):
        evaluate('(~ "[a" (. Name))', binding)
