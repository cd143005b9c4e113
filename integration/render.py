"""Rendering results in the Integration API's wire format.

The functions here are pure: they take plain values (the effect records of ``rules.effects``,
and the small ``…View`` dataclasses below, which the services fill in) and return JSON-able
structures with Talon.One's field names, exactly as its Integration API reference spells them
(``campaignId`` in an effect but ``campaignID`` in a rule failure reason). Leaves are ``str``,
``int``, ``bool``, ``None`` and ``Decimal``; times are already text (RFC 3339, in UTC, with
``Z``). ``dumps`` writes such a structure as JSON bytes.

**Money stays exact.** Talon.One sends amounts as JSON numbers, so a ``Decimal`` must become a
number, not a string (which Django REST framework's encoder would make of it) and not a float
(which would round it). The standard library's encoder cannot write a number it did not format
itself, so ``dumps`` lets it write every ``Decimal`` as a placeholder string and then puts each
number's own text (``decimal_text``) in its placeholder's place. The C encoder does the work,
and a response with a few dozen amounts costs a few microseconds more than one without.

**The session update's answer is written by hand.** ``PUT /v2/customer_sessions/{id}`` is the
hot path, and building its ~5 KB answer as dicts and then encoding them cost about a third of
a millisecond of its CPU. So its largest parts (``customerSession`` with its cart items,
``customerProfile``, ``effects``) are written straight to JSON text by ``customer_session_json``,
``customer_profile_json`` and ``effect_json``, which mirror ``render_customer_session``,
``render_customer_profile`` and ``render_effect`` field by field and write the same bytes
(``tests/integration/test_render.py`` holds them to that). Such text travels as ``JsonText``,
which ``dumps`` writes as it is, in the same way as a number, so the answer's envelope
(``render_session_update_response``) stays one function for both. The dict renderers remain the
reference, and serve every other endpoint.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any, Final

from rules.effects import Effect, SetDiscount
from rules.records import record
from rules.values import format_rfc3339

# --------------------------------------------------------------------------------------------
# JSON


def decimal_text(value: Decimal) -> str:
    """A ``Decimal`` as a JSON number: positional notation, no exponent, no trailing zeros.

    ``Decimal("1E+2")`` is ``100``, ``Decimal("12.3450")`` is ``12.345``, ``Decimal("-0")`` is
    ``0``; every digit is kept (no rounding to a precision). Raises ``ValueError`` for NaN and
    the infinities, which JSON cannot express.
    """
    text = str(value)  # positional unless the exponent is positive or the number tiny
    if "E" in text or "N" in text or "n" in text:
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        text = format(value, "f")  # without a precision, "f" keeps every digit: no rounding
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(frozen=True, slots=True)
class JsonText:
    """A part of a response already written as JSON (by the ``…_json`` writers below):
    ``dumps`` writes ``text`` as it is, where the part stands."""

    text: str


_PLACEHOLDER: Final = "\x00decimal\x00"
"""What the encoder writes for a ``Decimal`` or a ``JsonText``: a string no response normally
contains."""


def dumps(data: Any) -> bytes:
    """``data`` as compact JSON bytes (ASCII, so that any string, even one with a lone
    surrogate, can be written), with every ``Decimal`` written as an exact JSON number and
    every ``JsonText`` as its text.

    Raises ``TypeError`` for values that are not JSON-able (a ``datetime`` must be rendered to
    text first) and ``ValueError`` for NaN and infinite numbers.
    """
    text = _encode(data, _PLACEHOLDER)
    if text is None:
        # Some string in the data contains the placeholder's encoded text, so the placeholders
        # cannot be told apart from it. Pick one nobody can know in advance and write it again.
        while text is None:
            text = _encode(data, f"\x00{secrets.token_hex(16)}\x00")
    return text.encode("ascii")


def _encode(data: Any, placeholder: str) -> str | None:
    """``data`` as JSON text, or None when ``placeholder`` is ambiguous in it."""
    numbers: list[str] = []  # and texts of ``JsonText``

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            numbers.append(decimal_text(value))
            return placeholder
        if type(value) is JsonText:
            numbers.append(value.text)
            return placeholder
        raise TypeError(f"{type(value).__name__} is not JSON serializable: {value!r}")

    encoder = json.JSONEncoder(default=default, separators=(",", ":"), allow_nan=False)
    text = encoder.encode(data)
    if not numbers:
        return text
    # The encoder calls ``default`` in the order it writes, so the n-th placeholder in the text
    # is the n-th number, unless a string in the data produced the same text as a placeholder:
    # then there are more pieces than numbers, and the caller tries another placeholder. (The
    # text of a ``JsonText`` is spliced in after the split, so it cannot be mistaken for one.)
    pieces = text.split(json.dumps(placeholder))
    if len(pieces) != len(numbers) + 1:
        return None
    out: list[str] = [""] * (2 * len(numbers) + 1)
    out[0::2] = pieces
    out[1::2] = numbers
    return "".join(out)


def rfc3339(moment: datetime) -> str:
    """A time as Talon.One writes it: RFC 3339 in UTC, with ``Z`` (a naive time is taken as
    UTC)."""
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return format_rfc3339(moment)


_PLAIN: Final = frozenset({str, int, Decimal, bool, type(None)})
"""The types of the values ``_wire`` leaves as they are (most of them)."""


def _wire(value: Any) -> Any:
    """``value`` with every ``datetime`` in it as RFC 3339 text and tuples as lists."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(item) for item in value]
    return value


