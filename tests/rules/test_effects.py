"""Effects: their wire format, reading them back, and the effect functions rules call."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rules import effects as fx
from rules.errors import RuleRuntimeError
from rules.functions.registry import REGISTRY, Overload
from rules.runtime import State
from rules.types import Kind, kind_of

ROOT = Path(__file__).resolve().parents[2]
JAN = datetime(2024, 1, 1, tzinfo=UTC)
DEC = datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)

# The props of every effect type, as the Integration API reference names them:
# (required names, optional names). Hard-coded from
# reference/talon-one-openapi/integration-api/paths/v2-customer_sessions-{customerSessionId}.yaml
WIRE_NAMES: dict[str, tuple[set[str], set[str]]] = {
    "acceptCoupon": ({"value"}, set()),
    "acceptReferral": ({"value"}, set()),
    "rejectCoupon": (
        {"value", "rejectionReason"},
        {"conditionIndex", "effectIndex", "details", "campaignExclusionReason"},
    ),
    "rejectReferral": (
        {"value", "rejectionReason"},
        {"conditionIndex", "effectIndex", "details", "campaignExclusionReason"},
    ),
    "couponCreated": ({"value", "profileId"}, set()),
    "referralCreated": ({"value"}, set()),
    "setDiscount": ({"name", "value"}, {"scope", "desiredValue"}),
    "setDiscountPerItem": (
        {"name", "value", "position"},
        {
            "subPosition",
            "desiredValue",
            "scope",
            "totalDiscount",
            "desiredTotalDiscount",
            "bundleIndex",
            "bundleName",
            "targetedItemPosition",
            "targetedItemSubPosition",
            "excludedFromPriceHistory",
        },
    ),
    "setDiscountPerAdditionalCost": (
        {"name", "value", "additionalCostId", "additionalCost"},
        {"desiredValue"},
    ),
    "setDiscountPerAdditionalCostPerItem": (
        {"name", "value", "additionalCostId", "additionalCost", "position"},
        {"subPosition", "desiredValue"},
    ),
    "triggerWebhook": ({"webhookId", "webhookName"}, set()),
    "addLoyaltyPoints": (
        {"name", "programId", "subLedgerId", "value", "recipientIntegrationId", "transactionUUID"},
        {
            "desiredValue",
            "startDate",
            "expiryDate",
            "cartItemPosition",
            "cartItemSubPosition",
            "cardIdentifier",
            "bundleIndex",
            "bundleName",
            "awaitsActivation",
            "validityDuration",
        },
    ),
    "deductLoyaltyPoints": (
        {"ruleTitle", "programId", "subLedgerId", "value", "transactionUUID", "name"},
        {"cardIdentifier"},
    ),
    "changeLoyaltyTierLevel": (
        {"ruleTitle", "programId", "subLedgerId", "newTierName"},
        {"previousTierName", "expiryDate"},
    ),
    "addFreeItem": ({"sku", "name"}, {"desiredQuantity"}),
    "showNotification": ({"notificationType", "title", "body"}, set()),
    "updateAttribute": ({"path", "value"}, set()),
    "rollbackCoupon": ({"value"}, set()),
    "rollbackReferral": ({"value"}, set()),
    "rollbackDiscount": (
        {"name", "value"},
        {"cartItemPosition", "cartItemSubPosition", "additionalCostId", "additionalCost", "scope"},
    ),
    "rollbackAddedLoyaltyPoints": (
        {"programId", "subLedgerId", "value", "recipientIntegrationId", "transactionUUID"},
        {"cartItemPosition", "cartItemSubPosition", "cardIdentifier"},
    ),
    "rollbackDeductedLoyaltyPoints": (
        {"programId", "subLedgerId", "value", "recipientIntegrationId", "transactionUUID"},
        {"startDate", "expiryDate", "cardIdentifier"},
    ),
    "showBundleMetadata": ({"description", "bundleAttributes", "itemsIndices"}, set()),
    "awardGiveaway": (
        {"poolId", "poolName", "recipientIntegrationId", "giveawayId", "code"},
        set(),
    ),
    "willAwardGiveaway": ({"poolId", "poolName", "recipientIntegrationId"}, set()),
    "error": ({"message"}, set()),
    "customEffect": (
        {"effectId", "name", "payload"},
        {"cartItemPosition", "cartItemSubPosition", "bundleIndex", "bundleName"},
    ),
    "reserveCoupon": ({"couponValue", "profileIntegrationId", "isNewReservation"}, set()),
    "addToAudience": (
        set(),
        {"audienceId", "audienceName", "profileIntegrationId", "profileId"},
    ),
    "removeFromAudience": (
        set(),
        {"audienceId", "audienceName", "profileIntegrationId", "profileId"},
    ),
    "increaseAchievementProgress": (
        {"achievementId", "achievementName", "delta", "value", "target", "isJustCompleted"},
        {"progressTrackerId"},
    ),
    "rollbackIncreasedAchievementProgress": (
        {
            "achievementId",
            "achievementName",
            "progressTrackerId",
            "decreaseProgressBy",
            "currentProgress",
            "target",
        },
        set(),
    ),
    "extendLoyaltyPointsExpiryDate": (
        {"programId", "subLedgerId", "extensionDuration", "previousExpirationDate"},
        {"affectedTransactions"},
    ),
    "setLoyaltyPointsExpiryDate": (
        {"programId", "subLedgerId", "newExpiryDate"},
        {"affectedTransactions"},
    ),
}

# One instance of every effect type with every wire field set.
COMPLETE: list[fx.Effect] = [
    fx.SetDiscount(
        name="10% off",
        value=Decimal("2.50"),
        scope=fx.SessionDiscountScope.SESSION_TOTAL,
        desired_value=Decimal("3.00"),
    ),
    fx.SetDiscountPerItem(
        name="Discount on item #1",
        value=Decimal("1.5"),
        position=1,
        sub_position=0,
        desired_value=Decimal("1.5"),
        scope=fx.ItemDiscountScope.PRICE,
        total_discount=Decimal("4.5"),
        desired_total_discount=Decimal("4.5"),
        bundle_index=1,
        bundle_name="my_bundle",
        targeted_item_position=1,
        targeted_item_sub_position=0,
        excluded_from_price_history=False,
    ),
    fx.SetDiscountPerAdditionalCost(
        name="Shipping",
        additional_cost_id=1,
        additional_cost="shipping",
        value=Decimal("4.99"),
        desired_value=Decimal("4.99"),
    ),
    fx.SetDiscountPerAdditionalCostPerItem(
        name="Shipping on item #1",
        additional_cost_id=1,
        value=Decimal("1"),
        position=1,
        sub_position=2,
        additional_cost="shipping",
        desired_value=Decimal("1"),
    ),
    fx.RollbackDiscount(
        name="10% off",
        value=Decimal("2.5"),
        cart_item_position=1,
        cart_item_sub_position=0,
        additional_cost_id=1,
        additional_cost="shipping",
        scope="sessionTotal",
    ),
    fx.AcceptCoupon(value="COUP-1"),
    fx.RejectCoupon(
        value="COUP-1",
        rejection_reason=fx.CouponRejectionReason.COUPON_PART_OF_NOT_TRIGGERED_CAMPAIGN,
        condition_index=2,
        effect_index=0,
        details="another campaign won",
        campaign_exclusion_reason=fx.CampaignExclusionReason.CAMPAIGN_GAVE_LOWER_DISCOUNT,
    ),
    fx.RollbackCoupon(value="COUP-1"),
    fx.ReserveCoupon(
        coupon_value="COUP-1", profile_integration_id="cust-1", is_new_reservation=True
    ),
    fx.CreateCoupon(value="NEW-1", profile_id="cust-1"),
    fx.AcceptReferral(value="REF-1"),
    fx.RejectReferral(
        value="REF-1",
        rejection_reason=fx.ReferralRejectionReason.REFERRAL_CUSTOMER_ALREADY_REFERRED,
        condition_index=1,
        effect_index=0,
        details="already referred",
        campaign_exclusion_reason=fx.CampaignExclusionReason.CAMPAIGN_IS_NOT_FIRST,
    ),
    fx.RollbackReferral(value="REF-1"),
    fx.CreateReferral(value="REF-NEW"),
    fx.AddLoyaltyPoints(
        name="Points for purchase",
        program_id=5,
        sub_ledger_id="main",
        value=Decimal("100"),
        desired_value=Decimal("120"),
        recipient_integration_id="cust-1",
        start_date=JAN,
        expiry_date=DEC,
        transaction_uuid="8c2d3670-6ea5-4e9e-b5c6-e7e7b4a10111",
        cart_item_position=1,
        cart_item_sub_position=0,
        card_identifier="card-001",
        bundle_index=1,
        bundle_name="my_bundle",
        awaits_activation=False,
        validity_duration="12M",
    ),
    fx.DeductLoyaltyPoints(
        rule_title="Pay with points",
        program_id=5,
        sub_ledger_id="main",
        value=Decimal("50"),
        transaction_uuid="9f3e4781-7fb6-5f0f-c6d7-f8f8c5b21222",
        name="Redeemed",
        card_identifier="card-001",
    ),
    fx.RollbackAddedLoyaltyPoints(
        program_id=5,
        sub_ledger_id="main",
        value=Decimal("100"),
        recipient_integration_id="cust-1",
        transaction_uuid="8c2d3670-6ea5-4e9e-b5c6-e7e7b4a10111",
        cart_item_position=1,
        cart_item_sub_position=0,
        card_identifier="card-001",
    ),
    fx.RollbackDeductedLoyaltyPoints(
        program_id=5,
        sub_ledger_id="main",
        value=Decimal("50"),
        recipient_integration_id="cust-1",
        start_date=JAN,
        expiry_date=DEC,
        transaction_uuid="9f3e4781-7fb6-5f0f-c6d7-f8f8c5b21222",
        card_identifier="card-001",
    ),
    fx.ChangeLoyaltyTierLevel(
        rule_title="Tier upgrade",
        program_id=5,
        sub_ledger_id="main",
        previous_tier_name="Silver",
        new_tier_name="Gold",
        expiry_date=DEC,
    ),
    fx.ExtendLoyaltyPointsExpiryDate(
        program_id=5,
        sub_ledger_id="main",
        extension_duration="12h",
        previous_expiration_date=JAN,
        affected_transactions=(
            fx.LedgerEntryExpiryChange(
                transaction_uuid="8c2d3670-6ea5-4e9e-b5c6-e7e7b4a10111",
                previous_expiry_date=JAN,
                new_expiry_date=DEC,
            ),
        ),
    ),
    fx.SetLoyaltyPointsExpiryDate(
        program_id=5,
        sub_ledger_id="main",
        new_expiry_date=DEC,
        affected_transactions=(
            fx.LedgerEntryExpiryChange(transaction_uuid="u-1", new_expiry_date=DEC),
        ),
    ),
    fx.AddFreeItem(sku="SKU1", name="Free gift", desired_quantity=2),
    fx.ShowNotification(
        notification_type=fx.NotificationType.OFFER, title="Deal", body="10% off today"
    ),
    fx.UpdateAttribute(path="Profile.Attributes.Tier", value="Gold"),
    fx.TriggerWebhook(webhook_id=7, webhook_name="Order hook"),
    fx.CustomEffect(
        effect_id=1,
        name="my_custom_effect",
        cart_item_position=1,
        cart_item_sub_position=2,
        bundle_index=1,
        bundle_name="my_bundle",
        payload={"key": "value", "amount": Decimal("3")},
    ),
    fx.ShowBundleMetadata(
        description="Buy 2 get 1", bundle_attributes=("category", "brand"), items_indices=(0, 1)
    ),
    fx.AwardGiveaway(
        pool_id=2, pool_name="My pool", recipient_integration_id="cust-1", giveaway_id=5, code="G"
    ),
    fx.WillAwardGiveaway(pool_id=2, pool_name="My pool", recipient_integration_id="cust-1"),
    fx.AddToAudience(
        audience_id=10, audience_name="VIP", profile_integration_id="cust-1", profile_id=150
    ),
    fx.RemoveFromAudience(
        audience_id=10, audience_name="VIP", profile_integration_id="cust-1", profile_id=150
    ),
    fx.IncreaseAchievementProgress(
        achievement_id=10,
        achievement_name="FreeCoffee10Orders",
        progress_tracker_id=42,
        delta=Decimal("1"),
        value=Decimal("7"),
        target=Decimal("10"),
        is_just_completed=False,
    ),
    fx.RollbackIncreasedAchievementProgress(
        achievement_id=10,
        achievement_name="FreeCoffee10Orders",
        progress_tracker_id=42,
        decrease_progress_by=Decimal("1"),
        current_progress=Decimal("6"),
        target=Decimal("10"),
    ),
    fx.Error(message="something went wrong"),
]


def without_optionals(effect: fx.Effect) -> fx.Effect:
    """The same effect with every field that defaults to None left unset."""
    unset = {f.name: None for f in dataclasses.fields(effect) if f.default is None}
    return dataclasses.replace(effect, **unset)


MINIMAL = [without_optionals(effect) for effect in COMPLETE]


def ids(effects: list[fx.Effect]) -> list[str]:
    return [effect.effect_type for effect in effects]


def stored(props: dict[str, Any]) -> dict[str, Any]:
    """Props after a trip through JSON storage (Decimals and times written as text)."""

    def default(value: Any) -> str:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(value)

    return json.loads(json.dumps(props, default=default))


# --------------------------------------------------------------------------------------------
# The vocabulary


def test_every_effect_type_of_the_reference_has_one_class():
    assert set(fx.EFFECT_TYPES) == set(WIRE_NAMES)
    assert {effect.effect_type for effect in COMPLETE} == set(WIRE_NAMES)
    for effect_type, cls in fx.EFFECT_TYPES.items():
        assert cls.effect_type == effect_type


def test_created_codes_use_talon_ones_wire_types():
    assert fx.CreateCoupon.effect_type == "couponCreated"
    assert fx.CreateReferral.effect_type == "referralCreated"


@pytest.mark.parametrize("effect", COMPLETE, ids=ids(COMPLETE))
def test_effects_are_frozen(effect):
    first = dataclasses.fields(effect)[0].name

    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(effect, first, "changed")
    assert not hasattr(effect, "__dict__")


def test_rejection_reasons_follow_the_reference():
    assert {reason.value for reason in fx.CouponRejectionReason} == {
        "CampaignLimitReached",
        "CouponExpired",
        "CouponLimitReached",
        "CouponNotFound",
        "CouponPartOfNotRunningCampaign",
        "CouponRecipientDoesNotMatch",
        "CouponRejectedByCondition",
        "CouponStartDateInFuture",
        "EffectCouldNotBeApplied",
        "ProfileLimitReached",
        "CouponPartOfNotTriggeredCampaign",
        "CouponReservationRequired",
        "ProfileRequired",
    }
    assert {reason.value for reason in fx.ReferralRejectionReason} == {
        "AdvocateNotFound",
        "CampaignLimitReached",
        "EffectCouldNotBeApplied",
        "ProfileLimitReached",
        "ReferralCustomerAlreadyReferred",
        "ReferralExpired",
        "ReferralLimitReached",
        "ReferralNotFound",
        "ReferralPartOfNotRunningCampaign",
        "ReferralRecipientDoesNotMatch",
        "ReferralRecipientIdSameAsAdvocate",
        "ReferralRejectedByCondition",
        "ReferralStartDateInFuture",
        "ReferralPartOfNotTriggeredCampaign",
    }
    assert {reason.value for reason in fx.CampaignExclusionReason} == {
        "CampaignGaveLowerDiscount",
        "CampaignIsNotFirst",
        "CampaignNotInEvaluationSet",
    }


def test_scopes_and_notification_types_follow_the_reference():
    assert {s.value for s in fx.SessionDiscountScope} == {
        "cartItems",
        "additionalCosts",
        "sessionTotal",
    }
    assert {s.value for s in fx.ItemDiscountScope} == {"price", "itemTotal", "additionalCosts"}
    assert {t.value for t in fx.NotificationType} == {"Info", "Offer", "Error", "Misc"}
    assert fx.NotificationType("info") is fx.NotificationType.INFO


# --------------------------------------------------------------------------------------------
# props(): the wire format


@pytest.mark.parametrize("effect", COMPLETE, ids=ids(COMPLETE))
def test_a_complete_effect_has_every_wire_field(effect):
    required, optional = WIRE_NAMES[effect.effect_type]

    assert set(effect.props()) == required | optional


@pytest.mark.parametrize("effect", MINIMAL, ids=ids(MINIMAL))
def test_unset_optional_fields_are_left_out_and_required_ones_stay(effect):
    required, _ = WIRE_NAMES[effect.effect_type]

    assert set(effect.props()) == required


def test_set_discount_props():
    effect = fx.SetDiscount(
        name="10% off", value=Decimal("2.50"), scope=fx.SessionDiscountScope.CART_ITEMS
    )

    props = effect.props()

    assert props == {"name": "10% off", "value": Decimal("2.50"), "scope": "cartItems"}
    assert type(props["value"]) is Decimal
    assert type(props["scope"]) is str


def test_loyalty_points_props_keep_decimals_and_talon_ones_uuid_spelling():
    effect = fx.AddLoyaltyPoints(
        name="Welcome", program_id=5, value=Decimal("100.5"), transaction_uuid="t-1"
    )

    assert effect.props() == {
        "name": "Welcome",
        "programId": 5,
        "subLedgerId": "",
        "value": Decimal("100.5"),
        "recipientIntegrationId": "",
        "transactionUUID": "t-1",
    }


def test_reject_coupon_props():
    effect = fx.RejectCoupon(value="XMAS", rejection_reason=fx.CouponRejectionReason.COUPON_EXPIRED)

    assert effect.props() == {"value": "XMAS", "rejectionReason": "CouponExpired"}


def test_instructions_for_the_applicator_are_not_on_the_wire():
    coupon = fx.CreateCoupon(profile_id="cust-1", usage_limit=1, expiry_date=DEC)
    webhook = fx.TriggerWebhook(webhook_id=3, arguments=(Decimal("1"), "x"))

    assert coupon.props() == {"value": "", "profileId": "cust-1"}
    assert webhook.props() == {"webhookId": 3, "webhookName": ""}


def test_props_do_not_share_the_payload_with_the_effect():
    effect = fx.CustomEffect(name="x", payload={"a": 1})

    effect.props()["payload"]["a"] = 2

    assert effect.payload == {"a": 1}


# --------------------------------------------------------------------------------------------
# effect_from_props(): reading effects back


@pytest.mark.parametrize("effect", COMPLETE + MINIMAL, ids=ids(COMPLETE) + ids(MINIMAL))
def test_props_read_back_into_the_same_effect(effect):
    assert fx.effect_from_props(effect.effect_type, effect.props()) == effect


TYPED = [e for e in COMPLETE + MINIMAL if not isinstance(e, fx.CustomEffect)]
"""Effects whose fields all have a declared type (a custom effect's payload is free-form)."""


@pytest.mark.parametrize("effect", TYPED, ids=ids(TYPED))
def test_props_read_back_after_json_storage(effect):
    assert fx.effect_from_props(effect.effect_type, stored(effect.props())) == effect


def test_a_custom_effect_payload_reads_back_as_the_json_it_was_stored_as():
    effect = fx.CustomEffect(effect_id=1, name="wrap", payload={"count": Decimal("2")})

    read = fx.effect_from_props("customEffect", stored(effect.props()))

    assert read == fx.CustomEffect(effect_id=1, name="wrap", payload={"count": "2"})


def test_reading_back_accepts_json_numbers_for_decimals_and_ids():
    effect = fx.effect_from_props(
        "setDiscountPerItem", {"name": "d", "value": 1.1, "position": 2.0}
    )

    assert effect == fx.SetDiscountPerItem(name="d", value=Decimal("1.1"), position=2)


def test_reading_back_ignores_fields_it_does_not_know():
    effect = fx.effect_from_props("acceptCoupon", {"value": "X", "addedLater": True})

    assert effect == fx.AcceptCoupon(value="X")


@pytest.mark.parametrize(
    ("effect_type", "props"),
    [
        ("noSuchEffect", {}),
        ("setDiscount", {"name": "d"}),
        ("setDiscount", {"name": "d", "value": "lots"}),
        ("setDiscount", {"name": "d", "value": "NaN"}),
        ("setDiscount", {"name": "d", "value": True}),
        ("setDiscount", {"name": 5, "value": 1}),
        ("setDiscount", {"name": "d", "value": 1, "scope": "everything"}),
        ("setDiscountPerItem", {"name": "d", "value": 1, "position": 1.5}),
        ("rejectCoupon", {"value": "X", "rejectionReason": "BecauseISaidSo"}),
        ("addLoyaltyPoints", {"name": "n", "programId": 1, "subLedgerId": "", "value": 1,
                              "recipientIntegrationId": "", "transactionUUID": "",
                              "startDate": "yesterday"}),
        ("customEffect", {"effectId": 1, "name": "n", "payload": []}),
        ("showBundleMetadata", {"description": "d", "bundleAttributes": "a", "itemsIndices": []}),
        ("acceptCoupon", ["value", "X"]),
    ],
)  # fmt: skip
def test_reading_back_refuses_props_that_are_not_an_effect(effect_type, props):
    with pytest.raises(fx.EffectFormatError):
        fx.effect_from_props(effect_type, props)


# --------------------------------------------------------------------------------------------
# Effect functions


def overload_for(name: str, args: tuple[Any, ...]) -> Overload:
    """The overload the compiler would pick: the first whose arity and kinds fit."""
    found = REGISTRY.lookup(name)
    assert isinstance(found, list), f"{name} is not registered"
    for overload in found:
        if overload.accepts_arity(len(args)) and all(
            kind_of(arg) & overload.param_kind(i) for i, arg in enumerate(args)
        ):
            return overload
    raise AssertionError(f"no overload of {name} takes {args!r}")


def run(name: str, *args: Any) -> list[Any]:
    """Call an effect function as compiled code would; return what it emitted."""
    state = State()
    result = overload_for(name, args).impl(state, *args)
    assert result is None
    return state.effects


def test_effect_functions_are_registered_as_effects():
    assert set(fx.EFFECT_FUNCTIONS) >= {
        "setDiscount",
        "setDiscountPerItem",
        "addFreeItem",
        "addLoyaltyPoints",
        "deductLoyaltyPoints",
        "updateAttribute",
        "triggerWebhook",
        "showNotification",
        "customEffect",
        "createCoupon",
        "createReferral",
        "acceptCoupon",
        "rejectCoupon",
        "acceptReferral",
        "rejectReferral",
    }
    for name in fx.EFFECT_FUNCTIONS:
        overloads = REGISTRY.lookup(name)
        assert isinstance(overloads, list)
        for overload in overloads:
            assert overload.stateful
            assert not overload.pure
            assert overload.category == "effect"
            assert overload.returns == Kind.NULL
            assert overload.doc


def test_effect_functions_with_optional_arguments_have_one_overload_per_arity():
    for name in fx.EFFECT_FUNCTIONS:
        overloads = REGISTRY.lookup(name)
        assert isinstance(overloads, list)
        arities = [len(overload.params) for overload in overloads]
        assert len(arities) == len(set(arities)), name


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            ("setDiscount", "10% off", Decimal("12.5")),
            fx.SetDiscount(name="10% off", value=Decimal("12.5")),
        ),
        (
            ("setDiscount", "Free shipping", Decimal("5"), "additionalCosts"),
            fx.SetDiscount(
                name="Free shipping",
                value=Decimal("5"),
                scope=fx.SessionDiscountScope.ADDITIONAL_COSTS,
            ),
        ),
        (
            ("setDiscountPerItem", "Shoes", Decimal("3"), Decimal("0")),
            fx.SetDiscountPerItem(name="Shoes", value=Decimal("3"), position=0),
        ),
        (
            ("setDiscountPerItem", "Shoes", Decimal("3"), Decimal("2"), Decimal("1")),
            fx.SetDiscountPerItem(name="Shoes", value=Decimal("3"), position=2, sub_position=1),
        ),
        (
            ("setDiscountPerItem", "Shoes", Decimal("3"), Decimal("2"), None, "itemTotal"),
            fx.SetDiscountPerItem(
                name="Shoes",
                value=Decimal("3"),
                position=2,
                scope=fx.ItemDiscountScope.ITEM_TOTAL,
            ),
        ),
        (
            ("setDiscountPerAdditionalCost", "Ship", "shipping", Decimal("4.99")),
            fx.SetDiscountPerAdditionalCost(
                name="Ship", additional_cost="shipping", value=Decimal("4.99")
            ),
        ),
        (
            ("setDiscountPerAdditionalCostPerItem", "Ship", "shipping", Decimal("1"), Decimal("3")),
            fx.SetDiscountPerAdditionalCostPerItem(
                name="Ship", additional_cost="shipping", value=Decimal("1"), position=3
            ),
        ),
        (
            ("addFreeItem", "SKU-9", "Free tote bag"),
            fx.AddFreeItem(sku="SKU-9", name="Free tote bag"),
        ),
        (
            ("addLoyaltyPoints", Decimal("5"), "Purchase", Decimal("120")),
            fx.AddLoyaltyPoints(name="Purchase", program_id=5, value=Decimal("120")),
        ),
        (
            ("addLoyaltyPoints", Decimal("5"), "Purchase", Decimal("120"), "shoes"),
            fx.AddLoyaltyPoints(
                name="Purchase", program_id=5, value=Decimal("120"), sub_ledger_id="shoes"
            ),
        ),
        (
            ("addLoyaltyPoints", Decimal("5"), "Purchase", Decimal("1"), "", JAN, DEC),
            fx.AddLoyaltyPoints(
                name="Purchase", program_id=5, value=Decimal("1"), start_date=JAN, expiry_date=DEC
            ),
        ),
        (
            ("addLoyaltyPoints", Decimal("5"), "Purchase", Decimal("1"), "", None, DEC),
            fx.AddLoyaltyPoints(name="Purchase", program_id=5, value=Decimal("1"), expiry_date=DEC),
        ),
        (
            ("deductLoyaltyPoints", Decimal("5"), "Pay with points", Decimal("50")),
            fx.DeductLoyaltyPoints(program_id=5, name="Pay with points", value=Decimal("50")),
        ),
        (
            ("deductLoyaltyPoints", Decimal("5"), "Pay with points", Decimal("50"), "shoes"),
            fx.DeductLoyaltyPoints(
                program_id=5, name="Pay with points", value=Decimal("50"), sub_ledger_id="shoes"
            ),
        ),
        (
            ("updateAttribute", "Profile.Attributes.Tier", "Gold"),
            fx.UpdateAttribute(path="Profile.Attributes.Tier", value="Gold"),
        ),
        (
            ("updateAttribute", ["Session", "Attributes", "Gift"], True),
            fx.UpdateAttribute(path="Session.Attributes.Gift", value=True),
        ),
        (
            ("updateAttribute", "Profile.Attributes.Visits", None),
            fx.UpdateAttribute(path="Profile.Attributes.Visits", value=None),
        ),
        (
            ("triggerWebhook", Decimal("7")),
            fx.TriggerWebhook(webhook_id=7),
        ),
        (
            ("triggerWebhook", Decimal("7"), "order-1", Decimal("99.90"), ["a"]),
            fx.TriggerWebhook(webhook_id=7, arguments=("order-1", Decimal("99.90"), ["a"])),
        ),
        (
            ("showNotification", "Offer", "Almost there", "Add 5 € for free shipping"),
            fx.ShowNotification(
                notification_type=fx.NotificationType.OFFER,
                title="Almost there",
                body="Add 5 € for free shipping",
            ),
        ),
        (
            ("showNotification", "info", "Hi", "Welcome back"),
            fx.ShowNotification(
                notification_type=fx.NotificationType.INFO, title="Hi", body="Welcome back"
            ),
        ),
        (
            ("customEffect", "gift_wrap", {"color": "red", "count": Decimal("2")}),
            fx.CustomEffect(name="gift_wrap", payload={"color": "red", "count": Decimal("2")}),
        ),
        (
            ("createCoupon", "cust-1"),
            fx.CreateCoupon(profile_id="cust-1"),
        ),
        (
            ("createCoupon", None),
            fx.CreateCoupon(profile_id=""),
        ),
        (
            ("createCoupon", "cust-1", JAN, DEC),
            fx.CreateCoupon(profile_id="cust-1", start_date=JAN, expiry_date=DEC),
        ),
        (
            ("createCoupon", "cust-1", None, DEC, Decimal("1"), Decimal("20")),
            fx.CreateCoupon(
                profile_id="cust-1", expiry_date=DEC, usage_limit=1, discount_limit=Decimal("20")
            ),
        ),
        (
            ("createReferral", "advocate-1"),
            fx.CreateReferral(advocate_profile_id="advocate-1"),
        ),
        (
            ("createReferral", "advocate-1", "friend-1"),
            fx.CreateReferral(advocate_profile_id="advocate-1", friend_profile_id="friend-1"),
        ),
        (
            ("createReferral", "advocate-1", None, JAN, None),
            fx.CreateReferral(advocate_profile_id="advocate-1", start_date=JAN),
        ),
        (("acceptCoupon", "XMAS"), fx.AcceptCoupon(value="XMAS")),
        (
            ("rejectCoupon", "XMAS", "CouponExpired"),
            fx.RejectCoupon(value="XMAS", rejection_reason=fx.CouponRejectionReason.COUPON_EXPIRED),
        ),
        (("acceptReferral", "REF-1"), fx.AcceptReferral(value="REF-1")),
        (
            ("rejectReferral", "REF-1", "ReferralCustomerAlreadyReferred"),
            fx.RejectReferral(
                value="REF-1",
                rejection_reason=fx.ReferralRejectionReason.REFERRAL_CUSTOMER_ALREADY_REFERRED,
            ),
        ),
        (
            ("reserveCoupon", "XMAS", "cust-1"),
            fx.ReserveCoupon(coupon_value="XMAS", profile_integration_id="cust-1"),
        ),
        (("addToAudience", Decimal("10")), fx.AddToAudience(audience_id=10)),
        (("removeFromAudience", Decimal("10")), fx.RemoveFromAudience(audience_id=10)),
    ],
    ids=lambda value: value[0] if isinstance(value, tuple) else None,
)
def test_an_effect_function_emits_its_effect(call, expected):
    assert run(*call) == [expected]


