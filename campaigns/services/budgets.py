"""Campaign budgets (``CampaignLimit``): what an evaluation may give, and spending it at close.

An evaluation asks ``budgets_apply`` to make its effects fit the budgets of their campaigns,
as they stand when it reads them (``budgets_remaining``, one query). Each effect counts for the
actions it is (a discount for ``setDiscount``, its amount, and for ``setDiscountEffect``, one; an
accepted coupon for ``redeemCoupon``; a free item, a custom effect), against each limit of its
campaign on that action, for the limit's entities' values (the session's profile, its coupon of
that campaign, the session, each of its identifiers) in the limit's current period. An effect
that does not fit is not given, and its rule's failure says so (``EffectCouldNotBeApplied:
CampaignLimitReached``); with the application's partial discounts on, a discount gets what is
left instead, with what it wanted as ``desiredValue``. An accepted coupon whose campaign may
redeem no more is rejected with ``CampaignLimitReached`` (the session service then evaluates
again without it).

Closing spends (``budgets_spend``): for each budget, one conditional statement adds what the
session takes, ``… ON CONFLICT DO UPDATE SET spent = spent + taken WHERE spent + taken <= cap``,
so no concurrency can spend past a cap (and ``CHECK spent <= cap`` backs it); all of a session's
spending, or none, in one savepoint. When another session spent first and what this one wanted
no longer fits, nothing is spent and the service evaluates again with the budgets as they now
are. Cancelling gives back what the session spent, once (``budget_spends_roll_back``).

Counters are taken (row-locked) in the order of (limit id, key, period), so that sessions
spending the same budgets cannot deadlock; the caller holds its session's lock first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from campaigns.models import Campaign
from campaigns.models.budgets import BudgetCounter, BudgetSpend, CampaignLimit, LimitAction
from rules.effects import (
    AcceptCoupon,
    AcceptReferral,
    AddFreeItem,
    CouponRejectionReason,
    CreateCoupon,
    CreateReferral,
    CustomEffect,
    ReferralRejectionReason,
    RejectCoupon,
    RejectReferral,
    SetDiscount,
    SetDiscountPerItem,
)
from rules.engine import FiredEffect, RuleFailure
from rules.errors import RuleRuntimeError

ZERO = Decimal(0)
EPOCH = date(1970, 1, 1)
"""The ``period_start`` of a limit that never starts again."""


@dataclass(frozen=True, slots=True, order=True)
class Budget:
    """One budget an evaluation counts against: a limit, for its entities' values, in a
    period (the order is the order counters are locked in)."""

    limit_id: int
    key: str
    period_start: date
    campaign_id: int = dataclasses.field(compare=False)
    action: str = dataclasses.field(compare=False)
    cap: Decimal = dataclasses.field(compare=False)


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """A campaign's limit as evaluation needs it (kept with the compiled campaigns)."""

    id: int
    campaign_id: int
    action: str
    limit: Decimal
    period: str
    entities: tuple[str, ...]

    @classmethod
    def of(cls, limit: CampaignLimit) -> LimitSpec:
        entities = tuple(sorted(str(e) for e in limit.entities or ()))
        return cls(limit.pk, limit.campaign_id, limit.action, limit.limit, limit.period, entities)

    def without_id(self) -> LimitSpec:
        """The same limit with id 0: to compare what two limits say."""
        return dataclasses.replace(self, id=0)


@dataclass(frozen=True, slots=True)
class Counted:
    """What the session's entities are, for a limit's key."""

    session_id: int
    profile_id: int | None
    identifiers: tuple[str, ...]
    coupons: Mapping[int, int]
    """Campaign id → the id of the coupon the session uses in it."""
    referrals: Mapping[int, int] = dataclasses.field(default_factory=dict)
    """Campaign id → the id of the referral the session uses in it."""


def period_start(period: str, now: datetime, timezone: str) -> date:
    """The first day of the period ``now`` is in, in the application's time zone."""
    if not period:
        return EPOCH
    today = now.astimezone(ZoneInfo(timezone)).date()
    if period == "daily":
        return today
    if period == "weekly":
        return today - timedelta(days=today.weekday())
    if period == "monthly":
        return today.replace(day=1)
    return today.replace(month=1, day=1)


def limit_keys(limit: LimitSpec, counted: Counted) -> list[str]:
    """The keys the limit counts this session under: one, or one per identifier; none when
    the session lacks an entity the limit is counted per (an anonymous session and a
    per-profile limit)."""
    keys = [""]
    for entity in limit.entities:
        if entity == "Profile":
            values = [str(counted.profile_id)] if counted.profile_id is not None else []
        elif entity == "Session":
            values = [str(counted.session_id)]
        elif entity == "Coupon":
            coupon = counted.coupons.get(limit.campaign_id)
            values = [str(coupon)] if coupon is not None else []
        elif entity == "Referral":
            referral = counted.referrals.get(limit.campaign_id)
            values = [str(referral)] if referral is not None else []
        elif entity == "Identifier":
            values = list(counted.identifiers)
        else:
            values = []
        keys = [f"{key}{entity}={value};" for key in keys for value in values]
    return keys