def _attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # Attribute values are data of any JSON type, plus the times parsed from requests.
    return {
        name: value if type(value) in _PLAIN else _wire(value) for name, value in attributes.items()
    }


# --------------------------------------------------------------------------------------------
# Effects and rule failures


def render_effect(
    *,
    campaign_id: int,
    ruleset_id: int,
    rule_index: int,
    rule_name: str,
    effect: Effect,
    triggered_by_coupon: int | None = None,
    triggered_for_catalog_item: int | None = None,
    condition_index: int | None = None,
    evaluation_group_id: int | None = None,
    evaluation_group_mode: str | None = None,
    campaign_revision_id: int | None = None,
    campaign_revision_version_id: int | None = None,
    experiment_id: int | None = None,
) -> dict[str, Any]:
    """One item of a response's ``effects``: what a rule of a campaign asked for.

    ``triggered_by_coupon`` is the id of the coupon being evaluated when the effect fired;
    the optional fields are left out when None, as Talon.One leaves them out.
    """
    rendered: dict[str, Any] = {
        "campaignId": campaign_id,
        "rulesetId": ruleset_id,
        "ruleIndex": rule_index,
        "ruleName": rule_name,
        "effectType": effect.effect_type,
    }
    if experiment_id is not None:
        rendered["experimentId"] = experiment_id
    if triggered_by_coupon is not None:
        rendered["triggeredByCoupon"] = triggered_by_coupon
    if triggered_for_catalog_item is not None:
        rendered["triggeredForCatalogItem"] = triggered_for_catalog_item
    if condition_index is not None:
        rendered["conditionIndex"] = condition_index
    if evaluation_group_id is not None:
        rendered["evaluationGroupID"] = evaluation_group_id
    if evaluation_group_mode is not None:
        rendered["evaluationGroupMode"] = evaluation_group_mode
    if campaign_revision_id is not None:
        rendered["campaignRevisionId"] = campaign_revision_id
    if campaign_revision_version_id is not None:
        rendered["campaignRevisionVersionId"] = campaign_revision_version_id
    props = effect.props()  # a new dict, ours to change
    for name, value in props.items():
        if type(value) not in _PLAIN:
            props[name] = _wire(value)
    rendered["props"] = props
    return rendered


def render_rule_failure(
    *,
    campaign_id: int,
    campaign_name: str,
    ruleset_id: int,
    rule_index: int,
    rule_name: str,
    condition_index: int | None = None,
    effect_index: int | None = None,
    details: str | None = None,
    evaluation_group_id: int | None = None,
    evaluation_group_mode: str | None = None,
    coupon_id: int | None = None,
    coupon_value: str | None = None,
    referral_id: int | None = None,
    referral_value: str | None = None,
) -> dict[str, Any]:
    """One item of ``ruleFailureReasons``: why a rule did not fire.

    Note the reference's spelling, unlike an effect's: ``campaignID``, ``rulesetID``,
    ``couponID``, ``referralID``, ``evaluationGroupID``.
    """
    rendered: dict[str, Any] = {
        "campaignID": campaign_id,
        "campaignName": campaign_name,
        "rulesetID": ruleset_id,
    }
    if coupon_id is not None:
        rendered["couponID"] = coupon_id
    if coupon_value is not None:
        rendered["couponValue"] = coupon_value
    if referral_id is not None:
        rendered["referralID"] = referral_id
    if referral_value is not None:
        rendered["referralValue"] = referral_value
    rendered["ruleIndex"] = rule_index
    rendered["ruleName"] = rule_name
    if condition_index is not None:
        rendered["conditionIndex"] = condition_index
    if effect_index is not None:
        rendered["effectIndex"] = effect_index
    if details is not None:
        rendered["details"] = details
    if evaluation_group_id is not None:
        rendered["evaluationGroupID"] = evaluation_group_id
    if evaluation_group_mode is not None:
        rendered["evaluationGroupMode"] = evaluation_group_mode
    return rendered


