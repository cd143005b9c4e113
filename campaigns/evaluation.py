"""From stored data to a rule binding, and from fired effects to effects that apply.

Two pure steps around the rule engine (no queries here; the session service loads and writes):

- ``session_binding`` lays out what rules read (``Session``, ``Session.CartItems``, ``Profile``,
  ``Application``, ``Now``) with Talon.One's names, numbers as ``Decimal``;
- ``apply_discounts`` makes the engine's discounts true to the cart: rounded to the currency's
  minor unit (half up), never more than what they discount (the session total, or the line of
  the item they name), in the order the campaigns produced them. A discount cut down keeps what
  the rule asked for as ``desired_value``; one with nothing left to discount does not apply.
  The arithmetic is ``DiscountLedger``'s, which cascading shares;
- ``select_by_groups`` keeps the effects the evaluation groups let through, and says which
  campaigns it set aside and why;
- ``Cascade`` runs between campaigns when discounts cascade (``CascadeSettings``): each campaign
  sees the session as the campaigns before it left it (see the class).

Custom attributes are stored in JSON as text where JSON has no exact type (decimals, times);
``typed_attributes`` reads them back with the types of the application's attribute definitions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rules.effects import CampaignExclusionReason, SetDiscount, SetDiscountPerItem
from rules.engine import FiredEffect
from rules.records import positional_record
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


@positional_record
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
    return amount.quantize(_quantum(minor_units), rounding=ROUND_HALF_UP)


@functools.cache
def _quantum(minor_units: int) -> Decimal:
    """The currency's minor unit (``0.01`` for 2)."""
    return Decimal(1).scaleb(-minor_units)


class DiscountLedger:
    """What is left to discount, and the discounts granted against it, in order.

    A discount is rounded half up to the currency's minor unit, then cut down to what remains of
    the session total and, for an item discount, of the line of the item it names (a discount of
    an item not in the cart does not apply). What it is granted comes off what remains. This is
    the one place the arithmetic lives: ``apply_discounts`` and ``Cascade`` both grant here."""

    __slots__ = ("lines", "minor_units", "quantum", "total")

    def __init__(self, *, total: Decimal, lines: Mapping[int, Decimal], minor_units: int) -> None:
        self.total = total
        """What remains of the session total (session and item discounts come off it)."""
        self.lines = dict(lines)
        """What remains of each cart item's line, by position (item discounts come off it)."""
        self.minor_units = minor_units
        self.quantum = _quantum(minor_units)

    def copy(self) -> DiscountLedger:
        return DiscountLedger(total=self.total, lines=self.lines, minor_units=self.minor_units)

    def grant(self, entry: FiredEffect) -> FiredEffect | None:
        """``entry`` as it applies, taken off what remains; None for a discount with nothing
        left to discount. Effects other than session and item discounts pass through."""
        effect = entry.effect
        if isinstance(effect, SetDiscount):
            if self.total <= ZERO:
                return None
            wanted = effect.value.quantize(self.quantum, rounding=ROUND_HALF_UP)
            value = min(wanted, self.total)
            if value <= ZERO:
                return None
            self.total -= value
            return FiredEffect(entry.rule, _granted(effect, value, wanted))
        if isinstance(effect, SetDiscountPerItem):
            line = self.lines.get(effect.position)
            if line is None or line <= ZERO or self.total <= ZERO:
                return None
            wanted = effect.value.quantize(self.quantum, rounding=ROUND_HALF_UP)
            value = min(wanted, line, self.total)
            if value <= ZERO:
                return None
            self.lines[effect.position] = line - value
            self.total -= value
            return FiredEffect(entry.rule, _granted(effect, value, wanted))
        return entry

    def grant_all(self, fired: Iterable[FiredEffect]) -> list[FiredEffect]:
        """The effects as they apply, in order (``grant`` each; those granted nothing go)."""
        return [granted for entry in fired if (granted := self.grant(entry)) is not None]


