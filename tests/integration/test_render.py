"""Rendering results in the Integration API's wire format (``integration/render.py``).

Given effects, sessions and profiles, when they are rendered, then the field names are exactly
those of Talon.One's Integration API reference (hard-coded below from
``integration-api/paths/v2-customer_sessions-{customerSessionId}.yaml``), times are RFC 3339 in
UTC with ``Z``, and ``dumps`` writes every amount as an exact JSON number.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration import render
from integration.render import (
    AudienceMembership,
    CartItemView,
    CouponView,
    ProfileView,
    ReferralView,
    SessionView,
    decimal_text,
    dumps,
    render_cart_item,
    render_coupon,
    render_customer_profile,
    render_customer_session,
    render_effect,
    render_referral,
    render_rule_failure,
    render_session_update_response,
)
from rules.effects import (
    AcceptCoupon,
    AddFreeItem,
    AddLoyaltyPoints,
    CouponRejectionReason,
    LedgerEntryExpiryChange,
    NotificationType,
    RejectCoupon,
    SessionDiscountScope,
    SetDiscount,
    SetDiscountPerItem,
    SetLoyaltyPointsExpiryDate,
    ShowNotification,
    UpdateAttribute,
)

# ---------------------------------------------------------------------------------------------
# Field names from the reference

EFFECT_REQUIRED = {"campaignId", "rulesetId", "ruleIndex", "ruleName", "effectType", "props"}
EFFECT_OPTIONAL = {
    "experimentId",
    "triggeredByCoupon",
    "triggeredForCatalogItem",
    "conditionIndex",
    "evaluationGroupID",
    "evaluationGroupMode",
    "campaignRevisionId",
    "campaignRevisionVersionId",
}
RULE_FAILURE_REQUIRED = {"campaignID", "campaignName", "rulesetID", "ruleIndex", "ruleName"}
RULE_FAILURE_OPTIONAL = {
    "couponID",
    "couponValue",
    "referralID",
    "referralValue",
    "conditionIndex",
    "effectIndex",
    "details",
    "evaluationGroupID",
    "evaluationGroupMode",
}
SESSION_REQUIRED = {
    "id",
    "created",
    "integrationId",
    "applicationId",
    "profileId",
    "state",
    "cartItems",
    "attributes",
    "firstSession",
    "updateCount",
    "total",
    "cartItemTotal",
    "additionalCostTotal",
    "cartItemAdditionalCostTotal",
    "updated",
}
SESSION_OPTIONAL = {
    "storeIntegrationId",
    "evaluableCampaignIds",
    "couponCodes",
    "referralCode",
    "loyaltyCards",
    "experimentVariantAllocations",
    "additionalCosts",
    "identifiers",
}
CART_ITEM_FIELDS = {
    "name",
    "sku",
    "quantity",
    "returnedQuantity",
    "remainingQuantity",
    "price",
    "category",
    "product",
    "weight",
    "height",
    "width",
    "length",
    "position",
    "attributes",
    "additionalCosts",
    "catalogItemID",
}
PROFILE_FIELDS = {
    "id",
    "created",
    "integrationId",
    "attributes",
    "accountId",
    "closedSessions",
    "totalSales",
    "loyaltyMemberships",
    "audienceMemberships",
    "lastActivity",
    "sandbox",
}
COUPON_FIELDS = {
    "id",
    "created",
    "campaignId",
    "value",
    "usageLimit",
    "discountLimit",
    "reservationLimit",
    "startDate",
    "expiryDate",
    "usageCounter",
    "discountCounter",
    "discountRemainder",
    "reservationCounter",
    "attributes",
    "referralId",
    "recipientIntegrationId",
    "importId",
    "reservation",
    "batchId",
    "isReservationMandatory",
    "implicitlyReserved",
    "profileRedemptionCount",  # only in `coupons`
}
REFERRAL_FIELDS = {
    "id",
    "created",
    "startDate",
    "expiryDate",
    "usageLimit",
    "campaignId",
    "advocateProfileIntegrationId",
    "friendProfileIntegrationId",
    "attributes",
    "importId",
    "code",
    "usageCounter",
    "batchId",
    "referredCustomers",  # only in `referral`
}

CREATED = datetime(2020, 6, 10, 9, 5, 27, 993483, tzinfo=UTC)
BERLIN = timezone(timedelta(hours=2))


def roundtrip(data: Any) -> Any:
    return json.loads(dumps(data), parse_float=Decimal)


# ---------------------------------------------------------------------------------------------
# dumps: exact numbers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.345"), "12.345"),
        (Decimal(10), "10"),
        (Decimal("10.000000"), "10"),
        (Decimal("10.50"), "10.5"),
        (Decimal("1E+2"), "100"),
        (Decimal("1.5E+3"), "1500"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("-0"), "0"),
        (Decimal("-0.00"), "0"),
        (Decimal("0E-7"), "0"),
        (Decimal("-3.25"), "-3.25"),
        (Decimal("0.1"), "0.1"),  # a float would be 0.1000000000000000055511151231257827…
        (Decimal("12345678901234.123456"), "12345678901234.123456"),
        (
            Decimal("1.234567890123456789012345678901234567890"),
            "1.23456789012345678901234567890123456789",  # beyond any context's precision
        ),
    ],
)
def test_a_decimal_is_written_as_its_exact_number(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text
    assert dumps({"amount": value}) == b'{"amount":' + text.encode() + b"}"


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Inf"), Decimal("sNaN")]
)
def test_nan_and_infinity_are_refused(value: Decimal) -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        dumps([value])


def test_dumps_is_compact_ascii_json() -> None:
    data = {"name": "Café ☕", "odd": "a\ud800b", "list": [1, True, None, Decimal("2.50")]}

    written = dumps(data)

    assert written == (b'{"name":"Caf\\u00e9 \\u2615","odd":"a\\ud800b","list":[1,true,null,2.5]}')
    assert json.loads(written) == {**data, "list": [1, True, None, 2.5]}


def test_strings_that_look_like_the_placeholder_stay_strings() -> None:
    tricky = render._PLACEHOLDER
    data = {
        "a": Decimal("1.10"),
        "b": tricky,
        "c": [Decimal(2), '"' + tricky, tricky + "x"],
        tricky: Decimal("3.5"),
    }

    assert roundtrip(data) == {
        "a": Decimal("1.1"),
        "b": tricky,
        "c": [2, '"' + tricky, tricky + "x"],
        tricky: Decimal("3.5"),
    }


def test_values_that_are_not_json_are_refused() -> None:
    with pytest.raises(TypeError, match="datetime is not JSON serializable"):
        dumps({"when": CREATED})


def test_a_document_without_decimals_is_plain_json() -> None:
    data = {"effects": [], "createdCoupons": [], "n": 3, "s": "x"}

    assert dumps(data) == json.dumps(data, separators=(",", ":")).encode()


decimals = st.decimals(allow_nan=False, allow_infinity=False)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | decimals,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=16,
)


@given(documents)
def test_any_document_survives_a_round_trip_exactly(document: Any) -> None:
    assert roundtrip(document) == document  # Decimal(10) == 10: equal as numbers


@given(decimals)
def test_any_decimal_is_written_without_rounding(value: Decimal) -> None:
    written = dumps(value)

    assert Decimal(written.decode()) == value
    assert b"E" not in written
    assert b"e" not in written


# ---------------------------------------------------------------------------------------------
# Effects


def test_an_effect_has_the_references_required_fields() -> None:
    rendered = render_effect(
        campaign_id=244,
        ruleset_id=73,
        rule_index=2,
        rule_name="Give 20% discount",
        effect=SetDiscount(name="10% Off", value=Decimal("2.5")),
    )

    assert rendered == {
        "campaignId": 244,
        "rulesetId": 73,
        "ruleIndex": 2,
        "ruleName": "Give 20% discount",
        "effectType": "setDiscount",
        "props": {"name": "10% Off", "value": Decimal("2.5")},
    }
    assert dumps(rendered).endswith(b'"props":{"name":"10% Off","value":2.5}}')


def test_an_effects_optional_fields_are_the_references() -> None:
    rendered = render_effect(
        campaign_id=1,
        ruleset_id=2,
        rule_index=0,
        rule_name="r",
        effect=AcceptCoupon(value="COUP-XYZ789"),
        triggered_by_coupon=4928,
        triggered_for_catalog_item=786,
        condition_index=0,
        evaluation_group_id=3,
        evaluation_group_mode="stackable",
        campaign_revision_id=1,
        campaign_revision_version_id=5,
        experiment_id=12,
    )

    assert set(rendered) == EFFECT_REQUIRED | EFFECT_OPTIONAL
    assert rendered["triggeredByCoupon"] == 4928
    assert rendered["evaluationGroupID"] == 3
    assert rendered["props"] == {"value": "COUP-XYZ789"}


@pytest.mark.parametrize(
    ("effect", "props"),
    [
        (
            SetDiscount(
                name="10% Off",
                value=Decimal("2.5"),
                scope=None,
                desired_value=Decimal("2.5"),
            ),
            {"name", "value", "desiredValue"},
        ),
        (
            SetDiscountPerItem(name="d", value=Decimal(1), position=0, sub_position=1),
            {"name", "value", "position", "subPosition"},
        ),
        (
            RejectCoupon(
                value="C",
                rejection_reason=CouponRejectionReason.COUPON_NOT_FOUND,
                condition_index=2,
                effect_index=0,
                details="x",
            ),
            {"value", "rejectionReason", "conditionIndex", "effectIndex", "details"},
        ),
        (
            AddLoyaltyPoints(name="p", program_id=1, value=Decimal(10)),
            {
                "name",
                "programId",
                "subLedgerId",
                "value",
                "recipientIntegrationId",
                "transactionUUID",
            },
        ),
        (
            ShowNotification(notification_type=NotificationType.INFO, title="t", body="b"),
            {"notificationType", "title", "body"},
        ),
        (AddFreeItem(sku="s", name="n", desired_quantity=2), {"sku", "name", "desiredQuantity"}),
    ],
)
def test_effect_props_carry_the_references_names(effect: Any, props: set[str]) -> None:
    rendered = render_effect(
        campaign_id=1, ruleset_id=1, rule_index=0, rule_name="r", effect=effect
    )

    assert rendered["effectType"] == effect.effect_type
    assert set(rendered["props"]) == props


def test_times_in_effect_props_become_rfc3339_in_utc() -> None:
    effect = AddLoyaltyPoints(
        name="p",
        program_id=1,
        value=Decimal("10.5"),
        start_date=datetime(2024, 5, 29, 15, 4, 5, tzinfo=timezone(timedelta(hours=7))),
        expiry_date=datetime(2025, 1, 1, tzinfo=UTC),
    )
    expiry = SetLoyaltyPointsExpiryDate(
        program_id=1,
        new_expiry_date=datetime(2025, 1, 1, 12, tzinfo=BERLIN),
        affected_transactions=(
            LedgerEntryExpiryChange(
                transaction_uuid="u", new_expiry_date=datetime(2025, 1, 1, 12, tzinfo=BERLIN)
            ),
        ),
    )

    points = render_effect(campaign_id=1, ruleset_id=1, rule_index=0, rule_name="r", effect=effect)
    moved = render_effect(campaign_id=1, ruleset_id=1, rule_index=0, rule_name="r", effect=expiry)

    assert points["props"]["startDate"] == "2024-05-29T08:04:05Z"
    assert points["props"]["expiryDate"] == "2025-01-01T00:00:00Z"
    assert moved["props"]["newExpiryDate"] == "2025-01-01T10:00:00Z"
    assert moved["props"]["affectedTransactions"] == [
        {"transactionUUID": "u", "newExpiryDate": "2025-01-01T10:00:00Z"}
    ]
    assert json.loads(dumps(points))["props"]["value"] == 10.5


def test_an_attribute_update_may_carry_any_value() -> None:
    effect = UpdateAttribute(path="Profile.Attributes.Seen", value=[CREATED, Decimal("1.0")])

    rendered = render_effect(
        campaign_id=1, ruleset_id=1, rule_index=0, rule_name="r", effect=effect
    )

    assert rendered["props"] == {
        "path": "Profile.Attributes.Seen",
        "value": ["2020-06-10T09:05:27.993483Z", Decimal("1.0")],
    }


# ---------------------------------------------------------------------------------------------
# Rule failure reasons


def test_a_rule_failure_uses_the_references_capitalised_ids() -> None:
    minimal = render_rule_failure(
        campaign_id=1, campaign_name="Summer", ruleset_id=2, rule_index=0, rule_name="r"
    )
    full = render_rule_failure(
        campaign_id=1,
        campaign_name="Summer",
        ruleset_id=2,
        rule_index=0,
        rule_name="r",
        condition_index=1,
        effect_index=0,
        details="Coupon usage limit reached",
        evaluation_group_id=3,
        evaluation_group_mode="stackable",
        coupon_id=4928,
        coupon_value="XMAS",
        referral_id=5,
        referral_value="REF",
    )

    assert set(minimal) == RULE_FAILURE_REQUIRED
    assert set(full) == RULE_FAILURE_REQUIRED | RULE_FAILURE_OPTIONAL
    assert (full["campaignID"], full["rulesetID"], full["couponID"]) == (1, 2, 4928)


# ---------------------------------------------------------------------------------------------
# Sessions and profiles


def a_session(**changes: Any) -> SessionView:
    fields: dict[str, Any] = {
        "id": 6,
        "integration_id": "session1",
        "created": CREATED,
        "application_id": 322,
        "profile_id": "URNGV8294NV",
        "state": "open",
        "updated": datetime(2020, 2, 8, 16, 15, 22, tzinfo=BERLIN),
        "first_session": True,
        "update_count": 3,
        "total": Decimal("134.990000"),
        "cart_item_total": Decimal("99.990000"),
        "additional_cost_total": Decimal("20"),
        "cart_item_additional_cost_total": Decimal("15"),
    }
    return SessionView(**{**fields, **changes})


AIR_GLIDE = CartItemView(
    position=0,
    sku="SKU1241028",
    quantity=2,
    returned_quantity=1,
    price=Decimal("99.99"),
    name="Air Glide",
    category="shoes",
    product_name="sample_product",
    weight=Decimal(1130),
    height=Decimal(0),
    width=Decimal(0),
    length=Decimal(0),
    attributes={"image": "11.jpeg"},
    additional_costs={"shipping": Decimal(9)},
    catalog_item_id=786,
)


def test_a_session_has_every_required_field_and_known_names_only() -> None:
    rendered = render_customer_session(a_session())

    assert SESSION_REQUIRED <= set(rendered) <= SESSION_REQUIRED | SESSION_OPTIONAL
    assert rendered["created"] == "2020-06-10T09:05:27.993483Z"
    assert rendered["updated"] == "2020-02-08T14:15:22Z"
    assert rendered["cartItems"] == []
    assert rendered["couponCodes"] == []
    assert "storeIntegrationId" not in rendered  # no store: minLength 1 forbids ""


def test_a_full_session_renders_in_the_wire_format() -> None:
    session = a_session(
        store_integration_id="STORE-001",
        coupon_codes=("XMAS-20-2021",),
        referral_code="NT2K54D9",
        loyalty_cards=["loyalty-card-1"],
        cart_items=(AIR_GLIDE,),
        additional_costs={"shipping": Decimal("9.00")},
        identifiers=("d41306",),
        attributes={"ShippingCity": "Berlin", "Visit": datetime(2024, 1, 1, 1, tzinfo=BERLIN)},
    )

    written = json.loads(dumps(render_customer_session(session)), parse_float=Decimal)

    assert written == {
        "id": 6,
        "created": "2020-06-10T09:05:27.993483Z",
        "integrationId": "session1",
        "applicationId": 322,
        "profileId": "URNGV8294NV",
        "storeIntegrationId": "STORE-001",
        "couponCodes": ["XMAS-20-2021"],
        "referralCode": "NT2K54D9",
        "loyaltyCards": ["loyalty-card-1"],
        "state": "open",
        "cartItems": [
            {
                "name": "Air Glide",
                "sku": "SKU1241028",
                "quantity": 2,
                "returnedQuantity": 1,
                "remainingQuantity": 1,
                "price": Decimal("99.99"),
                "category": "shoes",
                "product": {"name": "sample_product"},
                "weight": 1130,
                "height": 0,
                "width": 0,
                "length": 0,
                "position": 0,
                "attributes": {"image": "11.jpeg"},
                "additionalCosts": {"shipping": {"price": 9}},
                "catalogItemID": 786,
            }
        ],
        "additionalCosts": {"shipping": {"price": 9}},
        "identifiers": ["d41306"],
        "attributes": {"ShippingCity": "Berlin", "Visit": "2023-12-31T23:00:00Z"},
        "firstSession": True,
        "updateCount": 3,
        "total": Decimal("134.99"),
        "cartItemTotal": Decimal("99.99"),
        "additionalCostTotal": 20,
        "cartItemAdditionalCostTotal": 15,
        "updated": "2020-02-08T14:15:22Z",
    }
    assert set(written["cartItems"][0]) == CART_ITEM_FIELDS


def test_a_minimal_cart_item_leaves_out_what_it_does_not_have() -> None:
    rendered = render_cart_item(CartItemView(position=3, sku="A", quantity=1))

    assert rendered == {
        "sku": "A",
        "quantity": 1,
        "returnedQuantity": 0,
        "remainingQuantity": 1,
        "position": 3,
        "attributes": {},
        "additionalCosts": {},
    }


def test_a_profile_renders_with_the_references_names() -> None:
    profile = ProfileView(
        id=6,
        integration_id="URNGV8294NV",
        created=CREATED,
        account_id=31,
        closed_sessions=3,
        total_sales=Decimal("299.990000"),
        last_activity=datetime(2020, 2, 8, 14, 15, 20, tzinfo=UTC),
        attributes={"Language": "english", "ShippingCountry": "DE"},
        audience_memberships=(AudienceMembership(2, "Travel audience"),),
    )

    rendered = render_customer_profile(profile)

    assert set(rendered) == PROFILE_FIELDS
    assert json.loads(dumps(rendered), parse_float=Decimal) == {
        "id": 6,
        "created": "2020-06-10T09:05:27.993483Z",
        "integrationId": "URNGV8294NV",
        "attributes": {"Language": "english", "ShippingCountry": "DE"},
        "accountId": 31,
        "closedSessions": 3,
        "totalSales": Decimal("299.99"),
        "loyaltyMemberships": None,  # deprecated: "always returns null"
        "audienceMemberships": [{"id": 2, "name": "Travel audience"}],
        "lastActivity": "2020-02-08T14:15:20Z",
        "sandbox": False,
    }


def test_coupons_and_referrals_use_the_references_names() -> None:
    full_coupon = CouponView(
        id=6,
        created=CREATED,
        campaign_id=211,
        value="XMAS-20-2021",
        usage_limit=100,
        usage_counter=10,
        discount_limit=Decimal(30),
        reservation_limit=45,
        start_date=CREATED,
        expiry_date=CREATED,
        discount_counter=Decimal(10),
        discount_remainder=Decimal(5),
        reservation_counter=1,
        attributes={},
        referral_id=326632952,
        recipient_integration_id="URNGV8294NV",
        import_id=4,
        reservation=False,
        batch_id="32535-43255",
        is_reservation_mandatory=False,
        implicitly_reserved=False,
        profile_redemption_count=5,
    )
    full_referral = ReferralView(
        id=6,
        created=CREATED,
        campaign_id=78,
        advocate_profile_integration_id="URNGV8294NV",
        code="27G47Y54VH9L",
        usage_counter=1,
        usage_limit=1,
        start_date=CREATED,
        expiry_date=CREATED,
        friend_profile_integration_id="BZGGC2454PA",
        attributes={"channel": "web"},
        import_id=4,
        batch_id="tqyrgahe",
        referred_customers=("BZGGC2454PA",),
    )

    assert set(render_coupon(full_coupon)) == COUPON_FIELDS
    assert set(render_referral(full_referral)) == REFERRAL_FIELDS
    minimal_coupon = CouponView(
        id=1, created=CREATED, campaign_id=2, value="C", usage_limit=0, usage_counter=0
    )
    assert set(render_coupon(minimal_coupon)) == {
        "id",
        "created",
        "campaignId",
        "value",
        "usageLimit",
        "usageCounter",
    }


# ---------------------------------------------------------------------------------------------
# The response body


def test_a_response_always_has_effects_and_created_entities() -> None:
    assert render_session_update_response(effects=[]) == {
        "effects": [],
        "createdCoupons": [],
        "createdReferrals": [],
    }


def test_a_response_adds_only_the_parts_asked_for() -> None:
    session = a_session()
    profile = ProfileView(
        id=1,
        integration_id="p",
        created=CREATED,
        account_id=1,
        closed_sessions=0,
        total_sales=Decimal(0),
        last_activity=CREATED,
    )
    effect = render_effect(
        campaign_id=1, ruleset_id=1, rule_index=0, rule_name="r", effect=AcceptCoupon(value="C")
    )
    failure = render_rule_failure(
        campaign_id=1, campaign_name="c", ruleset_id=1, rule_index=1, rule_name="r2"
    )

    only_session = render_session_update_response(
        effects=[effect],
        response_content={"customerSession"},
        customer_session=session,
        customer_profile=profile,
        rule_failure_reasons=[failure],
    )
    everything = render_session_update_response(
        effects=[effect],
        response_content={"customerSession", "customerProfile", "ruleFailureReasons", "coupons"},
        customer_session=session,
        customer_profile=profile,
        rule_failure_reasons=[failure],
    )

    assert set(only_session) == {"effects", "createdCoupons", "createdReferrals", "customerSession"}
    assert set(everything) == {
        "customerProfile",
        "effects",
        "ruleFailureReasons",
        "createdCoupons",
        "createdReferrals",
        "coupons",
        "customerSession",
    }
    assert everything["ruleFailureReasons"] == [failure]
    assert everything["coupons"] == []
    assert everything["effects"] == [effect]
    assert json.loads(dumps(everything))["customerSession"]["total"] == 134.99


def test_an_object_part_asked_for_but_absent_is_left_out() -> None:
    rendered = render_session_update_response(
        effects=[], response_content={"customerSession", "referral", "loyalty", "event"}
    )

    assert set(rendered) == {"effects", "createdCoupons", "createdReferrals"}


def test_parts_rendered_elsewhere_are_passed_through() -> None:
    loyalty = {"programs": {}}
    rendered = render_session_update_response(
        effects=[],
        response_content={"loyalty", "triggeredCampaigns", "awardedGiveaways"},
        loyalty=loyalty,
        triggered_campaigns=[{"id": 1}],
    )

    assert rendered["loyalty"] is loyalty
    assert rendered["triggeredCampaigns"] == [{"id": 1}]
    assert rendered["awardedGiveaways"] == []


# ---------------------------------------------------------------------------------------------
# The session update's parts written as JSON text: the same bytes as the dict renderers'

ODD_TEXT = 'Grüße "東京" 🎉 \\ \n\t\x01 a\ud800b </script>'
"""Text that JSON must escape: quotes, backslash, control characters, non-ASCII, a lone
surrogate."""

any_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | decimals
    | st.datetimes(timezones=st.sampled_from([UTC, BERLIN]))
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
        | st.dictionaries(st.integers(), children, max_size=2)
    ),
    max_leaves=16,
)


@given(any_values)
def test_json_text_writes_what_dumps_writes_of_the_wire_form(value: Any) -> None:
    assert render.json_text(value).encode() == dumps(render._wire(value))


def test_json_text_refuses_what_dumps_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        render.json_text({"a": [object()]})
    with pytest.raises(ValueError, match="not a JSON number"):
        render.json_text({"a": Decimal("NaN")})


def test_json_text_parts_are_written_as_they_are() -> None:
    part = render.JsonText('{"a":[1,2.50]}')

    assert dumps({"x": Decimal("1.0"), "part": part, "s": render._PLACEHOLDER}) == (
        b'{"x":1,"part":{"a":[1,2.50]},"s":"\\u0000decimal\\u0000"}'
    )


ODD_ITEM = CartItemView(
    position=7,
    sku=ODD_TEXT,
    quantity=3,
    returned_quantity=1,
    remaining_quantity=2,
    price=Decimal("1E+2"),
    product_name=ODD_TEXT,
    length=Decimal("-0.00"),
    attributes={"when": datetime(2024, 1, 1, 1, tzinfo=BERLIN), "n": [Decimal("12.3450"), None]},
    additional_costs={ODD_TEXT: Decimal("0.10"), "b": Decimal(0)},
)

SESSIONS = [
    a_session(),
    a_session(
        store_integration_id="STORE-001",
        coupon_codes=("XMAS-20-2021", ODD_TEXT),
        referral_code="NT2K54D9",
        loyalty_cards=["loyalty-card-1"],
        cart_items=(AIR_GLIDE, ODD_ITEM, CartItemView(position=9, sku="A", quantity=1)),
        additional_costs={"shipping": Decimal("9.00")},
        identifiers=("d41306",),
        attributes={"ShippingCity": "Berlin", "Visit": datetime(2024, 1, 1, 1, tzinfo=BERLIN)},
    ),
    a_session(
        profile_id="",
        state="closed",
        first_session=False,
        created=datetime(2020, 6, 10, 9, 5, 27),  # naive: taken as UTC
        total=Decimal("-0"),
        attributes={"nested": {"list": [1, True, "x", {"d": Decimal("1.50")}]}, "odd": ODD_TEXT},
    ),
]


@pytest.mark.parametrize("session", SESSIONS)
def test_a_session_written_as_text_is_the_rendered_session(session: SessionView) -> None:
    assert dumps(render.customer_session_json(session)) == dumps(render_customer_session(session))


def test_a_cart_item_written_as_text_is_the_rendered_item() -> None:
    for item in (AIR_GLIDE, ODD_ITEM, CartItemView(position=0, sku="", quantity=0)):
        assert render.cart_item_json(item).encode() == dumps(render_cart_item(item))


@pytest.mark.parametrize(
    "profile",
    [
        ProfileView(
            id=1,
            integration_id="p",
            created=CREATED,
            account_id=1,
            closed_sessions=0,
            total_sales=Decimal(0),
            last_activity=CREATED,
        ),
        ProfileView(
            id=6,
            integration_id=ODD_TEXT,
            created=datetime(2020, 6, 10, 9, 5, 27, tzinfo=BERLIN),
            account_id=31,
            closed_sessions=3,
            total_sales=Decimal("299.990000"),
            last_activity=datetime(2020, 2, 8, 14, 15, 20, tzinfo=UTC),
            attributes={"Language": ODD_TEXT, "Born": CREATED, "Score": Decimal("1E+3")},
            audience_memberships=(AudienceMembership(2, "Travel"), AudienceMembership(3, ODD_TEXT)),
            sandbox=True,
        ),
    ],
)
def test_a_profile_written_as_text_is_the_rendered_profile(profile: ProfileView) -> None:
    assert dumps(render.customer_profile_json(profile)) == dumps(render_customer_profile(profile))


@pytest.mark.parametrize(
    "effect",
    [
        SetDiscount(name="10% Off", value=Decimal("2.50"), desired_value=Decimal("3")),
        SetDiscountPerItem(name=ODD_TEXT, value=Decimal(1), position=0, sub_position=1),
        RejectCoupon(value="C", rejection_reason=CouponRejectionReason.COUPON_NOT_FOUND),
        AddLoyaltyPoints(
            name="p",
            program_id=1,
            value=Decimal(10),
            start_date=datetime(2024, 5, 29, 15, 4, 5, tzinfo=timezone(timedelta(hours=7))),
        ),
        ShowNotification(notification_type=NotificationType.INFO, title="t", body=ODD_TEXT),
        AddFreeItem(sku="s", name="n", desired_quantity=2),
        UpdateAttribute(path="Profile.Attributes.Seen", value=[CREATED, Decimal("1.0"), 1.5]),
        SetLoyaltyPointsExpiryDate(
            program_id=1,
            new_expiry_date=datetime(2025, 1, 1, 12, tzinfo=BERLIN),
            affected_transactions=(
                LedgerEntryExpiryChange(
                    transaction_uuid="u", new_expiry_date=datetime(2025, 1, 1, tzinfo=BERLIN)
                ),
            ),
        ),
    ],
)
def test_an_effect_written_as_text_is_the_rendered_effect(effect: Any) -> None:
    fields: dict[str, Any] = {
        "campaign_id": 4,
        "ruleset_id": 12,
        "rule_index": 1,
        "rule_name": ODD_TEXT,
        "effect": effect,
    }

    written = render.effects_json([render.effect_json(**fields), render.effect_json(**fields)])

    assert dumps(written) == dumps([render_effect(**fields), render_effect(**fields)])


@given(
    name=st.text(min_size=1),
    value=st.decimals(min_value=0, allow_nan=False, allow_infinity=False),
    scope=st.none() | st.sampled_from(SessionDiscountScope),
    desired=st.none() | st.decimals(min_value=0, allow_nan=False, allow_infinity=False),
)
def test_a_session_discount_written_directly_is_the_rendered_one(
    name: str, value: Decimal, scope: SessionDiscountScope | None, desired: Decimal | None
) -> None:
    effect = SetDiscount(name=name, value=value, scope=scope, desired_value=desired)
    fields: dict[str, Any] = {
        "campaign_id": 1,
        "ruleset_id": 2,
        "rule_index": 0,
        "rule_name": "r",
        "effect": effect,
    }
    assert dumps(render.effects_json([render.effect_json(**fields)])) == dumps(
        [render_effect(**fields)]
    )


@pytest.mark.parametrize(
    "wanted",
    [
        set(),
        {"customerSession"},
        {"customerProfile"},
        {"customerSession", "customerProfile", "ruleFailureReasons", "coupons", "loyalty"},
    ],
)
def test_a_response_with_parts_written_as_text_is_the_rendered_response(wanted: set[str]) -> None:
    session = SESSIONS[1]
    profile = ProfileView(
        id=1,
        integration_id="p",
        created=CREATED,
        account_id=1,
        closed_sessions=0,
        total_sales=Decimal("1.10"),
        last_activity=CREATED,
    )
    effect: dict[str, Any] = {
        "campaign_id": 1,
        "ruleset_id": 2,
        "rule_index": 0,
        "rule_name": "r",
        "effect": SetDiscount(name="d", value=Decimal("5.00")),
    }

    written = render_session_update_response(
        effects=render.effects_json([render.effect_json(**effect)]),
        response_content=wanted,
        customer_session=render.customer_session_json(session),
        customer_profile=render.customer_profile_json(profile),
    )
    rendered = render_session_update_response(
        effects=[render_effect(**effect)],
        response_content=wanted,
        customer_session=session,
        customer_profile=profile,
    )

    assert dumps(written) == dumps(rendered)
