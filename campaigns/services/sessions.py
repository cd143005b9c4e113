"""Customer sessions: update a cart, run the application's rules on it, close or cancel it,
return some of its items, reopen it.

One transaction per request: the session row is locked (created if new, by an update), the
profile created if new, the cart replaced when the update carries one, the totals recomputed,
the running campaigns evaluated against the result, the discounts made true to the cart, and
the session saved. States follow Talon.One (DESIGN.md §4 step 5): an update moves
``open → closed | cancelled``, ``closed → cancelled`` and ``partially_returned → cancelled``;
``closed | partially_returned → partially_returned`` is the returns endpoint's
(``customer_session_return``), ``closed → open`` the reopen endpoint's
(``customer_session_reopen``); anything else is refused and nothing is written.

- Closing confirms: the effects of the closing evaluation are recorded (the effect log), and the
  profile's closed sessions and total sales grow.
- The *live* effect records of a session (``rolled_back_at`` empty) are always what the customer
  keeps. Cancelling a closed or partially returned session, and reopening a closed one, roll all
  of them back: each discount comes back as a ``rollbackDiscount`` effect, every record is
  marked rolled back, and the profile's closed sessions and total sales shrink by the session.
- Returning items keeps the session (now ``partially_returned``) and shrinks it: each item's
  ``returned_quantity`` grows, the totals are recomputed on what remains, and the profile's
  total sales shrink by what the totals lost. Discounts no longer due are rolled back: a
  discount reduced from V to D comes back as a ``rollbackDiscount`` of V - D, and its record is
  marked rolled back and replaced by a live record of D (created at the return), so that the
  live records still say what the customer keeps and a later cancel gives back exactly D. What
  is due is, by default, the discount in proportion to what the return leaves of what it was on
  (the item's units for a per-item discount, the cart items' value for a session discount; a
  discount on one unit of an item stays while that unit does, returned units being the last);
  with ``run_rule_engine`` the campaigns that confirmed a discount are evaluated again on the
  cart as it remains (each item's quantity being what is left of it) and what they give now is
  due, never more than before (a return grants nothing new). A campaign that no longer runs,
  or whose rules changed since closing, falls back to the proportional rule. Returning all that
  remains rolls back every live record, as cancelling would (the session stays
  ``partially_returned``; a later cancel takes what is left off the profile's figures).
- A return and a reopening are recorded as events (``talon_session_partially_returned``,
  ``talon_session_reopened``); the return's event is what the response's ``return`` shows.
- A repeated close or cancel changes nothing: a closed or partially returned session answers
  with its live effect records, a cancelled one with none.
- ``updateAttribute`` effects set the session's and the profile's custom attributes in the same
  transaction (``campaigns.attribute_updates``); the session row is written after the
  evaluation so that what the rules set is saved with it.
- ``triggerWebhook`` effects name their webhook (``campaigns.services.webhooks``); closing
  writes one outbox row per effect in the same transaction, delivered by Celery after commit
  (an open session and a dry run send nothing).
- ``dry`` evaluates and answers the same way, then rolls the transaction back.

- Coupons (``campaigns.coupon_evaluation``, ``campaigns.services.coupons``): each campaign sees
  its own coupon; every code gets ``acceptCoupon`` or ``rejectCoupon``. Budgets
  (``campaigns.services.budgets``): effects are made to fit their campaigns' budgets as they
  stand. Closing redeems the accepted coupons and spends the budgets, all or none, by
  conditional updates in the database; when another session took a coupon's last use or a
  budget's room first, the session is evaluated again as things now stand (each retry follows
  a spend by someone else, so it ends). Cancelling, reopening and returning everything give both
  back once (``rollbackCoupon``).

Not yet here: referrals and loyalty (issue 5), whose rollbacks will join the others here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from django.db import IntegrityError, transaction
from django.db.models import F

from campaigns.attribute_updates import attribute_changes
from campaigns.compiled import (
    CampaignsEvaluation,
    CompiledCampaigns,
    cascade_settings,
    compiled_campaigns_get,
)
from campaigns.coupon_evaluation import (
    coupon_bindings,
    coupon_effects,
    coupon_values_apply,
    coupons_used,
    referral_binding,
    referral_effect,
)
from campaigns.evaluation import (
    ZERO,
    Exclusion,
    ItemData,
    apply_discounts,
    profile_binding,
    round_money,
    session_binding,
    stored_value,
    typed_attributes,
)
from campaigns.models import (
    Application,
    Campaign,
    CartItem,
    Coupon,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
    Event,
    Referral,
)
from campaigns.models.budgets import LimitAction
from campaigns.models.customers import SessionState
from campaigns.rows import model_instance, session_locked, session_write
from campaigns.services.budgets import (
    Budget,
    Counted,
    budget_give_back,
    budget_spends_roll_back,
    budgets_apply,
    budgets_of,
    budgets_remaining,
    budgets_spend,
)
from campaigns.services.coupons import (
    CouponExists,
    coupon_create,
    coupon_discount_give_back,
    coupon_redeem_explained,
    coupon_redemptions_roll_back,
    coupon_rejection,
    coupons_find,
    coupons_profile_redemptions,
    coupons_reserved,
)
from campaigns.services.customers import profile_attributes_merge
from campaigns.services.referrals import (
    referral_code_generate,
    referral_create,
    referral_friend_already_referred,
    referral_redeem_explained,
    referral_redemptions_roll_back,
    referral_rejection,
    referrals_find,
)
from campaigns.services.webhooks import webhook_deliveries_record, webhook_effects
from rules.effects import (
    AcceptCoupon,
    AcceptReferral,
    CouponRejectionReason,
    CreateCoupon,
    CreateReferral,
    ReferralRejectionReason,
    RejectCoupon,
    RejectReferral,
    RollbackCoupon,
    RollbackDiscount,
    RollbackReferral,
    SetDiscount,
    SetDiscountPerItem,
    effect_from_props,
)
from rules.engine import FiredEffect, RuleFailure, RuleRef
from rules.types import Type

if TYPE_CHECKING:
    from integration.payloads import CartItemInput, ReturnedCartItemInput, SessionUpdate

OPEN, CLOSED, CANCELLED = SessionState.OPEN, SessionState.CLOSED, SessionState.CANCELLED
PARTIALLY_RETURNED = SessionState.PARTIALLY_RETURNED

_TRANSITIONS = {
    (OPEN, CLOSED),
    (OPEN, CANCELLED),
    (CLOSED, CANCELLED),
    (PARTIALLY_RETURNED, CANCELLED),
}
"""The transitions an update may make; returns and reopening have their own services."""
_INITIAL_STATES = {OPEN, CLOSED}
_CONFIRMED_STATES = {CLOSED, PARTIALLY_RETURNED}
"""The states in which closing's confirmations stand (and a cancel must roll them back)."""
_RETURNABLE_STATES = _CONFIRMED_STATES

