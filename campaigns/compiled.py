"""The running campaigns of an application, compiled, its attribute schema and its own row,
cached in the process.

Compiling is done once per change, not per request: each process keeps the compiled unit of an
application's running campaigns and reuses it while the application's ``rules_version`` stamp
(bumped by every change that affects evaluation, attribute definitions included) is the one it
was compiled at, and until the next moment a campaign's schedule starts or ends. The attribute
schema (which request bodies are read with) and the application's row (its settings) are kept
the same way, under the stamp alone: every change to an application's settings bumps it too.
Nothing else is held in the process, so any number of processes can serve the same application.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaigns.evaluation import CampaignNode, GroupNode, select_by_groups
from campaigns.models import Application, Campaign, EvaluationGroup
from campaigns.selectors import AttributeSchema, attribute_schema, running_campaigns
from rules.catalogue import build_catalogue
from rules.engine import CompiledRulesets, EvaluationResult, compile_rulesets


@dataclass(frozen=True, slots=True)
class CompiledCampaigns:
    """What one compilation produced, and how long it holds."""

    rules_version: int
    valid_until: datetime | None
    campaigns: tuple[Campaign, ...]
    rules: CompiledRulesets
    tree: tuple[tuple[CampaignNode, ...], tuple[GroupNode, ...]] = ((), ())
    """The evaluation tree: where each campaign stands, and the groups (``select_by_groups``)."""

    def evaluate(self, binding: dict[str, Any], *, now: datetime) -> EvaluationResult:
        """Run the campaigns, and keep the effects their evaluation groups let through."""
        result = self.rules.evaluate(binding, now=now)
        campaigns, groups = self.tree
        if not groups:
            return result
        effects, _ = select_by_groups(result.effects, campaigns=campaigns, groups=groups)
        return result._replace(effects=effects)


_cache: dict[int, CompiledCampaigns] = {}
_schemas: dict[int, tuple[int, AttributeSchema]] = {}
_applications: dict[int, Application] = {}
_lock = threading.Lock()


def application_at_version(*, pk: int, rules_version: int) -> Application:
    """The application ``pk`` as it is at ``rules_version`` (just read from the database):
    the process's copy when it is that version, else loaded (one query). The copy is shared:
    callers must not change it."""
    cached = _applications.get(pk)
    if cached is not None and cached.rules_version == rules_version:
        return cached
    application = Application.objects.get(pk=pk)
    if application.rules_version == rules_version:
        with _lock:
            _applications[pk] = application
    return application


def attribute_schema_get(*, application: Application) -> AttributeSchema:
    """The custom attributes of ``application`` (cached per process under ``rules_version``,
    which must be fresh: loaded with the request's authentication or later)."""
    cached = _schemas.get(application.pk)
    if cached is not None and cached[0] == application.rules_version:
        return cached[1]
    schema = attribute_schema(application=application)
    with _lock:
        _schemas[application.pk] = (application.rules_version, schema)
    return schema


def compiled_campaigns_get(*, application: Application, now: datetime) -> CompiledCampaigns:
    """The compiled running campaigns of ``application`` at ``now`` (cached per process).

    ``application.rules_version`` must be fresh (loaded in the caller's transaction)."""
    cached = _cache.get(application.pk)
    if (
        cached is not None
        and cached.rules_version == application.rules_version
        and (cached.valid_until is None or now < cached.valid_until)
    ):
        return cached
    compiled = _compile(application=application, now=now)
    with _lock:
        _cache[application.pk] = compiled
    return compiled


def _compile(*, application: Application, now: datetime) -> CompiledCampaigns:
    campaigns = tuple(running_campaigns(application=application, now=now))
    rules = compile_rulesets(
        [
            (campaign.pk, campaign.active_ruleset.rules)
            for campaign in campaigns
            if campaign.active_ruleset
        ],
        catalogue=build_catalogue(
            custom_attributes=attribute_schema_get(application=application).types
        ),
    )
    groups = tuple(
        GroupNode(group.pk, group.mode, group.parent_id, group.position)
        for group in EvaluationGroup.objects.filter(application=application)
    )
    nodes = tuple(
        CampaignNode(campaign.pk, campaign.evaluation_group_id, campaign.position)
        for campaign in campaigns
    )
    return CompiledCampaigns(
        rules_version=application.rules_version,
        valid_until=_next_schedule_change(application=application, now=now),
        campaigns=campaigns,
        rules=rules,
        tree=(nodes, groups),
    )


def _next_schedule_change(*, application: Application, now: datetime) -> datetime | None:
    """The first moment after ``now`` at which a campaign starts or ends."""
    moments = [
        moment
        for start, end in Campaign.objects.filter(application=application).values_list(
            "start_time", "end_time"
        )
        for moment in (start, end)
        if moment is not None and moment > now
    ]
    return min(moments, default=None)


def compiled_campaigns_forget() -> None:
    """Drop every cached compilation (tests, and a process that wants a clean slate)."""
    with _lock:
        _cache.clear()
        _schemas.clear()
        _applications.clear()
