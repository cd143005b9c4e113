"""Discounts made true to the cart: rounded to the currency, never more than what they discount;
evaluation groups choosing between campaigns; and discounts that cascade from one campaign to the
next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from campaigns.evaluation import (
    CampaignNode,
    Cascade,
    Exclusion,
    GroupNode,
    ItemData,
    apply_discounts,
    round_money,
    select_by_groups,
    session_binding,
)
from rules.catalogue import build_catalogue
from rules.effects import AddFreeItem, CampaignExclusionReason, SetDiscount, SetDiscountPerItem
from rules.engine import FiredEffect, RuleRef, compile_rulesets

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
    assert {(e.group_id, e.mode) for e in excluded} == ({(7, mode)} if reason else set())
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


# Cascading discounts -------------------------------------------------------------------------

TOTAL = [".", "Session", "Total"]
NOW = datetime(2025, 1, 1, tzinfo=UTC)
CATALOGUE = build_catalogue(custom_attributes={})


def percent_off_total(percent: int) -> dict[str, Any]:
    share = Decimal(percent) / 100
    return {
        "title": f"{percent}% off",
        "condition": ["and"],
        "effects": [["setDiscount", f"{percent}% off", ["*", TOTAL, share]]],
    }


def flat_off_total(amount: int) -> dict[str, Any]:
    return {
        "title": f"{amount} off",
        "condition": ["and"],
        "effects": [["setDiscount", f"{amount} off", amount]],
    }


def percent_off_first_item(percent: int) -> dict[str, Any]:
    """A discount of the first cart item's line, computed from its ``Price``."""
    line = ["*", [".", "Shirt", "Price"], [".", "Shirt", "Quantity"], Decimal(percent) / 100]
    return {
        "title": f"{percent}% off the shirt",
        "bindings": [{"name": "Shirt", "expression": ["item", [".", "Session", "CartItems"], 0]}],
        "condition": ["and"],
        "effects": [["setDiscountPerItem", "shirt", line, [".", "Shirt", "Position"]]],
    }


def cascade(
    campaigns: Sequence[tuple[int, list[dict[str, Any]]]],
    *,
    total: str = "100.00",
    items: Sequence[ItemData] = (),
    nodes: Sequence[CampaignNode] | None = None,
    groups: Sequence[GroupNode] = (),
) -> tuple[list[FiredEffect], list[Exclusion], dict[str, Any]]:
    """Evaluate ``campaigns`` one at a time with discounts cascading; also what the last saw."""
    unit = compile_rulesets(campaigns, catalogue=CATALOGUE)
    session = {
        "Total": Decimal(total),
        "CartItemTotal": sum((i.line_total for i in items), Decimal(0)),
    }
    binding = session_binding(session=session, items=items, profile=None, application={}, now=NOW)
    cascading = Cascade(
        binding,
        order=unit.keys,
        campaigns=nodes if nodes is not None else [CampaignNode(key) for key, _ in campaigns],
        groups=groups,
        minor_units=2,
    )
    result = unit.evaluate(binding, now=NOW, between=cascading)
    assert result.failures == []
    effects, exclusions = cascading.outcome()
    return effects, exclusions, binding["Session"]


def test_two_ten_percent_campaigns_give_ten_then_nine() -> None:
    effects, _, last_saw = cascade([(1, [percent_off_total(10)]), (2, [percent_off_total(10)])])
    assert values(effects) == [(Decimal(10), None), (Decimal(9), None)]
    assert last_saw["Total"] == Decimal(90)


def test_without_cascading_both_discount_the_whole_total() -> None:
    unit = compile_rulesets([(1, [percent_off_total(10)]), (2, [percent_off_total(10)])])
    result = unit.evaluate({"Session": {"Total": Decimal(100), "CartItems": []}}, now=NOW)
    applied = apply_discounts(result.effects, session_total=Decimal(100), items=(), minor_units=2)
    assert values(applied) == [(Decimal(10), None), (Decimal(10), None)]


def test_rules_of_one_campaign_see_what_the_campaigns_before_it_left() -> None:
    effects, _, _ = cascade(
        [(1, [percent_off_total(10), percent_off_total(10)]), (2, [percent_off_total(10)])]
    )
    # Both rules of campaign 1 read 100; campaign 2 reads 100 - 10 - 10.
    assert values(effects) == [(Decimal(10), None), (Decimal(10), None), (Decimal(8), None)]


def test_item_discounts_cascade_on_the_items_price() -> None:
    shirts = ItemData(position=0, sku="SHIRT", quantity=2, price=Decimal("10.00"))
    socks = ItemData(position=1, sku="SOCKS", quantity=1, price=Decimal("5.00"))
    effects, _, last_saw = cascade(
        [(1, [percent_off_first_item(10)]), (2, [percent_off_first_item(10)])],
        total="25.00",
        items=[shirts, socks],
    )
    assert values(effects) == [(Decimal("2.00"), None), (Decimal("1.80"), None)]
    # Campaign 2 saw the shirts' line less campaign 1's 2.00, spread over the two shirts.
    assert last_saw["CartItems"][0]["Price"] == Decimal("9.00")
    assert last_saw["CartItems"][1]["Price"] == Decimal("5.00")
    assert (last_saw["Total"], last_saw["CartItemTotal"]) == (Decimal(23), Decimal(23))


def test_a_session_discount_lowers_the_total_but_not_the_items() -> None:
    shirts = ItemData(position=0, sku="SHIRT", quantity=2, price=Decimal("10.00"))
    _, _, last_saw = cascade(
        [(1, [flat_off_total(5)]), (2, [percent_off_first_item(10)])],
        total="20.00",
        items=[shirts],
    )
    assert last_saw["Total"] == Decimal(15)
    assert last_saw["CartItemTotal"] == Decimal(20)
    assert last_saw["CartItems"][0]["Price"] == Decimal("10.00")


