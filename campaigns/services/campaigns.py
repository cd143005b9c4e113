"""Campaigns: create, change, copy and delete them. Every write bumps the application's
``rules_version``, so that every process compiles its campaigns again (``campaigns.compiled``);
budgets go through ``campaigns.services.budgets.campaign_limits_set`` and rulesets through
``campaigns.services.rulesets``. Each function is one transaction.

A campaign's custom ``attributes`` must be defined for the ``Campaign`` entity of its
application and be of their type (``campaigns.services.attribute_values``); they are stored with
numbers and times as text, and a write that sends them replaces them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from campaigns.models import (
    Application,
    AttributeDefinition,
    Campaign,
    CampaignLimit,
    EvaluationGroup,
    Ruleset,
)
from campaigns.services.attribute_values import attribute_definitions, attributes_read
from campaigns.services.budgets import campaign_limits_set
from campaigns.services.rulesets import (
    RulesetInvalid,
    applications_rules_changed,
    ruleset_activate,
    ruleset_create,
)
from rules.errors import RuleError


class Keep:
    """``campaign_update``'s marker: leave the evaluation group as it is."""


class CampaignInvalid(Exception):
    """A campaign value that cannot be stored: ``field`` (a model field) and what is wrong."""

    def __init__(self, field: str, details: str) -> None:
        super().__init__(f"{field}: {details}")
        self.field = field
        self.details = details


class CopyRefused(Exception):
    """A copy that cannot be made into the target application at ``index`` of the request:
    ``details`` say why; ``rule_errors`` hold the rules' problems there, if that is why."""

    def __init__(
        self, index: int, details: str, rule_errors: Sequence[RuleError] = (), *, code: str
    ) -> None:
        super().__init__(details)
        self.index = index
        self.details = details
        self.rule_errors = list(rule_errors)
        self.code = code


def campaign_attributes_checked(*, application: Application, raw: Any) -> dict[str, Any]:
    """``raw`` as stored campaign attributes of ``application``; raises ``CampaignInvalid``."""
    entity = AttributeDefinition.Entity.CAMPAIGN
    stored, problem = attributes_read(
        raw, attribute_definitions(application, entity), entity=entity
    )
    if problem is not None:
        raise CampaignInvalid("attributes", problem)
    return stored


@transaction.atomic
def campaign_create(
    *,
    application: Application,
    values: Mapping[str, Any],
    evaluation_group: EvaluationGroup | None,
    limits: Sequence[Mapping[str, Any]],
) -> Campaign:
    """A new campaign of ``application`` with the model ``values`` and budgets ``limits``.
    Raises ``CampaignInvalid`` for attributes the application does not define."""
    values = dict(values)
    if "attributes" in values:
        values["attributes"] = campaign_attributes_checked(
            application=application, raw=values["attributes"]
        )
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
    ``limits`` is given) and active ruleset (when given). Raises ``CampaignInvalid``."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    values = dict(values)
    if "attributes" in values:
        values["attributes"] = campaign_attributes_checked(
            application=campaign.application, raw=values["attributes"]
        )
    changed = list(values)
    for name, value in values.items():
        setattr(locked, name, value)
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


@dataclass(frozen=True)
class CopyTarget:
    """One application a campaign is copied into, and the evaluation group the copy joins."""

    application: Application
    evaluation_group: EvaluationGroup | None = None


@dataclass(frozen=True)
class CopyChanges:
    """What ``copyCampaignToApplications`` may change in the copies; ``None``: as the original
    (the name: "Copy of <name>")."""

    name: str | None = None
    description: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    tags: list[str] | None = None
    schedule_given: frozenset[str] = field(default_factory=frozenset)
    """Which of ``start_time``/``end_time`` the request sent (``null`` clears one)."""


@transaction.atomic
def campaign_copy(
    *, campaign: Campaign, targets: Sequence[CopyTarget], changes: CopyChanges
) -> list[Campaign]:
    """Copy ``campaign`` into each target application, all or none.

    A copy has the original's description, schedule, tags, features, attributes and budgets
    (their limits; none of their counters), and its active ruleset's rules as its own first
    ruleset version, active; it is **disabled**, as Talon.One's copies are, and has none of the
    original's coupons, referral codes, counters or history. ``changes`` override the name,
    description, schedule and tags. The rules and attributes are checked against each target
    application's attributes: ``CopyRefused`` names the first target they do not fit.
    """
    original = Campaign.objects.select_related("active_ruleset").get(pk=campaign.pk)
    rules = list(original.active_ruleset.rules) if original.active_ruleset else None
    limits = [
        {
            "action": limit.action,
            "limit": limit.limit,
            "period": limit.period,
            "entities": list(limit.entities or []),
        }
        for limit in CampaignLimit.objects.filter(campaign=original).order_by("pk")
    ]
    values = _copy_values(original, changes)
    start, end = values["start_time"], values["end_time"]
    if start is not None and end is not None and end <= start:
        raise CampaignInvalid("end_time", "endTime must be after startTime.")
    copies = []
    for index, target in enumerate(targets):
        try:
            attributes = campaign_attributes_checked(
                application=target.application, raw=original.attributes
            )
        except CampaignInvalid as error:
            raise CopyRefused(
                index,
                f"The campaign's attributes do not fit application {target.application.pk}: "
                f"{error.details}.",
                code="attributes_not_defined",
            ) from None
        copy = Campaign.objects.create(
            application=target.application,
            evaluation_group=target.evaluation_group,
            attributes=attributes,
            **values,
        )
        campaign_limits_set(campaign=copy, limits=limits)
        if rules is not None:
            try:
                ruleset_create(campaign=copy, rules=rules, activate=True)
            except RulesetInvalid as error:
                raise CopyRefused(
                    index,
                    f"The campaign's rules do not check in application "
                    f"{target.application.pk}, whose attributes differ.",
                    error.errors,
                    code="rules_not_valid_in_application",
                ) from None
        copies.append(copy)
    applications_rules_changed(application_ids=[target.application.pk for target in targets])
    return copies


def _copy_values(original: Campaign, changes: CopyChanges) -> dict[str, Any]:
    return {
        "name": changes.name if changes.name is not None else _copy_name(original.name),
        "description": (
            changes.description if changes.description is not None else original.description
        ),
        "state": Campaign.State.DISABLED,
        "start_time": (
            changes.start_time if "start_time" in changes.schedule_given else original.start_time
        ),
        "end_time": (
            changes.end_time if "end_time" in changes.schedule_given else original.end_time
        ),
        "tags": list(changes.tags if changes.tags is not None else original.tags),
        "features": list(original.features),
    }


def _copy_name(name: str) -> str:
    """ "Copy of <name>", within the model's bound on names."""
    limit = Campaign._meta.get_field("name").max_length or len(name) + 8
    return f"Copy of {name}"[:limit]
