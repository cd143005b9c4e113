"""The Django admin of the domain: every page renders, search finds, credentials stay hidden,
and changes that affect evaluation invalidate the compiled rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns.models import (
    Application,
    AttributeDefinition,
    Campaign,
    CartItem,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
    EvaluationGroup,
    Event,
    IntegrationApiKey,
    Ruleset,
    SigningSecret,
)
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CartItemFactory,
    CustomerSessionFactory,
    EffectRecordFactory,
    EvaluationGroupFactory,
    EventFactory,
    IntegrationApiKeyFactory,
    SigningSecretFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MODELS = [
    Application,
    IntegrationApiKey,
    SigningSecret,
    EvaluationGroup,
    Campaign,
    Ruleset,
    AttributeDefinition,
    CustomerProfile,
    CustomerSession,
    CartItem,
    Event,
    EffectRecord,
]

RULE = {"title": "Always", "condition": ["and", True], "effects": []}


def admin_url(model: type[Any], page: str, *args: Any) -> str:
    return reverse(f"admin:campaigns_{model._meta.model_name}_{page}", args=args)


@pytest.fixture
def operator(client: Client) -> Client:
    user: User = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def some_data() -> dict[str, Any]:
    """One of everything, linked together, in one application."""
    shop = ApplicationFactory(name="Sunny Shoes")
    group = EvaluationGroupFactory(application=shop, name="Summer deals")
    campaign = CampaignFactory(
        application=shop,
        name="Summer sale",
        evaluation_group=group,
        tags=["summer"],
        active_rules=[RULE],
    )
    item = CartItemFactory(
        session=CustomerSessionFactory(application=shop, integration_id="cart-42"),
        sku="SHOE-1",
    )
    event = EventFactory(application=shop, session=item.session, profile=item.session.profile)
    return {
        "application": shop,
        "group": group,
        "campaign": campaign,
        "ruleset": campaign.active_ruleset,
        "item": item,
        "session": item.session,
        "profile": item.session.profile,
        "event": event,
        "api_key": IntegrationApiKeyFactory(application=shop, raw_key="f00dcafe" + "0" * 56),
        "secret": SigningSecretFactory(application=shop, secret="topsecret-0123456789abcdef"),
        "attribute": AttributeDefinitionFactory(application=shop, name="ShoeSize"),
        "effect": EffectRecordFactory(
            application=shop,
            campaign=campaign,
            session=item.session,
            effect_type="setDiscount",
            rule_name="Summer 10%",
        ),
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_changelist_and_add_page_renders(
    operator: Client, some_data: dict[str, Any], model: type[Any]
) -> None:
    changelist = operator.get(admin_url(model, "changelist"))
    add = operator.get(admin_url(model, "add"))

    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count >= 1
    assert add.status_code == 200


@pytest.mark.parametrize(
    ("key", "model"),
    [
        ("application", Application),
        ("api_key", IntegrationApiKey),
        ("secret", SigningSecret),
        ("group", EvaluationGroup),
        ("campaign", Campaign),
        ("ruleset", Ruleset),
        ("attribute", AttributeDefinition),
        ("profile", CustomerProfile),
        ("session", CustomerSession),
        ("item", CartItem),
        ("event", Event),
        ("effect", EffectRecord),
    ],
)
def test_every_change_page_renders(
    operator: Client, some_data: dict[str, Any], key: str, model: type[Any]
) -> None:
    response = operator.get(admin_url(model, "change", some_data[key].pk))

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("model", "query", "found"),
    [
        (Application, "sunny", "application"),
        (IntegrationApiKey, "f00dcafe", "api_key"),
        (EvaluationGroup, "summer deals", "group"),
        (Campaign, "summer sale", "campaign"),
        (Campaign, "summer", "campaign"),
        (Ruleset, "summer sale", "ruleset"),
        (AttributeDefinition, "shoesize", "attribute"),
        (CustomerSession, "cart-42", "session"),
        (CartItem, "SHOE-1", "item"),
        (Event, "cart-42", "event"),
        (EffectRecord, "summer 10%", "effect"),
    ],
)
def test_search_finds_what_it_names_and_nothing_else(
    operator: Client, some_data: dict[str, Any], model: type[Any], query: str, found: str
) -> None:
    # Unrelated records of the same kind, in another application.
    other = ApplicationFactory(name="Rainy Boots")
    other_campaign = CampaignFactory(application=other, name="Winter", active_rules=[RULE])
    other_session = CustomerSessionFactory(application=other, integration_id="cart-7")
    CartItemFactory(session=other_session, sku="BOOT-9")
    EventFactory(application=other, session=other_session)
    EffectRecordFactory(application=other, campaign=other_campaign, rule_name="Winter 5%")
    IntegrationApiKeyFactory(application=other, raw_key="0" * 64)
    EvaluationGroupFactory(application=other, name="Winter deals")
    AttributeDefinitionFactory(application=other, name="BootSize")

    response = operator.get(admin_url(model, "changelist"), {"q": query})

    assert response.status_code == 200
    assert [obj.pk for obj in response.context["cl"].result_list] == [some_data[found].pk]


def test_an_api_key_is_shown_once_when_added_and_never_its_hash(
    operator: Client, some_data: dict[str, Any]
) -> None:
    shop = some_data["application"]

    response = operator.post(
        admin_url(IntegrationApiKey, "add"),
        {
            "application": shop.pk,
            "name": "Checkout",
            "expires_at_0": "2099-01-01",
            "expires_at_1": "00:00:00",
        },
        follow=True,
    )

    key = IntegrationApiKey.objects.get(name="Checkout")
    [message] = [str(m) for m in response.context["messages"] if "copy it now" in str(m)]
    raw = next(word for word in message.split() if len(word) == 64)
    assert IntegrationApiKey.hash_key(raw) == key.key_hash
    assert raw.startswith(key.prefix)
    listing = operator.get(admin_url(IntegrationApiKey, "changelist")).content.decode()
    change = operator.get(admin_url(IntegrationApiKey, "change", key.pk)).content.decode()
    for page in (listing, change):
        assert key.prefix in page
        assert key.key_hash not in page
        assert raw not in page


def test_a_signing_secret_never_appears_after_it_is_saved(
    operator: Client, some_data: dict[str, Any]
) -> None:
    secret = some_data["secret"]

    listing = operator.get(admin_url(SigningSecret, "changelist")).content.decode()
    change = operator.get(admin_url(SigningSecret, "change", secret.pk)).content.decode()

    for page in (listing, change):
        assert secret.masked_secret in page
        assert secret.secret not in page


def test_saving_a_campaign_invalidates_the_compiled_rules(
    operator: Client, some_data: dict[str, Any]
) -> None:
    campaign = some_data["campaign"]
    before = Application.objects.get(pk=campaign.application_id).rules_version

    response = operator.post(
        admin_url(Campaign, "change", campaign.pk),
        {
            "name": campaign.name,
            "description": "",
            "state": "disabled",
            "tags": '["summer"]',
            "features": "[]",
            "evaluation_group": campaign.evaluation_group_id,
            "position": 0,
            "active_ruleset": campaign.active_ruleset_id,
            "rulesets-TOTAL_FORMS": 1,
            "rulesets-INITIAL_FORMS": 1,
            "rulesets-MIN_NUM_FORMS": 0,
            "rulesets-MAX_NUM_FORMS": 1000,
            "rulesets-0-id": campaign.active_ruleset_id,
            "rulesets-0-campaign": campaign.pk,
            "limits-TOTAL_FORMS": 1,
            "limits-INITIAL_FORMS": 0,
            "limits-MIN_NUM_FORMS": 0,
            "limits-MAX_NUM_FORMS": 1000,
            "limits-0-action": "setDiscount",
            "limits-0-limit": "100.00",
            "limits-0-period": "monthly",
            "limits-0-entities": '["Profile"]',
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DISABLED
    [limit] = campaign.limits.all()
    assert (limit.action, limit.period, limit.entities) == ("setDiscount", "monthly", ["Profile"])
    # Invalidated after the campaign and again after its budgets (an inline) are saved.
    assert Application.objects.get(pk=campaign.application_id).rules_version == before + 2


def test_saving_application_settings_keeps_a_concurrent_bump(
    operator: Client, some_data: dict[str, Any]
) -> None:
    shop = some_data["application"]
    form = operator.get(admin_url(Application, "change", shop.pk))
    assert form.status_code == 200
    # Meanwhile, another process changes a campaign.
    Application.objects.filter(pk=shop.pk).update(rules_version=41)

    response = operator.post(
        admin_url(Application, "change", shop.pk),
        {
            "name": shop.name,
            "description": "",
            "currency": "JPY",
            "timezone": "Asia/Tokyo",
            "case_sensitivity": "insensitive-uppercase",
            "default_discount_scope": "sessionTotal",
            "enable_flattened_cart_items": "on",
            "attributes": "{}",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    shop.refresh_from_db()
    assert (shop.currency, shop.minor_units, shop.rules_version) == ("JPY", 0, 42)


def test_a_new_ruleset_is_checked_against_the_attribute_catalogue(
    operator: Client, some_data: dict[str, Any]
) -> None:
    campaign = some_data["campaign"]
    reads_unknown = {
        "title": "Tall customers",
        "condition": [">", [".", "Profile", "Attributes", "Height"], 190],
        "effects": [],
    }

    def add(rules: list[Any]) -> Any:
        return operator.post(
            admin_url(Ruleset, "add"),
            {
                "campaign": campaign.pk,
                "version": 7,
                "rules": json.dumps(rules),
                "strikethrough_rules": "[]",
                "bindings": "[]",
            },
        )

    refused = add([RULE, reads_unknown])
    accepted = add([RULE])

    assert refused.status_code == 200
    assert "/1/condition" in refused.content.decode()
    assert accepted.status_code == 302
    assert campaign.rulesets.filter(version=7).count() == 1


def test_an_existing_ruleset_cannot_be_changed(operator: Client, some_data: dict[str, Any]) -> None:
    ruleset = some_data["ruleset"]
    version = ruleset.version

    response = operator.post(
        admin_url(Ruleset, "change", ruleset.pk),
        {"campaign": ruleset.campaign_id, "version": 99, "rules": "[]"},
    )

    ruleset.refresh_from_db()
    assert response.status_code == 403
    assert (ruleset.version, ruleset.rules) == (version, [RULE])


def test_a_cart_item_can_be_fixed_from_its_session(
    operator: Client, some_data: dict[str, Any]
) -> None:
    item = some_data["item"]

    response = operator.get(admin_url(CustomerSession, "change", item.session_id))

    assert response.status_code == 200
    assert f'value="{item.sku}"' in response.content.decode()  # an editable inline row
