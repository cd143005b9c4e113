"""``rules.records``: fast-to-build frozen records behave as the dataclasses they are."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import field
from typing import Any

import pytest

from rules.records import positional_record, record


@record
class Keyed:
    name: str
    value: int = 0
    tags: list[str] = field(default_factory=list)


@positional_record
class Placed:
    sku: str
    quantity: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


def test_a_keyword_record_takes_keywords_defaults_and_factories() -> None:
    first, second = Keyed(name="a"), Keyed(name="a")
    assert (first.name, first.value, first.tags) == ("a", 0, [])
    assert first == second
    assert first.tags is not second.tags  # a fresh default from the factory each time
    with pytest.raises(TypeError):
        Keyed("a")  # type: ignore[misc]


def test_a_positional_record_takes_positions() -> None:
    placed = Placed("SKU-1", 2)
    assert placed == Placed(sku="SKU-1", quantity=2, attributes={})
    assert Placed("SKU-1", 2, {"x": 1}).attributes == {"x": 1}


@pytest.mark.parametrize("made", [Keyed(name="a"), Placed("SKU-1", 1)])
def test_records_are_frozen_slotted_dataclasses(made: Any) -> None:
    assert dataclasses.is_dataclass(made)
    assert not isinstance(made, type)
    assert not hasattr(made, "__dict__")
    first = dataclasses.fields(made)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, first, "b")
    assert dataclasses.replace(made) == made
