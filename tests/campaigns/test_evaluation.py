"""Discounts made true to the cart: rounded to the currency, never more than what they discount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.evaluation import (
    CampaignNode,
    GroupNode,
    ItemData,
    apply_discounts,
    round_money,
    select_by_groups,
    session_binding,
)
from rules.effects import AddFreeItem, SetDiscount, SetDiscountPerItem
from rules.engine import FiredEffect, RuleRef

REF = RuleRef(1, 0, "rule")
ITEMS = [
    ItemData(position=0, sku="A", quantity=2, price=Decimal("10.00")),
    ItemData(position=1, sku="B", quantity=1, price=Decimal("5.00")),
]


def fired(*effects: object) -> list[FiredEffect]:
    return [FiredEffect(REF, effect) for effect in effects]


def values(applied: list[FiredEffect]) -> list[tuple[Decimal, Decimal | None]]:
    return [(a.effect.value, a.effect.desired_value) for a in applied]


def test_rounding_follows_the_currencys_minor_unit() -> None:
    assert round_money(Decimal("12.345"), 2) == Decimal("12.35")
    assert round_money(Decimal("12.5"), 0) == Decimal("13")
    assert round_money(Decimal("1.2345"), 3) == Decimal("1.235")


def test_session_discounts_share_what_the_session_is_worth() -> None:
    applied = apply_discounts(
        fired(SetDiscount(name="a", value=Decimal(20)), SetDiscount(name="b", value=Decimal(20))),
        session_total=Decimal(25),
        items=ITEMS,
        minor_units=2,
    )
    assert values(applied) == [(Decimal(20), None), (Decimal(5), Decimal(20))]


def test_a_discount_with_nothing_left_to_discount_does_not_apply() -> None:
    applied = apply_discounts(
        fired(SetDiscount(name="a", value=Decimal(30)), SetDiscount(name="b", value=Decimal(1))),
        session_total=Decimal(25),
        items=ITEMS,
        minor_units=2,
    )
    assert [a.effect.name for a in applied] == ["a"]


def test_item_discounts_are_capped_by_their_line() -> None:
    applied = apply_discounts(
        fired(
            SetDiscountPerItem(name="a", value=Decimal(8), position=1),
            SetDiscountPerItem(name="b", value=Decimal(15), position=0),
            SetDiscountPerItem(name="c", value=Decimal(15), position=0),
            SetDiscountPerItem(name="nowhere", value=Decimal(1), position=7),
        ),
        session_total=Decimal(25),
        items=ITEMS,
        minor_units=2,
    )
    assert values(applied) == [
        (Decimal(5), Decimal(8)),
        (Decimal(15), None),
        (Decimal(5), Decimal(15)),
    ]


def test_other_effects_pass_through() -> None:
    gift = AddFreeItem(sku="GIFT", name="A gift")
    applied = apply_discounts(fired(gift), session_total=Decimal(0), items=(), minor_units=2)
    assert [a.effect for a in applied] == [gift]


def test_the_binding_uses_the_catalogues_names() -> None:
    binding = session_binding(
        session={"Total": Decimal(25)},
        items=ITEMS,
        profile=None,
        application={"Id": 1},
        now=None,  # type: ignore[arg-type]
    )
    assert binding["Session"]["CartItems"][0]["Quantity"] == Decimal(2)
    assert binding["Session"]["CartItems"][1]["Product"] == {"Name": ""}
    assert "Profile" not in binding


def discount(campaign: int, value: str) -> FiredEffect:
    return FiredEffect(
        RuleRef(campaign, 0, "r"), SetDiscount(name=f"c{campaign}", value=Decimal(value))
    )


def kept(selected: list[FiredEffect]) -> list[int]:
    return [entry.rule.ruleset for entry in selected]


FIRED = [discount(1, "5"), discount(2, "20"), discount(3, "10"), discount(4, "1")]


def test_campaigns_outside_groups_stack() -> None:
    nodes = [CampaignNode(i) for i in (1, 2, 3, 4)]
    selected, excluded = select_by_groups(FIRED, campaigns=nodes, groups=[])
    assert (kept(selected), excluded) == ([1, 2, 3, 4], [])


@pytest.mark.parametrize(
    ("mode", "winner", "reason"),
    [
        ("stackable", [1, 2, 3], None),
        ("listOrder", [1], "CampaignIsNotFirst"),
        ("highestDiscount", [2], "CampaignGaveLowerDiscount"),
        ("lowestDiscount", [1], "CampaignGaveLowerDiscount"),
    ],
)
def test_a_group_keeps_what_its_mode_says(mode: str, winner: list[int], reason: str | None) -> None:
    nodes = [CampaignNode(1, 7, 0), CampaignNode(2, 7, 1), CampaignNode(3, 7, 2), CampaignNode(4)]
    selected, excluded = select_by_groups(FIRED, campaigns=nodes, groups=[GroupNode(7, mode)])
    assert kept(selected) == [*winner, 4]
    assert {e.reason for e in excluded} == ({reason} if reason else set())
    assert sorted(e.campaign_id for e in excluded) == sorted({1, 2, 3} - set(winner))


def test_campaigns_without_effects_do_not_compete() -> None:
    nodes = [CampaignNode(9, 7, 0), CampaignNode(2, 7, 1), *(CampaignNode(i) for i in (1, 3, 4))]
    selected, excluded = select_by_groups(
        FIRED, campaigns=nodes, groups=[GroupNode(7, "listOrder")]
    )
    assert kept(selected) == [1, 2, 3, 4]  # 9 gave nothing, so 2 is the first that did
    assert excluded == []


def test_a_child_group_competes_as_one_member() -> None:
    nodes = [CampaignNode(1, 8, 0), CampaignNode(3, 8, 1), CampaignNode(2, 7, 5), CampaignNode(4)]
    groups = [GroupNode(7, "highestDiscount"), GroupNode(8, "stackable", parent_id=7, position=0)]
    selected, excluded = select_by_groups(FIRED, campaigns=nodes, groups=groups)
    assert kept(selected) == [2, 4]  # 2 gives 20 > the child's 5 + 10
    assert sorted(e.campaign_id for e in excluded) == [1, 3]