RETURN_EVENT_TYPE: Final = "talon_session_partially_returned"
"""The built-in event a return generates (the name is ours, after the state it leads to)."""
REOPEN_EVENT_TYPE: Final = "talon_session_reopened"
"""The built-in event reopening a session generates (Talon.One's name)."""

_DISCOUNTS = (SetDiscount.effect_type, SetDiscountPerItem.effect_type)


class SessionStateError(Exception):
    """A state change the session's state machine does not allow."""

    def __init__(self, current: str | None, requested: str) -> None:
        if current is None:
            start = "a new session"
        else:
            start = f"{'an' if current[0] in 'aeiou' else 'a'} {current} session"
        super().__init__(f"{start} cannot become {requested}")
        self.current = current
        self.requested = requested


class ReturnRefused(Exception):
    """Returned items the session's cart does not have, or not that many of.

    ``problems`` are ``(index, field, details)``: the entry of the returned items (from 0), its
    field (``position``, ``sku`` or ``quantity``) and what is wrong with it.
    """

    def __init__(self, problems: Sequence[tuple[int, str, str]]) -> None:
        self.problems = tuple(problems)
        index, name, details = self.problems[0]
        super().__init__(f"returned item {index}: {name} {details}")


@dataclass(frozen=True)
class SessionOutcome:
    """What an update did: the session as saved, its items and profile, and the effects."""

    session: CustomerSession
    items: list[CartItem]
    profile: CustomerProfile | None
    effects: list[FiredEffect]
    failures: list[RuleFailure]
    campaign_names: Mapping[int, str]
    ruleset_ids: Mapping[int, int]
    set_aside: Sequence[tuple[RuleRef, Exclusion]] = ()
    """Rules that fired in campaigns their evaluation group set aside, with why."""
    coupons: Sequence[Coupon] = ()
    """The coupons of the session's codes that exist (``coupons`` in a response)."""
    created_coupons: Sequence[Coupon] = ()
    """The coupons closing created (``createCoupon``)."""
    created_referrals: Sequence[Referral] = ()
    """The referral codes closing created (``createReferral``)."""


@dataclass(frozen=True)
class ReturnOutcome(SessionOutcome):
    """What a return did: a session outcome whose effects are the rollbacks, with the return
    (the event it generated) and the session's earlier returns, oldest first."""

    event: Event | None = None
    previous_returns: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class _Returned:
    """One resolved entry of a return: this many units of this item."""

    item: CartItem
    quantity: int


@dataclass(frozen=True, slots=True)
class LockedSession:
    """A session the caller has already read and locked, with its profile, in a transaction it
    holds open (``campaigns.services.keys.integration_key_session_lock`` does so with the API
    key's check). ``session`` is ``None`` when there was no such session."""

    session: CustomerSession | None


def customer_session_update(
    *,
    application: Application,
    integration_id: str,
    update: SessionUpdate,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    dry: bool = False,
    locked: LockedSession | None = None,
) -> SessionOutcome:
    """Apply ``update`` to the session ``integration_id`` and evaluate it (see the module).

    In a transaction of its own; or, given the session ``locked`` by the caller, in the
    caller's transaction (which ``dry`` then marks for rollback, and an error rolls back),
    without reading the session again nor opening a savepoint (two more round trips)."""
    if locked is not None:
        assert transaction.get_connection().in_atomic_block, "the lock needs its transaction"
    with transaction.atomic() if locked is None else nullcontext():
        outcome = _update(
            application=application,
            integration_id=integration_id,
            update=update,
            custom_types=custom_types,
            now=now,
            locked=locked,
        )
        if dry:
            transaction.set_rollback(True)
    return outcome


def customer_session_return(
    *,
    application: Application,
    integration_id: str,
    returned: Sequence[ReturnedCartItemInput],
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    run_rule_engine: bool = False,
    dry: bool = False,
) -> ReturnOutcome:
    """Return items of the closed or partially returned session ``integration_id`` and roll
    back the discounts no longer due (see the module).

    Raises ``CustomerSession.DoesNotExist`` for an unknown session, ``SessionStateError`` for
    one in another state and ``ReturnRefused`` for items the cart does not have (that many of);
    then nothing is written.
    """
    with transaction.atomic():
        outcome = _return(
            application=application,
            integration_id=integration_id,
            returned=returned,
            custom_types=custom_types,
            now=now,
            run_rule_engine=run_rule_engine,
        )
        if dry:
            transaction.set_rollback(True)
    return outcome


def customer_session_reopen(
    *, application: Application, integration_id: str, now: datetime
) -> SessionOutcome:
    """Reopen the closed session ``integration_id``: it becomes open, and what closing it
    confirmed is rolled back (the outcome's effects). Raises ``CustomerSession.DoesNotExist``
    for an unknown session and ``SessionStateError`` for one that is not closed."""
    with transaction.atomic():
        session = _locked_existing(application=application, integration_id=integration_id)
        if session.state != CLOSED:
            raise SessionStateError(session.state, OPEN)
        profile = session.profile
        effects = _roll_back(session=session, profile=profile, confirmed=True, now=now)
        session.state = OPEN
        session.save(update_fields=["state", "updated"])
        Event.objects.create(
            application=application,
            profile=profile,
            session=session,
            type=REOPEN_EVENT_TYPE,
            created=now,
        )
        items = list(session.cart_items.order_by("position"))
        return _outcome(session, items, profile, effects, [], application)


def _locked_session(
    *,
    application: Application,
    integration_id: str,
    initial_state: str,
    locked: LockedSession | None = None,
) -> tuple[CustomerSession, bool]:
    """The session with its profile, locked until the transaction ends: one statement when it
    exists (none when the caller ``locked`` it); created (as ``initial_state``) when it does
    not."""
    if locked is not None:
        found = locked.session
    else:
        found = session_locked(application_id=application.pk, integration_id=integration_id)
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            created = CustomerSession.objects.create(
                application=application, integration_id=integration_id, state=initial_state
            )
        return created, True
    except IntegrityError:
        # Another request created it first; wait for its transaction and take it.
        found = session_locked(application_id=application.pk, integration_id=integration_id)
        if found is None:
            raise
        return found, False


def _locked_existing(*, application: Application, integration_id: str) -> CustomerSession:
    """The session, locked until the transaction ends (``DoesNotExist`` when there is none)."""
    return (
        CustomerSession.objects.select_for_update(of=("self",))
        .select_related("profile")
        .get(application=application, integration_id=integration_id)
    )


