"""From stored data to a rule binding, and from fired effects to effects that apply.

Two pure steps around the rule engine (no queries here; the session service loads and writes):

- ``session_binding`` lays out what rules read (``Session``, ``Session.CartItems``, ``Profile``,
  ``Application``, ``Now``) with Talon.One's names, numbers as ``Decimal``;
- ``apply_discounts`` makes the engine's discounts true to the cart: rounded to the currency's
  minor unit (half up), never more than what they discount (the session total, or the line of
  the item they name), in the order the campaigns produced them. A discount cut down keeps what
  the rule asked for as ``desired_value``; one with nothing left to discount does not apply.

Custom attributes are stored in JSON as text where JSON has no exact type (decimals, times);
``typed_attributes`` reads them back with the types of the application's attribute definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rules.effects import SetDiscount, SetDiscountPerItem
from rules.engine import FiredEffect
from rules.types import Kind, Type
from rules.values import parse_rfc3339

ZERO = Decimal(0)


def stored_value(value: Any) -> Any:
    """A run-time value as stored in a JSON column: decimals and times as their text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [stored_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: stored_value(item) for key, item in value.items()}
    return value


def typed_attributes(stored: Mapping[str, Any], types: Mapping[str, Type]) -> dict[str, Any]:
    """Stored attribute values read back as what their definitions say they are."""
    return {name: _typed(value, types.get(name)) for name, value in stored.items()}


