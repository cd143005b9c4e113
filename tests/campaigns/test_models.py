"""The domain's models: the database refuses what must never be stored, and the selectors read
one application's data in the order evaluation needs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from campaigns.models import (
    Application,
    Campaign,
    CustomerSession,
    EvaluationGroup,
)
from campaigns.selectors import (
    application_get,
    attribute_catalogue,
    campaign_get,
    campaign_list,
    customer_session_get,
    running_campaigns,
)
from rules.catalogue import resolve
from rules.engine import check_rule
from rules.errors import UnknownAttribute
from rules.types import Kind
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CartItemFactory,
    CustomerProfileFactory,
    CustomerSessionFactory,
    EffectRecordFactory,
    EvaluationGroupFactory,
    EventFactory,
    IntegrationApiKeyFactory,
    RulesetFactory,
    SigningSecretFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
RULE = {"title": "Always", "condition": ["and", True], "effects": []}


def refused(create: Callable[[], Any]) -> bool:
    """Whether the database refuses what ``create`` writes (inside a savepoint)."""
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Every invariant that matters is a database constraint


@pytest.mark.parametrize(
    ("what", "create"),
    [
        ("a currency that is not a code", lambda: ApplicationFactory(currency="eu")),
        ("a rules version of 0", lambda: ApplicationFactory(rules_version=0)),
        ("an unknown case sensitivity", lambda: ApplicationFactory(case_sensitivity="upper")),
        ("an unknown discount scope", lambda: ApplicationFactory(default_discount_scope="all")),
        ("a key hash that is not SHA-256", lambda: IntegrationApiKeyFactory(key_hash="secret")),
        ("an empty signing secret", lambda: SigningSecretFactory(secret="")),
        ("an unknown evaluation mode", lambda: EvaluationGroupFactory(mode="random")),
        ("an unknown campaign state", lambda: CampaignFactory(state="running")),
        (
            "a campaign that ends before it starts",
            lambda: CampaignFactory(start_time=NOW, end_time=NOW - HOUR),
        ),
        (
            "a campaign that ends when it starts",
            lambda: CampaignFactory(start_time=NOW, end_time=NOW),
        ),
        ("a ruleset version of 0", lambda: RulesetFactory(version=0)),
        ("an attribute named like no identifier", lambda: AttributeDefinitionFactory(name="1st")),
        ("an attribute name with a space", lambda: AttributeDefinitionFactory(name="zip code")),
        ("an attribute name with a newline", lambda: AttributeDefinitionFactory(name="zip\n")),
        ("an unknown attribute type", lambda: AttributeDefinitionFactory(type="money")),
        ("an unknown attribute entity", lambda: AttributeDefinitionFactory(entity="Basket")),
        (
            "an event type on a profile attribute",
            lambda: AttributeDefinitionFactory(entity="CustomerProfile", event_type="pageViewed"),
        ),
        ("a profile without integration id", lambda: CustomerProfileFactory(integration_id="")),
        ("negative total sales", lambda: CustomerProfileFactory(total_sales=Decimal("-0.01"))),
        ("a session without integration id", lambda: CustomerSessionFactory(integration_id="")),
        ("an unknown session state", lambda: CustomerSessionFactory(state="paid")),
        ("a negative total", lambda: CustomerSessionFactory(total=-1)),
        ("a negative cart item total", lambda: CustomerSessionFactory(cart_item_total=-1)),
        (
            "a negative additional cost total",
            lambda: CustomerSessionFactory(additional_cost_total=-1),
        ),
        (
            "a negative cart item additional cost total",
            lambda: CustomerSessionFactory(cart_item_additional_cost_total=-1),
        ),
        ("a quantity of 0", lambda: CartItemFactory(quantity=0, remaining_quantity=0)),
        ("a cart item without SKU", lambda: CartItemFactory(sku="")),
        ("a negative price", lambda: CartItemFactory(price=Decimal("-1"))),
        ("a negative weight", lambda: CartItemFactory(weight=Decimal("-1"))),
        ("a negative length", lambda: CartItemFactory(length=Decimal("-1"))),
        (
            "more returned than bought",
            lambda: CartItemFactory(quantity=1, returned_quantity=2, remaining_quantity=0),
        ),
        (
            "a remaining quantity that does not add up",
            lambda: CartItemFactory(quantity=3, returned_quantity=1, remaining_quantity=3),
        ),
        ("an event without type", lambda: EventFactory(type="")),
        ("an effect without type", lambda: EffectRecordFactory(effect_type="")),
        (
            "an effect rolled back before it was created",
            lambda: EffectRecordFactory(created=NOW, rolled_back_at=NOW - HOUR),
        ),
    ],
)
def test_the_database_refuses(what: str, create: Callable[[], Any]) -> None:
    assert refused(create), what


def test_well_formed_records_of_every_kind_are_stored() -> None:
    item = CartItemFactory(
        quantity=3, returned_quantity=1, remaining_quantity=2, weight=Decimal("1130")
    )
    campaign = CampaignFactory(start_time=NOW, end_time=NOW + HOUR, active_rules=[RULE])
    EffectRecordFactory(
        campaign=campaign, application=campaign.application, created=NOW, rolled_back_at=NOW
    )
    AttributeDefinitionFactory(entity="Event", event_type="pageViewed", name="page_url2")
    SigningSecretFactory()
    IntegrationApiKeyFactory()
    EventFactory(session=item.session, profile=item.session.profile)

    assert item.session.cart_items.get().remaining_quantity == 2


def test_an_evaluation_group_cannot_be_its_own_parent() -> None:
    group = EvaluationGroupFactory()
    group.parent = group

    assert refused(lambda: group.save(update_fields=["parent"]))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            lambda app: CustomerProfileFactory(application=app, integration_id="c-1"),
            lambda app: CustomerProfileFactory(application=app, integration_id="c-1"),
        ),
        (
            lambda app: CustomerSessionFactory(application=app, integration_id="s-1"),
            lambda app: CustomerSessionFactory(application=app, integration_id="s-1"),
        ),
        (
            lambda app: AttributeDefinitionFactory(application=app, name="Country"),
            lambda app: AttributeDefinitionFactory(application=app, name="Country"),
        ),
    ],
    ids=["profile", "session", "attribute"],
)
def test_integration_ids_and_attribute_names_are_unique_per_application(
    first: Callable[[Application], Any], second: Callable[[Application], Any]
) -> None:
    shop, other_shop = ApplicationFactory(), ApplicationFactory()
    first(shop)

    assert refused(lambda: second(shop))
    assert not refused(lambda: second(other_shop))


def test_an_attribute_name_may_repeat_on_another_entity() -> None:
    shop = ApplicationFactory()
    AttributeDefinitionFactory(application=shop, entity="CustomerProfile", name="Country")

    assert not refused(
        lambda: AttributeDefinitionFactory(
            application=shop, entity="CustomerSession", name="Country"
        )
    )


def test_ruleset_versions_are_unique_per_campaign() -> None:
    campaign, other_campaign = CampaignFactory(), CampaignFactory()
    RulesetFactory(campaign=campaign, version=1)

    assert refused(lambda: RulesetFactory(campaign=campaign, version=1))
    assert not refused(lambda: RulesetFactory(campaign=other_campaign, version=1))


def test_cart_item_positions_are_unique_per_session() -> None:
    session, other_session = CustomerSessionFactory(), CustomerSessionFactory()
    CartItemFactory(session=session, position=0)

    assert refused(lambda: CartItemFactory(session=session, position=0))
    assert not refused(lambda: CartItemFactory(session=other_session, position=0))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL-only foreign key")
def test_the_active_ruleset_must_be_one_of_the_campaigns_own() -> None:
    campaign = CampaignFactory()
    foreign = RulesetFactory(campaign=CampaignFactory(application=campaign.application))
    own = RulesetFactory(campaign=campaign)

    def activate(ruleset: Any) -> Callable[[], None]:
        def save() -> None:
            # The foreign key is deferred to the commit, which a test never reaches.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            Campaign.objects.filter(pk=campaign.pk).update(active_ruleset=ruleset)

        return save

    assert refused(activate(foreign))
    assert not refused(activate(own))


def test_deleting_the_active_ruleset_leaves_the_campaign_without_one() -> None:
    campaign = CampaignFactory(active_rules=[RULE])
    assert campaign.active_ruleset is not None

    campaign.active_ruleset.delete()
    campaign.refresh_from_db()

    assert campaign.active_ruleset is None


# ---------------------------------------------------------------------------------------------
# Validation (forms, the admin) and small model behaviour


@pytest.mark.parametrize(
    ("currency", "minor_units"),
    [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_amounts_round_to_the_currencys_minor_unit(currency: str, minor_units: int) -> None:
    assert Application(currency=currency).minor_units == minor_units


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "XYZ"),
        ("currency", "eur"),
        ("timezone", "Mars/Olympus_Mons"),
        ("timezone", "Europe"),
        ("timezone", "../etc/passwd"),
    ],
)
def test_an_application_needs_a_real_currency_and_time_zone(field: str, value: str) -> None:
    application = ApplicationFactory.build(**{field: value})

    with pytest.raises(ValidationError) as raised:
        application.full_clean()

    assert field in raised.value.message_dict


def test_a_valid_application_passes_validation() -> None:
    ApplicationFactory.build(currency="JPY", timezone="Asia/Tokyo").full_clean()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tags", "summer"),
        ("tags", ["summer", 3]),
        ("features", ["coupons", "teleport"]),
        ("features", "coupons"),
    ],
)
def test_campaign_tags_and_features_are_lists_of_known_strings(field: str, value: Any) -> None:
    campaign = CampaignFactory.build(application=ApplicationFactory(), **{field: value})

    with pytest.raises(ValidationError) as raised:
        campaign.full_clean()

    assert field in raised.value.message_dict


def test_validation_refuses_links_across_applications() -> None:
    campaign = CampaignFactory()
    campaign.evaluation_group = EvaluationGroupFactory()  # of another application
    campaign.active_ruleset = RulesetFactory()  # of another campaign

    with pytest.raises(ValidationError) as raised:
        campaign.full_clean()

    assert set(raised.value.message_dict) == {"evaluation_group", "active_ruleset"}


def test_an_api_key_is_stored_as_its_sha256_and_prefix_only() -> None:
    raw = "ab" * 32

    key = IntegrationApiKeyFactory(raw_key=raw)
    key.refresh_from_db()

    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.prefix == "abababab"
    assert raw not in {str(value) for value in vars(key).values()}


def test_a_signing_secret_shows_only_a_masked_form() -> None:
    secret = SigningSecretFactory(secret="s3cr3t-0123456789abcdef")

    assert secret.masked_secret.startswith("s3cr")
    assert "0123456789abcdef" not in secret.masked_secret
    assert "0123456789abcdef" not in str(secret)
    assert SigningSecretFactory(secret="short").masked_secret == "•" * 8


def test_effect_props_keep_decimals_exact_as_strings() -> None:
    record = EffectRecordFactory(props={"value": Decimal("0.10"), "name": "10% off"})

    record.refresh_from_db()

    assert record.props == {"value": "0.10", "name": "10% off"}


def test_a_ruleset_knows_whether_it_is_the_active_version() -> None:
    campaign = CampaignFactory(active_rules=[RULE])
    older = RulesetFactory(campaign=campaign)

    assert campaign.active_ruleset is not None
    assert campaign.active_ruleset.is_active
    assert not older.is_active


# ---------------------------------------------------------------------------------------------
# The attribute catalogue


def test_custom_attributes_appear_in_the_catalogue_with_their_types() -> None:
    shop = ApplicationFactory()
    AttributeDefinitionFactory(application=shop, entity="CustomerProfile", name="Country")
    AttributeDefinitionFactory(
        application=shop, entity="CustomerSession", name="Channel", type="string"
    )
    AttributeDefinitionFactory(application=shop, entity="CartItem", name="Material")
    AttributeDefinitionFactory(
        application=shop, entity="CustomerProfile", name="Scores", type="(list number)"
    )
    AttributeDefinitionFactory(application=shop, entity="Giveaway", name="Pool")  # not readable
    AttributeDefinitionFactory(entity="CustomerProfile", name="Elsewhere")  # another application

    catalogue = attribute_catalogue(application=shop)

    def kind(*path: str) -> Kind | None:
        found = resolve(catalogue, path)
        return None if found is None else found.kind

    assert kind("Profile", "Attributes", "Country") == Kind.STRING
    assert kind("Session", "Attributes", "Channel") == Kind.STRING
    assert kind("Item", "Attributes", "Material") == Kind.STRING
    assert kind("Profile", "Attributes", "Scores") == Kind.LIST
    assert kind("Profile", "Attributes", "Elsewhere") is None


def test_a_rule_may_read_defined_attributes_only() -> None:
    shop = ApplicationFactory()
    AttributeDefinitionFactory(application=shop, entity="CustomerProfile", name="Country")
    catalogue = attribute_catalogue(application=shop)

    def rule(attribute: str) -> dict[str, Any]:
        return {
            "title": "Canadians",
            "condition": ["=", [".", "Profile", "Attributes", attribute], "CA"],
            "effects": [],
        }

    assert check_rule(rule("Country"), catalogue=catalogue) == []
    errors = check_rule(rule("Region"), catalogue=catalogue)
    assert [type(error) for error in errors] == [UnknownAttribute]


# ---------------------------------------------------------------------------------------------
# Selectors


def test_running_campaigns_are_the_enabled_scheduled_ones_with_rules() -> None:
    shop = ApplicationFactory()

    def campaign(**kwargs: Any) -> Campaign:
        return CampaignFactory(application=shop, active_rules=[RULE], **kwargs)

    runs = campaign(name="no schedule")
    started = campaign(name="started", start_time=NOW - HOUR, end_time=NOW + HOUR)
    starts_now = campaign(name="starts now", start_time=NOW)
    campaign(name="disabled", state=Campaign.State.DISABLED)
    campaign(name="archived", state=Campaign.State.ARCHIVED)
    campaign(name="not started", start_time=NOW + HOUR)
    campaign(name="ended", end_time=NOW - HOUR)
    campaign(name="ends now", start_time=NOW - HOUR, end_time=NOW)
    CampaignFactory(application=shop, name="no active ruleset")
    CampaignFactory(name="another application", active_rules=[RULE])

    running = running_campaigns(application=shop, now=NOW)

    assert {c.name for c in running} == {runs.name, started.name, starts_now.name}


def test_running_campaigns_come_in_evaluation_order_with_their_rules(
    django_assert_num_queries: Any,
) -> None:
    shop = ApplicationFactory()
    first_group = EvaluationGroupFactory(application=shop, position=1)
    second_group = EvaluationGroupFactory(application=shop, position=2)

    def campaign(name: str, group: EvaluationGroup | None, position: int) -> Campaign:
        return CampaignFactory(
            application=shop,
            name=name,
            evaluation_group=group,
            position=position,
            active_rules=[{**RULE, "title": name}],
        )

    campaign("second group, 0", second_group, 0)
    campaign("first group, 5", first_group, 5)
    campaign("first group, 1 (b)", first_group, 1)
    campaign("ungrouped", None, 3)
    campaign("first group, 1 (a, later id)", first_group, 1)
    campaign("first group, 0", first_group, 0)

    with django_assert_num_queries(1):
        running = list(running_campaigns(application=shop, now=NOW))
        rules = [c.active_ruleset.rules[0]["title"] for c in running if c.active_ruleset]

    assert rules == [
        "ungrouped",
        "first group, 0",
        "first group, 1 (b)",
        "first group, 1 (a, later id)",
        "first group, 5",
        "second group, 0",
    ]
    assert [c.name for c in campaign_list(application=shop)] == rules


def test_reads_are_scoped_to_the_application() -> None:
    shop, other_shop = ApplicationFactory(), ApplicationFactory()
    campaign = CampaignFactory(application=shop)
    session = CustomerSessionFactory(application=shop, integration_id="cart-1")
    CartItemFactory(session=session, position=0)
    CustomerSessionFactory(application=other_shop, integration_id="cart-1")

    assert application_get(id=shop.pk) == shop
    assert campaign_get(application=shop, id=campaign.pk) == campaign
    with pytest.raises(Campaign.DoesNotExist):
        campaign_get(application=other_shop, id=campaign.pk)
    found = customer_session_get(application=shop, integration_id="cart-1")
    assert found == session
    assert [item.position for item in found.cart_items.all()] == [0]
    with pytest.raises(CustomerSession.DoesNotExist):
        customer_session_get(application=ApplicationFactory(), integration_id="cart-1")
    assert list(campaign_list(application=other_shop)) == []


def test_the_session_service_knows_the_order_of_cart_item_fields() -> None:
    from campaigns.models import CartItem
    from campaigns.services.sessions import CART_ITEM_FIELDS

    assert tuple(field.attname for field in CartItem._meta.concrete_fields) == CART_ITEM_FIELDS