def _update(
    *,
    application: Application,
    integration_id: str,
    update: SessionUpdate,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    locked: LockedSession | None,
) -> SessionOutcome:
    requested = update.state or OPEN
    session, created = _locked_session(
        application=application,
        integration_id=integration_id,
        initial_state=requested,
        locked=locked,
    )
    current = None if created else session.state
    if created and requested not in _INITIAL_STATES:
        raise SessionStateError(None, requested)
    changing = current is not None and update.state and update.state != current
    if changing and (current, update.state) not in _TRANSITIONS:
        raise SessionStateError(current, str(update.state))
    target = update.state or session.state

    if current == target and target in (CLOSED, PARTIALLY_RETURNED, CANCELLED):
        return _unchanged(session=session, application=application)

    editable = current in (None, OPEN)
    replaced = editable and update.cart_items is not None
    # Items the update replaces are not read.
    items = [] if created or replaced else list(session.cart_items.order_by("position"))
    if editable:
        profile = _profile(application=application, session=session, update=update, now=now)
        items = _apply_changes(session=session, update=update, items=items)
    else:
        # What closing confirmed stays with the customer it was confirmed for.
        profile = session.profile
    session.state = target
    if not created:
        # The row is locked: nobody else can have counted in between.
        session.update_count += 1

    if target == CANCELLED:
        session_write(session, items=items if replaced else None)
        effects = _roll_back(
            session=session, profile=profile, confirmed=current in _CONFIRMED_STATES, now=now
        )
        return _outcome(session, items, profile, effects, [], application)

    compiled = compiled_campaigns_get(application=application, now=now)
    item_data = [_item_data(item, custom_types.get("CartItem", {})) for item in items]
    binding = session_binding(
        session=_session_fields(session, custom_types.get("CustomerSession", {})),
        items=item_data,
        profile=profile_binding(profile, custom_types.get("CustomerProfile", {})),
        application={"Id": Decimal(application.pk), "Name": application.name},
        now=now,
    )
    coupons = _SessionCoupons.look_up(
        application=application,
        codes=session.coupon_codes,
        profile=profile,
        running=compiled.campaign_names.keys(),
        now=now,
    )
    referral = _SessionReferral.look_up(
        application=application,
        code=session.referral_code,
        session=session,
        profile=profile,
        running=compiled.campaign_names.keys(),
        now=now,
    )
    while True:
        result = compiled.evaluate(
            binding,
            now=now,
            cascade=cascade_settings(application),
            coupons=coupons.bindings(custom_types.get("Coupon", {})),
            referrals=referral.bindings(custom_types.get("Referral", {})),
        )
        verdicts = coupons.verdicts(result, compiled.coupon_rules)
        verdicts += referral.verdict(result, compiled.referral_rules)
        effects = apply_discounts(
            result.effects,
            session_total=session.total,
            items=item_data,
            minor_units=application.minor_units,
        )
        accepted = coupons.accepted(verdicts)
        effects, drawn = coupon_values_apply(
            effects, {coupon.campaign_id: coupon for _, coupon in accepted}
        )
        effects, over_budget, taken = _within_budgets(
            [*verdicts, *effects],
            compiled=compiled,
            application=application,
            session=session,
            profile=profile,
            coupons=coupons,
            referral=referral,
            now=now,
        )
        exhausted = [
            code
            for code in _rejected(effects, CouponRejectionReason.CAMPAIGN_LIMIT_REACHED)
            if coupons.rejections.get(code) is None
        ]
        referral_exhausted = referral.rejection is None and any(
            isinstance(fired.effect, RejectReferral)
            and fired.effect.rejection_reason == ReferralRejectionReason.CAMPAIGN_LIMIT_REACHED
            for fired in effects
        )
        # A coupon whose campaign's effects did not fit its budgets is not used up on them.
        short = {failure.rule.ruleset for failure in over_budget}
        unapplied = [
            code for code, coupon in coupons.accepted(effects) if coupon.campaign_id in short
        ]
        if unapplied:
            reason = CouponRejectionReason.EFFECT_COULD_NOT_BE_APPLIED
            coupons = coupons.refusing(dict.fromkeys(unapplied, reason))
            continue
        if exhausted or referral_exhausted:
            # A code its campaign may redeem no more is not valid: evaluate without it.
            reason = CouponRejectionReason.CAMPAIGN_LIMIT_REACHED
            coupons = coupons.refusing(dict.fromkeys(exhausted, reason))
            if referral_exhausted:
                referral = referral.refusing(ReferralRejectionReason.CAMPAIGN_LIMIT_REACHED)
            continue
        if target != CLOSED:
            break
        # Closing redeems the accepted coupons and referral and spends the budgets. A code
        # another session took the last use of is rejected and the session evaluated again
        # without it; a budget another session spent meanwhile, evaluated again as it stands.
        refused_codes, refused_referral, spent = _redeem(
            coupons.redeemable(effects, result.fired, compiled.coupon_redeeming),
            drawn,
            referral.accepted(effects),
            taken,
            session=session,
            profile=profile,
            now=now,
        )
        if refused_codes:
            coupons = coupons.refusing(refused_codes)
        if refused_referral is not None:
            referral = referral.refusing(refused_referral)
        if not refused_codes and refused_referral is None and spent:
            break
    effects, refused, changes = attribute_changes(
        effects,
        types=custom_types,
        roots=("Session", "Profile") if profile is not None else ("Session",),
    )
    # Each triggerWebhook gets its webhook's name (a query only when one fired); closing
    # writes their outbox rows, delivered after commit.
    effects, unsent, calls = webhook_effects(effects, application=application)
    if changes.session:
        session.attributes = {**session.attributes, **changes.session}
    # Written after the evaluation, so that the attributes its rules set are saved with it.
    session_write(session, items=items if replaced else None)
    if changes.profile and profile is not None:
        profile_attributes_merge(profile, changes.profile)
    made: tuple[list[Coupon], list[Referral]] = ([], [])
    if target == CLOSED:
        effects, made = _codes_create(effects, campaigns=compiled.campaigns)
        rulesets = {c.pk: c.active_ruleset_id for c in compiled.campaigns}
        records = _confirm(
            application=application,
            session=session,
            profile=profile,
            effects=effects,
            rulesets=rulesets,
            now=now,
        )
        if calls:
            webhook_deliveries_record(
                application=application,
                effects=effects,
                calls=calls,
                records=records,
                session=session,
                profile=profile,
                now=now,
            )
    return _outcome(
        session,
        items,
        profile,
        effects,
        [*result.failures, *over_budget, *refused, *unsent],
        application,
        known=compiled,
        set_aside=result.set_aside(),
        coupons=list(coupons.found.values()),
        created_coupons=made[0],
        created_referrals=made[1],
    )