def _typed(value: Any, type_: Type | None) -> Any:
    if value is None or type_ is None:
        return value
    if type_.kind == Kind.DECIMAL and isinstance(value, str | int):
        return Decimal(value)
    if type_.kind == Kind.TIME and isinstance(value, str):
        parsed = parse_rfc3339(value) or datetime.fromisoformat(value)
        return parsed
    if type_.kind == Kind.LIST and isinstance(value, list) and type_.item is not None:
        return [_typed(item, type_.item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class ItemData:
    """A cart item as rules read it."""

    position: int
    sku: str
    quantity: int
    price: Decimal
    name: str = ""
    category: str = ""
    product_name: str = ""
    weight: Decimal | None = None
    height: Decimal | None = None
    width: Decimal | None = None
    length: Decimal | None = None
    returned_quantity: int = 0
    attributes: Mapping[str, Any] | None = None
    additional_costs: Mapping[str, Decimal] | None = None

    @property
    def line_total(self) -> Decimal:
        return self.price * self.quantity


def item_binding(item: ItemData) -> dict[str, Any]:
    binding: dict[str, Any] = {
        "Position": Decimal(item.position),
        "SKU": item.sku,
        "Quantity": Decimal(item.quantity),
        "ReturnedQuantity": Decimal(item.returned_quantity),
        "RemainingQuantity": Decimal(item.quantity - item.returned_quantity),
        "Price": item.price,
        "Name": item.name,
        "Category": item.category,
        "Product": {"Name": item.product_name},
        "Attributes": dict(item.attributes or {}),
        "AdditionalCosts": {
            name: {"Price": price} for name, price in (item.additional_costs or {}).items()
        },
    }
    for key, value in (
        ("Weight", item.weight),
        ("Height", item.height),
        ("Width", item.width),
        ("Length", item.length),
    ):
        if value is not None:
            binding[key] = value
    return binding


def session_binding(
    *,
    session: Mapping[str, Any],
    items: Sequence[ItemData],
    profile: Mapping[str, Any] | None,
    application: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The binding of one evaluation. ``session`` and ``profile`` use the catalogue's names."""
    binding: dict[str, Any] = {
        "Session": {**session, "CartItems": [item_binding(item) for item in items]},
        "Application": dict(application),
        "Now": now,
    }
    if profile is not None:
        binding["Profile"] = dict(profile)
    return binding


def profile_binding(profile: Any, types: Mapping[str, Type]) -> dict[str, Any] | None:
    """A ``CustomerProfile`` (or None) as rules read it."""
    if profile is None:
        return None
    return {
        "IntegrationId": profile.integration_id,
        "CreatedAt": profile.created,
        "LastActivity": profile.last_activity,
        "ClosedSessions": Decimal(profile.closed_sessions),
        "TotalSales": profile.total_sales,
        "AudienceMemberships": [],
        "LoyaltyMemberships": [],
        "Attributes": typed_attributes(profile.attributes, types),
    }


def round_money(amount: Decimal, minor_units: int) -> Decimal:
    """``amount`` rounded half up to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_units), rounding=ROUND_HALF_UP)


def apply_discounts(
    fired: Iterable[FiredEffect],
    *,
    session_total: Decimal,
    items: Sequence[ItemData],
    minor_units: int,
) -> list[FiredEffect]:
    """The effects as they apply to this cart (see the module's documentation)."""
    remaining_total = session_total
    remaining_lines = {item.position: item.line_total for item in items}
    applied: list[FiredEffect] = []
    for entry in fired:
        effect = entry.effect
        if isinstance(effect, SetDiscount):
            wanted = round_money(effect.value, minor_units)
            value = min(wanted, remaining_total)
            if value <= ZERO:
                continue
            remaining_total -= value
            applied.append(entry._replace(effect=_granted(effect, value, wanted)))
        elif isinstance(effect, SetDiscountPerItem):
            line = remaining_lines.get(effect.position)
            if line is None:
                continue
            wanted = round_money(effect.value, minor_units)
            value = min(wanted, line, remaining_total)
            if value <= ZERO:
                continue
            remaining_lines[effect.position] = line - value
            remaining_total -= value
            applied.append(entry._replace(effect=_granted(effect, value, wanted)))
        else:
            applied.append(entry)
    return applied


def _granted(effect: Any, value: Decimal, wanted: Decimal) -> Any:
    if value == wanted and effect.value == wanted:
        return effect
    desired = wanted if value < wanted else None
    return replace(effect, value=value, desired_value=desired)


@dataclass(frozen=True, slots=True)
class GroupNode:
    """An evaluation group: how its members compete, and where it stands in its parent."""

    id: int
    mode: str
    """``stackable``, ``listOrder``, ``lowestDiscount`` or ``highestDiscount``."""
    parent_id: int | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class CampaignNode:
    """A campaign's place in the evaluation tree."""

    id: int
    group_id: int | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A campaign whose effects were set aside by its group, and why (Talon.One's reasons)."""

    campaign_id: int
    group_id: int
    reason: str


_EXCLUSION_REASON = {
    "listOrder": "CampaignIsNotFirst",
    "lowestDiscount": "CampaignGaveLowerDiscount",
    "highestDiscount": "CampaignGaveLowerDiscount",
}


def _discount(effects: Sequence[FiredEffect]) -> Decimal:
    return sum(
        (
            fired.effect.value
            for fired in effects
            if isinstance(fired.effect, SetDiscount | SetDiscountPerItem)
        ),
        ZERO,
    )


def select_by_groups(
    fired: Sequence[FiredEffect],
    *,
    campaigns: Sequence[CampaignNode],
    groups: Sequence[GroupNode],
) -> tuple[list[FiredEffect], list[Exclusion]]:
    """Keep the effects that the evaluation tree lets through, in their original order.

    Campaigns outside any group stack. Inside a group, members (its campaigns and its child
    groups, by position) that produced effects compete by the group's mode: ``stackable`` keeps
    them all, ``listOrder`` the first, ``highestDiscount`` the one that discounts most and
    ``lowestDiscount`` the one that discounts least (the first of equals). A child group takes
    part as one member, with what it kept.
    """
    by_campaign: dict[int, list[FiredEffect]] = {}
    for entry in fired:
        by_campaign.setdefault(entry.rule.ruleset, []).append(entry)
    known = {group.id: group for group in groups}
    members: dict[int | None, list[tuple[int, int, str, int]]] = {}
    for campaign in campaigns:
        home = campaign.group_id if campaign.group_id in known else None
        members.setdefault(home, []).append((campaign.position, campaign.id, "campaign", 0))
    for node in groups:
        parent = node.parent_id if node.parent_id in known else None
        members.setdefault(parent, []).append((node.position, node.id, "group", 0))
    excluded: list[Exclusion] = []

    def kept(group_id: int | None, depth: int) -> set[int]:
        """The campaigns whose effects the group lets through."""
        contenders: list[tuple[set[int], Decimal]] = []
        for _, member_id, kind, _ in sorted(members.get(group_id, [])):
            if kind == "campaign":
                chosen = {member_id} if by_campaign.get(member_id) else set()
            elif depth < len(known):
                chosen = kept(member_id, depth + 1)
            else:
                chosen = set()
            if chosen:
                total = sum((_discount(by_campaign[c]) for c in chosen), ZERO)
                contenders.append((chosen, total))
        mode = known[group_id].mode if group_id is not None else "stackable"
        if mode == "stackable" or len(contenders) <= 1:
            return set().union(*(chosen for chosen, _ in contenders))
        if mode == "listOrder":
            winner = contenders[0]
        elif mode == "highestDiscount":
            winner = max(contenders, key=lambda c: c[1])
        else:
            winner = min(contenders, key=lambda c: c[1])
        for chosen, _ in contenders:
            if chosen is not winner[0]:
                assert group_id is not None
                reason = _EXCLUSION_REASON.get(mode, "CampaignNotInEvaluationSet")
                excluded.extend(Exclusion(c, group_id, reason) for c in sorted(chosen))
        return winner[0]

    through = kept(None, 0)
    return [entry for entry in fired if entry.rule.ruleset in through], excluded
