"""The effect vocabulary of Talon.One, defined once.

An *effect* is what a rule asks for: a discount, loyalty points, a free item, a notification …
Effects are values. A rule's effect functions (``["setDiscount", "10% off", 5]``) only build one
and hand it to ``State.emit``; applying it (capping discounts, spending budgets, writing ledger
rows, generating coupon codes) is a later, transactional step outside the pure rule engine.

This module holds both halves of that vocabulary:

- one frozen dataclass per effect type, named in the domain's words, with Talon.One's
  ``effect_type`` string and ``props()``, the effect's ``props`` object in the Integration API's
  wire format (Talon.One's camelCase field names; money and points stay ``Decimal``, times stay
  ``datetime``: rendering JSON is the API layer's job). ``effect_from_props`` reads one back,
  from the same dict or from its JSON-decoded form (numbers and times as text);
- the effect *functions* a rule calls in its effects list, registered into ``REGISTRY`` on import
  under Talon.One's names. They check what the kind system cannot (a negative discount, an unknown
  scope, notification type or rejection reason) and raise ``RuleRuntimeError``.

Wire rules, per the Integration API reference: a field whose default is ``None`` is optional and
left out of ``props()`` when it is ``None``; every other field is required and always present.
Required fields that a rule cannot know (a loyalty transaction's UUID, a webhook's name, a created
coupon's code …) default to an empty value and are filled in by the applicator with
``dataclasses.replace``. A few fields carry *instructions* for the applicator (a created coupon's
usage limit, a webhook's arguments); they are marked ``wire=False`` and are never part of
``props()``, so they do not survive a trip through storage: by then they have been carried out.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Self

from rules.errors import RuleRuntimeError
from rules.functions.registry import REGISTRY
from rules.records import record
from rules.runtime import State
from rules.types import Kind
from rules.values import parse_rfc3339, to_decimal

# --------------------------------------------------------------------------------------------
# Enumerations of the wire format


class SessionDiscountScope(enum.StrEnum):
    """What a session-level discount (``setDiscount``) applies to."""

    CART_ITEMS = "cartItems"
    ADDITIONAL_COSTS = "additionalCosts"
    SESSION_TOTAL = "sessionTotal"


class ItemDiscountScope(enum.StrEnum):
    """What a per-item discount (``setDiscountPerItem``) applies to."""

    PRICE = "price"
    ITEM_TOTAL = "itemTotal"
    ADDITIONAL_COSTS = "additionalCosts"


class NotificationType(enum.StrEnum):
    """The kind of message a ``showNotification`` effect carries.

    The reference lists these four capitalised names but shows ``info`` in an example, so reading
    is case-insensitive; the capitalised spelling is what we write.
    """

    INFO = "Info"
    OFFER = "Offer"
    ERROR = "Error"
    MISC = "Misc"

    @classmethod
    def _missing_(cls, value: object) -> NotificationType | None:
        if isinstance(value, str):
            for member in cls:
                if member.value.lower() == value.lower():
                    return member
        return None


class CouponRejectionReason(enum.StrEnum):
    """Why a coupon code was rejected (``rejectCoupon``'s ``rejectionReason``)."""

    CAMPAIGN_LIMIT_REACHED = "CampaignLimitReached"
    COUPON_EXPIRED = "CouponExpired"
    COUPON_LIMIT_REACHED = "CouponLimitReached"
    COUPON_NOT_FOUND = "CouponNotFound"
    COUPON_PART_OF_NOT_RUNNING_CAMPAIGN = "CouponPartOfNotRunningCampaign"
    COUPON_RECIPIENT_DOES_NOT_MATCH = "CouponRecipientDoesNotMatch"
    COUPON_REJECTED_BY_CONDITION = "CouponRejectedByCondition"
    COUPON_START_DATE_IN_FUTURE = "CouponStartDateInFuture"
    EFFECT_COULD_NOT_BE_APPLIED = "EffectCouldNotBeApplied"
    PROFILE_LIMIT_REACHED = "ProfileLimitReached"
    COUPON_PART_OF_NOT_TRIGGERED_CAMPAIGN = "CouponPartOfNotTriggeredCampaign"
    COUPON_RESERVATION_REQUIRED = "CouponReservationRequired"
    PROFILE_REQUIRED = "ProfileRequired"


class ReferralRejectionReason(enum.StrEnum):
    """Why a referral code was rejected (``rejectReferral``'s ``rejectionReason``)."""

    ADVOCATE_NOT_FOUND = "AdvocateNotFound"
    CAMPAIGN_LIMIT_REACHED = "CampaignLimitReached"
    EFFECT_COULD_NOT_BE_APPLIED = "EffectCouldNotBeApplied"
    PROFILE_LIMIT_REACHED = "ProfileLimitReached"
    REFERRAL_CUSTOMER_ALREADY_REFERRED = "ReferralCustomerAlreadyReferred"
    REFERRAL_EXPIRED = "ReferralExpired"
    REFERRAL_LIMIT_REACHED = "ReferralLimitReached"
    REFERRAL_NOT_FOUND = "ReferralNotFound"
    REFERRAL_PART_OF_NOT_RUNNING_CAMPAIGN = "ReferralPartOfNotRunningCampaign"
    REFERRAL_RECIPIENT_DOES_NOT_MATCH = "ReferralRecipientDoesNotMatch"
    REFERRAL_RECIPIENT_ID_SAME_AS_ADVOCATE = "ReferralRecipientIdSameAsAdvocate"
    REFERRAL_REJECTED_BY_CONDITION = "ReferralRejectedByCondition"
    REFERRAL_START_DATE_IN_FUTURE = "ReferralStartDateInFuture"
    REFERRAL_PART_OF_NOT_TRIGGERED_CAMPAIGN = "ReferralPartOfNotTriggeredCampaign"


class CampaignExclusionReason(enum.StrEnum):
    """Why the campaign of a rejected code was left out of the evaluation."""

    CAMPAIGN_GAVE_LOWER_DISCOUNT = "CampaignGaveLowerDiscount"
    CAMPAIGN_IS_NOT_FIRST = "CampaignIsNotFirst"
    CAMPAIGN_NOT_IN_EVALUATION_SET = "CampaignNotInEvaluationSet"


UPDATABLE_ROOTS = ("Session", "Profile")
"""The entities whose attributes an ``updateAttribute`` effect may change."""

# --------------------------------------------------------------------------------------------
# Effects as values


class EffectFormatError(ValueError):
    """Stored effect props that do not describe an effect (unknown type, missing field …)."""


_NOT_ON_WIRE: Mapping[str, bool] = {"wire": False}
"""Field metadata of an instruction for the applicator that ``props()`` leaves out."""

_IRREGULAR_WIRE_NAMES = {"transaction_uuid": "transactionUUID"}
"""Wire names that plain camelCase of the attribute name would misspell."""


def _wire_name(attribute: str) -> str:
    irregular = _IRREGULAR_WIRE_NAMES.get(attribute)
    if irregular is not None:
        return irregular
    head, *rest = attribute.split("_")
    return head + "".join(word.capitalize() for word in rest)


@dataclass(frozen=True, slots=True)
class _WireField:
    attribute: str
    wire: str
    optional: bool
    hint: Any


_WIRE_FIELDS: dict[type, tuple[_WireField, ...]] = {}


def _wire_fields(cls: type) -> tuple[_WireField, ...]:
    """The wire fields of a props class, in declaration (and so reference) order."""
    found = _WIRE_FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = tuple(
            _WireField(f.name, _wire_name(f.name), f.default is None, hints[f.name])
            for f in dataclasses.fields(cls)
            if f.metadata.get("wire", True)
        )
        _WIRE_FIELDS[cls] = found
    return found


def _to_wire(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _Props):
        return value.props()
    if isinstance(value, tuple):
        return [_to_wire(item) for item in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def _from_wire(hint: Any, value: Any, where: str) -> Any:
    """Read one wire value into the type the field declares, accepting JSON-decoded forms."""
    if value is None:
        return None
    if isinstance(hint, types.UnionType):
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if hint is Any:
        return value
    if hint is Decimal:
        if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
            raise EffectFormatError(f"{where}: expected a number, got {value!r}")
        try:
            number = to_decimal(value)
        except ArithmeticError:
            raise EffectFormatError(f"{where}: expected a number, got {value!r}") from None
        if not number.is_finite():
            raise EffectFormatError(f"{where}: expected a finite number, got {value!r}")
        return number
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, Decimal | float) and math.isfinite(value) and value == int(value):
            return int(value)
        raise EffectFormatError(f"{where}: expected an integer, got {value!r}")
    if hint is datetime:
        moment = value if isinstance(value, datetime) else None
        if isinstance(value, str):
            moment = parse_rfc3339(value)
        if moment is None:
            raise EffectFormatError(f"{where}: expected an RFC 3339 time, got {value!r}")
        return moment
    if hint is str:
        if not isinstance(value, str):
            raise EffectFormatError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise EffectFormatError(f"{where}: expected a boolean, got {value!r}")
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise EffectFormatError(f"{where}: not a {hint.__name__}: {value!r}") from None
    if isinstance(hint, type) and issubclass(hint, _Props):
        if not isinstance(value, Mapping):
            raise EffectFormatError(f"{where}: expected an object, got {value!r}")
        return hint.from_props(value)
    origin = typing.get_origin(hint)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise EffectFormatError(f"{where}: expected an object, got {value!r}")
        return dict(value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise EffectFormatError(f"{where}: expected a list, got {value!r}")
        item_hint = typing.get_args(hint)[0]
        return tuple(_from_wire(item_hint, item, f"{where}[{i}]") for i, item in enumerate(value))
    raise TypeError(f"{where}: no reader for {hint!r}")  # a mistake in this module


class _Props:
    """A record with a wire form: Talon.One's camelCase field names, required or optional."""

    __slots__ = ()

    def props(self) -> dict[str, Any]:
        """The wire form: required fields always, optional ones only when set."""
        wire: dict[str, Any] = {}
        for spec in _wire_fields(type(self)):
            value = getattr(self, spec.attribute)
            if value is None and spec.optional:
                continue
            wire[spec.wire] = _to_wire(value)
        return wire

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Self:
        """The inverse of ``props()``. Unknown keys are ignored, so that data written by a newer
        version still reads; a missing required field is an ``EffectFormatError``."""
        values: dict[str, Any] = {}
        for spec in _wire_fields(cls):
            if spec.wire in props:
                values[spec.attribute] = _from_wire(
                    spec.hint, props[spec.wire], f"{cls.__name__}.{spec.wire}"
                )
            elif not spec.optional:
                raise EffectFormatError(f"{cls.__name__}: missing required field {spec.wire}")
        return cls(**values)


class Effect(_Props):
    """Base of every effect: a value with Talon.One's ``effect_type`` and ``props()``."""

    __slots__ = ()

    effect_type: ClassVar[str]


# Discounts ----------------------------------------------------------------------------------


@record
class SetDiscount(Effect):
    """A discount on the session: its total, its items' prices or its additional costs."""

    effect_type: ClassVar[str] = "setDiscount"

    name: str
    value: Decimal
    scope: SessionDiscountScope | None = None
    desired_value: Decimal | None = None
    """Set by the applicator when a budget cut the discount down to ``value``."""


@record
class SetDiscountPerItem(Effect):
    """A discount on one cart item (one unit of it, with ``sub_position``)."""

    effect_type: ClassVar[str] = "setDiscountPerItem"

    name: str
    value: Decimal
    position: int
    sub_position: int | None = None
    desired_value: Decimal | None = None
    scope: ItemDiscountScope | None = None
    total_discount: Decimal | None = None
    desired_total_discount: Decimal | None = None
    bundle_index: int | None = None
    bundle_name: str | None = None
    targeted_item_position: int | None = None
    targeted_item_sub_position: int | None = None
    excluded_from_price_history: bool | None = None


@record
class SetDiscountPerAdditionalCost(Effect):
    """A discount on one of the session's additional costs (shipping, …)."""

    effect_type: ClassVar[str] = "setDiscountPerAdditionalCost"

    name: str
    additional_cost_id: int = 0
    """Resolved from ``additional_cost`` (the API name) by the applicator."""
    additional_cost: str
    value: Decimal
    desired_value: Decimal | None = None


@record
class SetDiscountPerAdditionalCostPerItem(Effect):
    """A discount on one additional cost of one cart item."""

    effect_type: ClassVar[str] = "setDiscountPerAdditionalCostPerItem"

    name: str
    additional_cost_id: int = 0
    """Resolved from ``additional_cost`` (the API name) by the applicator."""
    value: Decimal
    position: int
    sub_position: int | None = None
    additional_cost: str
    desired_value: Decimal | None = None


@record
class RollbackDiscount(Effect):
    """A discount given earlier is taken back (session cancelled or items returned)."""

    effect_type: ClassVar[str] = "rollbackDiscount"

    name: str
    value: Decimal
    cart_item_position: int | None = None
    cart_item_sub_position: int | None = None
    additional_cost_id: int | None = None
    additional_cost: str | None = None
    scope: str | None = None
    """A ``SessionDiscountScope`` or an ``ItemDiscountScope`` value, as the discount had."""


# Coupons and referrals ----------------------------------------------------------------------


@record
class AcceptCoupon(Effect):
    """The coupon code in the session is valid; it is redeemed when the session closes."""

    effect_type: ClassVar[str] = "acceptCoupon"

    value: str


@record
class RejectCoupon(Effect):
    """The coupon code in the session cannot be used, and why."""

    effect_type: ClassVar[str] = "rejectCoupon"

    value: str
    rejection_reason: CouponRejectionReason
    condition_index: int | None = None
    effect_index: int | None = None
    details: str | None = None
    campaign_exclusion_reason: CampaignExclusionReason | None = None


@record
class RollbackCoupon(Effect):
    """A coupon redemption is taken back (session cancelled)."""

    effect_type: ClassVar[str] = "rollbackCoupon"

    value: str


@record
class ReserveCoupon(Effect):
    """A coupon code is reserved for a customer profile."""

    effect_type: ClassVar[str] = "reserveCoupon"

    coupon_value: str
    profile_integration_id: str
    is_new_reservation: bool = False
    """Set by the applicator: whether this reservation did not exist before."""


@record
class CreateCoupon(Effect):
    """A new coupon code is created for a customer (wire type ``couponCreated``)."""

    effect_type: ClassVar[str] = "couponCreated"

    value: str = ""
    """The code, generated by the applicator from the campaign's coupon settings."""
    profile_id: str = ""
    """The integration id of the customer the coupon is for ("" when anyone may use it)."""
    start_date: datetime | None = field(default=None, metadata=_NOT_ON_WIRE)
    expiry_date: datetime | None = field(default=None, metadata=_NOT_ON_WIRE)
    usage_limit: int | None = field(default=None, metadata=_NOT_ON_WIRE)
    """How often the code may be redeemed; 0 means without limit, None the campaign default."""
    discount_limit: Decimal | None = field(default=None, metadata=_NOT_ON_WIRE)
    """The most discount the code may give in total; None means without limit."""


@record
class AcceptReferral(Effect):
    """The referral code in the session is valid; it is redeemed when the session closes."""

    effect_type: ClassVar[str] = "acceptReferral"

    value: str


@record
class RejectReferral(Effect):
    """The referral code in the session cannot be used, and why."""

    effect_type: ClassVar[str] = "rejectReferral"

    value: str
    rejection_reason: ReferralRejectionReason
    condition_index: int | None = None
    effect_index: int | None = None
    details: str | None = None
    campaign_exclusion_reason: CampaignExclusionReason | None = None


@record
class RollbackReferral(Effect):
    """A referral redemption is taken back (session cancelled)."""

    effect_type: ClassVar[str] = "rollbackReferral"

    value: str


@record
class CreateReferral(Effect):
    """A new referral code is created for an advocate (wire type ``referralCreated``)."""

    effect_type: ClassVar[str] = "referralCreated"

    value: str = ""
    """The code, generated by the applicator from the campaign's referral settings."""
    advocate_profile_id: str = field(default="", metadata=_NOT_ON_WIRE)
    friend_profile_id: str | None = field(default=None, metadata=_NOT_ON_WIRE)
    """The only friend who may redeem the code; None lets anyone redeem it."""
    start_date: datetime | None = field(default=None, metadata=_NOT_ON_WIRE)
    expiry_date: datetime | None = field(default=None, metadata=_NOT_ON_WIRE)


# Loyalty ------------------------------------------------------------------------------------


@record
class AddLoyaltyPoints(Effect):
    """Points are added to a customer's (or a loyalty card's) ledger when the session closes."""

    effect_type: ClassVar[str] = "addLoyaltyPoints"

    name: str
    program_id: int
    sub_ledger_id: str = ""
    """"" is the program's main ledger."""
    value: Decimal
    desired_value: Decimal | None = None
    recipient_integration_id: str = ""
    """Filled by the applicator from the session's profile."""
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    transaction_uuid: str = ""
    """Assigned by the applicator when it writes the ledger entry."""
    cart_item_position: int | None = None
    cart_item_sub_position: int | None = None
    card_identifier: str | None = None
    bundle_index: int | None = None
    bundle_name: str | None = None
    awaits_activation: bool | None = None
    validity_duration: str | None = None


@record
class DeductLoyaltyPoints(Effect):
    """Points are spent from a customer's active balance, earliest expiry first."""

    effect_type: ClassVar[str] = "deductLoyaltyPoints"

    rule_title: str = ""
    """Filled by the evaluator, which knows the rule."""
    program_id: int
    sub_ledger_id: str = ""
    value: Decimal
    transaction_uuid: str = ""
    name: str
    card_identifier: str | None = None


@record
class RollbackAddedLoyaltyPoints(Effect):
    """Points added earlier are taken back (session cancelled or items returned)."""

    effect_type: ClassVar[str] = "rollbackAddedLoyaltyPoints"

    program_id: int
    sub_ledger_id: str = ""
    value: Decimal
    recipient_integration_id: str
    transaction_uuid: str
    cart_item_position: int | None = None
    cart_item_sub_position: int | None = None
    card_identifier: str | None = None


@record
class RollbackDeductedLoyaltyPoints(Effect):
    """Points spent earlier are given back (session cancelled or items returned)."""

    effect_type: ClassVar[str] = "rollbackDeductedLoyaltyPoints"

    program_id: int
    sub_ledger_id: str = ""
    value: Decimal
    recipient_integration_id: str
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    transaction_uuid: str
    card_identifier: str | None = None


@record
class ChangeLoyaltyTierLevel(Effect):
    """A customer moved to another tier of a loyalty program."""

    effect_type: ClassVar[str] = "changeLoyaltyTierLevel"

    rule_title: str
    program_id: int
    sub_ledger_id: str = ""
    previous_tier_name: str | None = None
    new_tier_name: str
    expiry_date: datetime | None = None


@record
class LedgerEntryExpiryChange(_Props):
    """One ledger entry whose expiry an expiry-date effect moved (not an effect itself)."""

    transaction_uuid: str
    previous_expiry_date: datetime | None = None
    new_expiry_date: datetime


@record
class ExtendLoyaltyPointsExpiryDate(Effect):
    """The expiry of a customer's points is pushed back by a duration."""

    effect_type: ClassVar[str] = "extendLoyaltyPointsExpiryDate"

    program_id: int
    sub_ledger_id: str = ""
    extension_duration: str
    previous_expiration_date: datetime | None
    """Listed as required by the reference, which does not define it; we read it as a time."""
    affected_transactions: tuple[LedgerEntryExpiryChange, ...] | None = None


@record
class SetLoyaltyPointsExpiryDate(Effect):
    """The expiry of a customer's points is set to a date."""

    effect_type: ClassVar[str] = "setLoyaltyPointsExpiryDate"

    program_id: int
    sub_ledger_id: str = ""
    new_expiry_date: datetime
    affected_transactions: tuple[LedgerEntryExpiryChange, ...] | None = None


# Items, messages, attributes, webhooks, custom effects ---------------------------------------


@record
class AddFreeItem(Effect):
    """An item is to be added to the cart at no cost."""

    effect_type: ClassVar[str] = "addFreeItem"

    sku: str
    name: str
    desired_quantity: int | None = None


@record
class ShowNotification(Effect):
    """A message for the customer, styled by its type."""

    effect_type: ClassVar[str] = "showNotification"

    notification_type: NotificationType
    title: str
    body: str


@record
class UpdateAttribute(Effect):
    """A session or profile attribute gets a new value (``path`` like ``Profile.Attributes.Tier``).

    ``value`` is any rule-language value; after a trip through JSON a time comes back as text.
    """

    effect_type: ClassVar[str] = "updateAttribute"

    path: str
    value: Any


@record
class TriggerWebhook(Effect):
    """A webhook is to be called after the session is saved."""

    effect_type: ClassVar[str] = "triggerWebhook"

    webhook_id: int
    webhook_name: str = ""
    """Filled by the applicator from the webhook's definition."""
    arguments: tuple[Any, ...] = field(default=(), metadata=_NOT_ON_WIRE)
    """Values for the webhook's parameters, in the order the webhook declares them."""


@record
class CustomEffect(Effect):
    """An application-defined effect carrying a free-form payload."""

    effect_type: ClassVar[str] = "customEffect"

    effect_id: int = 0
    """Resolved from ``name`` by the applicator (the application's custom effect definition)."""
    name: str
    cart_item_position: int | None = None
    cart_item_sub_position: int | None = None
    bundle_index: int | None = None
    bundle_name: str | None = None
    payload: dict[str, Any]


@record
class ShowBundleMetadata(Effect):
    """Describes which cart items formed a bundle."""

    effect_type: ClassVar[str] = "showBundleMetadata"

    description: str
    bundle_attributes: tuple[str, ...]
    items_indices: tuple[int, ...]


@record
class AwardGiveaway(Effect):
    """A giveaway code from a pool is given to a customer (closed sessions only)."""

    effect_type: ClassVar[str] = "awardGiveaway"

    pool_id: int
    pool_name: str
    recipient_integration_id: str
    giveaway_id: int
    code: str


@record
class WillAwardGiveaway(Effect):
    """A giveaway will be given when the session closes; the code is not revealed yet."""

    effect_type: ClassVar[str] = "willAwardGiveaway"

    pool_id: int
    pool_name: str
    recipient_integration_id: str


@record
class AddToAudience(Effect):
    """The customer joins an audience."""

    effect_type: ClassVar[str] = "addToAudience"

    audience_id: int | None = None
    audience_name: str | None = None
    profile_integration_id: str | None = None
    profile_id: int | None = None


@record
class RemoveFromAudience(Effect):
    """The customer leaves an audience."""

    effect_type: ClassVar[str] = "removeFromAudience"

    audience_id: int | None = None
    audience_name: str | None = None
    profile_integration_id: str | None = None
    profile_id: int | None = None


@record
class IncreaseAchievementProgress(Effect):
    """A customer's progress towards an achievement grew."""

    effect_type: ClassVar[str] = "increaseAchievementProgress"

    achievement_id: int
    achievement_name: str
    progress_tracker_id: int | None = None
    delta: Decimal
    value: Decimal
    target: Decimal
    is_just_completed: bool


@record
class RollbackIncreasedAchievementProgress(Effect):
    """Achievement progress made earlier is taken back (session cancelled or items returned)."""

    effect_type: ClassVar[str] = "rollbackIncreasedAchievementProgress"

    achievement_id: int
    achievement_name: str
    progress_tracker_id: int
    decrease_progress_by: Decimal
    current_progress: Decimal
    target: Decimal


@record
class Error(Effect):
    """Evaluating a rule failed; the message says how."""

    effect_type: ClassVar[str] = "error"

    message: str


EFFECT_TYPES: dict[str, type[Effect]] = {
    cls.effect_type: cls
    for cls in (
        SetDiscount,
        SetDiscountPerItem,
        SetDiscountPerAdditionalCost,
        SetDiscountPerAdditionalCostPerItem,
        RollbackDiscount,
        AcceptCoupon,
        RejectCoupon,
        RollbackCoupon,
        ReserveCoupon,
        CreateCoupon,
        AcceptReferral,
        RejectReferral,
        RollbackReferral,
        CreateReferral,
        AddLoyaltyPoints,
        DeductLoyaltyPoints,
        RollbackAddedLoyaltyPoints,
        RollbackDeductedLoyaltyPoints,
        ChangeLoyaltyTierLevel,
        ExtendLoyaltyPointsExpiryDate,
        SetLoyaltyPointsExpiryDate,
        AddFreeItem,
        ShowNotification,
        UpdateAttribute,
        TriggerWebhook,
        CustomEffect,
        ShowBundleMetadata,
        AwardGiveaway,
        WillAwardGiveaway,
        AddToAudience,
        RemoveFromAudience,
        IncreaseAchievementProgress,
        RollbackIncreasedAchievementProgress,
        Error,
    )
}
"""Every effect class by its Talon.One ``effectType``."""

for _cls in (*EFFECT_TYPES.values(), LedgerEntryExpiryChange):
    _wire_fields(_cls)  # resolve the wire layout now: a mistake fails at import, not in a request


def effect_from_props(effect_type: str, props: Mapping[str, Any]) -> Effect:
    """Read an effect back from its type and props (as ``props()`` or JSON storage wrote them)."""
    cls = EFFECT_TYPES.get(effect_type)
    if cls is None:
        raise EffectFormatError(f"unknown effect type {effect_type!r}")
    if not isinstance(props, Mapping):
        raise EffectFormatError(f"{cls.__name__}: props must be an object, got {props!r}")
    return cls.from_props(props)


# --------------------------------------------------------------------------------------------
# Effect functions: what a rule writes in its effects list

_effect_function_names: list[str] = []

D, S, T, N = Kind.DECIMAL, Kind.STRING, Kind.TIME, Kind.NULL


def _effect_function(
    name: str, params: tuple[Kind, ...], *, rest: Kind | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register one overload of an effect function: stateful, not pure, returns null."""
    if name not in _effect_function_names:
        _effect_function_names.append(name)
    return REGISTRY.function(
        name, params, Kind.NULL, rest=rest, stateful=True, pure=False, category="effect"
    )


def _amount(value: Decimal, what: str) -> Decimal:
    """A discount or a number of points: finite and not negative (zero is allowed)."""
    if not value.is_finite():
        raise RuleRuntimeError(f"{what} must be a finite number, got {value}")
    if value < 0:
        raise RuleRuntimeError(f"{what} must not be negative, got {value}")
    return value


def _whole(value: Decimal, what: str, *, minimum: int) -> int:
    """An id or a position: a whole number, at least ``minimum``."""
    if not value.is_finite() or value != value.to_integral_value() or value < minimum:
        qualifier = "a positive" if minimum > 0 else "a non-negative"
        raise RuleRuntimeError(f"{what} must be {qualifier} whole number, got {value}")
    return int(value)


def _text(value: str, what: str) -> str:
    if not value.strip():
        raise RuleRuntimeError(f"{what} must not be empty")
    return value


_E = typing.TypeVar("_E", bound=enum.Enum)


def _choice(enumeration: type[_E], value: str, what: str) -> _E:
    try:
        return enumeration(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enumeration)
        raise RuleRuntimeError(f"unknown {what} {value!r}; expected one of {allowed}") from None


def _detach(value: Any) -> Any:
    """A copy of a list or map, so that an emitted effect shares nothing with the binding."""
    if isinstance(value, list):
        return [_detach(item) for item in value]
    if isinstance(value, dict):
        return {key: _detach(item) for key, item in value.items()}
    return value


# setDiscount --------------------------------------------------------------------------------


@_effect_function("setDiscount", (S, D))
def set_discount(state: State, name: str, value: Decimal) -> None:
    """``(setDiscount name value)``: discount the session by ``value``.

    The applicator caps the discount at what it discounts and rounds it to the currency."""
    # The most common effect of all, so the checks of _text and _amount are written out here.
    if not (value.is_finite() and value >= 0):
        _amount(value, "discount")
    if not name or name.isspace():
        _text(name, "discount name")
    state.emit(SetDiscount(name=name, value=value))


@_effect_function("setDiscount", (S, D, S))
def set_discount_scoped(state: State, name: str, value: Decimal, scope: str) -> None:
    """``(setDiscount name value scope)``: as above, on ``cartItems``, ``additionalCosts`` or
    ``sessionTotal``."""
    state.emit(
        SetDiscount(
            name=_text(name, "discount name"),
            value=_amount(value, "discount"),
            scope=_choice(SessionDiscountScope, scope, "discount scope"),
        )
    )


# setDiscountPerItem -------------------------------------------------------------------------


def _per_item(
    name: str,
    value: Decimal,
    position: Decimal,
    sub_position: Decimal | None = None,
    scope: str | None = None,
) -> SetDiscountPerItem:
    return SetDiscountPerItem(
        name=_text(name, "discount name"),
        value=_amount(value, "discount"),
        position=_whole(position, "cart item position", minimum=0),
        sub_position=(
            None if sub_position is None else _whole(sub_position, "sub-position", minimum=0)
        ),
        scope=None if scope is None else _choice(ItemDiscountScope, scope, "item discount scope"),
    )


@_effect_function("setDiscountPerItem", (S, D, D))
def set_discount_per_item(state: State, name: str, value: Decimal, position: Decimal) -> None:
    """``(setDiscountPerItem name value position)``: discount the cart item at ``position``
    (its ``Item.Position``) by ``value``."""
    state.emit(_per_item(name, value, position))


@_effect_function("setDiscountPerItem", (S, D, D, D | N))
def set_discount_per_item_unit(
    state: State, name: str, value: Decimal, position: Decimal, sub_position: Decimal | None
) -> None:
    """``(setDiscountPerItem name value position subPosition)``: one unit of a line item;
    null ``subPosition`` means the whole line."""
    state.emit(_per_item(name, value, position, sub_position))


@_effect_function("setDiscountPerItem", (S, D, D, D | N, S))
def set_discount_per_item_scoped(
    state: State,
    name: str,
    value: Decimal,
    position: Decimal,
    sub_position: Decimal | None,
    scope: str,
) -> None:
    """``(setDiscountPerItem name value position subPosition scope)``: as above, on the item's
    ``price``, ``itemTotal`` or ``additionalCosts``."""
    state.emit(_per_item(name, value, position, sub_position, scope))


# setDiscountPerAdditionalCost[PerItem] ------------------------------------------------------


@_effect_function("setDiscountPerAdditionalCost", (S, S, D))
def set_discount_per_additional_cost(
    state: State, name: str, additional_cost: str, value: Decimal
) -> None:
    """``(setDiscountPerAdditionalCost name additionalCost value)``: discount the session's
    additional cost with API name ``additionalCost`` (``shipping``) by ``value``."""
    state.emit(
        SetDiscountPerAdditionalCost(
            name=_text(name, "discount name"),
            additional_cost=_text(additional_cost, "additional cost name"),
            value=_amount(value, "discount"),
        )
    )


@_effect_function("setDiscountPerAdditionalCostPerItem", (S, S, D, D))
def set_discount_per_additional_cost_per_item(
    state: State, name: str, additional_cost: str, value: Decimal, position: Decimal
) -> None:
    """``(setDiscountPerAdditionalCostPerItem name additionalCost value position)``: discount
    that additional cost of the cart item at ``position``."""
    state.emit(
        SetDiscountPerAdditionalCostPerItem(
            name=_text(name, "discount name"),
            additional_cost=_text(additional_cost, "additional cost name"),
            value=_amount(value, "discount"),
            position=_whole(position, "cart item position", minimum=0),
        )
    )


# addFreeItem --------------------------------------------------------------------------------


@_effect_function("addFreeItem", (S, S))
def add_free_item(state: State, sku: str, name: str) -> None:
    """``(addFreeItem sku name)``: add one unit of ``sku`` to the cart for free; ``name``
    describes the reward."""
    state.emit(AddFreeItem(sku=_text(sku, "SKU"), name=name))


# addLoyaltyPoints / deductLoyaltyPoints -----------------------------------------------------


def _add_points(
    program_id: Decimal,
    name: str,
    value: Decimal,
    sub_ledger_id: str = "",
    start_date: datetime | None = None,
    expiry_date: datetime | None = None,
) -> AddLoyaltyPoints:
    if start_date is not None and expiry_date is not None and expiry_date <= start_date:
        raise RuleRuntimeError("loyalty points must expire after they become active")
    return AddLoyaltyPoints(
        name=name,
        program_id=_whole(program_id, "loyalty program id", minimum=1),
        sub_ledger_id=sub_ledger_id,
        value=_amount(value, "loyalty points"),
        start_date=start_date,
        expiry_date=expiry_date,
    )


@_effect_function("addLoyaltyPoints", (D, S, D))
def add_loyalty_points(state: State, program_id: Decimal, name: str, value: Decimal) -> None:
    """``(addLoyaltyPoints programId name value)``: award ``value`` points in the main ledger
    of program ``programId``, for the reason ``name``. Points count once the session closes;
    activation and expiry follow the program's defaults."""
    state.emit(_add_points(program_id, name, value))


@_effect_function("addLoyaltyPoints", (D, S, D, S))
def add_loyalty_points_to_subledger(
    state: State, program_id: Decimal, name: str, value: Decimal, sub_ledger_id: str
) -> None:
    """``(addLoyaltyPoints programId name value subLedgerId)``: as above, in a subledger
    ("" is the main ledger)."""
    state.emit(_add_points(program_id, name, value, sub_ledger_id))


@_effect_function("addLoyaltyPoints", (D, S, D, S, T | N, T | N))
def add_loyalty_points_dated(
    state: State,
    program_id: Decimal,
    name: str,
    value: Decimal,
    sub_ledger_id: str,
    start_date: datetime | None,
    expiry_date: datetime | None,
) -> None:
    """``(addLoyaltyPoints programId name value subLedgerId startDate expiryDate)``: as above,
    active from ``startDate`` and expiring at ``expiryDate`` (null: the program's default)."""
    state.emit(_add_points(program_id, name, value, sub_ledger_id, start_date, expiry_date))


@_effect_function("deductLoyaltyPoints", (D, S, D))
def deduct_loyalty_points(state: State, program_id: Decimal, name: str, value: Decimal) -> None:
    """``(deductLoyaltyPoints programId name value)``: spend ``value`` points from the main
    ledger of program ``programId``, for the reason ``name``."""
    state.emit(
        DeductLoyaltyPoints(
            program_id=_whole(program_id, "loyalty program id", minimum=1),
            value=_amount(value, "loyalty points"),
            name=name,
        )
    )


@_effect_function("deductLoyaltyPoints", (D, S, D, S))
def deduct_loyalty_points_from_subledger(
    state: State, program_id: Decimal, name: str, value: Decimal, sub_ledger_id: str
) -> None:
    """``(deductLoyaltyPoints programId name value subLedgerId)``: as above, from a
    subledger ("" is the main ledger)."""
    state.emit(
        DeductLoyaltyPoints(
            program_id=_whole(program_id, "loyalty program id", minimum=1),
            sub_ledger_id=sub_ledger_id,
            value=_amount(value, "loyalty points"),
            name=name,
        )
    )


# updateAttribute ----------------------------------------------------------------------------


def _attribute_path(path: str | list[Any]) -> str:
    segments = path.split(".") if isinstance(path, str) else path
    if not all(isinstance(segment, str) and segment for segment in segments):
        raise RuleRuntimeError(f"an attribute path is names joined by dots, got {path!r}")
    if len(segments) < 2 or segments[0] not in UPDATABLE_ROOTS:
        roots = " or ".join(UPDATABLE_ROOTS)
        raise RuleRuntimeError(f"can only update attributes of the {roots}, not {path!r}")
    return ".".join(segments)


@_effect_function("updateAttribute", (S | Kind.LIST, Kind.ANY))
def update_attribute(state: State, path: str | list[Any], value: Any) -> None:
    """``(updateAttribute path value)``: set a session or profile attribute. ``path`` is
    ``"Profile.Attributes.Tier"`` or the list ``["Profile", "Attributes", "Tier"]``."""
    state.emit(UpdateAttribute(path=_attribute_path(path), value=_detach(value)))


# triggerWebhook -----------------------------------------------------------------------------


@_effect_function("triggerWebhook", (D,), rest=Kind.ANY)
def trigger_webhook(state: State, webhook_id: Decimal, *arguments: Any) -> None:
    """``(triggerWebhook webhookId args…)``: call webhook ``webhookId`` after the session is
    saved, with ``args`` for its parameters in the order the webhook declares them."""
    state.emit(
        TriggerWebhook(
            webhook_id=_whole(webhook_id, "webhook id", minimum=1),
            arguments=tuple(_detach(argument) for argument in arguments),
        )
    )


# showNotification ---------------------------------------------------------------------------


@_effect_function("showNotification", (S, S, S))
def show_notification(state: State, notification_type: str, title: str, body: str) -> None:
    """``(showNotification type title body)``: a message for the customer; ``type`` is
    ``Info``, ``Offer``, ``Error`` or ``Misc`` (any letter case)."""
    state.emit(
        ShowNotification(
            notification_type=_choice(NotificationType, notification_type, "notification type"),
            title=title,
            body=body,
        )
    )


# customEffect -------------------------------------------------------------------------------


@_effect_function("customEffect", (S, Kind.MAP))
def custom_effect(state: State, name: str, payload: dict[str, Any]) -> None:
    """``(customEffect name payload)``: the application's custom effect ``name`` (its API
    name) with ``payload``, a map of its parameters."""
    state.emit(CustomEffect(name=_text(name, "custom effect name"), payload=_detach(payload)))


# createCoupon / createReferral --------------------------------------------------------------


def _validity(start_date: datetime | None, expiry_date: datetime | None, what: str) -> None:
    if start_date is not None and expiry_date is not None and expiry_date <= start_date:
        raise RuleRuntimeError(f"a {what} must expire after it starts")


def _checked_friend(advocate: str, friend: str | None) -> str | None:
    if friend is not None and friend == advocate:
        raise RuleRuntimeError("a referral's friend cannot be its advocate")
    return friend


@_effect_function("createCoupon", (S | N,))
def create_coupon(state: State, recipient: str | None) -> None:
    """``(createCoupon recipientIntegrationId)``: create a coupon code for that customer (null:
    for anyone), with the campaign's coupon settings."""
    state.emit(CreateCoupon(profile_id=recipient or ""))


@_effect_function("createCoupon", (S | N, T | N, T | N))
def create_coupon_dated(
    state: State, recipient: str | None, start_date: datetime | None, expiry_date: datetime | None
) -> None:
    """``(createCoupon recipientIntegrationId startDate expiryDate)``: as above, valid from
    ``startDate`` until ``expiryDate`` (null: no bound)."""
    _validity(start_date, expiry_date, "coupon")
    state.emit(
        CreateCoupon(profile_id=recipient or "", start_date=start_date, expiry_date=expiry_date)
    )


@_effect_function("createCoupon", (S | N, T | N, T | N, D, D | N))
def create_coupon_limited(
    state: State,
    recipient: str | None,
    start_date: datetime | None,
    expiry_date: datetime | None,
    usage_limit: Decimal,
    discount_limit: Decimal | None,
) -> None:
    """``(createCoupon recipientIntegrationId startDate expiryDate usageLimit discountLimit)``:
    as above, redeemable ``usageLimit`` times (0: without limit) and giving at most
    ``discountLimit`` in total (null: without limit)."""
    _validity(start_date, expiry_date, "coupon")
    state.emit(
        CreateCoupon(
            profile_id=recipient or "",
            start_date=start_date,
            expiry_date=expiry_date,
            usage_limit=_whole(usage_limit, "coupon usage limit", minimum=0),
            discount_limit=(
                None if discount_limit is None else _amount(discount_limit, "coupon discount limit")
            ),
        )
    )


@_effect_function("createReferral", (S,))
def create_referral(state: State, advocate: str) -> None:
    """``(createReferral advocateIntegrationId)``: create a referral code that customer can
    share with anyone."""
    state.emit(CreateReferral(advocate_profile_id=_text(advocate, "advocate")))


@_effect_function("createReferral", (S, S | N))
def create_referral_for_friend(state: State, advocate: str, friend: str | None) -> None:
    """``(createReferral advocateIntegrationId friendIntegrationId)``: as above, redeemable
    only by that friend (null: by anyone)."""
    state.emit(
        CreateReferral(
            advocate_profile_id=_text(advocate, "advocate"),
            friend_profile_id=_checked_friend(advocate, friend),
        )
    )


@_effect_function("createReferral", (S, S | N, T | N, T | N))
def create_referral_dated(
    state: State,
    advocate: str,
    friend: str | None,
    start_date: datetime | None,
    expiry_date: datetime | None,
) -> None:
    """``(createReferral advocateIntegrationId friendIntegrationId startDate expiryDate)``:
    as above, valid from ``startDate`` until ``expiryDate`` (null: no bound)."""
    _validity(start_date, expiry_date, "referral code")
    state.emit(
        CreateReferral(
            advocate_profile_id=_text(advocate, "advocate"),
            friend_profile_id=_checked_friend(advocate, friend),
            start_date=start_date,
            expiry_date=expiry_date,
        )
    )


# Coupon and referral verdicts ---------------------------------------------------------------


@_effect_function("acceptCoupon", (S,))
def accept_coupon(state: State, value: str) -> None:
    """``(acceptCoupon code)``: the coupon code is valid."""
    state.emit(AcceptCoupon(value=_text(value, "coupon code")))


@_effect_function("rejectCoupon", (S, S))
def reject_coupon(state: State, value: str, reason: str) -> None:
    """``(rejectCoupon code reason)``: the coupon code is refused; ``reason`` is one of
    Talon.One's coupon rejection reasons (``CouponNotFound``, ``CouponExpired`` …)."""
    state.emit(
        RejectCoupon(
            value=_text(value, "coupon code"),
            rejection_reason=_choice(CouponRejectionReason, reason, "coupon rejection reason"),
        )
    )


@_effect_function("acceptReferral", (S,))
def accept_referral(state: State, value: str) -> None:
    """``(acceptReferral code)``: the referral code is valid."""
    state.emit(AcceptReferral(value=_text(value, "referral code")))


@_effect_function("rejectReferral", (S, S))
def reject_referral(state: State, value: str, reason: str) -> None:
    """``(rejectReferral code reason)``: the referral code is refused; ``reason`` is one of
    Talon.One's referral rejection reasons (``ReferralNotFound`` …)."""
    state.emit(
        RejectReferral(
            value=_text(value, "referral code"),
            rejection_reason=_choice(ReferralRejectionReason, reason, "referral rejection reason"),
        )
    )


@_effect_function("reserveCoupon", (S, S))
def reserve_coupon(state: State, value: str, profile_integration_id: str) -> None:
    """``(reserveCoupon code profileIntegrationId)``: reserve the coupon code for that
    customer."""
    state.emit(
        ReserveCoupon(
            coupon_value=_text(value, "coupon code"),
            profile_integration_id=_text(profile_integration_id, "profile"),
        )
    )


# Audiences ----------------------------------------------------------------------------------


@_effect_function("addToAudience", (D,))
def add_to_audience(state: State, audience_id: Decimal) -> None:
    """``(addToAudience audienceId)``: the session's customer joins the audience."""
    state.emit(AddToAudience(audience_id=_whole(audience_id, "audience id", minimum=1)))


@_effect_function("removeFromAudience", (D,))
def remove_from_audience(state: State, audience_id: Decimal) -> None:
    """``(removeFromAudience audienceId)``: the session's customer leaves the audience."""
    state.emit(RemoveFromAudience(audience_id=_whole(audience_id, "audience id", minimum=1)))


EFFECT_FUNCTIONS: tuple[str, ...] = tuple(_effect_function_names)
"""The names of the effect functions a rule may call, for the rule builder."""

del D, S, T, N, _cls