def test_a_fixed_discount_larger_than_what_is_left_is_cut_down() -> None:
    effects, _, _ = cascade([(1, [percent_off_total(10)]), (2, [flat_off_total(95)])])
    assert values(effects) == [(Decimal(10), None), (Decimal(90), Decimal(95))]
    effects, _, _ = cascade([(1, [flat_off_total(100)]), (2, [percent_off_total(10)])])
    assert [entry.rule.ruleset for entry in effects] == [1]  # nothing left for campaign 2


def test_granted_effects_come_through_apply_discounts_unchanged() -> None:
    shirts = ItemData(position=0, sku="SHIRT", quantity=3, price=Decimal("3.33"))
    effects, _, _ = cascade(
        [
            (1, [percent_off_first_item(15)]),
            (2, [percent_off_total(10), percent_off_first_item(15)]),
            (3, [flat_off_total(50)]),
        ],
        total="9.99",
        items=[shirts],
    )
    assert apply_discounts(
        effects, session_total=Decimal("9.99"), items=[shirts], minor_units=2
    ) == (effects)


def test_a_campaign_does_not_see_its_rivals_discounts() -> None:
    # Campaigns 1 and 2 compete in group 7; campaign 3 (in a later group) sees only the winner.
    nodes = [CampaignNode(1, 7, 0), CampaignNode(2, 7, 1), CampaignNode(3, 8, 0)]
    groups = [GroupNode(7, "highestDiscount", position=0), GroupNode(8, "stackable", position=1)]
    effects, exclusions, _ = cascade(
        [(1, [percent_off_total(10)]), (2, [percent_off_total(20)]), (3, [percent_off_total(10)])],
        nodes=nodes,
        groups=groups,
    )
    # 2 reads 100, not 90; 3 reads 100 - 20, not 100 - 10 - 20.
    assert [(e.rule.ruleset, e.effect.value) for e in effects] == [
        (2, Decimal(20)),
        (3, Decimal(8)),
    ]
    assert exclusions == [
        Exclusion(
            campaign_id=1,
            group_id=7,
            mode="highestDiscount",
            reason=CampaignExclusionReason.CAMPAIGN_GAVE_LOWER_DISCOUNT,
        )
    ]


def test_a_campaign_set_aside_by_list_order_does_not_cascade() -> None:
    # Campaigns outside groups run first; then group 7 (the first of 1 and 2), then group 8.
    nodes = [CampaignNode(3), CampaignNode(1, 7, 0), CampaignNode(2, 7, 1), CampaignNode(4, 8, 0)]
    groups = [GroupNode(7, "listOrder", position=0), GroupNode(8, "stackable", position=1)]
    effects, exclusions, _ = cascade(
        [
            (3, [percent_off_total(10)]),
            (1, [flat_off_total(5)]),
            (2, [flat_off_total(30)]),
            (4, [percent_off_total(10)]),
        ],
        nodes=nodes,
        groups=groups,
    )
    # 4 reads 100 - 10 - 5: campaign 2's 30 was set aside.
    assert [(e.rule.ruleset, e.effect.value) for e in effects] == [
        (3, Decimal(10)),
        (1, Decimal(5)),
        (4, Decimal("8.50")),
    ]
    assert [(e.campaign_id, e.group_id, e.mode, e.reason) for e in exclusions] == [
        (2, 7, "listOrder", "CampaignIsNotFirst")
    ]


def test_stacked_campaigns_see_each_other_while_their_group_is_losing() -> None:
    # Group 7 keeps the highest of: campaign 9 alone, or child group 8 (1 and 2 stacked).
    nodes = [CampaignNode(9, 7, 1), CampaignNode(1, 8, 0), CampaignNode(2, 8, 1)]
    groups = [GroupNode(7, "highestDiscount"), GroupNode(8, "stackable", parent_id=7)]
    effects, exclusions, _ = cascade(
        [(9, [flat_off_total(30)]), (1, [percent_off_total(10)]), (2, [percent_off_total(10)])],
        nodes=nodes,
        groups=groups,
    )
    # When 2 runs, 9 leads; 2 still sees 1 (they stack) and not 9 (its rival): 10% of 90.
    assert [(e.rule.ruleset, e.effect.value) for e in effects] == [(9, Decimal(30))]
    assert sorted((e.campaign_id, e.group_id) for e in exclusions) == [(1, 7), (2, 7)]
    effects, _, _ = cascade(
        [(9, [flat_off_total(15)]), (1, [percent_off_total(10)]), (2, [percent_off_total(10)])],
        nodes=nodes,
        groups=groups,
    )
    assert [(e.rule.ruleset, e.effect.value) for e in effects] == [
        (1, Decimal(10)),
        (2, Decimal(9)),
    ]


def test_a_discount_cut_down_is_the_discount_with_its_value_and_desired_value_replaced() -> None:
    # The applicator builds a granted SetDiscount directly rather than with replace(): the
    # same record, as long as these are its fields.
    from dataclasses import fields, replace

    assert [field.name for field in fields(SetDiscount)] == [
        "name",
        "value",
        "scope",
        "desired_value",
    ]
    wanted = SetDiscount(name="ten", value=Decimal("12.345"))
    [granted] = apply_discounts(
        fired(wanted), session_total=Decimal("5.00"), items=ITEMS, minor_units=2
    )
    assert granted.effect == replace(wanted, value=Decimal("5.00"), desired_value=Decimal("12.35"))
    assert granted.rule == REF