def _actions(effect: Any) -> list[tuple[str, Decimal]]:
    """The actions an effect counts for, with how much."""
    if isinstance(effect, SetDiscount | SetDiscountPerItem):
        return [(LimitAction.SET_DISCOUNT, effect.value), (LimitAction.SET_DISCOUNT_EFFECT, ONE)]
    if isinstance(effect, AcceptCoupon):
        return [(LimitAction.REDEEM_COUPON, ONE)]
    if isinstance(effect, AcceptReferral):
        return [(LimitAction.REDEEM_REFERRAL, ONE)]
    if isinstance(effect, CreateCoupon):
        return [(LimitAction.CREATE_COUPON, ONE)]
    if isinstance(effect, CreateReferral):
        return [(LimitAction.CREATE_REFERRAL, ONE)]
    if isinstance(effect, AddFreeItem):
        return [(LimitAction.ADD_FREE_ITEM_EFFECT, ONE)]
    if isinstance(effect, CustomEffect):
        return [(LimitAction.CUSTOM_EFFECT, ONE)]
    return []


ONE = Decimal(1)


def budgets_of(
    effects: Iterable[FiredEffect],
    limits: Mapping[int, Sequence[LimitSpec]],
    counted: Counted,
    *,
    now: datetime,
    timezone: str,
) -> list[Budget]:
    """The budgets the effects count against (those ``budgets_remaining`` must read)."""
    found: set[Budget] = set()
    for fired in effects:
        for limit in limits.get(fired.rule.ruleset, ()):
            if any(action == limit.action for action, _ in _actions(fired.effect)):
                start = period_start(limit.period, now, timezone)
                for key in limit_keys(limit, counted):
                    found.add(
                        Budget(limit.id, key, start, limit.campaign_id, limit.action, limit.limit)
                    )
    return sorted(found)


def budgets_remaining(budgets: Sequence[Budget]) -> dict[Budget, Decimal]:
    """What is left of each budget now (one query; a budget nobody spent has its whole cap)."""
    if not budgets:
        return {}
    condition = Q()
    for budget in budgets:
        condition |= Q(limit_id=budget.limit_id, key=budget.key, period_start=budget.period_start)
    spent = {
        (limit_id, key, start): value
        for limit_id, key, start, value in BudgetCounter.objects.filter(condition).values_list(
            "limit_id", "key", "period_start", "spent"
        )
    }
    return {
        budget: max(
            ZERO, budget.cap - spent.get((budget.limit_id, budget.key, budget.period_start), ZERO)
        )
        for budget in budgets
    }


def budgets_apply(
    effects: Sequence[FiredEffect],
    limits: Mapping[int, Sequence[LimitSpec]],
    counted: Counted,
    remaining: Mapping[Budget, Decimal],
    *,
    partial: bool,
    now: datetime,
    timezone: str,
) -> tuple[list[FiredEffect], list[RuleFailure], dict[Budget, Decimal]]:
    """The effects that fit their campaigns' budgets (see the module), the failures of those
    that do not, and what the fitting ones take of each budget."""
    left = dict(remaining)
    taken: dict[Budget, Decimal] = {}
    kept: list[FiredEffect] = []
    failures: list[RuleFailure] = []
    for fired in effects:
        campaign_limits = limits.get(fired.rule.ruleset)
        actions = _actions(fired.effect) if campaign_limits else []
        if not actions:
            kept.append(fired)
            continue
        effect = fired.effect
        wanted = dict(actions)
        budgets = [
            budget
            for budget in budgets_of([fired], limits, counted, now=now, timezone=timezone)
            if budget.action in wanted
        ]
        fits = all(left[b] >= wanted[b.action] for b in budgets)
        if not fits and partial and isinstance(effect, SetDiscount | SetDiscountPerItem):
            counts = [b for b in budgets if b.action != LimitAction.SET_DISCOUNT]
            amount = min(
                (left[b] for b in budgets if b.action == LimitAction.SET_DISCOUNT),
                default=effect.value,
            )
            if amount > ZERO and all(left[b] >= ONE for b in counts):
                effect = dataclasses.replace(
                    effect, value=amount, desired_value=effect.desired_value or effect.value
                )
                fired = fired._replace(effect=effect)
                wanted = dict(_actions(effect))
                fits = True
        if not fits:
            if isinstance(effect, AcceptCoupon):
                rejected: Any = RejectCoupon(
                    value=effect.value,
                    rejection_reason=CouponRejectionReason.CAMPAIGN_LIMIT_REACHED,
                )
                kept.append(fired._replace(effect=rejected))
            elif isinstance(effect, AcceptReferral):
                rejected = RejectReferral(
                    value=effect.value,
                    rejection_reason=ReferralRejectionReason.CAMPAIGN_LIMIT_REACHED,
                )
                kept.append(fired._replace(effect=rejected))
            message = (
                f"EffectCouldNotBeApplied: CampaignLimitReached: the campaign's "
                f"{', '.join(sorted({b.action for b in budgets}))} budget is spent"
            )
            failures.append(RuleFailure(fired.rule, RuleRuntimeError(message)))
            continue
        for budget in budgets:
            left[budget] -= wanted[budget.action]
            taken[budget] = taken.get(budget, ZERO) + wanted[budget.action]
        kept.append(fired)
    return kept, failures, taken


