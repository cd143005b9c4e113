"""The per-process cache of compiled campaigns: reused while nothing changes, rebuilt when the
application's stamp moves or a campaign's schedule starts or ends; and evaluating them, with the
campaigns their groups set aside, and with discounts cascading when the application says so."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from campaigns.compiled import (
    CampaignsEvaluation,
    cascade_settings,
    compiled_campaigns_forget,
    compiled_campaigns_get,
)
from campaigns.evaluation import CascadeSettings, Exclusion, apply_discounts
from campaigns.models import Application, EvaluationGroup
from campaigns.services.rulesets import ruleset_create
from rules.effects import CampaignExclusionReason
from tests.factories import ApplicationFactory, CampaignFactory, EvaluationGroupFactory

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


TEN_PERCENT = {
    "title": "10% off",
    "condition": [">", [".", "Session", "Total"], 0],
    "effects": [["setDiscount", "10% off", ["*", [".", "Session", "Total"], 0.1]]],
}


def _session(total: str = "100.00") -> dict[str, Any]:
    return {"Session": {"Total": Decimal(total), "CartItemTotal": Decimal(total), "CartItems": []}}


def _evaluate(application: Application, *, cascading: bool) -> CampaignsEvaluation:
    application.refresh_from_db()
    now = timezone.now()
    compiled = compiled_campaigns_get(application=application, now=now)
    binding = _session()
    cascade = cascade_settings(application) if cascading else None
    result = compiled.evaluate(binding, now=now, cascade=cascade)
    assert binding == _session()  # the caller's binding is left as it was
    return result


def _discounts(result: CampaignsEvaluation) -> list[tuple[int, Decimal]]:
    applied = apply_discounts(result.effects, session_total=Decimal(100), items=(), minor_units=2)
    return [(entry.rule.ruleset, entry.effect.value) for entry in applied]


@pytest.mark.django_db
def test_the_application_says_whether_discounts_cascade() -> None:
    assert cascade_settings(ApplicationFactory()) is None
    cascading = ApplicationFactory(enable_cascading_discounts=True, currency="JPY")
    assert cascade_settings(cascading) == CascadeSettings(minor_units=0)


@pytest.mark.django_db
def test_cascading_campaigns_each_discount_what_the_one_before_left() -> None:
    application = ApplicationFactory(enable_cascading_discounts=True)
    first = CampaignFactory(application=application, position=0, active_rules=[TEN_PERCENT])
    second = CampaignFactory(application=application, position=1, active_rules=[TEN_PERCENT])
    result = _evaluate(application, cascading=True)
    assert _discounts(result) == [(first.pk, Decimal(10)), (second.pk, Decimal(9))]
    assert result.exclusions == []


@pytest.mark.django_db
def test_without_cascading_each_discounts_the_whole_session() -> None:
    application = ApplicationFactory()
    first = CampaignFactory(application=application, position=0, active_rules=[TEN_PERCENT])
    second = CampaignFactory(application=application, position=1, active_rules=[TEN_PERCENT])
    result = _evaluate(application, cascading=False)
    assert _discounts(result) == [(first.pk, Decimal(10)), (second.pk, Decimal(10))]


@pytest.mark.django_db
@pytest.mark.parametrize("cascading", [False, True])
def test_the_campaigns_a_group_sets_aside_are_reported(cascading: bool) -> None:
    application = ApplicationFactory(enable_cascading_discounts=cascading)
    group = EvaluationGroupFactory(application=application, mode=EvaluationGroup.Mode.LIST_ORDER)
    first, second = (
        CampaignFactory(
            application=application,
            evaluation_group=group,
            position=position,
            active_rules=[TEN_PERCENT],
        )
        for position in (0, 1)
    )
    result = _evaluate(application, cascading=cascading)
    assert _discounts(result) == [(first.pk, Decimal(10))]
    assert result.exclusions == [
        Exclusion(
            campaign_id=second.pk,
            group_id=group.pk,
            mode="listOrder",
            reason=CampaignExclusionReason.CAMPAIGN_IS_NOT_FIRST,
        )
    ]
    assert [rule.ruleset for rule in result.fired] == [first.pk, second.pk]