def test_every_effect_function_is_exercised():
    tested = {
        "setDiscount",
        "setDiscountPerItem",
        "setDiscountPerAdditionalCost",
        "setDiscountPerAdditionalCostPerItem",
        "addFreeItem",
        "addLoyaltyPoints",
        "deductLoyaltyPoints",
        "updateAttribute",
        "triggerWebhook",
        "showNotification",
        "customEffect",
        "createCoupon",
        "createReferral",
        "acceptCoupon",
        "rejectCoupon",
        "acceptReferral",
        "rejectReferral",
        "reserveCoupon",
        "addToAudience",
        "removeFromAudience",
    }
    assert set(fx.EFFECT_FUNCTIONS) == tested


def test_function_names_match_case_insensitively_like_talang():
    assert run("SETDISCOUNT", "d", Decimal("1")) == [fx.SetDiscount(name="d", value=Decimal("1"))]


def test_an_emitted_effect_shares_nothing_with_the_rule_values():
    payload = {"tags": ["a"]}
    state = State()
    overload_for("customEffect", ("x", payload)).impl(state, "x", payload)

    payload["tags"].append("b")

    assert state.effects[0].payload == {"tags": ["a"]}


def test_a_zero_discount_is_allowed():
    assert run("setDiscount", "nothing yet", Decimal("0")) == [
        fx.SetDiscount(name="nothing yet", value=Decimal("0"))
    ]