@dataclass(frozen=True)
class _SessionCoupons:
    """The session's coupon codes in one evaluation: the coupons found, why each unusable code
    cannot be used, and which code each campaign uses (``campaigns.coupon_evaluation``)."""

    codes: tuple[str, ...]
    found: Mapping[str, Coupon]
    rejections: Mapping[str, CouponRejectionReason | None]

    @classmethod
    def look_up(
        cls,
        *,
        application: Application,
        codes: Sequence[str],
        profile: CustomerProfile | None,
        running: Collection[int],
        now: datetime,
    ) -> _SessionCoupons:
        """The session's codes, looked up (one query; none when the session has no code)."""
        distinct = tuple(dict.fromkeys(codes))
        found = coupons_find(application=application, values=distinct) if distinct else {}
        # What the customer's reservations and earlier redemptions allow: a query each, only
        # for coupons that need a reservation or limit each customer's uses.
        reserved = coupons_reserved(
            coupons=[c for c in found.values() if c.is_reservation_mandatory], profile=profile
        )
        redemptions = coupons_profile_redemptions(
            coupons=[c for c in found.values() if c.profile_redemption_limit], profile=profile
        )
        rejections = {
            code: coupon_rejection(
                coupon,
                now=now,
                profile_integration_id=profile.integration_id if profile is not None else None,
                running_campaign_ids=running,
                reserved_by_profile=coupon is not None and coupon.pk in reserved,
                profile_redemptions=redemptions.get(coupon.pk, 0) if coupon is not None else 0,
            )
            for code in distinct
            for coupon in (found.get(code),)
        }
        return cls(distinct, found, rejections)

    def refusing(self, refused: Mapping[str, CouponRejectionReason]) -> _SessionCoupons:
        """The same codes, those of ``refused`` refused for their reasons."""
        return _SessionCoupons(self.codes, self.found, {**self.rejections, **refused})

    def used(self) -> dict[int, str]:
        return coupons_used(self.codes, self.found, self.rejections)

    def bindings(self, types: Mapping[str, Type]) -> dict[int, dict[str, Any]] | None:
        """Campaign id → the ``Coupon`` its rules see; None without coupons."""
        if not self.found:
            return None
        return coupon_bindings(self.used(), self.found, self.rejections, types)

    def verdicts(
        self, result: CampaignsEvaluation, coupon_rules: Mapping[tuple[int, int], str]
    ) -> list[FiredEffect]:
        """``acceptCoupon`` or ``rejectCoupon`` for each code."""
        if not self.codes:
            return []
        return coupon_effects(
            self.codes,
            found=self.found,
            rejections=self.rejections,
            used=self.used(),
            fired=result.fired,
            coupon_rules=coupon_rules,
            set_aside=result.set_aside(),
        )

    def redeemable(
        self,
        verdicts: Sequence[FiredEffect],
        fired: Collection[RuleRef],
        redeeming: Collection[tuple[int, int]],
    ) -> list[tuple[str, Coupon]]:
        """The accepted codes that closing redeems: those of campaigns in which a rule that
        redeems fired (not only rules that ask ``(couponValid false)``)."""
        campaigns = {rule.ruleset for rule in fired if (rule.ruleset, rule.rule_index) in redeeming}
        return [pair for pair in self.accepted(verdicts) if pair[1].campaign_id in campaigns]

    def accepted(self, verdicts: Sequence[FiredEffect]) -> list[tuple[str, Coupon]]:
        """The accepted codes, with their coupons."""
        if not self.codes:
            return []
        return [
            (fired.effect.value, self.found[fired.effect.value])
            for fired in verdicts
            if isinstance(fired.effect, AcceptCoupon)
        ]


def _redeem(
    coupons: Sequence[tuple[str, Coupon]],
    drawn: Mapping[int, Decimal],
    referral: Referral | None,
    taken: Mapping[Budget, Decimal],
    *,
    session: CustomerSession,
    profile: CustomerProfile | None,
    now: datetime,
) -> tuple[dict[str, CouponRejectionReason], ReferralRejectionReason | None, bool]:
    """Redeem ``coupons`` (and ``drawn`` of their discount limits, by coupon id) and
    ``referral`` for the session and spend ``taken`` of the budgets, all or none: the codes
    that could not be redeemed, with why (a usage limit reached, a reservation gone …), why
    the referral could not be, and whether the budgets had room; unless everything was
    redeemed and spent, nothing is. Coupons are locked in the order of
    their ids, then the referral, then budget counters in theirs (the session's row is locked
    first, by the caller), so that two sessions sharing them cannot deadlock."""
    if not coupons and referral is None and not taken:
        return {}, None, True
    refused: dict[str, CouponRejectionReason] = {}
    refused_referral = None
    spent = True
    with transaction.atomic():
        for code, coupon in sorted(coupons, key=lambda pair: pair[1].pk):
            reason = coupon_redeem_explained(
                coupon=coupon,
                session=session,
                profile=profile,
                now=now,
                discount=drawn.get(coupon.pk, ZERO),
            )
            if reason is not None:
                refused[code] = reason
        if not refused and referral is not None:
            refused_referral = referral_redeem_explained(
                referral=referral, session=session, profile=profile, now=now
            )
        if not refused and refused_referral is None:
            spent = budgets_spend(taken, session_id=session.pk, now=now)
        if refused or refused_referral is not None or not spent:
            transaction.set_rollback(True)
            return refused, refused_referral, spent
    for _, coupon in coupons:
        coupon.refresh_from_db(fields=["usage_counter", "discount_counter"])  # as answered
    return refused, refused_referral, spent


@dataclass(frozen=True)
class _SessionReferral:
    """The session's referral code in one evaluation: the referral, if it exists, and why it
    cannot be used, if it cannot (``campaigns.coupon_evaluation``)."""

    code: str
    referral: Referral | None = None
    rejection: ReferralRejectionReason | None = None

    @classmethod
    def look_up(
        cls,
        *,
        application: Application,
        code: str,
        session: CustomerSession,
        profile: CustomerProfile | None,
        running: Collection[int],
        now: datetime,
    ) -> _SessionReferral:
        """The session's referral code, looked up (no query when the session has none)."""
        if not code:
            return cls("")
        referral = referrals_find(application=application, codes=[code]).get(code)
        already = referral is not None and referral_friend_already_referred(
            referral=referral, profile=profile, session=session
        )
        rejection = referral_rejection(
            referral,
            now=now,
            profile_integration_id=profile.integration_id if profile is not None else None,
            running_campaign_ids=running,
            already_referred=already,
        )
        return cls(code, referral, rejection)

    def refusing(self, reason: ReferralRejectionReason) -> _SessionReferral:
        return _SessionReferral(self.code, self.referral, reason)

    def bindings(self, types: Mapping[str, Type]) -> dict[int, dict[str, Any]] | None:
        """Campaign id → the ``Referral`` its rules see; None without a referral."""
        if self.referral is None:
            return None
        valid = self.rejection is None
        binding = referral_binding(self.referral, valid=valid, types=types)
        return {self.referral.campaign_id: binding}

    def verdict(
        self, result: CampaignsEvaluation, referral_rules: Mapping[tuple[int, int], str]
    ) -> list[FiredEffect]:
        """``acceptReferral`` or ``rejectReferral`` for the code; none without a code."""
        if not self.code:
            return []
        effect = referral_effect(
            self.code,
            self.referral,
            self.rejection,
            fired=result.fired,
            referral_rules=referral_rules,
            set_aside=result.set_aside(),
        )
        return [effect]

    def accepted(self, effects: Sequence[FiredEffect]) -> Referral | None:
        """The referral, when ``effects`` accept it."""
        if self.referral is not None and any(
            isinstance(fired.effect, AcceptReferral) for fired in effects
        ):
            return self.referral
        return None


