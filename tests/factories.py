"""factory_boy factories shared by the tests."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.models import (
    Application,
    AttributeDefinition,
    Campaign,
    CartItem,
    Coupon,
    CouponReservation,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
    EvaluationGroup,
    Event,
    IntegrationApiKey,
    Referral,
    Ruleset,
    SigningSecret,
)
from campaigns.services.coupons import coupon_code_normalised
from campaigns.services.keys import integration_key_create


class UserFactory(factory.django.DjangoModelFactory[User]):
    """A Campaign Manager user; ``password`` is set with ``set_password``."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")

    @factory.post_generation
    def password(obj: Any, create: bool, extracted: str | None, **kwargs: Any) -> None:
        obj.set_password(extracted or "correct horse battery staple")
        if create:
            obj.save(update_fields=["password"])


# ---------------------------------------------------------------------------------------------
# The domain (campaigns.models)


class ApplicationFactory(factory.django.DjangoModelFactory[Application]):
    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"Application {n}")
    currency = "EUR"
    timezone = "Europe/Berlin"


class IntegrationApiKeyFactory(factory.django.DjangoModelFactory[IntegrationApiKey]):
    """A key whose raw value is ``raw_key`` (a factory parameter; only its hash is stored)."""

    class Meta:
        model = IntegrationApiKey

    class Params:
        raw_key = factory.Sequence(lambda n: f"{n:064x}")

    application = factory.SubFactory(ApplicationFactory)
    name = factory.Sequence(lambda n: f"Key {n}")
    prefix = factory.LazyAttribute(lambda key: key.raw_key[: IntegrationApiKey.PREFIX_LENGTH])
    key_hash = factory.LazyAttribute(lambda key: IntegrationApiKey.hash_key(key.raw_key))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=365))


class SigningSecretFactory(factory.django.DjangoModelFactory[SigningSecret]):
    class Meta:
        model = SigningSecret

    application = factory.SubFactory(ApplicationFactory)
    secret = factory.Sequence(lambda n: f"{n:032x}")


class EvaluationGroupFactory(factory.django.DjangoModelFactory[EvaluationGroup]):
    class Meta:
        model = EvaluationGroup

    application = factory.SubFactory(ApplicationFactory)
    name = factory.Sequence(lambda n: f"Group {n}")
    mode = EvaluationGroup.Mode.STACKABLE
    position = factory.Sequence(lambda n: n)


