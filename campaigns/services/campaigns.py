"""Campaigns: create, change and delete them. Every write bumps the application's
``rules_version``, so that every process compiles its campaigns again (``campaigns.compiled``);
budgets go through ``campaigns.services.budgets.campaign_limits_set`` and rulesets through
``campaigns.services.rulesets``. Each function is one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from campaigns.models import Application, Campaign, EvaluationGroup, Ruleset
from campaigns.services.budgets import campaign_limits_set
from campaigns.services.rulesets import applications_rules_changed, ruleset_activate


class Keep:
    """``campaign_update``'s marker: leave the evaluation group as it is."""


@transaction.atomic
def campaign_create(
    *,
    application: Application,
    values: Mapping[str, Any],
    evaluation_group: EvaluationGroup | None,
    limits: Sequence[Mapping[str, Any]],
) -> Campaign:
    """A new campaign of ``application`` with the model ``values`` and budgets ``limits``."""
    campaign = Campaign.objects.create(
        application=application, evaluation_group=evaluation_group, **values
    )
    campaign_limits_set(campaign=campaign, limits=limits)  # bumps rules_version
    return campaign


@transaction.atomic
def campaign_update(
    *,
    campaign: Campaign,
    values: Mapping[str, Any],
    evaluation_group: EvaluationGroup | type[Keep] | None = Keep,
    limits: Sequence[Mapping[str, Any]] | None = None,
    active_ruleset: Ruleset | None = None,
) -> Campaign:
    """Change the campaign's model ``values``; its group (unless ``Keep``), budgets (when
    ``limits`` is given) and active ruleset (when given)."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    changed = list(values)
    for field, value in values.items():
        setattr(locked, field, value)
    if evaluation_group is not Keep:
        assert evaluation_group is None or isinstance(evaluation_group, EvaluationGroup)
        locked.evaluation_group = evaluation_group
        changed.append("evaluation_group")
    locked.save(update_fields=[*changed, "modified"])
    if limits is not None:
        campaign_limits_set(campaign=locked, limits=limits)
    if active_ruleset is not None and active_ruleset.pk != locked.active_ruleset_id:
        ruleset_activate(ruleset=active_ruleset)
    applications_rules_changed(application_ids=[locked.application_id])
    return locked


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    """Delete the campaign with its rulesets, budgets, coupons and referral codes."""
    application_id = campaign.application_id
    Campaign.objects.filter(pk=campaign.pk).delete()
    applications_rules_changed(application_ids=[application_id])