_CODE_ATTEMPTS: Final = 10
"""Tries at a random code the application does not have yet, before giving up."""


def _codes_create(
    effects: Sequence[FiredEffect], *, campaigns: Sequence[Campaign]
) -> tuple[list[FiredEffect], tuple[list[Coupon], list[Referral]]]:
    """Closing: create the coupons and referral codes that ``createCoupon`` and
    ``createReferral`` effects ask for, in their campaigns, with generated codes; the effects
    then carry the codes. (An open session's effects say what closing will create, without a
    code.)"""
    if not any(isinstance(f.effect, CreateCoupon | CreateReferral) for f in effects):
        return list(effects), ([], [])
    by_id = {campaign.pk: campaign for campaign in campaigns}
    coupons: list[Coupon] = []
    referrals: list[Referral] = []
    filled = []
    for fired in effects:
        effect = fired.effect
        campaign = by_id.get(fired.rule.ruleset)
        if isinstance(effect, CreateCoupon) and campaign is not None:
            coupon = _coupon_created(campaign, effect)
            coupons.append(coupon)
            fired = fired._replace(effect=replace(effect, value=coupon.value))
        elif isinstance(effect, CreateReferral) and campaign is not None:
            referral = referral_create(
                campaign=campaign,
                advocate_profile_integration_id=effect.advocate_profile_id,
                friend_profile_integration_id=effect.friend_profile_id or "",
                start_date=effect.start_date,
                expiry_date=effect.expiry_date,
            )
            referrals.append(referral)
            fired = fired._replace(effect=replace(effect, value=referral.code))
        filled.append(fired)
    return filled, (coupons, referrals)


def _coupon_created(campaign: Campaign, effect: CreateCoupon) -> Coupon:
    for _ in range(_CODE_ATTEMPTS):
        try:
            return coupon_create(
                campaign=campaign,
                value=referral_code_generate(),
                usage_limit=1 if effect.usage_limit is None else effect.usage_limit,
                discount_limit=effect.discount_limit or 0,
                start_date=effect.start_date,
                expiry_date=effect.expiry_date,
                recipient_integration_id=effect.profile_id,
            )
        except CouponExists:
            continue
    raise CouponExists("no free code")


def _rejected(effects: Sequence[FiredEffect], reason: CouponRejectionReason) -> list[str]:
    """The codes ``effects`` reject for ``reason``."""
    return [
        fired.effect.value
        for fired in effects
        if isinstance(fired.effect, RejectCoupon) and fired.effect.rejection_reason == reason
    ]


def _within_budgets(
    effects: list[FiredEffect],
    *,
    compiled: CompiledCampaigns,
    application: Application,
    session: CustomerSession,
    profile: CustomerProfile | None,
    coupons: _SessionCoupons,
    referral: _SessionReferral,
    now: datetime,
) -> tuple[list[FiredEffect], list[RuleFailure], dict[Budget, Decimal]]:
    """The effects that fit their campaigns' budgets as they now stand, the failures of those
    that do not, and what the fitting ones take (``campaigns.services.budgets``). No query
    when no campaign that produced an effect has a budget."""
    if not any(fired.rule.ruleset in compiled.limits for fired in effects):
        return effects, [], {}
    used = referral.accepted(effects)
    counted = Counted(
        session_id=session.pk,
        profile_id=profile.pk if profile is not None else None,
        identifiers=tuple(session.identifiers),
        coupons={coupon.campaign_id: coupon.pk for _, coupon in coupons.accepted(effects)},
        referrals={used.campaign_id: used.pk} if used is not None else {},
    )
    timezone = application.timezone
    budgets = budgets_of(effects, compiled.limits, counted, now=now, timezone=timezone)
    return budgets_apply(
        effects,
        compiled.limits,
        counted,
        budgets_remaining(budgets),
        partial=application.enable_partial_discounts,
        now=now,
        timezone=timezone,
    )


def _profile(
    *, application: Application, session: CustomerSession, update: SessionUpdate, now: datetime
) -> CustomerProfile | None:
    if update.profile_id is None:
        return session.profile
    if update.profile_id == "":
        session.profile = None
        return None
    if session.profile is not None and session.profile.integration_id == update.profile_id:
        return session.profile
    profile, _ = CustomerProfile.objects.get_or_create(
        application=application,
        integration_id=update.profile_id,
        defaults={"last_activity": now},
    )
    if session.profile_id != profile.pk:
        session.profile = profile
        session.first_session = not CustomerSession.objects.filter(profile=profile).exists()
    return profile


def _apply_changes(
    *,
    session: CustomerSession,
    update: SessionUpdate,
    items: list[CartItem],
) -> list[CartItem]:
    """The session with the update's changes, its totals recomputed; the update's cart items
    (not saved) when it carries any, else ``items``."""
    if update.store_integration_id is not None:
        session.store_integration_id = update.store_integration_id
    if update.coupon_codes is not None:
        session.coupon_codes = list(update.coupon_codes)
    if update.referral_code is not None:
        session.referral_code = update.referral_code
    if update.loyalty_cards is not None:
        session.loyalty_cards = list(update.loyalty_cards)
    if update.identifiers is not None:
        session.identifiers = list(update.identifiers)
    if update.attributes is not None:
        session.attributes = {**session.attributes, **stored_value(update.attributes)}
    if update.additional_costs is not None:
        session.additional_costs = {
            name: {"price": str(price)} for name, price in update.additional_costs.items()
        }
    if update.cart_items is not None:
        items = [
            _cart_item(session, position, item) for position, item in enumerate(update.cart_items)
        ]
    _totals(session, items)
    return items


CART_ITEM_FIELDS: Final = (
    "id",
    "session_id",
    "position",
    "name",
    "sku",
    "quantity",
    "returned_quantity",
    "remaining_quantity",
    "price",
    "category",
    "product_name",
    "weight",
    "height",
    "width",
    "length",
    "attributes",
    "additional_costs",
    "catalog_item_id",
)
"""``CartItem``'s fields (their ``attname``s) in the model's order, which ``_cart_item`` gives
their values in (a test holds the two together), to build it with ``rows.model_instance``."""

_cache_session = CartItem.session.field.set_cached_value


def _cart_item(session: CustomerSession, position: int, item: CartItemInput) -> CartItem:
    costs = item.additional_costs
    values = (
        None,
        session.pk,
        position,
        item.name or "",
        item.sku,
        item.quantity,
        0,
        item.quantity,
        item.price if item.price is not None else ZERO,
        item.category or "",
        item.product_name or "",
        item.weight,
        item.height,
        item.width,
        item.length,
        stored_value(dict(item.attributes)) if item.attributes else {},
        {name: {"price": str(price)} for name, price in costs.items()} if costs else {},
        None,
    )
    made = model_instance(CartItem, CART_ITEM_FIELDS, values, db=None)
    _cache_session(made, session)
    return made


def _cost(entry: Any) -> Decimal:
    return Decimal(str(entry["price"])) if isinstance(entry, Mapping) else Decimal(str(entry))