# --------------------------------------------------------------------------------------------
# Entities: what the services hand over, and its wire form


def _no_attributes() -> Mapping[str, Any]:
    return {}


@record
class CartItemView:
    """A cart item of a stored session. Empty text and None are left out of the wire form."""

    position: int
    sku: str
    quantity: int
    price: Decimal | None = None
    name: str = ""
    category: str = ""
    product_name: str = ""
    weight: Decimal | None = None
    height: Decimal | None = None
    width: Decimal | None = None
    length: Decimal | None = None
    returned_quantity: int = 0
    remaining_quantity: int | None = None
    """None: ``quantity - returned_quantity``."""
    attributes: Mapping[str, Any] = field(default_factory=_no_attributes)
    additional_costs: Mapping[str, Decimal] = field(default_factory=_no_attributes)
    """Cost name → price."""
    catalog_item_id: int | None = None


@record
class SessionView:
    """A stored customer session, as ``customerSession`` shows it."""

    id: int
    integration_id: str
    created: datetime
    application_id: int
    profile_id: str
    """``""`` for an anonymous session."""
    state: str
    updated: datetime
    first_session: bool
    update_count: int
    total: Decimal
    cart_item_total: Decimal
    additional_cost_total: Decimal
    cart_item_additional_cost_total: Decimal
    store_integration_id: str = ""
    coupon_codes: Sequence[str] = ()
    referral_code: str = ""
    loyalty_cards: Sequence[str] = ()
    cart_items: Sequence[CartItemView] = ()
    additional_costs: Mapping[str, Decimal] = field(default_factory=_no_attributes)
    """Cost name → price."""
    identifiers: Sequence[str] = ()
    attributes: Mapping[str, Any] = field(default_factory=_no_attributes)


@dataclass(frozen=True, slots=True)
class AudienceMembership:
    """An audience a customer belongs to."""

    id: int
    name: str


@record
class ProfileView:
    """A stored customer profile, as ``customerProfile`` shows it."""

    id: int
    integration_id: str
    created: datetime
    account_id: int
    closed_sessions: int
    total_sales: Decimal
    last_activity: datetime
    attributes: Mapping[str, Any] = field(default_factory=_no_attributes)
    audience_memberships: Sequence[AudienceMembership] = ()
    sandbox: bool = False


@record
class CouponView:
    """A coupon, as ``createdCoupons`` and ``coupons`` show it. None is left out."""

    id: int
    created: datetime
    campaign_id: int
    value: str
    usage_limit: int
    """0: without limit."""
    usage_counter: int
    discount_limit: Decimal | None = None
    reservation_limit: int | None = None
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    discount_counter: Decimal | None = None
    discount_remainder: Decimal | None = None
    reservation_counter: int | None = None
    attributes: Mapping[str, Any] | None = None
    referral_id: int | None = None
    recipient_integration_id: str | None = None
    import_id: int | None = None
    reservation: bool | None = None
    batch_id: str | None = None
    is_reservation_mandatory: bool | None = None
    implicitly_reserved: bool | None = None
    profile_redemption_count: int | None = None
    """How often the session's customer redeemed it (in ``coupons``, not ``createdCoupons``)."""


@record
class ReferralView:
    """A referral code, as ``createdReferrals`` and ``referral`` show it. None is left out."""

    id: int
    created: datetime
    campaign_id: int
    advocate_profile_integration_id: str
    code: str
    usage_counter: int
    usage_limit: int
    """0: without limit."""
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    friend_profile_integration_id: str | None = None
    attributes: Mapping[str, Any] | None = None
    import_id: int | None = None
    batch_id: str | None = None
    referred_customers: Sequence[str] | None = None
    """The integration ids of the friends who used the code (in ``referral``, not in
    ``createdReferrals``)."""


