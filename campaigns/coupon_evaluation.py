"""Coupons and referrals in an evaluation: what the rules see of them, and which codes are
accepted.

Pure steps around the rule engine, as ``campaigns.evaluation``'s; the session service looks the
codes up, decides their validity (``campaigns.services.coupons.coupon_rejection``), evaluates,
and redeems at close.

- ``coupon_bindings``: each campaign sees its own coupon as ``Coupon`` (``couponValid`` reads
  ``Coupon.Valid``). Of a session's codes, a campaign takes the first that is usable, or, when
  none is, the first of its codes (so that rules can still read why); the campaign's other codes
  are not used.
- ``coupon_effects``: Talon.One's verdict on every code the session carries, in the order it
  sent them. An unusable code is rejected with its reason (``CouponNotFound``,
  ``CouponExpired`` …). A usable one is accepted when a rule of its campaign that asks
  ``couponValid`` fired and its campaign was not set aside by its evaluation group
  (``CouponPartOfNotTriggeredCampaign`` then, with the group's reason); otherwise it is rejected
  with ``CouponRejectedByCondition``, as is a campaign's code it did not use. An acceptance is
  told as the rule that used the coupon; a rejection as the campaign's first rule that asks for
  it (or rule 0), or, for an unknown code, campaign 0.
- ``coupon_values_apply``: a coupon's discount limit is a stored value its campaign's
  discounts draw down; they are cut down to what is left of it.
- ``referral_binding`` and ``referral_effect`` do the same for the session's referral code
  (``referralValid``, ``acceptReferral`` / ``rejectReferral`` with Talon.One's reasons).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from campaigns.evaluation import Exclusion, typed_attributes
from campaigns.models import Coupon, Referral
from rules.effects import (
    AcceptCoupon,
    AcceptReferral,
    CouponRejectionReason,
    ReferralRejectionReason,
    RejectCoupon,
    RejectReferral,
    SetDiscount,
    SetDiscountPerItem,
)
from rules.engine import FiredEffect, RuleRef
from rules.types import Type

NO_RULE = RuleRef(0, 0, "")
"""Who rejects a code that belongs to no campaign."""


def coupon_binding(coupon: Coupon, *, valid: bool, types: Mapping[str, Type]) -> dict[str, Any]:
    """``coupon`` as rules read it (``Coupon.…``, the catalogue's names)."""
    remainder = coupon.discount_limit - coupon.discount_counter if coupon.discount_limit else ZERO
    binding: dict[str, Any] = {
        "Code": coupon.value,
        "Value": coupon.value,
        "Valid": valid,
        "CampaignId": Decimal(coupon.campaign_id),
        "UsageLimit": Decimal(coupon.usage_limit),
        "UsageCounter": Decimal(coupon.usage_counter),
        "DiscountLimit": coupon.discount_limit,
        "DiscountCounter": coupon.discount_counter,
        "DiscountRemainder": remainder,
        "RecipientIntegrationId": coupon.recipient_integration_id,
        "Attributes": typed_attributes(coupon.attributes, types),
    }
    if coupon.start_date is not None:
        binding["StartDate"] = coupon.start_date
    if coupon.expiry_date is not None:
        binding["ExpiryDate"] = coupon.expiry_date
    return binding


ZERO = Decimal(0)


def coupons_used(
    codes: Sequence[str],
    found: Mapping[str, Coupon],
    rejections: Mapping[str, CouponRejectionReason | None],
) -> dict[int, str]:
    """Campaign id → the code its rules see (see the module)."""
    used: dict[int, str] = {}
    for code in codes:
        coupon = found.get(code)
        if coupon is None:
            continue
        current = used.get(coupon.campaign_id)
        if current is None or (rejections.get(current) and not rejections.get(code)):
            used[coupon.campaign_id] = code
    return used


def coupon_bindings(
    used: Mapping[int, str],
    found: Mapping[str, Coupon],
    rejections: Mapping[str, CouponRejectionReason | None],
    types: Mapping[str, Type],
) -> dict[int, dict[str, Any]]:
    """Campaign id → the ``Coupon`` its rules see."""
    return {
        campaign: coupon_binding(found[code], valid=rejections.get(code) is None, types=types)
        for campaign, code in used.items()
    }


def coupon_effects(
    codes: Sequence[str],
    *,
    found: Mapping[str, Coupon],
    rejections: Mapping[str, CouponRejectionReason | None],
    used: Mapping[int, str],
    fired: Collection[RuleRef],
    coupon_rules: Mapping[tuple[int, int], str],
    set_aside: Sequence[tuple[RuleRef, Exclusion]],
) -> list[FiredEffect]:
    """``acceptCoupon`` or ``rejectCoupon`` for every code (see the module), in order."""
    excluded = {exclusion.campaign_id: exclusion for _, exclusion in set_aside}
    effects = []
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            continue
        seen.add(code)
        coupon = found.get(code)
        if coupon is None:
            reject = RejectCoupon(value=code, rejection_reason=_reason(rejections.get(code)))
            effects.append(FiredEffect(NO_RULE, reject))
            continue
        campaign = coupon.campaign_id
        asking = sorted(index for key, index in coupon_rules if key == campaign)
        first = (
            RuleRef(campaign, asking[0], coupon_rules[campaign, asking[0]])
            if asking
            else RuleRef(campaign, 0, "")
        )
        reason = rejections.get(code)
        if reason is not None:
            effects.append(FiredEffect(first, RejectCoupon(value=code, rejection_reason=reason)))
            continue
        if used.get(campaign) != code:
            effects.append(FiredEffect(first, _by_condition(code, "another code of the campaign")))
            continue
        using = [rule for rule in fired if (rule.ruleset, rule.rule_index) in coupon_rules]
        using = [rule for rule in using if rule.ruleset == campaign]
        if not using:
            effects.append(FiredEffect(first, _by_condition(code, None)))
            continue
        exclusion = excluded.get(campaign)
        if exclusion is not None:
            rejected = RejectCoupon(
                value=code,
                rejection_reason=CouponRejectionReason.COUPON_PART_OF_NOT_TRIGGERED_CAMPAIGN,
                campaign_exclusion_reason=exclusion.reason,
            )
            effects.append(FiredEffect(using[0], rejected))
            continue
        effects.append(FiredEffect(using[0], AcceptCoupon(value=code)))
    return effects


def _reason(reason: CouponRejectionReason | None) -> CouponRejectionReason:
    return reason or CouponRejectionReason.COUPON_NOT_FOUND


def _by_condition(code: str, details: str | None) -> RejectCoupon:
    return RejectCoupon(
        value=code,
        rejection_reason=CouponRejectionReason.COUPON_REJECTED_BY_CONDITION,
        details=details,
    )


# --------------------------------------------------------------------------------------------
# Referrals: the same, for the one referral code a session carries.


def referral_binding(
    referral: Referral, *, valid: bool, types: Mapping[str, Type]
) -> dict[str, Any]:
    """``referral`` as rules read it (``Referral.…``, the catalogue's names)."""
    binding: dict[str, Any] = {
        "Code": referral.code,
        "Valid": valid,
        "CampaignId": Decimal(referral.campaign_id),
        "AdvocateIntegrationId": referral.advocate_profile_integration_id,
        "FriendIntegrationId": referral.friend_profile_integration_id,
        "UsageLimit": Decimal(referral.usage_limit),
        "UsageCounter": Decimal(referral.usage_counter),
        "Attributes": typed_attributes(referral.attributes, types),
    }
    if referral.start_date is not None:
        binding["StartDate"] = referral.start_date
    if referral.expiry_date is not None:
        binding["ExpiryDate"] = referral.expiry_date
    return binding


def referral_effect(
    code: str,
    referral: Referral | None,
    rejection: ReferralRejectionReason | None,
    *,
    fired: Collection[RuleRef],
    referral_rules: Mapping[tuple[int, int], str],
    set_aside: Sequence[tuple[RuleRef, Exclusion]],
) -> FiredEffect:
    """``acceptReferral`` or ``rejectReferral`` for the session's referral code, by the rules
    coupons follow (see the module)."""
    if referral is None:
        reason = rejection or ReferralRejectionReason.REFERRAL_NOT_FOUND
        return FiredEffect(NO_RULE, RejectReferral(value=code, rejection_reason=reason))
    campaign = referral.campaign_id
    asking = sorted(index for key, index in referral_rules if key == campaign)
    first = (
        RuleRef(campaign, asking[0], referral_rules[campaign, asking[0]])
        if asking
        else RuleRef(campaign, 0, "")
    )
    if rejection is not None:
        return FiredEffect(first, RejectReferral(value=code, rejection_reason=rejection))
    using = [
        rule
        for rule in fired
        if rule.ruleset == campaign and (rule.ruleset, rule.rule_index) in referral_rules
    ]
    if not using:
        reason = ReferralRejectionReason.REFERRAL_REJECTED_BY_CONDITION
        return FiredEffect(first, RejectReferral(value=code, rejection_reason=reason))
    exclusion = next((e for _, e in set_aside if e.campaign_id == campaign), None)
    if exclusion is not None:
        rejected = RejectReferral(
            value=code,
            rejection_reason=ReferralRejectionReason.REFERRAL_PART_OF_NOT_TRIGGERED_CAMPAIGN,
            campaign_exclusion_reason=exclusion.reason,
        )
        return FiredEffect(using[0], rejected)
    return FiredEffect(using[0], AcceptReferral(value=code))


def coupon_values_apply(
    effects: Sequence[FiredEffect], coupons: Mapping[int, Coupon]
) -> tuple[list[FiredEffect], dict[int, Decimal]]:
    """``effects`` with the discounts of each campaign whose coupon (``coupons``: campaign id
    → its accepted coupon) has a discount limit kept within what is left of it, in order: cut
    down, with what they wanted as ``desiredValue``, or left out once nothing is left. And what
    they draw of each coupon (coupon id → amount), which closing counts."""
    left = {
        campaign: coupon.discount_limit - coupon.discount_counter
        for campaign, coupon in coupons.items()
        if coupon.discount_limit > ZERO
    }
    if not left:
        return list(effects), {}
    kept: list[FiredEffect] = []
    drawn: dict[int, Decimal] = {}
    for fired in effects:
        campaign = fired.rule.ruleset
        effect = fired.effect
        if campaign in left and isinstance(effect, SetDiscount | SetDiscountPerItem):
            room = left[campaign]
            if room <= ZERO:
                continue
            if effect.value > room:
                wanted = effect.desired_value or effect.value
                fired = fired._replace(effect=replace(effect, value=room, desired_value=wanted))
            value = fired.effect.value
            left[campaign] = room - value
            coupon = coupons[campaign]
            drawn[coupon.pk] = drawn.get(coupon.pk, ZERO) + value
        kept.append(fired)
    return kept, drawn