def _totals(session: CustomerSession, items: Sequence[CartItem]) -> None:
    """The session's totals, on what remains of each item (all of it, until a return)."""
    cart = sum((item.price * item.remaining_quantity for item in items), ZERO)
    item_costs = sum(
        (
            _cost(cost) * item.remaining_quantity
            for item in items
            for cost in item.additional_costs.values()
        ),
        ZERO,
    )
    costs = sum((_cost(cost) for cost in session.additional_costs.values()), ZERO)
    session.cart_item_total = cart
    session.cart_item_additional_cost_total = item_costs
    session.additional_cost_total = costs
    session.total = cart + item_costs + costs


def _item_data(item: CartItem, types: Mapping[str, Type]) -> ItemData:
    return ItemData(
        position=item.position,
        sku=item.sku,
        quantity=item.quantity,
        price=item.price,
        name=item.name,
        category=item.category,
        product_name=item.product_name,
        weight=item.weight,
        height=item.height,
        width=item.width,
        length=item.length,
        returned_quantity=item.returned_quantity,
        attributes=typed_attributes(item.attributes, types),
        additional_costs={name: _cost(cost) for name, cost in item.additional_costs.items()},
    )


def _session_fields(session: CustomerSession, types: Mapping[str, Type]) -> dict[str, Any]:
    return {
        "IntegrationId": session.integration_id,
        "ProfileId": session.profile.integration_id if session.profile else "",
        "StoreIntegrationId": session.store_integration_id,
        "State": session.state,
        "FirstSession": session.first_session,
        "UpdateCount": Decimal(session.update_count),
        "CreatedAt": session.created,
        "UpdatedAt": session.updated,
        "Total": session.total,
        "CartItemTotal": session.cart_item_total,
        "AdditionalCostTotal": session.additional_cost_total,
        "CartItemAdditionalCostTotal": session.cart_item_additional_cost_total,
        "AdditionalCosts": {
            name: {"Price": _cost(cost)} for name, cost in session.additional_costs.items()
        },
        "CouponCode": session.coupon_codes[0] if session.coupon_codes else "",
        "CouponCodes": list(session.coupon_codes),
        "ReferralCode": session.referral_code,
        "LoyaltyCards": list(session.loyalty_cards),
        "Identifiers": list(session.identifiers),
        "Attributes": typed_attributes(session.attributes, types),
    }


def _record(
    *,
    application: Application,
    session: CustomerSession,
    profile_id: int | None,
    fired: FiredEffect,
    ruleset_id: int | None,
    now: datetime,
) -> EffectRecord:
    return EffectRecord(
        application=application,
        campaign_id=fired.rule.ruleset or None,  # 0: a code that belongs to no campaign
        ruleset_id=ruleset_id,
        session=session,
        profile_id=profile_id,
        rule_index=fired.rule.rule_index,
        rule_name=fired.rule.title,
        effect_type=fired.effect.effect_type,
        props=fired.effect.props(),
        created=now,
    )


def _confirm(
    *,
    application: Application,
    session: CustomerSession,
    profile: CustomerProfile | None,
    effects: Sequence[FiredEffect],
    rulesets: Mapping[int, int | None],
    now: datetime,
) -> list[EffectRecord]:
    """Closing: record the effects (answered, in their order), and count the sale on the
    profile."""
    records = EffectRecord.objects.bulk_create(
        _record(
            application=application,
            session=session,
            profile_id=profile.pk if profile is not None else None,
            fired=fired,
            ruleset_id=rulesets.get(fired.rule.ruleset),
            now=now,
        )
        for fired in effects
    )
    if profile is not None:
        CustomerProfile.objects.filter(pk=profile.pk).update(
            closed_sessions=F("closed_sessions") + 1,
            total_sales=F("total_sales") + session.total,
            last_activity=now,
        )
        profile.refresh_from_db()
    return records


def _live_records(session: CustomerSession) -> list[EffectRecord]:
    """The session's effect records not rolled back, oldest first, locked."""
    return list(
        EffectRecord.objects.select_for_update()
        .filter(session=session, rolled_back_at__isnull=True)
        .order_by("pk")
    )


def _ref(record: EffectRecord) -> RuleRef:
    return RuleRef(record.campaign_id or 0, record.rule_index, record.rule_name)


def _rollback(effect: SetDiscount | SetDiscountPerItem, value: Decimal) -> RollbackDiscount:
    """The ``rollbackDiscount`` taking ``value`` of ``effect`` back."""
    scope = effect.scope.value if effect.scope is not None else None
    position = effect.position if isinstance(effect, SetDiscountPerItem) else None
    sub_position = effect.sub_position if isinstance(effect, SetDiscountPerItem) else None
    return RollbackDiscount(
        name=effect.name,
        value=value,
        cart_item_position=position,
        cart_item_sub_position=sub_position,
        scope=scope,
    )


def _discount(record: EffectRecord) -> SetDiscount | SetDiscountPerItem | None:
    if record.effect_type not in _DISCOUNTS:
        return None
    effect = effect_from_props(record.effect_type, record.props)
    assert isinstance(effect, SetDiscount | SetDiscountPerItem)
    return effect


def _roll_back_all(*, session: CustomerSession, now: datetime) -> list[FiredEffect]:
    """Roll back every live record of the session: its discounts come back in full."""
    records = _live_records(session)
    rollbacks = []
    for record in records:
        discount = _discount(record)
        if discount is not None:
            rollbacks.append(FiredEffect(_ref(record), _rollback(discount, discount.value)))
        elif record.effect_type == AcceptCoupon.effect_type:
            value = str(record.props.get("value", ""))
            rollbacks.append(FiredEffect(_ref(record), RollbackCoupon(value=value)))
        elif record.effect_type == AcceptReferral.effect_type:
            value = str(record.props.get("value", ""))
            rollbacks.append(FiredEffect(_ref(record), RollbackReferral(value=value)))
    if records:
        EffectRecord.objects.filter(pk__in=[r.pk for r in records]).update(rolled_back_at=now)
    # The uses and budgets closing took, given back once (a second roll-back finds none).
    coupon_redemptions_roll_back(session=session, now=now)
    referral_redemptions_roll_back(session=session, now=now)
    budget_spends_roll_back(session_id=session.pk, now=now)
    return rollbacks


def _roll_back(
    *, session: CustomerSession, profile: CustomerProfile | None, confirmed: bool, now: datetime
) -> list[FiredEffect]:
    """Cancelling or reopening: give back what closing confirmed, once. ``confirmed``: the
    session was closed (or partially returned), so its sale counts on the profile."""
    rollbacks = _roll_back_all(session=session, now=now)
    if confirmed and profile is not None:
        CustomerProfile.objects.filter(pk=profile.pk).update(
            closed_sessions=F("closed_sessions") - 1,
            total_sales=F("total_sales") - session.total,
        )
        profile.refresh_from_db()
    return rollbacks


