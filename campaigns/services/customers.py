"""Customer profiles and events: update a profile, track an event, and run the rules on them.

A profile update merges the attributes it carries into the profile (created if new) and, when
asked (``run_rule_engine``), evaluates the running campaigns against the profile. An event is
stored and always evaluated, with ``Event`` (its type and attributes) and the profile in the
binding. Effects of both are confirmed at once (there is no session to close), so they are
recorded in the effect log; ``dry`` evaluates, answers the same, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from campaigns.compiled import compiled_campaigns_get
from campaigns.evaluation import profile_binding, stored_value, typed_attributes
from campaigns.models import Application, CustomerProfile, EffectRecord, Event
from rules.engine import FiredEffect, RuleFailure
from rules.types import Type


@dataclass(frozen=True)
class CustomerOutcome:
    """What a profile update or an event did, and the effects the rules gave."""

    profile: CustomerProfile
    event: Event | None
    effects: list[FiredEffect]
    failures: list[RuleFailure]
    ruleset_ids: Mapping[int, int | None]


def customer_profile_update(
    *,
    application: Application,
    integration_id: str,
    attributes: Mapping[str, Any] | None,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    run_rule_engine: bool = False,
    dry: bool = False,
) -> CustomerOutcome:
    """Create or update the profile ``integration_id``; evaluate it when asked."""
    with transaction.atomic():
        profile = _locked_profile(application=application, integration_id=integration_id, now=now)
        if attributes:
            profile.attributes = {**profile.attributes, **stored_value(dict(attributes))}
        profile.last_activity = now
        profile.save()
        effects: list[FiredEffect] = []
        failures: list[RuleFailure] = []
        rulesets: Mapping[int, int | None] = {}
        if run_rule_engine:
            effects, failures, rulesets = _evaluate(
                application=application,
                profile=profile,
                event=None,
                custom_types=custom_types,
                now=now,
            )
        if dry:
            transaction.set_rollback(True)
    return CustomerOutcome(profile, None, effects, failures, rulesets)


def event_track(
    *,
    application: Application,
    profile_id: str,
    event_type: str,
    attributes: Mapping[str, Any],
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
    dry: bool = False,
) -> CustomerOutcome:
    """Store an event of the profile ``profile_id`` (created if new) and evaluate it."""
    with transaction.atomic():
        profile = _locked_profile(application=application, integration_id=profile_id, now=now)
        profile.last_activity = now
        profile.save(update_fields=["last_activity", "modified"])
        event = Event.objects.create(
            application=application,
            profile=profile,
            type=event_type,
            attributes=stored_value(dict(attributes)),
            created=now,
        )
        effects, failures, rulesets = _evaluate(
            application=application,
            profile=profile,
            event=event,
            custom_types=custom_types,
            now=now,
        )
        if dry:
            transaction.set_rollback(True)
    return CustomerOutcome(profile, event, effects, failures, rulesets)


def _locked_profile(
    *, application: Application, integration_id: str, now: datetime
) -> CustomerProfile:
    profile, _ = CustomerProfile.objects.select_for_update().get_or_create(
        application=application, integration_id=integration_id, defaults={"last_activity": now}
    )
    return profile


def _evaluate(
    *,
    application: Application,
    profile: CustomerProfile,
    event: Event | None,
    custom_types: Mapping[str, Mapping[str, Type]],
    now: datetime,
) -> tuple[list[FiredEffect], list[RuleFailure], dict[int, int | None]]:
    compiled = compiled_campaigns_get(application=application, now=now)
    binding: dict[str, Any] = {
        "Application": {"Id": Decimal(application.pk), "Name": application.name},
        "Now": now,
        "Profile": profile_binding(profile, custom_types.get("CustomerProfile", {})),
    }
    if event is not None:
        binding["Event"] = {
            "Type": event.type,
            "Attributes": typed_attributes(event.attributes, custom_types.get("Event", {})),
        }
    result = compiled.rules.evaluate(binding, now=now)
    rulesets = {campaign.pk: campaign.active_ruleset_id for campaign in compiled.campaigns}
    EffectRecord.objects.bulk_create(
        EffectRecord(
            application=application,
            campaign_id=fired.rule.ruleset,
            ruleset_id=rulesets.get(fired.rule.ruleset),
            profile=profile,
            event=event,
            rule_index=fired.rule.rule_index,
            rule_name=fired.rule.title,
            effect_type=fired.effect.effect_type,
            props=fired.effect.props(),
            created=now,
        )
        for fired in result.effects
    )
    return result.effects, result.failures, rulesets
