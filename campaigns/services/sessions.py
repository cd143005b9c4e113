"""Customer sessions: update a cart, run the application's rules on it, close or cancel it.

One transaction per update: the session row is locked (created if new), the profile created if
new, the cart replaced when the update carries one, the totals recomputed, the running
campaigns evaluated against the result, the discounts made true to the cart, and the session
saved. States follow Talon.One: ``open → closed | cancelled``, ``closed → cancelled``,
``partially_returned → cancelled``; anything else is refused and nothing is written.

- Closing confirms: the effects of the closing evaluation are recorded (the effect log), and the
  profile's closed sessions and total sales grow.
- Cancelling a closed session rolls back: each recorded discount comes back as a
  ``rollbackDiscount`` effect and is marked rolled back, and the profile's figures shrink.
- A repeated close or cancel changes nothing: a closed session answers with the effects it
  recorded, a cancelled one with none.
- ``dry`` evaluates and answers the same way, then rolls the transaction back.

Not yet here (issue 3 continues): evaluation groups' modes (every campaign stacks), coupons,
referrals and budgets (issue 5), returns and reopening.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F

from campaigns.compiled import compiled_campaigns_get
from campaigns.evaluation import (
    ZERO,
    ItemData,
    apply_discounts,
    profile_binding,
    session_binding,
    stored_value,
    typed_attributes,
)
from campaigns.models import (
    Application,
    Campaign,
    CartItem,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
)
from campaigns.models.customers import SessionState
from rules.effects import RollbackDiscount, SetDiscount, SetDiscountPerItem, effect_from_props
from rules.engine import FiredEffect, RuleFailure, RuleRef
from rules.types import Type

if TYPE_CHECKING:
    from integration.payloads import CartItemInput, SessionUpdate

OPEN, CLOSED, CANCELLED = SessionState.OPEN, SessionState.CLOSED, SessionState.CANCELLED
PARTIALLY_RETURNED = SessionState.PARTIALLY_RETURNED

_TRANSITIONS = {
    (OPEN, CLOSED),
    (OPEN, CANCELLED),
    (CLOSED, CANCELLED),
    (PARTIALLY_RETURNED, CANCELLED),
}
_INITIAL_STATES = {OPEN, CLOSED}


class SessionStateError(Exception):
    """A state change the session's state machine does not allow."""

    def __init__(self, current: str | None, requested: str) -> None:
        start = f"a {current} session" if current else "a new session"
        super().__init__(f"{start} cannot become {requested}")
        self.current = current
        self.requested = requested


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


def customer_session_update(
    *,
    application: Application,
    integration_id: str,
    update: SessionUpdate,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    dry: bool = False,
) -> SessionOutcome:
    """Apply ``update`` to the session ``integration_id`` and evaluate it (see the module)."""
    with transaction.atomic():
        outcome = _update(
            application=application,
            integration_id=integration_id,
            update=update,
            custom_types=custom_types,
            now=now,
        )
        if dry:
            transaction.set_rollback(True)
    return outcome


def _locked_session(
    *, application: Application, integration_id: str, initial_state: str
) -> tuple[CustomerSession, bool]:
    sessions = CustomerSession.objects.select_for_update()
    found = sessions.filter(application=application, integration_id=integration_id).first()
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
        return sessions.get(application=application, integration_id=integration_id), False


def _update(
    *,
    application: Application,
    integration_id: str,
    update: SessionUpdate,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
) -> SessionOutcome:
    requested = update.state or OPEN
    session, created = _locked_session(
        application=application, integration_id=integration_id, initial_state=requested
    )
    current = None if created else session.state
    if created and requested not in _INITIAL_STATES:
        raise SessionStateError(None, requested)
    changing = current is not None and update.state and update.state != current
    if changing and (current, update.state) not in _TRANSITIONS:
        raise SessionStateError(current, str(update.state))
    target = update.state or session.state

    if current == target and target in (CLOSED, CANCELLED):
        return _unchanged(session=session, application=application)

    items = list(session.cart_items.order_by("position")) if not created else []
    profile = _profile(application=application, session=session, update=update, now=now)
    if current in (None, OPEN):
        items = _apply_changes(session=session, update=update, items=items, profile=profile)
    session.state = target
    if not created:
        session.update_count = F("update_count") + 1
    session.save()
    session.refresh_from_db(fields=["update_count", "created", "updated"])

    if target == CANCELLED:
        effects = _roll_back(session=session, profile=profile, now=now)
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
    result = compiled.rules.evaluate(binding, now=now)
    effects = apply_discounts(
        result.effects,
        session_total=session.total,
        items=item_data,
        minor_units=application.minor_units,
    )
    if target == CLOSED:
        rulesets = {c.pk: c.active_ruleset_id for c in compiled.campaigns}
        _confirm(
            application=application,
            session=session,
            profile=profile,
            effects=effects,
            rulesets=rulesets,
            now=now,
        )
    return _outcome(session, items, profile, effects, result.failures, application)


