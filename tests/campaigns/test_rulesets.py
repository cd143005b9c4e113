"""Saving rulesets: checked against the application's catalogue, versioned, one active."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from campaigns.models import Application, Ruleset
from campaigns.services.rulesets import RulesetInvalid, ruleset_activate, ruleset_create
from rules.errors import NoMatchingFunction, UnknownAttribute
from tests.concurrency import race
from tests.factories import AttributeDefinitionFactory, CampaignFactory

BIG_CART = {
    "title": "10% off big carts",
    "condition": [">", [".", "Session", "Total"], 100],
    "effects": [["setDiscount", "10% off", ["*", [".", "Session", "Total"], 0.1]]],
}


@pytest.mark.django_db
def test_a_valid_ruleset_is_saved_as_the_next_version_and_activated() -> None:
    campaign = CampaignFactory()
    version_before = campaign.application.rules_version
    first = ruleset_create(campaign=campaign, rules=[BIG_CART])
    second = ruleset_create(campaign=campaign, rules=[BIG_CART], activate=True)
    campaign.refresh_from_db()
    campaign.application.refresh_from_db()
    assert (first.version, second.version) == (1, 2)
    assert campaign.active_ruleset == second
    assert second.activated_at is not None
    assert campaign.application.rules_version == version_before + 1


@pytest.mark.django_db
def test_every_error_is_reported_with_a_pointer_and_nothing_is_saved() -> None:
    campaign = CampaignFactory()
    broken = [
        BIG_CART,
        {"title": "typo", "condition": [">", [".", "Session", "Totl"], 1], "effects": [["nope"]]},
        "not a rule",
    ]
    with pytest.raises(RulesetInvalid) as raised:
        ruleset_create(campaign=campaign, rules=broken)
    found = [(type(e), e.pointer) for e in raised.value.errors]
    assert found == [
        (UnknownAttribute, "/rules/1/condition/1/2"),
        (NoMatchingFunction, "/rules/1/effects/0"),
        (raised.value.errors[2].__class__, "/rules/2"),
    ]
    assert not Ruleset.objects.filter(campaign=campaign).exists()


@pytest.mark.django_db
def test_custom_attributes_must_be_defined_before_rules_read_them() -> None:
    campaign = CampaignFactory()
    rule = {"title": "t", "condition": ["=", [".", "Profile", "Attributes", "Tier"], "gold"]}
    with pytest.raises(RulesetInvalid):
        ruleset_create(campaign=campaign, rules=[rule])
    AttributeDefinitionFactory(
        application=campaign.application, entity="CustomerProfile", name="Tier", type="string"
    )
    assert ruleset_create(campaign=campaign, rules=[rule]).version == 1


@pytest.mark.django_db
def test_activating_an_older_version_rolls_back_and_bumps_the_stamp() -> None:
    campaign = CampaignFactory()
    first = ruleset_create(campaign=campaign, rules=[BIG_CART], activate=True)
    ruleset_create(campaign=campaign, rules=[BIG_CART], activate=True)
    stamp = Application.objects.get(pk=campaign.application_id).rules_version
    ruleset_activate(ruleset=first)
    campaign.refresh_from_db()
    assert campaign.active_ruleset == first
    assert Application.objects.get(pk=campaign.application_id).rules_version == stamp + 1


@race
@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_get_distinct_versions() -> None:
    campaign = CampaignFactory()
    versions: list[int] = []
    errors: list[Any] = []

    def save() -> None:
        try:
            versions.append(ruleset_create(campaign=campaign, rules=[BIG_CART]).version)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=save) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(versions) == list(range(1, 9))