_UPSERT = """
INSERT INTO {counters} (limit_id, key, period_start, cap, spent)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (limit_id, key, period_start) DO UPDATE
SET spent = {counters}.spent + EXCLUDED.spent, cap = EXCLUDED.cap
WHERE {counters}.spent + EXCLUDED.spent <= EXCLUDED.cap
RETURNING id
"""


def budgets_spend(taken: Mapping[Budget, Decimal], *, session_id: int, now: datetime) -> bool:
    """Spend ``taken`` for the session, all or nothing (see the module). False when a budget
    no longer has room; then nothing is spent."""
    taken = {budget: amount for budget, amount in taken.items() if amount > ZERO}
    if not taken:
        return True
    sql = _UPSERT.format(counters=connection.ops.quote_name(BudgetCounter._meta.db_table))
    spends = []
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                for budget in sorted(taken):
                    amount = taken[budget]
                    cursor.execute(
                        sql,
                        [budget.limit_id, budget.key, budget.period_start, budget.cap, amount],
                    )
                    row = cursor.fetchone()
                    if row is None:
                        raise _NoRoom
                    spends.append(
                        BudgetSpend(
                            counter_id=row[0], session_id=session_id, amount=amount, created=now
                        )
                    )
            BudgetSpend.objects.bulk_create(spends)
    except (_NoRoom, IntegrityError):
        # No room (or a new counter whose first spend is over its cap): nothing was spent.
        return False
    return True


class _NoRoom(Exception):
    pass


def budget_spends_roll_back(*, session_id: int, now: datetime) -> None:
    """Give back what the session spent, once: its live spends are marked rolled back by one
    conditional update, and only what this call marked is given back."""
    with transaction.atomic():
        live = BudgetSpend.objects.filter(session_id=session_id, rolled_back_at__isnull=True)
        marked = list(
            live.select_for_update()
            .order_by("counter_id")
            .values_list("pk", "counter_id", "amount")
        )
        if not marked:
            return
        BudgetSpend.objects.filter(
            pk__in=[pk for pk, _, _ in marked], rolled_back_at__isnull=True
        ).update(rolled_back_at=now)
        for _, counter_id, amount in marked:
            BudgetCounter.objects.filter(pk=counter_id).update(spent=F("spent") - amount)


def campaign_limits_set(*, campaign: Campaign, limits: Sequence[Mapping[str, Any]]) -> None:
    """Replace the campaign's budgets with ``limits`` (``{action, limit, period, entities}``),
    and invalidate its application's compiled campaigns, which carry them. Counters of limits
    kept as they were stay; those of removed limits go with them."""
    from campaigns.services.rulesets import applications_rules_changed

    with transaction.atomic():
        wanted = [
            LimitSpec(
                0,
                campaign.pk,
                str(limit["action"]),
                Decimal(str(limit["limit"])),
                str(limit.get("period") or ""),
                tuple(sorted(limit.get("entities") or ())),
            )
            for limit in limits
        ]
        existing = {
            LimitSpec.of(limit).without_id(): limit
            for limit in CampaignLimit.objects.select_for_update().filter(campaign=campaign)
        }
        keep = {spec for spec in wanted if spec in existing}
        CampaignLimit.objects.filter(campaign=campaign).exclude(
            pk__in=[existing[spec].pk for spec in keep]
        ).delete()
        CampaignLimit.objects.bulk_create(
            CampaignLimit(
                campaign=campaign,
                action=spec.action,
                limit=spec.limit,
                period=spec.period,
                entities=list(spec.entities),
            )
            for spec in wanted
            if spec not in keep
        )
        applications_rules_changed(application_ids=[campaign.application_id])


def budget_give_back(
    *, session_id: int, campaign_id: int, action: str, amount: Decimal, now: datetime
) -> None:
    """Give back ``amount`` of what the session spent of the campaign's ``action`` budgets: a
    partial return that takes ``amount`` of discount back (or, for ``setDiscountEffect``, that
    many discounts). The same effect counted against every budget of the action (the
    campaign's, a customer's …), so each of the session's spends on them gives back
    ``amount``, never more than it took; counters locked in their order."""
    if amount <= ZERO:
        return
    with transaction.atomic():
        spends = (
            BudgetSpend.objects.select_for_update()
            .filter(
                session_id=session_id,
                rolled_back_at__isnull=True,
                counter__limit__campaign_id=campaign_id,
                counter__limit__action=action,
            )
            .order_by("counter_id")
        )
        for spend in spends:
            back = min(amount, spend.amount)
            BudgetCounter.objects.filter(pk=spend.counter_id).update(spent=F("spent") - back)
            if back == spend.amount:
                spend.rolled_back_at = now
                spend.save(update_fields=["rolled_back_at"])
            else:
                spend.amount -= back
                spend.save(update_fields=["amount"])