def _costs(costs: Mapping[str, Decimal]) -> dict[str, Any]:
    return {name: {"price": price} for name, price in costs.items()}


def render_cart_item(item: CartItemView) -> dict[str, Any]:
    """One item of a session's ``cartItems``."""
    rendered: dict[str, Any] = {}
    if item.name:
        rendered["name"] = item.name
    rendered["sku"] = item.sku
    rendered["quantity"] = item.quantity
    rendered["returnedQuantity"] = item.returned_quantity
    rendered["remainingQuantity"] = (
        item.quantity - item.returned_quantity
        if item.remaining_quantity is None
        else item.remaining_quantity
    )
    if item.price is not None:
        rendered["price"] = item.price
    if item.category:
        rendered["category"] = item.category
    if item.product_name:
        rendered["product"] = {"name": item.product_name}
    if item.weight is not None:
        rendered["weight"] = item.weight
    if item.height is not None:
        rendered["height"] = item.height
    if item.width is not None:
        rendered["width"] = item.width
    if item.length is not None:
        rendered["length"] = item.length
    rendered["position"] = item.position
    rendered["attributes"] = _attributes(item.attributes)
    rendered["additionalCosts"] = _costs(item.additional_costs)
    if item.catalog_item_id is not None:
        rendered["catalogItemID"] = item.catalog_item_id
    return rendered


def render_customer_session(session: SessionView) -> dict[str, Any]:
    """A response's ``customerSession``.

    Every field the reference requires is always present (an anonymous session's
    ``profileId`` is ``""``, an empty cart is ``[]``), and so are the code and identifier
    lists, empty or not; ``storeIntegrationId`` only when the session has a store.
    """
    rendered: dict[str, Any] = {
        "id": session.id,
        "created": rfc3339(session.created),
        "integrationId": session.integration_id,
        "applicationId": session.application_id,
        "profileId": session.profile_id,
    }
    if session.store_integration_id:
        rendered["storeIntegrationId"] = session.store_integration_id
    rendered["couponCodes"] = list(session.coupon_codes)
    rendered["referralCode"] = session.referral_code
    rendered["loyaltyCards"] = list(session.loyalty_cards)
    rendered["state"] = session.state
    rendered["cartItems"] = [render_cart_item(item) for item in session.cart_items]
    rendered["additionalCosts"] = _costs(session.additional_costs)
    rendered["identifiers"] = list(session.identifiers)
    rendered["attributes"] = _attributes(session.attributes)
    rendered["firstSession"] = session.first_session
    rendered["updateCount"] = session.update_count
    rendered["total"] = session.total
    rendered["cartItemTotal"] = session.cart_item_total
    rendered["additionalCostTotal"] = session.additional_cost_total
    rendered["cartItemAdditionalCostTotal"] = session.cart_item_additional_cost_total
    rendered["updated"] = rfc3339(session.updated)
    return rendered


def render_customer_profile(profile: ProfileView) -> dict[str, Any]:
    """A response's ``customerProfile``.

    ``loyaltyMemberships`` is always null: the reference has deprecated it and says so.
    """
    return {
        "id": profile.id,
        "created": rfc3339(profile.created),
        "integrationId": profile.integration_id,
        "attributes": _attributes(profile.attributes),
        "accountId": profile.account_id,
        "closedSessions": profile.closed_sessions,
        "totalSales": profile.total_sales,
        "loyaltyMemberships": None,
        "audienceMemberships": [
            {"id": membership.id, "name": membership.name}
            for membership in profile.audience_memberships
        ],
        "lastActivity": rfc3339(profile.last_activity),
        "sandbox": profile.sandbox,
    }