@pytest.mark.parametrize(
    "call",
    [
        ("setDiscount", "d", Decimal("-1")),
        ("setDiscount", "d", Decimal("NaN")),
        ("setDiscount", "d", Decimal("Infinity")),
        ("setDiscount", "", Decimal("1")),
        ("setDiscount", "d", Decimal("1"), "wholeShop"),
        ("setDiscount", "d", Decimal("1"), "price"),
        ("setDiscountPerItem", "d", Decimal("-0.01"), Decimal("0")),
        ("setDiscountPerItem", "d", Decimal("1"), Decimal("-1")),
        ("setDiscountPerItem", "d", Decimal("1"), Decimal("1.5")),
        ("setDiscountPerItem", "d", Decimal("1"), Decimal("1"), Decimal("-2")),
        ("setDiscountPerItem", "d", Decimal("1"), Decimal("1"), None, "sessionTotal"),
        ("setDiscountPerAdditionalCost", "d", "", Decimal("1")),
        ("setDiscountPerAdditionalCost", "d", "shipping", Decimal("-1")),
        ("setDiscountPerAdditionalCostPerItem", "d", "shipping", Decimal("1"), Decimal("-1")),
        ("addFreeItem", "", "Free"),
        ("addLoyaltyPoints", Decimal("0"), "n", Decimal("1")),
        ("addLoyaltyPoints", Decimal("2.5"), "n", Decimal("1")),
        ("addLoyaltyPoints", Decimal("1"), "n", Decimal("-10")),
        ("addLoyaltyPoints", Decimal("1"), "n", Decimal("1"), "", DEC, JAN),
        ("deductLoyaltyPoints", Decimal("1"), "n", Decimal("-10")),
        ("deductLoyaltyPoints", Decimal("-1"), "n", Decimal("10")),
        ("updateAttribute", "Tier", "Gold"),
        ("updateAttribute", "Catalog.Attributes.Tier", "Gold"),
        ("updateAttribute", "Profile..Tier", "Gold"),
        ("updateAttribute", ["Profile", Decimal("1")], "Gold"),
        ("updateAttribute", [], "Gold"),
        ("triggerWebhook", Decimal("0")),
        ("triggerWebhook", Decimal("1.5")),
        ("showNotification", "Warning", "t", "b"),
        ("customEffect", " ", {}),
        ("createCoupon", "cust-1", DEC, JAN),
        ("createCoupon", "cust-1", None, None, Decimal("-1"), None),
        ("createCoupon", "cust-1", None, None, Decimal("1"), Decimal("-5")),
        ("createReferral", ""),
        ("createReferral", "same", "same"),
        ("createReferral", "a", None, DEC, JAN),
        ("acceptCoupon", ""),
        ("rejectCoupon", "XMAS", "ReferralNotFound"),
        ("rejectCoupon", "XMAS", "couponexpired"),
        ("rejectReferral", "REF", "CouponNotFound"),
        ("reserveCoupon", "XMAS", ""),
        ("addToAudience", Decimal("-3")),
    ],
    ids=lambda call: call[0],
)
def test_bad_arguments_are_refused_at_run_time(call):
    state = State()
    name, *args = call

    with pytest.raises(RuleRuntimeError):
        overload_for(name, tuple(args)).impl(state, *args)

    assert state.effects == []


def test_errors_name_the_allowed_values():
    with pytest.raises(RuleRuntimeError, match="Info, Offer, Error, Misc"):
        run("showNotification", "Warning", "t", "b")


# --------------------------------------------------------------------------------------------
# Purity


def test_importing_effects_pulls_in_no_django():
    code = (
        "import sys, rules.effects; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("cls", sorted(fx.EFFECT_TYPES.values(), key=lambda c: c.__name__))
def test_effect_records_are_immutable(cls: type) -> None:
    import dataclasses

    field = dataclasses.fields(cls)[0]
    instance = object.__new__(cls)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, field.name, "changed")