class CampaignFactory(factory.django.DjangoModelFactory[Campaign]):
    """An enabled campaign without schedule; ``active_rules=[...]`` gives it an active ruleset."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    application = factory.SubFactory(ApplicationFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    state = Campaign.State.ENABLED
    tags: Any = factory.LazyFunction(list)
    features: Any = factory.LazyFunction(list)

    @factory.post_generation
    def active_rules(obj: Any, create: bool, extracted: list[Any] | None, **kwargs: Any) -> None:
        if not create or extracted is None:
            return
        ruleset = RulesetFactory(campaign=obj, rules=extracted, activated_at=timezone.now())
        obj.active_ruleset = ruleset
        obj.save(update_fields=["active_ruleset"])


class RulesetFactory(factory.django.DjangoModelFactory[Ruleset]):
    class Meta:
        model = Ruleset

    campaign = factory.SubFactory(CampaignFactory)
    version = factory.Sequence(lambda n: n + 1)
    rules: Any = factory.LazyFunction(
        lambda: [{"title": "Always", "condition": ["and", True], "effects": []}]
    )


class AttributeDefinitionFactory(factory.django.DjangoModelFactory[AttributeDefinition]):
    class Meta:
        model = AttributeDefinition

    application = factory.SubFactory(ApplicationFactory)
    entity = AttributeDefinition.Entity.CUSTOMER_PROFILE
    name = factory.Sequence(lambda n: f"attribute{n}")
    title = factory.LazyAttribute(lambda definition: definition.name.title())
    type = AttributeDefinition.Type.STRING


class CustomerProfileFactory(factory.django.DjangoModelFactory[CustomerProfile]):
    class Meta:
        model = CustomerProfile

    application = factory.SubFactory(ApplicationFactory)
    integration_id = factory.Sequence(lambda n: f"customer-{n}")


class CustomerSessionFactory(factory.django.DjangoModelFactory[CustomerSession]):
    class Meta:
        model = CustomerSession

    application = factory.SubFactory(ApplicationFactory)
    integration_id = factory.Sequence(lambda n: f"session-{n}")
    profile = factory.SubFactory(
        CustomerProfileFactory, application=factory.SelfAttribute("..application")
    )


class CartItemFactory(factory.django.DjangoModelFactory[CartItem]):
    class Meta:
        model = CartItem

    session = factory.SubFactory(CustomerSessionFactory)
    position = factory.Sequence(lambda n: n)
    name = factory.Sequence(lambda n: f"Item {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    quantity = 1
    returned_quantity = 0
    remaining_quantity = factory.LazyAttribute(lambda item: item.quantity - item.returned_quantity)
    price = Decimal("9.99")


class EventFactory(factory.django.DjangoModelFactory[Event]):
    class Meta:
        model = Event

    application = factory.SubFactory(ApplicationFactory)
    type = "talon_session_updated"


class EffectRecordFactory(factory.django.DjangoModelFactory[EffectRecord]):
    class Meta:
        model = EffectRecord

    application = factory.SubFactory(ApplicationFactory)
    campaign = factory.SubFactory(
        CampaignFactory, application=factory.SelfAttribute("..application")
    )
    rule_index = 0
    rule_name = "10% off"
    effect_type = "setDiscount"
    props: Any = factory.LazyFunction(lambda: {"name": "10% off", "value": Decimal("1.50")})


def api_key_headers(application: Application) -> dict[str, str]:
    """The ``Authorization`` header of a new API key of ``application``, valid for a day."""
    _, raw = integration_key_create(
        application=application, name="Shop", expires_at=timezone.now() + timedelta(days=1)
    )
    return {"Authorization": f"ApiKey-v1 {raw}"}


class CouponFactory(factory.django.DjangoModelFactory[Coupon]):
    """A coupon of a campaign, in the campaign's application; ``value`` is stored as the
    application stores codes (normalised by its case sensitivity, as ``coupon_create`` does)."""

    class Meta:
        model = Coupon

    campaign = factory.SubFactory(CampaignFactory)
    application = factory.SelfAttribute("campaign.application")
    value = factory.Sequence(lambda n: f"COUPON-{n:04d}")
    usage_limit = 1

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        kwargs["value"] = coupon_code_normalised(
            application=kwargs["application"], value=kwargs["value"]
        )
        return kwargs


class CouponReservationFactory(factory.django.DjangoModelFactory[CouponReservation]):
    """A reservation of a coupon by a customer of the coupon's application. It does not count
    itself in the coupon's ``reservation_counter``: ``coupon_reserve`` does that."""

    class Meta:
        model = CouponReservation

    coupon = factory.SubFactory(CouponFactory)
    profile = factory.SubFactory(
        CustomerProfileFactory, application=factory.SelfAttribute("..coupon.application")
    )


class ReferralFactory(factory.django.DjangoModelFactory[Referral]):
    """A single-use referral code of a campaign, in the campaign's application, handed out by
    ``advocate``; ``code`` is stored as the application stores codes (normalised by its case
    sensitivity, as ``referral_create`` does)."""

    class Meta:
        model = Referral

    campaign = factory.SubFactory(CampaignFactory)
    application = factory.SelfAttribute("campaign.application")
    code = factory.Sequence(lambda n: f"REF-{n:04d}")
    advocate_profile_integration_id = "advocate"
    usage_limit = 1

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        kwargs["code"] = coupon_code_normalised(
            application=kwargs["application"], value=kwargs["code"]
        )
        return kwargs
