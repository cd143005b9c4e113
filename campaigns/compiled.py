"""The running campaigns of an application, compiled, its attribute schema and its own row,
cached in the process.

Compiling is done once per change, not per request: each process keeps the compiled unit of an
application's running campaigns and reuses it while the application's ``rules_version`` stamp
(bumped by every change that affects evaluation, attribute definitions included) is the one it
was compiled at, and until the next moment a campaign's schedule starts or ends. The attribute
schema (which request bodies are read with) and the application's row (its settings) are kept
the same way, under the stamp alone: every change to an application's settings bumps it too.
Nothing else is held in the process, so any number of processes can serve the same application.

Each campaign's rules read that campaign as ``Campaign`` (its id, name, tags and custom
attributes): compiled in as constants of its ruleset, which the stamp keeps fresh, since every
change to a campaign bumps it (``campaigns.services.campaigns``).

``CompiledCampaigns.evaluate`` runs the campaigns and keeps what their evaluation groups let
through; with ``cascade`` (``cascade_settings(application)``) discounts cascade: each campaign
sees the session as the campaigns before it left it (``campaigns.evaluation.Cascade``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from campaigns.evaluation import (
    CampaignNode,
    CampaignShift,
    Cascade,
    CascadeSettings,
    Exclusion,
    GroupNode,
    select_by_groups,
    typed_attributes,
)
from campaigns.models import Application, Campaign, EvaluationGroup
from campaigns.models.budgets import CampaignLimit
from campaigns.selectors import AttributeSchema, attribute_schema, running_campaigns
from campaigns.services.budgets import LimitSpec
from rules.catalogue import CAMPAIGN, build_catalogue
from rules.engine import (
    Between,
    CompiledRulesets,
    FiredEffect,
    RuleFailure,
    RuleRef,
    Scope,
    compile_rulesets,
)
from rules.types import Type


class CampaignsEvaluation(NamedTuple):
    """What evaluating the running campaigns gave."""

    effects: list[FiredEffect]
    """What the evaluation groups let through, in evaluation order; granted (rounded and cut
    down to what was left) when discounts cascade."""
    failures: list[RuleFailure]
    fired: list[RuleRef]
    exclusions: list[Exclusion]
    """The campaigns their groups set aside, with the group, its mode and the reason."""

    def set_aside(self) -> list[tuple[RuleRef, Exclusion]]:
        """Each rule that fired in a campaign its group set aside, with the exclusion: the rules
        whose effects the customer does not get although their conditions held."""
        if not self.exclusions:
            return []
        excluded = {exclusion.campaign_id: exclusion for exclusion in self.exclusions}
        return [(rule, excluded[rule.ruleset]) for rule in self.fired if rule.ruleset in excluded]


@dataclass(frozen=True, slots=True)
class CompiledCampaigns:
    """What one compilation produced, and how long it holds."""

    rules_version: int
    valid_until: datetime | None
    campaigns: tuple[Campaign, ...]
    rules: CompiledRulesets
    tree: tuple[tuple[CampaignNode, ...], tuple[GroupNode, ...]] = ((), ())
    """The evaluation tree: where each campaign stands, and the groups (``select_by_groups``)."""
    campaign_names: Mapping[int, str] = field(default_factory=dict)
    """Campaign id → its name, for answers that name campaigns (and the running campaigns'
    ids, as its keys)."""
    ruleset_ids: Mapping[int, int] = field(default_factory=dict)
    """Campaign id → its active ruleset's id, 0 for none."""
    limits: Mapping[int, tuple[LimitSpec, ...]] = field(default_factory=dict)
    """Campaign id → its budgets (``campaigns.services.budgets``), for the campaigns that
    have any."""
    coupon_rules: Mapping[tuple[int, int], str] = field(default_factory=dict)
    """The rules whose condition asks ``couponValid``, ``(campaign id, rule index)`` → title:
    a coupon is accepted when one of these of its campaign fires."""
    referral_rules: Mapping[tuple[int, int], str] = field(default_factory=dict)
    """The same for ``referralValid`` and referral codes."""
    coupon_redeeming: frozenset[tuple[int, int]] = frozenset()
    """The rules of ``coupon_rules`` that redeem the coupon they accept: all but those whose
    every ``couponValid`` says ``false`` ("without redemption")."""

    def evaluate(
        self,
        binding: dict[str, Any],
        *,
        now: datetime,
        cascade: CascadeSettings | None = None,
        coupons: Mapping[int, Mapping[str, Any]] | None = None,
        referrals: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> CampaignsEvaluation:
        """Run the campaigns, and keep the effects their evaluation groups let through.

        With ``cascade``, each campaign sees the session as the campaigns before it left it;
        with ``coupons`` (campaign id → its ``Coupon`` binding), each campaign sees its own
        coupon, and with ``referrals`` its own referral. These run the campaigns one at a time;
        ``binding`` itself is left as it was.
        """
        campaigns, groups = self.tree
        if cascade is not None or coupons or referrals:
            binding = dict(binding)
            hooks: list[Between] = []
            cascading = None
            if cascade is not None:
                cascading = Cascade(
                    binding,
                    order=self.rules.keys,
                    campaigns=campaigns,
                    groups=groups,
                    minor_units=cascade.minor_units,
                )
                hooks.append(cascading)
            for name, values in (("Coupon", coupons), ("Referral", referrals)):
                if values:
                    hooks.append(
                        CampaignShift(binding, name=name, order=self.rules.keys, values=values)
                    )

            def between(campaign: Any, effects: list[FiredEffect]) -> None:
                for hook in hooks:
                    hook(campaign, effects)

            result = self.rules.evaluate(binding, now=now, between=between)
            if cascading is not None:
                effects, exclusions = cascading.outcome()
                return CampaignsEvaluation(effects, result.failures, result.fired, exclusions)
        else:
            result = self.rules.evaluate(binding, now=now)
        if not groups:
            return CampaignsEvaluation(result.effects, result.failures, result.fired, [])
        effects, exclusions = select_by_groups(result.effects, campaigns=campaigns, groups=groups)
        return CampaignsEvaluation(effects, result.failures, result.fired, exclusions)


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


def _limits(campaigns: Sequence[Campaign]) -> dict[int, tuple[LimitSpec, ...]]:
    found: dict[int, list[LimitSpec]] = {}
    for limit in CampaignLimit.objects.filter(campaign__in=campaigns).order_by("pk"):
        found.setdefault(limit.campaign_id, []).append(LimitSpec.of(limit))
    return {campaign: tuple(limits) for campaign, limits in found.items()}


def _asking(rules: CompiledRulesets, function: str) -> dict[tuple[int, int], str]:
    """``(campaign id, rule index)`` → title of the rules whose condition calls ``function``."""
    return {
        (key, index): rule.title
        for key, ruleset in zip(rules.keys, rules.rulesets, strict=True)
        for index, rule in enumerate(ruleset)
        if _asks(rule.condition, function)
    }


def _redeeming(rules: CompiledRulesets, key: tuple[int, int]) -> bool:
    """Whether the rule ``key`` asks ``couponValid`` other than as ``(couponValid false)``."""
    campaign, index = key
    rule = rules.rulesets[rules.keys.index(campaign)][index]
    return _calls(rule.condition, "couponValid", lambda call: call[1:] != [False])


def _calls(expression: Any, function: str, which: Callable[[list[Any]], bool]) -> bool:
    """Whether ``expression`` calls ``function`` anywhere in a way ``which`` accepts."""
    if not isinstance(expression, list) or not expression:
        return False
    if expression[0] == function and which(expression):
        return True
    return any(_calls(part, function, which) for part in expression[1:])


def _asks(expression: Any, function: str) -> bool:
    """Whether ``expression`` (a rule's JSON) calls ``function`` anywhere."""
    if not isinstance(expression, list) or not expression:
        return False
    return expression[0] == function or any(_asks(part, function) for part in expression[1:])


def cascade_settings(application: Application) -> CascadeSettings | None:
    """How ``application``'s discounts cascade (``CompiledCampaigns.evaluate``'s ``cascade``):
    None when they do not."""
    if not application.enable_cascading_discounts:
        return None
    return CascadeSettings(minor_units=application.minor_units)


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


def campaign_scope(campaign: Campaign, types: Mapping[str, Type]) -> Scope:
    """What the rules of ``campaign`` read as ``Campaign``: its id (a number), name, tags and
    custom attributes (typed as the application's ``Campaign`` attribute definitions say)."""
    return {
        CAMPAIGN: {
            "Id": Decimal(campaign.pk),
            "Name": campaign.name,
            "Tags": list(campaign.tags),
            "Attributes": typed_attributes(campaign.attributes or {}, types),
        }
    }


def _compile(*, application: Application, now: datetime) -> CompiledCampaigns:
    campaigns = tuple(running_campaigns(application=application, now=now))
    types = attribute_schema_get(application=application).types
    rules = compile_rulesets(
        [
            (campaign.pk, campaign.active_ruleset.rules)
            for campaign in campaigns
            if campaign.active_ruleset
        ],
        catalogue=build_catalogue(custom_attributes=types),
        scopes={
            campaign.pk: campaign_scope(campaign, types.get(CAMPAIGN, {})) for campaign in campaigns
        },
        # Built now rather than on the first session update that needs them.
        one_at_a_time=application.enable_cascading_discounts,
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
        campaign_names={c.pk: c.name for c in campaigns},
        ruleset_ids={c.pk: c.active_ruleset_id or 0 for c in campaigns},
        limits=_limits(campaigns),
        coupon_rules=_asking(rules, "couponValid"),
        coupon_redeeming=frozenset(
            key for key in _asking(rules, "couponValid") if _redeeming(rules, key)
        ),
        referral_rules=_asking(rules, "referralValid"),
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
