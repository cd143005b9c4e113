"""Talon.One's domain conditions that read what the caller prepared in the binding.

The rule engine does no I/O: the service that evaluates a session looks up the coupon and the
referral code the session carries, decides whether each is usable (it exists, is in its validity
window, under its limits, for this customer), and hands the outcome in as ``Coupon.Valid`` and
``Referral.Valid``. These functions read it, so rules say ``(couponValid)`` as in Talon.One.
"""

from __future__ import annotations

from typing import Any

from rules.functions.registry import REGISTRY
from rules.runtime import State
from rules.types import Kind


def _flag(state: State, entity: str) -> bool:
    found: Any = state.binding.get(entity)
    return isinstance(found, dict) and found.get("Valid") is True


@REGISTRY.function("couponValid", (), Kind.BOOLEAN, stateful=True, category="domain")
def coupon_valid(state: State) -> bool:
    """True when the session's coupon is usable in this campaign."""
    return _flag(state, "Coupon")


@REGISTRY.function("couponValid", (Kind.BOOLEAN,), Kind.BOOLEAN, stateful=True, category="domain")
def coupon_valid_redeeming(state: State, redeem: bool) -> bool:
    """``(couponValid false)``: the same, "without redemption": a coupon accepted only by
    rules that say so is not redeemed when the session closes (``(couponValid true)`` is
    ``(couponValid)``)."""
    return _flag(state, "Coupon")


@REGISTRY.function("referralValid", (), Kind.BOOLEAN, stateful=True, category="domain")
def referral_valid(state: State) -> bool:
    """True when the session's referral code is usable in this campaign."""
    return _flag(state, "Referral")
