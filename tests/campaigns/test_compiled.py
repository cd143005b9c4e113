"""The per-process cache of compiled campaigns: reused while nothing changes, rebuilt when the
application's stamp moves or a campaign's schedule starts or ends."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.compiled import compiled_campaigns_forget, compiled_campaigns_get
from campaigns.models import Application
from campaigns.services.rulesets import ruleset_create
from tests.factories import ApplicationFactory, CampaignFactory

ALWAYS = {"title": "always", "condition": ["and"], "effects": [["setDiscount", "5 off", 5]]}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    compiled_campaigns_forget()


def _fired(application: Application) -> list[int]:
    application.refresh_from_db()
    compiled = compiled_campaigns_get(application=application, now=timezone.now())
    result = compiled.rules.evaluate({"Session": {"Total": Decimal(10), "CartItems": []}})
    return [rule.ruleset for rule in result.fired]


@pytest.mark.django_db
def test_running_campaigns_are_compiled_once_and_reused(django_assert_num_queries) -> None:
    application = ApplicationFactory()
    campaign = CampaignFactory(application=application, active_rules=[ALWAYS])
    assert _fired(application) == [campaign.pk]
    with django_assert_num_queries(1):  # the stamp; nothing is compiled again
        assert _fired(application) == [campaign.pk]


@pytest.mark.django_db
def test_a_new_active_ruleset_is_picked_up() -> None:
    application = ApplicationFactory()
    campaign = CampaignFactory(application=application, active_rules=[ALWAYS])
    assert _fired(application) == [campaign.pk]
    never = {"title": "never", "condition": ["=", 1, 2], "effects": []}
    ruleset_create(campaign=campaign, rules=[never], activate=True)
    assert _fired(application) == []


@pytest.mark.django_db
def test_a_campaign_starts_when_its_schedule_says() -> None:
    application = ApplicationFactory()
    now = timezone.now()
    later = CampaignFactory(
        application=application, active_rules=[ALWAYS], start_time=now + timedelta(hours=1)
    )
    application.refresh_from_db()
    assert compiled_campaigns_get(application=application, now=now).campaigns == ()
    in_an_hour = compiled_campaigns_get(application=application, now=now + timedelta(hours=2))
    assert [c.pk for c in in_an_hour.campaigns] == [later.pk]


@pytest.mark.django_db
def test_disabled_campaigns_do_not_run() -> None:
    application = ApplicationFactory()
    CampaignFactory(application=application, active_rules=[ALWAYS], state="disabled")
    assert _fired(application) == []
