"""The Integration API in the OpenAPI schema: its request bodies and answers, as serializers.

The views parse their bodies with ``integration.payloads`` (plain functions, no serializers, on
the hot path) and render their answers with ``integration.render``; the serializers here only
*describe* those bodies and answers for drf-spectacular, field for field as the code renders
them (the optional fields are those ``render`` leaves out when empty). They are attached to
the views by ``annotate_views``, which ``integration.urls`` calls before the schema can be
generated, so that the views' modules stay free of documentation.

The operationIds, tags and error answers are added by ``talonone.schema``.
"""

from __future__ import annotations

from typing import Any, Final

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers

from integration.payloads import (
    MAX_PROFILES_PER_BATCH,
    PROFILE_RESPONSE_CONTENT,
    RETURN_RESPONSE_CONTENT,
    SESSION_RESPONSE_CONTENT,
)
from talonone.schema import ERROR_RESPONSE

# Answers are JSON with exact decimal numbers: ``FloatField`` documents them as numbers.
Number = serializers.FloatField


def _attributes(**kwargs: Any) -> serializers.DictField:
    return serializers.DictField(
        help_text="Attribute values by attribute name, as the attribute library types them.",
        **kwargs,
    )


def _free_object(**kwargs: Any) -> serializers.DictField:
    return serializers.DictField(**kwargs)


def _named(name: str) -> type:
    return type("Meta", (), {"ref_name": name})


# --- Answers ----------------------------------------------------------------------------------


class EffectSerializer(serializers.Serializer[Any]):
    """An item of ``effects`` (``render_effect``)."""

    campaignId = serializers.IntegerField()
    rulesetId = serializers.IntegerField()
    ruleIndex = serializers.IntegerField()
    ruleName = serializers.CharField()
    effectType = serializers.CharField()
    experimentId = serializers.IntegerField(required=False)
    triggeredByCoupon = serializers.IntegerField(required=False)
    triggeredForCatalogItem = serializers.IntegerField(required=False)
    conditionIndex = serializers.IntegerField(required=False)
    evaluationGroupID = serializers.IntegerField(required=False)
    evaluationGroupMode = serializers.CharField(required=False)
    campaignRevisionId = serializers.IntegerField(required=False)
    campaignRevisionVersionId = serializers.IntegerField(required=False)
    props = _free_object(help_text="The effect's properties, which depend on its type.")

    Meta = _named("Effect")


class RuleFailureReasonSerializer(serializers.Serializer[Any]):
    """An item of ``ruleFailureReasons`` (``render_rule_failure``)."""

    campaignID = serializers.IntegerField()
    campaignName = serializers.CharField(allow_blank=True)
    rulesetID = serializers.IntegerField()
    couponID = serializers.IntegerField(required=False)
    couponValue = serializers.CharField(required=False)
    referralID = serializers.IntegerField(required=False)
    referralValue = serializers.CharField(required=False)
    ruleIndex = serializers.IntegerField()
    ruleName = serializers.CharField(allow_blank=True)
    conditionIndex = serializers.IntegerField(required=False)
    effectIndex = serializers.IntegerField(required=False)
    details = serializers.CharField(required=False)
    evaluationGroupID = serializers.IntegerField(required=False)
    evaluationGroupMode = serializers.CharField(required=False)

    Meta = _named("RuleFailureReason")


class AdditionalCostSerializer(serializers.Serializer[Any]):
    price = Number()

    Meta = _named("AdditionalCost")


class ProductSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()

    Meta = _named("Product")


def _costs() -> serializers.DictField:
    return serializers.DictField(
        child=AdditionalCostSerializer(), help_text="Additional costs by name."
    )


class CartItemSerializer(serializers.Serializer[Any]):
    """An item of a session's ``cartItems`` (``render_cart_item``)."""

    name = serializers.CharField(required=False)
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    returnedQuantity = serializers.IntegerField()
    remainingQuantity = serializers.IntegerField()
    price = Number(required=False)
    category = serializers.CharField(required=False)
    product = ProductSerializer(required=False)
    weight = Number(required=False)
    height = Number(required=False)
    width = Number(required=False)
    length = Number(required=False)
    position = serializers.IntegerField()
    attributes = _attributes()
    additionalCosts = _costs()
    catalogItemID = serializers.IntegerField(required=False)

    Meta = _named("CartItem")


