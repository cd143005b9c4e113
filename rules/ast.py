"""The syntax tree of the rule language and its two readers.

Talang expressions come in two spellings that read into the same tree:

- JSON S-expressions, how rules are stored and sent: ``[">", [".", "Session", "Total"], 100]``;
- the Lisp text form, for tests and power users: ``(> (. Session Total) 100)``.

The tree has three kinds of node. An ``Atom`` is a literal value and keeps the text it was written
with (Talang compares atoms and reads map keys by that text). A ``Call`` is a block whose head
names a function. A ``Block`` is an anonymous block: its items are evaluated in order, and it is
also how a lambda's parameter list is written (``[["Item"], body]``).

Every node carries the JSON pointer (RFC 6901) of where it stands in the document it was read
from, so that the checker can point at the offending node. The readers enforce the size, depth
and node-count limits before anything else looks at the input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from rules.errors import RuleLimitExceeded, RuleSyntaxError
from rules.limits import MAX_DEPTH, MAX_NODES, MAX_SOURCE_BYTES
from rules.values import parse_rfc3339, to_text

Value = Decimal | str | bool | datetime | None | list[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Atom:
    """A literal: a decimal, string, boolean, time or null, with its source text."""

    value: Decimal | str | bool | datetime | None
    text: str
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Call:
    """A block whose head is a function name: ``(name args…)``."""

    name: str
    args: tuple[Node, ...]
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Block:
    """An anonymous block: ``((a) (b))``; evaluates its items in order, yields the last."""

    items: tuple[Node, ...]
    pointer: str = ""


Node = Atom | Call | Block


# ---------------------------------------------------------------------------------------------
# JSON S-expressions


class _Budget:
    """Counts nodes while reading, so that a huge document fails early."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes = 0

    def take(self, pointer: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise RuleLimitExceeded(
                f"the expression has more than {MAX_NODES} nodes", pointer=pointer
            )


def parse_json_text(text: str | bytes, *, pointer: str = "") -> Node:
    """Read a JSON S-expression from its text."""
    if len(text) > MAX_SOURCE_BYTES:
        raise RuleLimitExceeded(f"the expression is larger than {MAX_SOURCE_BYTES} bytes")
    try:
        data = json.loads(text, parse_float=Decimal)
    except RecursionError:
        raise RuleLimitExceeded(
            f"the expression is nested deeper than {MAX_DEPTH} levels", pointer=pointer
        ) from None
    except ValueError as error:
        raise RuleSyntaxError(f"not valid JSON: {error}", pointer=pointer) from None
    return parse_json(data, pointer=pointer)


def parse_json(data: Any, *, pointer: str = "") -> Node:
    """Read a JSON S-expression that is already decoded (lists, strings, numbers …)."""
    return _read_json(data, pointer, 0, _Budget())


def _read_json(data: Any, pointer: str, depth: int, budget: _Budget) -> Node:
    budget.take(pointer)
    if depth > MAX_DEPTH:
        raise RuleLimitExceeded(
            f"the expression is nested deeper than {MAX_DEPTH} levels", pointer=pointer
        )
    if isinstance(data, list):
        if not data:
            raise RuleSyntaxError("an empty expression [] means nothing", pointer=pointer)
        head = data[0]
        children = tuple(
            _read_json(item, f"{pointer}/{index}", depth + 1, budget)
            for index, item in enumerate(data)
            if index > 0 or not isinstance(head, str)
        )
        if isinstance(head, str):
            if head == "":
                return Block(children, pointer)
            return Call(head, children, pointer)
        if isinstance(head, list):
            return Block(children, pointer)
        raise RuleSyntaxError(
            "an expression starts with a function name or a parameter list", pointer=pointer
        )
    return _json_atom(data, pointer)


def _json_atom(data: Any, pointer: str) -> Atom:
    if isinstance(data, str):
        return Atom(data, data, pointer)
    if isinstance(data, bool):
        return Atom(data, "true" if data else "false", pointer)
    if isinstance(data, int):
        value = Decimal(data)
        return Atom(value, str(data), pointer)
    if isinstance(data, float):
        text = repr(data)
        if text in ("inf", "-inf", "nan"):
            raise RuleSyntaxError("numbers must be finite", pointer=pointer)
        return Atom(Decimal(text), text, pointer)
    if isinstance(data, Decimal):
        if not data.is_finite():
            raise RuleSyntaxError("numbers must be finite", pointer=pointer)
        return Atom(data, str(data), pointer)
    if data is None:
        return Atom(None, "null", pointer)
    if isinstance(data, dict):
        return _tagged_atom(data, pointer)
    raise RuleSyntaxError(f"{type(data).__name__} is not part of the language", pointer=pointer)


def _tagged_atom(data: dict[str, Any], pointer: str) -> Atom:
    """``{"decimal": "1.20"}``, ``{"time": "…"}``, ``{"bool": true, "text": "True"}``."""
    if set(data) == {"decimal"} and isinstance(data["decimal"], str):
        text = data["decimal"]
        value = _decimal_or_none(text)
        if value is None:
            raise RuleSyntaxError(f"{text!r} is not a decimal", pointer=pointer)
        return Atom(value, text, pointer)
    if set(data) == {"time"} and isinstance(data["time"], str):
        moment = parse_rfc3339(data["time"])
        if moment is None:
            raise RuleSyntaxError(f"{data['time']!r} is not an RFC 3339 time", pointer=pointer)
        return Atom(moment, data["time"], pointer)
    if set(data) == {"bool", "text"} and isinstance(data["bool"], bool):
        text = str(data["text"])
        if text.lower() != str(data["bool"]).lower():
            raise RuleSyntaxError(f"{text!r} does not spell {data['bool']}", pointer=pointer)
        return Atom(data["bool"], text, pointer)
    raise RuleSyntaxError("a map is not an expression (build maps with kv)", pointer=pointer)


def to_json(node: Node, *, tagged: bool = False) -> Any:
    """Write a node back as a JSON S-expression.

    Decimals that are integers become JSON integers. Others stay ``Decimal`` (for an encoder that
    writes them as numbers), or with ``tagged`` become ``{"decimal": text}`` as in the Talang
    conformance suite, which also tags times and booleans not spelled in lower case.
    """
    if isinstance(node, Call):
        return [node.name, *(to_json(arg, tagged=tagged) for arg in node.args)]
    if isinstance(node, Block):
        return ["", *(to_json(item, tagged=tagged) for item in node.items)]
    value = node.value
    if isinstance(value, bool):
        if tagged and node.text not in ("true", "false"):
            return {"bool": value, "text": node.text}
        return value
    if isinstance(value, Decimal):
        if _is_json_integer(node.text, value):
            return int(value)
        return {"decimal": node.text} if tagged else value
    if isinstance(value, datetime):
        return {"time": node.text} if tagged else node.text
    return value


def _is_json_integer(text: str, value: Decimal) -> bool:
    return (
        re.fullmatch(r"-?(0|[1-9][0-9]*)", text) is not None
        and text != "-0"
        and abs(value) <= 2**53
    )


# ---------------------------------------------------------------------------------------------
# The Lisp text form

_DECIMAL_WORD = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEAN_WORDS = {"true": True, "false": False}


def _decimal_or_none(text: str) -> Decimal | None:
    if not _DECIMAL_WORD.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def atom_from_word(word: str, pointer: str = "") -> Atom:
    """Type a bare word as Talang's lexer does: decimal, boolean, time, else string."""
    number = _decimal_or_none(word)
    if number is not None:
        return Atom(number, word, pointer)
    flag = _BOOLEAN_WORDS.get(word.lower())
    if flag is not None:
        return Atom(flag, word, pointer)
    if "T" in word:
        moment = parse_rfc3339(word)
        if moment is not None:
            return Atom(moment, word, pointer)
    return Atom(word, word, pointer)


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    quoted: bool


_OPEN = "("
_CLOSE = ")"


def _tokens(source: str) -> list[str | _Word]:
    """Split Lisp text into parentheses and words; quoted strings keep their backslashes,
    except that ``\\"`` stands for a quote inside a quoted string."""
    out: list[str | _Word] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(ch)
            i += 1
        elif ch == '"':
            j = i + 1
            chunk: list[str] = []
            while j < n and source[j] != '"':
                if source[j] == "\\" and j + 1 < n and source[j + 1] == '"':
                    chunk.append('"')
                    j += 2
                    continue
                chunk.append(source[j])
                j += 1
            if j >= n:
                raise RuleSyntaxError(f"unterminated string starting at character {i}")
            out.append(_Word("".join(chunk), quoted=True))
            i = j + 1
        else:
            j = i
            while j < n and not source[j].isspace() and source[j] not in '()"':
                j += 1
            out.append(_Word(source[i:j], quoted=False))
            i = j
    return out


def parse_lisp(source: str, *, pointer: str = "") -> Node:
    """Read the Lisp text form (``(+ 1 2)``; outer parentheses may be left out)."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise RuleLimitExceeded(f"the expression is larger than {MAX_SOURCE_BYTES} bytes")
    tokens = _tokens(source)
    if not tokens:
        raise RuleSyntaxError("the expression is empty", pointer=pointer)
    if len(tokens) == 1 and isinstance(tokens[0], _Word):
        return _lisp_atom(tokens[0], pointer)
    if tokens[0] != _OPEN or _closing_index(tokens, 0) != len(tokens) - 1:
        tokens = [_OPEN, *tokens, _CLOSE]
    tree, end = _read_list(tokens, 0, depth=0)
    if end != len(tokens):
        raise RuleSyntaxError("unexpected text after the expression", pointer=pointer)
    return _build(tree, pointer, 0, _Budget())


def _closing_index(tokens: list[str | _Word], start: int) -> int:
    level = 0
    for index in range(start, len(tokens)):
        part = tokens[index]
        if part == _OPEN:
            level += 1
        elif part == _CLOSE:
            level -= 1
            if level == 0:
                return index
    return -1


_Tree = list["_Tree | _Word"]


def _read_list(tokens: list[str | _Word], start: int, depth: int) -> tuple[_Tree, int]:
    """Read ``( … )`` starting at ``tokens[start]``; return the items and the next index."""
    if depth > MAX_DEPTH:
        raise RuleLimitExceeded(f"the expression is nested deeper than {MAX_DEPTH} levels")
    items: _Tree = []
    index = start + 1
    while index < len(tokens):
        part = tokens[index]
        if part == _CLOSE:
            return items, index + 1
        if part == _OPEN:
            child, index = _read_list(tokens, index, depth + 1)
            items.append(child)
        else:
            assert isinstance(part, _Word)
            items.append(part)
            index += 1
    raise RuleSyntaxError("a parenthesis is not closed")


def _build(tree: _Tree, pointer: str, depth: int, budget: _Budget) -> Node:
    # ((+ 1 2)) is (+ 1 2): a block holding only one block is that block.
    while len(tree) == 1 and isinstance(tree[0], list):
        tree = tree[0]
    budget.take(pointer)
    if not tree:
        raise RuleSyntaxError("an empty expression () means nothing", pointer=pointer)
    head = tree[0]
    if isinstance(head, _Word):
        args = tuple(
            _build_item(item, f"{pointer}/{index}", depth + 1, budget)
            for index, item in enumerate(tree[1:], start=1)
        )
        return Call(head.text, args, pointer)
    items = tuple(
        _build_item(item, f"{pointer}/{index}", depth + 1, budget)
        for index, item in enumerate(tree, start=1)
    )
    return Block(items, pointer)


def _build_item(item: _Tree | _Word, pointer: str, depth: int, budget: _Budget) -> Node:
    if isinstance(item, _Word):
        budget.take(pointer)
        return _lisp_atom(item, pointer)
    return _build(item, pointer, depth, budget)


def _lisp_atom(word: _Word, pointer: str) -> Atom:
    if word.quoted:
        return Atom(word.text, word.text, pointer)
    return atom_from_word(word.text, pointer)


def to_lisp(node: Node) -> str:
    """Write a node in the Lisp text form."""
    if isinstance(node, Call):
        parts = [node.name, *(to_lisp(arg) for arg in node.args)]
        return "(" + " ".join(parts) + ")"
    if isinstance(node, Block):
        return "(" + " ".join(to_lisp(item) for item in node.items) + ")"
    if isinstance(node.value, str):
        if node.text == "" or re.search(r'[\s()"]', node.text) or _looks_typed(node.text):
            return '"' + node.text.replace('"', '\\"') + '"'
        return node.text
    return node.text if node.text else to_text(node.value)


def _looks_typed(word: str) -> bool:
    return not isinstance(atom_from_word(word).value, str)