# --------------------------------------------------------------------------------------------
# Returns


def _return(
    *,
    application: Application,
    integration_id: str,
    returned: Sequence[ReturnedCartItemInput],
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    run_rule_engine: bool,
) -> ReturnOutcome:
    session = _locked_existing(application=application, integration_id=integration_id)
    if session.state not in _RETURNABLE_STATES:
        raise SessionStateError(session.state, PARTIALLY_RETURNED)
    items = list(session.cart_items.order_by("position"))
    entries = _resolve(items, returned)
    left_before = {item.position: item.remaining_quantity for item in items}
    value_before = _kept_value(items)
    total_before = session.total

    for entry in entries:
        # Conditional, so that the database refuses what the lock should already prevent.
        changed = CartItem.objects.filter(
            pk=entry.item.pk, remaining_quantity__gte=entry.quantity
        ).update(
            returned_quantity=F("returned_quantity") + entry.quantity,
            remaining_quantity=F("remaining_quantity") - entry.quantity,
        )
        if changed != 1:
            raise RuntimeError(f"cart item {entry.item.pk} changed under the session lock")
        entry.item.returned_quantity += entry.quantity
        entry.item.remaining_quantity -= entry.quantity
    _totals(session, items)
    session.state = PARTIALLY_RETURNED
    session.save(
        update_fields=[
            "state",
            "total",
            "cart_item_total",
            "additional_cost_total",
            "cart_item_additional_cost_total",
            "updated",
        ]
    )

    if all(item.remaining_quantity == 0 for item in items):
        effects = _roll_back_all(session=session, now=now)
    else:
        effects = _roll_back_returned(
            application=application,
            session=session,
            items=items,
            left_before=left_before,
            value_before=value_before,
            custom_types=custom_types,
            now=now,
            run_rule_engine=run_rule_engine,
        )

    profile = session.profile
    if profile is not None:
        CustomerProfile.objects.filter(pk=profile.pk).update(
            total_sales=F("total_sales") - (total_before - session.total), last_activity=now
        )
        profile.refresh_from_db()
    event = Event.objects.create(
        application=application,
        profile=profile,
        session=session,
        type=RETURN_EVENT_TYPE,
        attributes={
            "returnedCartItems": [
                {"position": e.item.position, "quantity": e.quantity, "sku": e.item.sku}
                for e in entries
            ]
        },
        created=now,
    )
    previous = tuple(
        Event.objects.filter(session=session, type=RETURN_EVENT_TYPE)
        .exclude(pk=event.pk)
        .order_by("created", "pk")
    )
    outcome = _outcome(session, items, profile, effects, [], application)
    return ReturnOutcome(
        session=outcome.session,
        items=outcome.items,
        profile=outcome.profile,
        effects=outcome.effects,
        failures=outcome.failures,
        campaign_names=outcome.campaign_names,
        ruleset_ids=outcome.ruleset_ids,
        event=event,
        previous_returns=previous,
    )


def _resolve(
    items: Sequence[CartItem], returned: Sequence[ReturnedCartItemInput]
) -> list[_Returned]:
    """Which item each entry names and how many of it, checked against what is left (an entry
    without a quantity takes all that is left). Raises ``ReturnRefused`` with every problem."""
    by_position = {item.position: item for item in items}
    taken: dict[int, int] = defaultdict(int)
    problems: list[tuple[int, str, str]] = []
    resolved: list[_Returned] = []
    for index, entry in enumerate(returned):
        item: CartItem | None
        if entry.position is not None:
            item = by_position.get(entry.position)
            if item is None:
                details = f"names no item: the session's cart has {len(items)} items"
                problems.append((index, "position", details))
                continue
            if entry.sku is not None and entry.sku != item.sku:
                details = f"is not the SKU of the item at position {item.position} ({item.sku!r})"
                problems.append((index, "sku", details))
                continue
        else:
            same_sku = [i for i in items if i.sku == entry.sku]
            if not same_sku:
                problems.append((index, "sku", "names no item of the session's cart"))
                continue
            item = next(
                (i for i in same_sku if i.remaining_quantity > taken[i.position]), same_sku[0]
            )
        left = item.remaining_quantity - taken[item.position]
        quantity = entry.quantity if entry.quantity is not None else left
        if left <= 0:
            details = f"is more than is left of the item at position {item.position} (none)"
            problems.append((index, "quantity", details))
            continue
        if quantity > left:
            details = (
                f"must be at most {left}, what is left of the item at position {item.position}"
            )
            if taken[item.position]:
                details += " after the entries before it"
            problems.append((index, "quantity", details))
            continue
        taken[item.position] += quantity
        resolved.append(_Returned(item, quantity))
    if problems:
        raise ReturnRefused(problems)
    return resolved


def _kept_value(items: Sequence[CartItem]) -> Decimal:
    """What the remaining cart items are worth (their prices; the base of session discounts)."""
    return sum((item.price * item.remaining_quantity for item in items), ZERO)


def _roll_back_returned(
    *,
    application: Application,
    session: CustomerSession,
    items: Sequence[CartItem],
    left_before: Mapping[int, int],
    value_before: Decimal,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    run_rule_engine: bool,
) -> list[FiredEffect]:
    """A partial return: reduce each live discount to what is due, and roll back the rest."""
    records = [record for record in _live_records(session) if record.effect_type in _DISCOUNTS]
    if not records:
        return []
    left_after = {item.position: item.remaining_quantity for item in items}
    value_after = _kept_value(items)
    minor_units = application.minor_units

    reevaluated: dict[tuple[Any, ...], list[Decimal]] = {}
    current_rulesets: Mapping[int, int | None] = {}
    if run_rule_engine:
        current_rulesets, reevaluated = _reevaluate(
            application=application,
            session=session,
            items=items,
            campaigns={record.campaign_id for record in records if record.campaign_id},
            custom_types=custom_types,
            now=now,
        )

    rollbacks: list[FiredEffect] = []
    replaced: list[int] = []
    replacements: list[EffectRecord] = []
    given_back: dict[int, Decimal] = {}
    """Campaign id → the discount the return takes back from it."""
    effects_gone: dict[int, int] = {}
    """Campaign id → its discounts the return takes back whole."""
    for record in records:
        discount = _discount(record)
        assert discount is not None
        if (
            record.campaign_id is not None
            and record.ruleset_id is not None
            and current_rulesets.get(record.campaign_id) == record.ruleset_id
        ):
            due = min(
                discount.value, _take(reevaluated, _key(record.campaign_id, record, discount))
            )
        elif isinstance(discount, SetDiscountPerItem):
            before = left_before.get(discount.position, 0)
            after = left_after.get(discount.position, 0)
            if discount.sub_position is not None:
                # One unit's discount: returned units are taken from the end of the line.
                due = discount.value if discount.sub_position < after else ZERO
            else:
                due = _share(discount.value, after, before, minor_units)
        else:
            due = _share(discount.value, value_after, value_before, minor_units)
        if due >= discount.value:
            continue
        ref = _ref(record)
        rollbacks.append(FiredEffect(ref, _rollback(discount, discount.value - due)))
        if record.campaign_id is not None:
            given_back[record.campaign_id] = (
                given_back.get(record.campaign_id, ZERO) + discount.value - due
            )
            if due == ZERO:
                effects_gone[record.campaign_id] = effects_gone.get(record.campaign_id, 0) + 1
        replaced.append(record.pk)
        if due > ZERO:
            kept = replace(discount, value=due)
            replacements.append(
                _record(
                    application=application,
                    session=session,
                    profile_id=record.profile_id,
                    fired=FiredEffect(ref, kept),
                    ruleset_id=record.ruleset_id,
                    now=now,
                )
            )
    if replaced:
        EffectRecord.objects.filter(pk__in=replaced).update(rolled_back_at=now)
        EffectRecord.objects.bulk_create(replacements)
    # The campaigns' coupons and budgets get back what the return took back, in campaign
    # order (coupons before budget counters, as closing locks them).
    for campaign_id in sorted(given_back):
        coupon_discount_give_back(
            session=session, campaign_id=campaign_id, amount=given_back[campaign_id]
        )
    for campaign_id in sorted(given_back):
        budget_give_back(
            session_id=session.pk,
            campaign_id=campaign_id,
            action=LimitAction.SET_DISCOUNT,
            amount=given_back[campaign_id],
            now=now,
        )
        budget_give_back(
            session_id=session.pk,
            campaign_id=campaign_id,
            action=LimitAction.SET_DISCOUNT_EFFECT,
            amount=Decimal(effects_gone.get(campaign_id, 0)),
            now=now,
        )
    return rollbacks