def _profile(
    *, application: Application, session: CustomerSession, update: SessionUpdate, now: datetime
) -> CustomerProfile | None:
    if update.profile_id is None:
        return session.profile
    if update.profile_id == "":
        session.profile = None
        return None
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
    profile: CustomerProfile | None,
) -> list[CartItem]:
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
        session.cart_items.all().delete()
        items = CartItem.objects.bulk_create(
            _cart_item(session, position, item) for position, item in enumerate(update.cart_items)
        )
    _totals(session, items)
    return items


def _cart_item(session: CustomerSession, position: int, item: CartItemInput) -> CartItem:
    return CartItem(
        session=session,
        position=position,
        sku=item.sku,
        quantity=item.quantity,
        remaining_quantity=item.quantity,
        price=item.price if item.price is not None else ZERO,
        name=item.name or "",
        category=item.category or "",
        product_name=item.product_name or "",
        weight=item.weight,
        height=item.height,
        width=item.width,
        length=item.length,
        attributes=stored_value(dict(item.attributes)),
        additional_costs={name: {"price": str(p)} for name, p in item.additional_costs.items()},
    )


def _cost(entry: Any) -> Decimal:
    return Decimal(str(entry["price"])) if isinstance(entry, Mapping) else Decimal(str(entry))


def _totals(session: CustomerSession, items: Sequence[CartItem]) -> None:
    cart = sum((item.price * item.quantity for item in items), ZERO)
    item_costs = sum(
        (_cost(cost) * item.quantity for item in items for cost in item.additional_costs.values()),
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


def _confirm(
    *,
    application: Application,
    session: CustomerSession,
    profile: CustomerProfile | None,
    effects: Sequence[FiredEffect],
    rulesets: Mapping[int, int | None],
    now: datetime,
) -> None:
    """Closing: record the effects, and count the sale on the profile."""
    EffectRecord.objects.bulk_create(
        EffectRecord(
            application=application,
            campaign_id=fired.rule.ruleset,
            ruleset_id=rulesets.get(fired.rule.ruleset),
            session=session,
            profile=profile,
            rule_index=fired.rule.rule_index,
            rule_name=fired.rule.title,
            effect_type=fired.effect.effect_type,
            props=fired.effect.props(),
            created=now,
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


def _roll_back(
    *, session: CustomerSession, profile: CustomerProfile | None, now: datetime
) -> list[FiredEffect]:
    """Cancelling a closed session: give back what closing it confirmed, once."""
    records = list(
        EffectRecord.objects.select_for_update()
        .filter(session=session, rolled_back_at__isnull=True)
        .order_by("pk")
    )
    rollbacks = []
    for record in records:
        if record.effect_type in (SetDiscount.effect_type, SetDiscountPerItem.effect_type):
            original = effect_from_props(record.effect_type, record.props)
            assert isinstance(original, SetDiscount | SetDiscountPerItem)
            rollback = RollbackDiscount(name=original.name, value=original.value)
            ref = RuleRef(record.campaign_id, record.rule_index, record.rule_name)
            rollbacks.append(FiredEffect(ref, rollback))
    if records:
        EffectRecord.objects.filter(pk__in=[r.pk for r in records]).update(rolled_back_at=now)
        if profile is not None:
            CustomerProfile.objects.filter(pk=profile.pk).update(
                closed_sessions=F("closed_sessions") - 1,
                total_sales=F("total_sales") - session.total,
            )
    return rollbacks


def _unchanged(*, session: CustomerSession, application: Application) -> SessionOutcome:
    """A repeated close or cancel: nothing changes; a closed session shows what it recorded."""
    effects = []
    if session.state == CLOSED:
        for record in EffectRecord.objects.filter(session=session).order_by("pk"):
            ref = RuleRef(record.campaign_id, record.rule_index, record.rule_name)
            effects.append(FiredEffect(ref, effect_from_props(record.effect_type, record.props)))
    items = list(session.cart_items.order_by("position"))
    return _outcome(session, items, session.profile, effects, [], application)


def _outcome(
    session: CustomerSession,
    items: list[CartItem],
    profile: CustomerProfile | None,
    effects: list[FiredEffect],
    failures: list[RuleFailure],
    application: Application,
) -> SessionOutcome:
    ids = {fired.rule.ruleset for fired in effects} | {f.rule.ruleset for f in failures}
    campaigns = Campaign.objects.filter(pk__in=ids).values_list("pk", "name", "active_ruleset_id")
    return SessionOutcome(
        session=session,
        items=items,
        profile=profile,
        effects=effects,
        failures=failures,
        campaign_names={pk: name for pk, name, _ in campaigns},
        ruleset_ids={pk: ruleset or 0 for pk, _, ruleset in campaigns},
    )