def _put(rendered: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        rendered[key] = value


def render_coupon(coupon: CouponView) -> dict[str, Any]:
    """A coupon, as in ``createdCoupons`` and ``coupons``."""
    rendered: dict[str, Any] = {
        "id": coupon.id,
        "created": rfc3339(coupon.created),
        "campaignId": coupon.campaign_id,
        "value": coupon.value,
        "usageLimit": coupon.usage_limit,
    }
    _put(rendered, "discountLimit", coupon.discount_limit)
    _put(rendered, "reservationLimit", coupon.reservation_limit)
    if coupon.start_date is not None:
        rendered["startDate"] = rfc3339(coupon.start_date)
    if coupon.expiry_date is not None:
        rendered["expiryDate"] = rfc3339(coupon.expiry_date)
    rendered["usageCounter"] = coupon.usage_counter
    _put(rendered, "discountCounter", coupon.discount_counter)
    _put(rendered, "discountRemainder", coupon.discount_remainder)
    _put(rendered, "reservationCounter", coupon.reservation_counter)
    if coupon.attributes is not None:
        rendered["attributes"] = _attributes(coupon.attributes)
    _put(rendered, "referralId", coupon.referral_id)
    _put(rendered, "recipientIntegrationId", coupon.recipient_integration_id)
    _put(rendered, "importId", coupon.import_id)
    _put(rendered, "reservation", coupon.reservation)
    _put(rendered, "batchId", coupon.batch_id)
    _put(rendered, "isReservationMandatory", coupon.is_reservation_mandatory)
    _put(rendered, "implicitlyReserved", coupon.implicitly_reserved)
    _put(rendered, "profileRedemptionCount", coupon.profile_redemption_count)
    return rendered


def render_referral(referral: ReferralView) -> dict[str, Any]:
    """A referral code, as in ``createdReferrals`` and ``referral``."""
    rendered: dict[str, Any] = {"id": referral.id, "created": rfc3339(referral.created)}
    if referral.start_date is not None:
        rendered["startDate"] = rfc3339(referral.start_date)
    if referral.expiry_date is not None:
        rendered["expiryDate"] = rfc3339(referral.expiry_date)
    rendered["usageLimit"] = referral.usage_limit
    rendered["campaignId"] = referral.campaign_id
    rendered["advocateProfileIntegrationId"] = referral.advocate_profile_integration_id
    _put(rendered, "friendProfileIntegrationId", referral.friend_profile_integration_id)
    if referral.attributes is not None:
        rendered["attributes"] = _attributes(referral.attributes)
    _put(rendered, "importId", referral.import_id)
    rendered["code"] = referral.code
    rendered["usageCounter"] = referral.usage_counter
    _put(rendered, "batchId", referral.batch_id)
    if referral.referred_customers is not None:
        rendered["referredCustomers"] = list(referral.referred_customers)
    return rendered


# --------------------------------------------------------------------------------------------
# Whole responses


def render_session_update_response(
    *,
    effects: Sequence[Mapping[str, Any]] | JsonText,
    response_content: Collection[str] = (),
    created_coupons: Sequence[CouponView] = (),
    created_referrals: Sequence[ReferralView] = (),
    customer_session: SessionView | JsonText | None = None,
    customer_profile: ProfileView | JsonText | None = None,
    coupons: Sequence[CouponView] = (),
    referral: ReferralView | None = None,
    rule_failure_reasons: Sequence[Mapping[str, Any]] = (),
    triggered_campaigns: Sequence[Any] | None = None,
    loyalty: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None,
    awarded_giveaways: Sequence[Any] | None = None,
    previous_returns: Sequence[Any] | None = None,
    campaign_eligibility: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The 200 body of a session update (and of a profile update or an event, which answer
    with the same shape).

    ``effects`` (items of ``render_effect``), ``createdCoupons`` and ``createdReferrals`` are
    always there; every other part only when ``response_content`` asks for it and there is
    something to show: an object part given as None is left out, a list part asked for is
    at least ``[]``. ``rule_failure_reasons`` are items of ``render_rule_failure``; the parts
    this module has no view for (``triggeredCampaigns``, ``loyalty``, ``event``,
    ``awardedGiveaways``, ``previousReturns``, ``campaignEligibility``) are passed already
    rendered. ``effects``, ``customer_session`` and ``customer_profile`` may come already
    written as JSON (``effects_json``, ``customer_session_json``, ``customer_profile_json``).
    """
    # In the reference's order.
    rendered: dict[str, Any] = {}
    wanted = response_content
    if "customerProfile" in wanted and customer_profile is not None:
        rendered["customerProfile"] = (
            customer_profile
            if isinstance(customer_profile, JsonText)
            else render_customer_profile(customer_profile)
        )
    if "loyalty" in wanted and loyalty is not None:
        rendered["loyalty"] = loyalty
    if "triggeredCampaigns" in wanted:
        rendered["triggeredCampaigns"] = list(triggered_campaigns or ())
    if "campaignEligibility" in wanted and campaign_eligibility is not None:
        rendered["campaignEligibility"] = campaign_eligibility
    rendered["effects"] = effects if isinstance(effects, JsonText) else list(effects)
    if "ruleFailureReasons" in wanted:
        rendered["ruleFailureReasons"] = list(rule_failure_reasons)
    rendered["createdCoupons"] = [render_coupon(coupon) for coupon in created_coupons]
    rendered["createdReferrals"] = [render_referral(item) for item in created_referrals]
    if "awardedGiveaways" in wanted:
        rendered["awardedGiveaways"] = list(awarded_giveaways or ())
    if "referral" in wanted and referral is not None:
        rendered["referral"] = render_referral(referral)
    if "coupons" in wanted:
        rendered["coupons"] = [render_coupon(coupon) for coupon in coupons]
    if "event" in wanted and event is not None:
        rendered["event"] = event
    if "customerSession" in wanted and customer_session is not None:
        rendered["customerSession"] = (
            customer_session
            if isinstance(customer_session, JsonText)
            else render_customer_session(customer_session)
        )
    if "previousReturns" in wanted:
        rendered["previousReturns"] = list(previous_returns or ())
    return rendered


# --------------------------------------------------------------------------------------------
# The session update's parts, written as JSON text (see the module)
#
# Each writer mirrors its dict renderer above, field by field and in the same order, and writes
# what ``dumps`` would write of that renderer's result: change both together (the tests compare
# them). Strings go through the encoder's own C escaping, numbers through ``decimal_text``; a
# value of any other shape (attributes, effect props) through ``json_text``.

_string: Final[Callable[[str], str]] = encode_basestring_ascii
"""A string as JSON text, escaped as ``dumps`` escapes it (ASCII)."""


def json_text(value: Any) -> str:
    """``value`` (as the dict renderers leave it: data of any JSON type, ``Decimal`` numbers,
    times) as the JSON text ``dumps`` writes of it, times as RFC 3339 text as ``_wire`` makes
    them. What it does not know (a float, a key that is not a string…) it hands to ``dumps``.
    """
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is Decimal:
        return decimal_text(value)
    if kind is dict:
        return _object_json(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is list or kind is tuple:
        return "[" + ",".join([json_text(item) for item in value]) + "]"
    if isinstance(value, datetime):
        return _string(rfc3339(value))
    return dumps(_wire(value)).decode("ascii")


def _object_json(value: dict[Any, Any]) -> str:
    try:
        return "{" + ",".join([_string(k) + ":" + json_text(v) for k, v in value.items()]) + "}"
    except TypeError:
        # A key that is not a string (which JSON writes as one), or a value nobody can write:
        # the encoder's way, which converts the first and raises for the second.
        return dumps(_wire(value)).decode("ascii")


def _attributes_json(attributes: Mapping[str, Any]) -> str:
    """``_attributes``, as JSON text."""
    if not attributes:
        return "{}"
    return _object_json(attributes if type(attributes) is dict else dict(attributes))


def _costs_json(costs: Mapping[str, Decimal]) -> str:
    """``_costs``, as JSON text."""
    return _object_json(_costs(costs)) if costs else "{}"


def _number(value: Decimal | None) -> str:
    return "null" if value is None else decimal_text(value)


def cart_item_json(item: CartItemView) -> str:
    """``render_cart_item``, as JSON text."""
    remaining = (
        item.quantity - item.returned_quantity
        if item.remaining_quantity is None
        else item.remaining_quantity
    )
    return (
        "{"
        + (f'"name":{_string(item.name)},' if item.name else "")
        + f'"sku":{_string(item.sku)},"quantity":{item.quantity:d},'
        f'"returnedQuantity":{item.returned_quantity:d},"remainingQuantity":{remaining:d},'
        + (f'"price":{_number(item.price)},' if item.price is not None else "")
        + (f'"category":{_string(item.category)},' if item.category else "")
        + (f'"product":{{"name":{_string(item.product_name)}}},' if item.product_name else "")
        + (f'"weight":{_number(item.weight)},' if item.weight is not None else "")
        + (f'"height":{_number(item.height)},' if item.height is not None else "")
        + (f'"width":{_number(item.width)},' if item.width is not None else "")
        + (f'"length":{_number(item.length)},' if item.length is not None else "")
        + f'"position":{item.position:d},"attributes":{_attributes_json(item.attributes)},'
        f'"additionalCosts":{_costs_json(item.additional_costs)}'
        + (f',"catalogItemID":{item.catalog_item_id:d}' if item.catalog_item_id is not None else "")
        + "}"
    )


def customer_session_json(session: SessionView) -> JsonText:
    """``render_customer_session``, as JSON text."""
    store = session.store_integration_id
    cart_items = ",".join([cart_item_json(item) for item in session.cart_items])
    return JsonText(
        f'{{"id":{session.id:d},"created":{_string(rfc3339(session.created))},'
        f'"integrationId":{_string(session.integration_id)},'
        f'"applicationId":{session.application_id:d},"profileId":{_string(session.profile_id)},'
        + (f'"storeIntegrationId":{_string(store)},' if store else "")
        + f'"couponCodes":{json_text(list(session.coupon_codes))},'
        f'"referralCode":{_string(session.referral_code)},'
        f'"loyaltyCards":{json_text(list(session.loyalty_cards))},'
        f'"state":{_string(session.state)},"cartItems":[{cart_items}],'
        f'"additionalCosts":{_costs_json(session.additional_costs)},'
        f'"identifiers":{json_text(list(session.identifiers))},'
        f'"attributes":{_attributes_json(session.attributes)},'
        f'"firstSession":{json_text(session.first_session)},'
        f'"updateCount":{session.update_count:d},"total":{_number(session.total)},'
        f'"cartItemTotal":{_number(session.cart_item_total)},'
        f'"additionalCostTotal":{_number(session.additional_cost_total)},'
        f'"cartItemAdditionalCostTotal":{_number(session.cart_item_additional_cost_total)},'
        f'"updated":{_string(rfc3339(session.updated))}}}'
    )


def customer_profile_json(profile: ProfileView) -> JsonText:
    """``render_customer_profile``, as JSON text."""
    memberships = ",".join(
        [
            f'{{"id":{membership.id:d},"name":{_string(membership.name)}}}'
            for membership in profile.audience_memberships
        ]
    )
    return JsonText(
        f'{{"id":{profile.id:d},"created":{_string(rfc3339(profile.created))},'
        f'"integrationId":{_string(profile.integration_id)},'
        f'"attributes":{_attributes_json(profile.attributes)},'
        f'"accountId":{profile.account_id:d},"closedSessions":{profile.closed_sessions:d},'
        f'"totalSales":{_number(profile.total_sales)},"loyaltyMemberships":null,'
        f'"audienceMemberships":[{memberships}],'
        f'"lastActivity":{_string(rfc3339(profile.last_activity))},'
        f'"sandbox":{json_text(profile.sandbox)}}}'
    )


def effect_json(
    *, campaign_id: int, ruleset_id: int, rule_index: int, rule_name: str, effect: Effect
) -> str:
    """``render_effect`` without its optional fields (which a session's rules never set), as
    JSON text."""
    props = (
        _set_discount_props_json(effect)
        if type(effect) is SetDiscount
        else _object_json(effect.props())
    )
    return (
        f'{{"campaignId":{campaign_id:d},"rulesetId":{ruleset_id:d},'
        f'"ruleIndex":{rule_index:d},"ruleName":{_string(rule_name)},'
        f'"effectType":{_string(effect.effect_type)},"props":{props}}}'
    )


def _set_discount_props_json(effect: SetDiscount) -> str:
    """``SetDiscount.props()`` as JSON text, written directly: the most common effect by far,
    whose generic ``props()`` (a dict built field by field, then written) took most of its
    writing. Its fields, in order: ``name``, ``value``, then ``scope`` and ``desiredValue``
    when set (a test holds this to ``props()``)."""
    text = f'{{"name":{_string(effect.name)},"value":{decimal_text(effect.value)}'
    if effect.scope is not None:
        text += f',"scope":{_string(effect.scope.value)}'
    if effect.desired_value is not None:
        text += f',"desiredValue":{decimal_text(effect.desired_value)}'
    return text + "}"


def effects_json(effects: Sequence[str]) -> JsonText:
    """A response's ``effects``, from items of ``effect_json``."""
    return JsonText("[" + ",".join(effects) + "]")