class CustomerSessionV2Serializer(serializers.Serializer[Any]):
    """A session (``render_customer_session``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    integrationId = serializers.CharField()
    applicationId = serializers.IntegerField()
    profileId = serializers.CharField(
        allow_blank=True, help_text="The customer's integration id; empty when anonymous."
    )
    storeIntegrationId = serializers.CharField(required=False)
    couponCodes = serializers.ListField(child=serializers.CharField())
    referralCode = serializers.CharField(allow_blank=True)
    loyaltyCards = serializers.ListField(child=serializers.CharField())
    state = serializers.ChoiceField(["open", "closed", "partially_returned", "cancelled"])
    cartItems = CartItemSerializer(many=True)
    additionalCosts = _costs()
    identifiers = serializers.ListField(child=serializers.CharField())
    attributes = _attributes()
    firstSession = serializers.BooleanField()
    updateCount = serializers.IntegerField()
    total = Number()
    cartItemTotal = Number()
    additionalCostTotal = Number()
    cartItemAdditionalCostTotal = Number()
    updated = serializers.DateTimeField()

    Meta = _named("CustomerSessionV2")


class AudienceMembershipSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()

    Meta = _named("AudienceMembership")


class CustomerProfileSerializer(serializers.Serializer[Any]):
    """A customer profile (``render_customer_profile``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    integrationId = serializers.CharField()
    attributes = _attributes()
    accountId = serializers.IntegerField()
    closedSessions = serializers.IntegerField()
    totalSales = Number()
    loyaltyMemberships = serializers.ListField(
        child=_free_object(), allow_null=True, help_text="Deprecated by Talon.One: always null."
    )
    audienceMemberships = AudienceMembershipSerializer(many=True)
    lastActivity = serializers.DateTimeField()
    sandbox = serializers.BooleanField()

    Meta = _named("CustomerProfile")


class CouponSerializer(serializers.Serializer[Any]):
    """A coupon (``render_coupon``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    campaignId = serializers.IntegerField()
    value = serializers.CharField()
    usageLimit = serializers.IntegerField(help_text="0: without limit.")
    discountLimit = Number(required=False)
    reservationLimit = serializers.IntegerField(required=False)
    startDate = serializers.DateTimeField(required=False)
    expiryDate = serializers.DateTimeField(required=False)
    usageCounter = serializers.IntegerField()
    discountCounter = Number(required=False)
    discountRemainder = Number(required=False)
    reservationCounter = serializers.IntegerField(required=False)
    attributes = _attributes(required=False)
    referralId = serializers.IntegerField(required=False)
    recipientIntegrationId = serializers.CharField(required=False, allow_blank=True)
    importId = serializers.IntegerField(required=False)
    reservation = serializers.BooleanField(required=False)
    batchId = serializers.CharField(required=False, allow_blank=True)
    isReservationMandatory = serializers.BooleanField(required=False)
    implicitlyReserved = serializers.BooleanField(required=False)
    profileRedemptionCount = serializers.IntegerField(required=False)

    Meta = _named("Coupon")


class ReferralSerializer(serializers.Serializer[Any]):
    """A referral code (``render_referral``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    startDate = serializers.DateTimeField(required=False)
    expiryDate = serializers.DateTimeField(required=False)
    usageLimit = serializers.IntegerField(help_text="0: without limit.")
    campaignId = serializers.IntegerField()
    advocateProfileIntegrationId = serializers.CharField()
    friendProfileIntegrationId = serializers.CharField(required=False, allow_blank=True)
    attributes = _attributes(required=False)
    importId = serializers.IntegerField(required=False)
    code = serializers.CharField()
    usageCounter = serializers.IntegerField()
    batchId = serializers.CharField(required=False, allow_blank=True)
    referredCustomers = serializers.ListField(child=serializers.CharField(), required=False)

    Meta = _named("Referral")


class EventV2Serializer(serializers.Serializer[Any]):
    """The tracked event, in an event's or a profile update's ``event``."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    applicationId = serializers.IntegerField()
    profileId = serializers.CharField()
    type = serializers.CharField()
    attributes = _attributes()
    effects = EffectSerializer(many=True)

    Meta = _named("Event")


class ReturnSerializer(serializers.Serializer[Any]):
    """A return (``integration.returns.render_return``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    applicationId = serializers.IntegerField()
    accountId = serializers.IntegerField()
    returnedCartItems = serializers.ListField(child=_free_object())
    eventId = serializers.IntegerField()
    sessionId = serializers.IntegerField()
    sessionIntegrationId = serializers.CharField()
    profileId = serializers.IntegerField(required=False)
    profileIntegrationId = serializers.CharField(required=False)

    Meta = _named("Return")


class IntegrationStateV2Serializer(serializers.Serializer[Any]):
    """The answer of a session update, a profile update, an event and a return
    (``render_session_update_response``): ``effects``, ``createdCoupons`` and
    ``createdReferrals`` always, the other parts when ``responseContent`` asks for them."""

    customerProfile = CustomerProfileSerializer(required=False)
    loyalty = _free_object(required=False)
    triggeredCampaigns = serializers.ListField(child=_free_object(), required=False)
    campaignEligibility = _free_object(required=False)
    effects = EffectSerializer(many=True)
    ruleFailureReasons = RuleFailureReasonSerializer(many=True, required=False)
    createdCoupons = CouponSerializer(many=True)
    createdReferrals = ReferralSerializer(many=True)
    awardedGiveaways = serializers.ListField(child=_free_object(), required=False)
    referral = ReferralSerializer(required=False)
    coupons = CouponSerializer(many=True, required=False)
    event = EventV2Serializer(required=False)
    customerSession = CustomerSessionV2Serializer(required=False)
    # Returns only.
    previousReturns = ReturnSerializer(many=True, required=False)

    Meta = _named("IntegrationStateV2")


class ReturnIntegrationStateSerializer(IntegrationStateV2Serializer):
    """A return's answer: a session update's, with the ``return`` it made."""

    return_ = ReturnSerializer(required=False)

    Meta = _named("ReturnIntegrationState")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["return"] = fields.pop("return_")
        return fields


class CustomerSessionAnswerSerializer(serializers.Serializer[Any]):
    """``GET /v2/customer_sessions/{id}``: the session and the parts it has nothing of."""

    customerSession = CustomerSessionV2Serializer()
    effects = EffectSerializer(many=True)
    loyalty = _free_object(allow_null=True)
    referral = ReferralSerializer(allow_null=True)
    coupons = CouponSerializer(many=True)
    triggeredCampaigns = serializers.ListField(child=_free_object())

    Meta = _named("IntegrationCustomerSessionResponse")


class IntegrationStateV1Serializer(serializers.Serializer[Any]):
    """The v1 answer of ``PUT /v1/customer_profiles/{id}`` and ``POST /v1/events``."""

    session = _free_object(allow_null=True, help_text="Always null.")
    profile = CustomerProfileSerializer()
    event = EventV2Serializer(allow_null=True)
    loyalty = _free_object(allow_null=True, help_text="Always null.")
    coupon = _free_object(allow_null=True, help_text="Always null.")

    Meta = _named("IntegrationState")


class ReopenAnswerSerializer(serializers.Serializer[Any]):
    effects = EffectSerializer(many=True)

    Meta = _named("ReopenSessionResponse")


class IntegrationStatesSerializer(serializers.Serializer[Any]):
    """``PUT /v2/customer_profiles?silent=no``."""

    class _State(serializers.Serializer[Any]):
        customerProfile = CustomerProfileSerializer()

        Meta = _named("IntegrationStateProfile")

    integrationStates = _State(many=True)

    Meta = _named("MultipleCustomerProfileIntegrationResponseV2")


class InventorySerializer(serializers.Serializer[Any]):
    """``GET /v1/customer_profiles/{id}/inventory``: the sections the query asks for."""

    profile = CustomerProfileSerializer(required=False)
    loyalty = _free_object(required=False)
    referrals = ReferralSerializer(many=True, required=False)
    coupons = CouponSerializer(many=True, required=False)
    giveaways = serializers.ListField(child=_free_object(), required=False)
    achievements = serializers.ListField(child=_free_object(), required=False)

    Meta = _named("CustomerInventory")


class CampaignRuleSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(allow_blank=True)
    displayName = serializers.CharField(required=False)
    displayDescription = serializers.CharField(required=False)
    relatedData = serializers.CharField(required=False)

    Meta = _named("IntegrationCampaignRule")


class IntegrationCampaignSerializer(serializers.Serializer[Any]):
    """A running campaign (``integration.campaigns.render_campaign``)."""

    id = serializers.IntegerField()
    applicationId = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    state = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    features = serializers.ListField(child=serializers.CharField())
    attributes = _free_object(help_text="The campaign's custom attributes.")
    startTime = serializers.DateTimeField(required=False)
    endTime = serializers.DateTimeField(required=False)
    rules = CampaignRuleSerializer(many=True)

    Meta = _named("IntegrationCampaign")


class CampaignsPageSerializer(serializers.Serializer[Any]):
    hasMore = serializers.BooleanField()
    data = IntegrationCampaignSerializer(many=True)  # type: ignore[assignment]

    Meta = _named("IntegrationCampaignPage")


class ReservedCustomersSerializer(serializers.Serializer[Any]):
    totalResultSize = serializers.IntegerField()
    data = CustomerProfileSerializer(many=True)  # type: ignore[assignment]

    Meta = _named("ReservedCustomers")


# --- Request bodies ---------------------------------------------------------------------------


#: The parts each kind of answer may include (``responseContent``), named in the schema by
#: ``SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]``.
SESSION_CONTENT: Final = sorted(SESSION_RESPONSE_CONTENT)
PROFILE_CONTENT: Final = sorted(PROFILE_RESPONSE_CONTENT)
RETURN_CONTENT: Final = sorted(RETURN_RESPONSE_CONTENT)


def _content(known: list[str]) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(known),
        required=False,
        help_text="The optional parts of the answer to include.",
    )


class NewCartItemSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(required=False)
    sku = serializers.CharField()
    quantity = serializers.IntegerField(min_value=1)
    price = Number(required=False)
    category = serializers.CharField(required=False)
    weight = Number(required=False)
    height = Number(required=False)
    width = Number(required=False)
    length = Number(required=False)
    position = serializers.IntegerField(required=False)
    attributes = _attributes(required=False)
    additionalCosts = _costs()

    Meta = _named("NewCartItem")


class NewCustomerSessionV2Serializer(serializers.Serializer[Any]):
    profileId = serializers.CharField(required=False, allow_blank=True)
    storeIntegrationId = serializers.CharField(required=False)
    evaluableCampaignIds = serializers.ListField(child=serializers.IntegerField(), required=False)
    couponCodes = serializers.ListField(child=serializers.CharField(), required=False)
    referralCode = serializers.CharField(required=False, allow_blank=True)
    loyaltyCards = serializers.ListField(child=serializers.CharField(), required=False)
    state = serializers.ChoiceField(["open", "closed", "cancelled"], required=False)
    cartItems = NewCartItemSerializer(many=True, required=False)
    additionalCosts = _costs()
    identifiers = serializers.ListField(child=serializers.CharField(), required=False)
    attributes = _attributes(required=False)

    Meta = _named("NewCustomerSessionV2")


class IntegrationRequestSerializer(serializers.Serializer[Any]):
    customerSession = NewCustomerSessionV2Serializer()
    responseContent = _content(SESSION_CONTENT)

    Meta = _named("IntegrationRequest")


class CustomerProfileIntegrationRequestV2Serializer(serializers.Serializer[Any]):
    attributes = _attributes(required=False)
    responseContent = _content(PROFILE_CONTENT)

    Meta = _named("CustomerProfileIntegrationRequestV2")


class ProfileAttributesSerializer(serializers.Serializer[Any]):
    integrationId = serializers.CharField()
    attributes = _attributes(required=False)

    Meta = _named("CustomerProfileIntegrationRequestV2Item")


class MultipleCustomerProfilesSerializer(serializers.Serializer[Any]):
    customerProfiles = ProfileAttributesSerializer(  # type: ignore[call-arg]
        many=True, max_length=MAX_PROFILES_PER_BATCH
    )

    Meta = _named("MultipleCustomerProfileIntegrationRequest")


class IntegrationEventV2Serializer(serializers.Serializer[Any]):
    profileId = serializers.CharField(required=False)
    type = serializers.CharField()
    attributes = _attributes(required=False)
    responseContent = _content(PROFILE_CONTENT)

    Meta = _named("IntegrationEventV2Request")


class ReturnedCartItemSerializer(serializers.Serializer[Any]):
    position = serializers.IntegerField(min_value=0)
    quantity = serializers.IntegerField(min_value=1, required=False)

    Meta = _named("ReturnedCartItem")


class NewReturnSerializer(serializers.Serializer[Any]):
    returnedCartItems = ReturnedCartItemSerializer(many=True)

    Meta = _named("NewReturn")


class ReturnRequestSerializer(serializers.Serializer[Any]):
    # ``return`` is a Python keyword: the field is renamed below.
    return_ = NewReturnSerializer()
    responseContent = _content(RETURN_CONTENT)

    Meta = _named("ReturnIntegrationRequest")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["return"] = fields.pop("return_")
        return fields


class IntegrationIdsSerializer(serializers.Serializer[Any]):
    integrationIDs = serializers.ListField(
        child=serializers.CharField(max_length=1000), min_length=1, max_length=1000
    )

    Meta = _named("CouponReservations")


class NewReferralSerializer(serializers.Serializer[Any]):
    campaignId = serializers.IntegerField(min_value=1)
    advocateProfileIntegrationId = serializers.CharField()
    friendProfileIntegrationId = serializers.CharField(required=False, allow_blank=True)
    startDate = serializers.DateTimeField(required=False, allow_null=True)
    expiryDate = serializers.DateTimeField(required=False, allow_null=True)
    usageLimit = serializers.IntegerField(required=False, min_value=0, max_value=999_999)
    attributes = _attributes(required=False)

    Meta = _named("NewReferral")


# --- Query parameters -------------------------------------------------------------------------


def _flag(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.BOOL, description=description)


DRY: Final = _flag("dry", "Evaluate without saving anything.")
NOW: Final = OpenApiParameter(
    "now",
    OpenApiTypes.DATETIME,
    description="The time to evaluate at (RFC 3339); only with dry=true.",
)
RUN_RULE_ENGINE: Final = _flag("runRuleEngine", "Run the rules on the update.")
SILENT: Final = OpenApiParameter(
    "silent",
    str,
    enum=["yes", "no"],
    description="yes (the default): answer 204 without a body; no: answer the profiles.",
)
INVENTORY: Final = [
    _flag(section, f"Include the customer's {section}.")
    for section in ("profile", "referrals", "coupons", "loyalty", "giveaways", "achievements")
]
CAMPAIGN_QUERY: Final = [
    OpenApiParameter("pageSize", OpenApiTypes.INT, description="1 to 1000 (default 1000)."),
    OpenApiParameter("skip", OpenApiTypes.INT, description="Items to skip."),
    OpenApiParameter(
        "campaignIds", str, description="Only these campaigns: ids separated by commas."
    ),
    *[
        OpenApiParameter(name, str, description="An RFC 3339 time or a date.")
        for name in ("startAfter", "startBefore", "endAfter", "endBefore")
    ],
]
IDEMPOTENCY_KEY: Final = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    description="A retry with the same key within 24 hours gets the first answer again.",
)


# --- The views --------------------------------------------------------------------------------


def annotate_views() -> None:
    """Attach the descriptions above to the Integration API's views (idempotent)."""
    from integration.campaigns import IntegrationCampaignsView
    from integration.customers import (
        CustomerProfileV1View,
        CustomerProfileView,
        EventV1View,
        EventView,
    )
    from integration.profiles import CustomerDataView, CustomerInventoryView, CustomerProfilesView
    from integration.referrals import ReferralsView
    from integration.reservations import CouponReservationsView, ReservedCustomersView
    from integration.returns import CustomerSessionReopenView, CustomerSessionReturnsView
    from integration.sessions import CustomerSessionView

    extend_schema_view(
        put=extend_schema(
            operation_id="updateCustomerSessionV2",
            request=IntegrationRequestSerializer,
            responses={200: IntegrationStateV2Serializer},
            parameters=[DRY, NOW],
        ),
        get=extend_schema(
            operation_id="getCustomerSession",
            responses={200: CustomerSessionAnswerSerializer},
        ),
    )(CustomerSessionView)
    extend_schema_view(
        put=extend_schema(
            request=CustomerProfileIntegrationRequestV2Serializer,
            responses={200: IntegrationStateV2Serializer},
            parameters=[DRY, NOW, RUN_RULE_ENGINE],
        )
    )(CustomerProfileView)
    extend_schema_view(
        put=extend_schema(
            request=CustomerProfileIntegrationRequestV2Serializer,
            responses={200: IntegrationStateV1Serializer},
            parameters=[DRY, NOW, RUN_RULE_ENGINE],
        )
    )(CustomerProfileV1View)
    extend_schema_view(
        post=extend_schema(
            request=IntegrationEventV2Serializer,
            responses={200: IntegrationStateV2Serializer},
            parameters=[DRY, NOW, IDEMPOTENCY_KEY],
        )
    )(EventView)
    extend_schema_view(
        post=extend_schema(
            request=IntegrationEventV2Serializer,
            responses={200: IntegrationStateV1Serializer},
            parameters=[DRY, NOW, IDEMPOTENCY_KEY],
        )
    )(EventV1View)
    extend_schema_view(
        put=extend_schema(
            request=MultipleCustomerProfilesSerializer,
            responses={200: IntegrationStatesSerializer, 204: None},
            parameters=[SILENT],
        )
    )(CustomerProfilesView)
    extend_schema_view(
        get=extend_schema(responses={200: InventorySerializer}, parameters=INVENTORY)
    )(CustomerInventoryView)
    extend_schema_view(delete=extend_schema(responses={204: None}))(CustomerDataView)
    extend_schema_view(
        get=extend_schema(responses={200: CampaignsPageSerializer}, parameters=CAMPAIGN_QUERY)
    )(IntegrationCampaignsView)
    extend_schema_view(
        post=extend_schema(
            request=ReturnRequestSerializer,
            responses={200: ReturnIntegrationStateSerializer},
            parameters=[DRY, RUN_RULE_ENGINE, IDEMPOTENCY_KEY],
        )
    )(CustomerSessionReturnsView)
    extend_schema_view(put=extend_schema(request=None, responses={200: ReopenAnswerSerializer}))(
        CustomerSessionReopenView
    )
    extend_schema_view(
        post=extend_schema(request=IntegrationIdsSerializer, responses={201: CouponSerializer}),
        delete=extend_schema(request=IntegrationIdsSerializer, responses={204: None}),
    )(CouponReservationsView)
    extend_schema_view(get=extend_schema(responses={200: ReservedCustomersSerializer}))(
        ReservedCustomersView
    )
    extend_schema_view(
        # 404: the body's campaign is not the application's.
        post=extend_schema(
            request=NewReferralSerializer,
            responses={201: ReferralSerializer, 404: ERROR_RESPONSE},
        )
    )(ReferralsView)