def _share(value: Decimal, kept: Decimal | int, before: Decimal | int, minor_units: int) -> Decimal:
    """``value`` in proportion to what is kept of what it was on, rounded to the minor unit."""
    if before <= 0 or kept <= 0:
        return ZERO
    if kept >= before:
        return value
    return min(value, round_money(value * Decimal(kept) / Decimal(before), minor_units))


def _key(
    campaign_id: int, record: EffectRecord, effect: SetDiscount | SetDiscountPerItem
) -> tuple[Any, ...]:
    """Which re-evaluated discount stands for a recorded one: same rule, name and item."""
    position = effect.position if isinstance(effect, SetDiscountPerItem) else None
    return (campaign_id, record.rule_index, effect.effect_type, effect.name, position)


def _take(due: dict[tuple[Any, ...], list[Decimal]], key: tuple[Any, ...]) -> Decimal:
    """The next re-evaluated value for ``key`` (nothing left: the discount is not due)."""
    values = due.get(key)
    return values.pop(0) if values else ZERO


def _reevaluate(
    *,
    application: Application,
    session: CustomerSession,
    items: Sequence[CartItem],
    campaigns: set[int],
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
) -> tuple[dict[int, int | None], dict[tuple[Any, ...], list[Decimal]]]:
    """Evaluate the running campaigns on the cart as it remains: each item's quantity is what
    is left of it, and items with nothing left are not in the cart. Answers the active ruleset
    of each of ``campaigns`` that runs, and the discounts they give, by ``_key``."""
    compiled = compiled_campaigns_get(application=application, now=now)
    rulesets = {c.pk: c.active_ruleset_id for c in compiled.campaigns if c.pk in campaigns}
    if not rulesets:
        return {}, {}
    item_types = custom_types.get("CartItem", {})
    item_data = [
        replace(_item_data(item, item_types), quantity=item.remaining_quantity, returned_quantity=0)
        for item in items
        if item.remaining_quantity > 0
    ]
    binding = session_binding(
        session=_session_fields(session, custom_types.get("CustomerSession", {})),
        items=item_data,
        profile=profile_binding(session.profile, custom_types.get("CustomerProfile", {})),
        application={"Id": Decimal(application.pk), "Name": application.name},
        now=now,
    )
    result = compiled.evaluate(binding, now=now, cascade=cascade_settings(application))
    effects = apply_discounts(
        result.effects,
        session_total=session.total,
        items=item_data,
        minor_units=application.minor_units,
    )
    due: dict[tuple[Any, ...], list[Decimal]] = defaultdict(list)
    for fired in effects:
        effect = fired.effect
        if fired.rule.ruleset in rulesets and isinstance(effect, SetDiscount | SetDiscountPerItem):
            position = effect.position if isinstance(effect, SetDiscountPerItem) else None
            key = (
                fired.rule.ruleset,
                fired.rule.rule_index,
                effect.effect_type,
                effect.name,
                position,
            )
            due[key].append(effect.value)
    return rulesets, due


# --------------------------------------------------------------------------------------------


def _unchanged(*, session: CustomerSession, application: Application) -> SessionOutcome:
    """A repeated close or cancel: nothing changes; a closed (or partially returned) session
    shows what it keeps, its live effect records."""
    effects = []
    if session.state in _CONFIRMED_STATES:
        live = EffectRecord.objects.filter(session=session, rolled_back_at__isnull=True)
        for record in live.order_by("pk"):
            effect = effect_from_props(record.effect_type, record.props)
            effects.append(FiredEffect(_ref(record), effect))
    items = list(session.cart_items.order_by("position"))
    return _outcome(session, items, session.profile, effects, [], application)


def _outcome(
    session: CustomerSession,
    items: list[CartItem],
    profile: CustomerProfile | None,
    effects: list[FiredEffect],
    failures: list[RuleFailure],
    application: Application,
    known: CompiledCampaigns | None = None,
    set_aside: Sequence[tuple[RuleRef, Exclusion]] = (),
    coupons: Sequence[Coupon] = (),
    created_coupons: Sequence[Coupon] = (),
    created_referrals: Sequence[Referral] = (),
) -> SessionOutcome:
    """The outcome, with the names and rulesets of the campaigns it mentions (at least): those
    of ``known`` (the running campaigns, compiled, in memory) when it has them all, else those
    read from the database."""
    ids = {fired.rule.ruleset for fired in effects} | {f.rule.ruleset for f in failures}
    ids |= {rule.ruleset for rule, _ in set_aside}
    ids.discard(0)  # a coupon code that belongs to no campaign
    if known is not None and ids <= known.campaign_names.keys():
        campaign_names, ruleset_ids = known.campaign_names, known.ruleset_ids
    else:
        campaigns = Campaign.objects.filter(pk__in=ids).values_list(
            "pk", "name", "active_ruleset_id"
        )
        campaign_names = {pk: name for pk, name, _ in campaigns}
        ruleset_ids = {pk: ruleset or 0 for pk, _, ruleset in campaigns}
    return SessionOutcome(
        session=session,
        items=items,
        profile=profile,
        effects=effects,
        failures=failures,
        campaign_names=campaign_names,
        ruleset_ids=ruleset_ids,
        set_aside=set_aside,
        coupons=coupons,
        created_coupons=created_coupons,
        created_referrals=created_referrals,
    )