def apply_discounts(
    fired: Iterable[FiredEffect],
    *,
    session_total: Decimal,
    items: Sequence[ItemData],
    minor_units: int,
) -> list[FiredEffect]:
    """The effects as they apply to this cart (see the module's documentation).

    Effects that a cascading evaluation already granted (``Cascade``) come out unchanged, but
    for the case its documentation names, where this cuts them down to what is left."""
    lines = {item.position: item.line_total for item in items}
    ledger = DiscountLedger(total=session_total, lines=lines, minor_units=minor_units)
    return ledger.grant_all(fired)


def _granted(effect: Any, value: Decimal, wanted: Decimal) -> Any:
    """``effect`` granting ``value`` (in the currency's minor unit: ``9.00``, not ``9.000``)."""
    # Equal, and with as many decimal places: the same number, written the same way.
    if value == wanted and effect.value.same_quantum(wanted):
        return effect
    desired = wanted if value < wanted else None
    if type(effect) is SetDiscount:  # the most common, made directly (replace is slow)
        return SetDiscount(name=effect.name, value=value, scope=effect.scope, desired_value=desired)
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
    mode: str
    """The group's evaluation mode (``GroupNode.mode``)."""
    reason: CampaignExclusionReason


_EXCLUSION_REASON = {
    "listOrder": CampaignExclusionReason.CAMPAIGN_IS_NOT_FIRST,
    "lowestDiscount": CampaignExclusionReason.CAMPAIGN_GAVE_LOWER_DISCOUNT,
    "highestDiscount": CampaignExclusionReason.CAMPAIGN_GAVE_LOWER_DISCOUNT,
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
                reason = _EXCLUSION_REASON.get(
                    mode, CampaignExclusionReason.CAMPAIGN_NOT_IN_EVALUATION_SET
                )
                excluded.extend(
                    Exclusion(campaign_id=c, group_id=group_id, mode=mode, reason=reason)
                    for c in sorted(chosen)
                )
        return winner[0]

    through = kept(None, 0)
    return [entry for entry in fired if entry.rule.ruleset in through], excluded


@dataclass(frozen=True, slots=True)
class CascadeSettings:
    """Discounts cascade (the application's ``enable_cascading_discounts``), granted in the
    currency of the application."""

    minor_units: int
    """The currency's minor unit, which discounts are rounded to as they are granted."""


class Cascade:
    """One cascading evaluation: the engine calls it after each campaign (``between``).

    Each campaign sees the session as the campaigns before it left it: ``Session.Total`` less
    the session and item discounts they were granted, ``Session.CartItemTotal`` less their item
    discounts (Talon.One's "discounted cart items total": item discounts only), and each cart
    item's ``Price`` less their discounts of that item, spread over its quantity (not rounded:
    the discounts computed from it are). The rules of one campaign all see the session as the
    campaigns before it left it, as in Talon.One, where an item's discounted price is its price
    "minus the discounted value from previous campaigns": what an earlier rule of the same
    campaign grants does not change what a later one reads, though it still comes off what is
    left to discount (``DiscountLedger``), as without cascading.

    Evaluation groups. A campaign does not see what its rivals gave (campaigns whose nearest
    common group keeps one of its members: ``listOrder``, ``lowestDiscount``,
    ``highestDiscount``): the members of such a group all start from the session as it was
    before the group, and compete on equal terms. Of the other campaigns before it, it sees
    those that the groups let through (``select_by_groups`` on what they produced, its rivals
    left out), so that a campaign its group set aside does not cascade into the next. This is
    exact when the campaigns of a group (its child groups' included) are evaluated one after
    another, as they are unless a child group's position puts other groups' campaigns between
    its own and its parent's. A campaign evaluated in such a gap sees the choice its
    unfinished neighbour group made among the members evaluated so far; if a later member wins,
    that campaign computed its discounts on a session that still held the loser's discount.
    (``apply_discounts`` still keeps every discount within what it discounts.)

    ``outcome`` gives the effects as granted: rounded, cut down to what was left when their
    campaign ran, those granted nothing dropped; ``apply_discounts`` leaves them as they are.
    """

    def __init__(
        self,
        binding: dict[str, Any],
        *,
        order: Sequence[Any],
        campaigns: Sequence[CampaignNode],
        groups: Sequence[GroupNode],
        minor_units: int,
    ) -> None:
        """``binding`` is the evaluation's (its ``Session`` is replaced, never changed, after
        each campaign); ``order`` the campaigns' ids in the order they are evaluated."""
        self._binding = binding
        self._order = order
        self._next = 0
        self._campaigns = {node.id: node for node in campaigns}
        self._groups = groups
        known = {group.id: group for group in groups}
        self._modes = {group.id: group.mode for group in groups}
        self._chains = {node.id: _ancestry(node.group_id, known) for node in campaigns}

        session = binding.get("Session")
        session = session if isinstance(session, Mapping) else {}
        self._total = _decimal(session.get("Total"))
        self._cart_item_total = _decimal(session.get("CartItemTotal"))
        self._units: dict[int, tuple[Decimal, Decimal]] = {}
        """Each cart item's price and quantity before any discount, by position."""
        for item in session.get("CartItems") or ():
            position = _position(item)
            if position is None:
                continue
            price, quantity = _decimal(item.get("Price")), _decimal(item.get("Quantity"))
            if price is not None and quantity is not None:
                self._units[position] = (price, quantity)
        lines = {position: price * quantity for position, (price, quantity) in self._units.items()}
        self._lines_total = sum(lines.values(), ZERO)
        self._start = DiscountLedger(
            total=self._total or ZERO, lines=lines, minor_units=minor_units
        )
        self._seen = self._start.copy()
        """What the running campaign sees, and grants its discounts against."""
        self._seen_from: set[Any] = set()
        """The campaigns whose grants ``_seen`` holds."""
        self._shown = (self._start.total, dict(self._start.lines))
        self._fired: list[FiredEffect] = []
        """What the campaigns produced, as they produced it (what groups choose by)."""
        self._producers: dict[Any, None] = {}
        """The campaigns that produced effects, in order."""
        self._granted: list[tuple[Any, list[FiredEffect]]] = []

    def __call__(self, campaign: Any, effects: list[FiredEffect]) -> None:
        """``campaign`` ran and produced ``effects``: grant them, and show the next campaign
        the session as it will see it."""
        self._granted.append((campaign, self._seen.grant_all(effects)))
        if effects:
            self._fired.extend(effects)
            self._producers[campaign] = None
            self._seen_from.add(campaign)
        self._next += 1
        if self._next < len(self._order):
            self._show(self._view(self._order[self._next]))

    def outcome(self) -> tuple[list[FiredEffect], list[Exclusion]]:
        """The granted effects of the campaigns that the groups let through, in evaluation
        order, and the campaigns the groups set aside."""
        if not self._groups:
            return [entry for _, granted in self._granted for entry in granted], []
        nodes = list(self._campaigns.values())
        selected, exclusions = select_by_groups(self._fired, campaigns=nodes, groups=self._groups)
        kept = {entry.rule.ruleset for entry in selected}
        effects = [
            entry for campaign, granted in self._granted if campaign in kept for entry in granted
        ]
        return effects, exclusions

    def _view(self, following: Any) -> DiscountLedger:
        """What ``following`` is to see: the grants of the campaigns before it that the groups
        let through, its rivals left out."""
        if not self._groups or not self._fired:
            return self._seen
        rivals = {c for c in self._producers if self._rivals(c, following)}
        considered = [entry for entry in self._fired if entry.rule.ruleset not in rivals]
        # Only campaigns that produced effects take part in a group's choice.
        nodes = [
            self._campaigns[c] for c in self._producers if c not in rivals and c in self._campaigns
        ]
        selected, _ = select_by_groups(considered, campaigns=nodes, groups=self._groups)
        visible = {entry.rule.ruleset for entry in selected}
        if visible != self._seen_from:
            seen = self._start.copy()
            for campaign, granted in self._granted:
                if campaign in visible:
                    seen.grant_all(granted)
            self._seen, self._seen_from = seen, visible
        return self._seen

    def _rivals(self, a: Any, b: Any) -> bool:
        """Whether the nearest group holding both keeps only one of its members."""
        chain = self._chains.get(b, ())
        for group in self._chains.get(a, ()):
            if group in chain:
                return self._modes[group] != "stackable"
        return False

    def _show(self, seen: DiscountLedger) -> None:
        """Put the session as ``seen`` leaves it into the binding (a new ``Session``, which
        keeps whatever rules wrote into the old one)."""
        if (seen.total, seen.lines) == self._shown:
            return
        self._shown = (seen.total, dict(seen.lines))
        session = self._binding.get("Session")
        if not isinstance(session, Mapping):
            return
        view = dict(session)
        if self._total is not None:
            view["Total"] = seen.total
        if self._cart_item_total is not None:
            granted_on_items = self._lines_total - sum(seen.lines.values(), ZERO)
            view["CartItemTotal"] = self._cart_item_total - granted_on_items
        items = session.get("CartItems")
        if isinstance(items, list):
            view["CartItems"] = [self._item(item, seen) for item in items]
        self._binding["Session"] = view

    def _item(self, item: Any, seen: DiscountLedger) -> Any:
        position = _position(item)
        if position is None or position not in self._units:
            return item
        price, quantity = self._units[position]
        line = seen.lines[position]
        if quantity and line != price * quantity:
            price = line / quantity
        return item if item.get("Price") == price else {**item, "Price": price}


def _decimal(value: Any) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


def _position(item: Any) -> int | None:
    """A cart item's position in the binding (a whole ``Decimal``), as effects name it."""
    position = item.get("Position") if isinstance(item, Mapping) else None
    if isinstance(position, int):
        return position
    if isinstance(position, Decimal) and position.is_finite() and position % 1 == 0:
        return int(position)
    return None


def _ancestry(group_id: int | None, known: Mapping[int, GroupNode]) -> tuple[int, ...]:
    """A campaign's groups, its own first, up to the top (as ``select_by_groups`` reads them)."""
    chain: list[int] = []
    while group_id is not None and group_id in known and group_id not in chain:
        chain.append(group_id)
        group_id = known[group_id].parent_id
    return tuple(chain)


class CampaignShift:
    """Binds ``name`` (``Coupon``, ``Referral``) to each campaign's own while it runs: the
    engine calls it after each campaign (``between``), and it shows the next campaign its own,
    or none.

    A session may carry the codes of several campaigns' coupons; each campaign's rules see only
    the coupon of that campaign (``couponValid``, ``Coupon.Attributes.…``), as in Talon.One,
    and likewise its referral.
    """

    def __init__(
        self,
        binding: dict[str, Any],
        *,
        name: str,
        order: Sequence[Any],
        values: Mapping[Any, Mapping[str, Any]],
    ) -> None:
        """``binding`` is the evaluation's; ``order`` the campaigns' ids in the order they are
        evaluated; ``values`` what ``name`` is bound to for each campaign that has one."""
        self._binding = binding
        self._name = name
        self._order = order
        self._values = values
        self._next = 0
        self._show(order[0] if order else None)

    def __call__(self, campaign: Any, effects: list[FiredEffect]) -> None:
        self._next += 1
        self._show(self._order[self._next] if self._next < len(self._order) else None)

    def _show(self, campaign: Any) -> None:
        value = self._values.get(campaign)
        if value is None:
            self._binding.pop(self._name, None)
        else:
            self._binding[self._name] = value
