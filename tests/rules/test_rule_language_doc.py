"""docs/rule-language.md tells the truth: its examples evaluate to what it says, and its
function reference is the registry's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules import reference
from rules.ast import parse_lisp
from rules.compiler import compile_node
from rules.values import to_text

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "rule-language.md"
EXAMPLES = [
    tuple(part.strip() for part in line.split("⇒"))
    for block in re.findall(r"```talang\n(.*?)```", DOCUMENT.read_text(), re.S)
    for line in block.splitlines()
    if "⇒" in line
]


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize(("expression", "expected"), EXAMPLES)
def test_example(expression: str, expected: str) -> None:
    assert to_text(compile_node(parse_lisp(expression)).evaluate({})) == expected


def test_function_reference_is_up_to_date() -> None:
    text = DOCUMENT.read_text()
    assert reference.splice(text, reference.render()) == text, (
        "docs/rule-language.md is stale: run python -m rules.reference --write"
    )


PYTHON_EXAMPLES = re.findall(r"```python\n(.*?)```", DOCUMENT.read_text(), re.S)


@pytest.mark.parametrize("source", PYTHON_EXAMPLES)
def test_python_example_runs(source: str) -> None:
    exec(compile(source, "docs/rule-language.md", "exec"), {})
