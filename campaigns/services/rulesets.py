"""Rulesets: checked when saved, immutable once saved, one version active per campaign.

A campaign's rules change by saving a new ruleset version; the version that runs is the active
one. Saving type-checks every rule against the application's attribute catalogue (built-in
attributes plus its custom attribute definitions), and refuses the whole ruleset with every
error, each carrying a JSON pointer into the submitted list of rules (``/rules/2/condition/1``).
Anything that changes what evaluation does bumps the application's ``rules_version``, which the
per-process cache of compiled rules compares (``campaigns.evaluation``).

A ``triggerWebhook`` whose webhook id is written out must name a webhook of the application
and give it as many arguments as it has parameters (a computed id is checked when it runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from campaigns.attribute_updates import ENTITIES, attribute_path
from campaigns.models import Application, Campaign, Ruleset, Webhook
from campaigns.selectors import attribute_schema
from rules.catalogue import build_catalogue
from rules.engine import Rule, check_rule
from rules.errors import RuleError, RuleTypeError
from rules.types import Type


class RulesetInvalid(Exception):
    """A ruleset that does not check; ``errors`` hold every problem, with pointers."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        super().__init__(f"the ruleset has {len(errors)} error(s)")
        self.errors = list(errors)


def ruleset_check(*, application: Application, rules: Sequence[Any]) -> list[RuleError]:
    """Every problem in ``rules`` (Talon.One rule objects), pointers relative to the list."""
    if not isinstance(rules, list | tuple):
        return [RuleError("rules are a list of rule objects", pointer="/rules")]
    schema = attribute_schema(application=application)
    catalogue = build_catalogue(custom_attributes=schema.types)
    errors: list[RuleError] = []
    webhook_calls: list[tuple[int, int, str]] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            errors.append(RuleError("a rule is an object", pointer=f"/rules/{index}"))
            continue
        for error in check_rule(rule, catalogue=catalogue):
            error.pointer = f"/rules/{index}{error.pointer}"
            errors.append(error)
        effects = rule.get("effects")
        if isinstance(effects, list):
            errors += _attribute_updates_check(effects, f"/rules/{index}/effects", schema.types)
            _webhook_calls(effects, f"/rules/{index}/effects", webhook_calls)
    if webhook_calls:
        errors += _webhook_calls_check(application, webhook_calls)
    return errors


def _webhook_calls(node: Any, pointer: str, found: list[tuple[int, int, str]]) -> None:
    """Collect each ``triggerWebhook`` in ``node`` with a literal webhook id: ``(id, number of
    arguments, pointer)``."""
    if not isinstance(node, list):
        return
    if len(node) >= 2 and node[0] == "triggerWebhook":
        webhook_id = node[1]
        if isinstance(webhook_id, int | float | Decimal) and not isinstance(webhook_id, bool):
            try:
                whole = int(webhook_id)
            except (ArithmeticError, ValueError):  # an infinity or NaN: the engine refuses it
                return
            if whole == webhook_id:
                found.append((whole, len(node) - 2, pointer))
        return
    for position, child in enumerate(node):
        _webhook_calls(child, f"{pointer}/{position}", found)


def _webhook_calls_check(
    application: Application, calls: Sequence[tuple[int, int, str]]
) -> list[RuleError]:
    """An error for each ``triggerWebhook`` naming no webhook of the application, or giving
    it another number of arguments than it has parameters (one query)."""
    ids = {webhook_id for webhook_id, _, _ in calls if 0 < webhook_id < 2**63}
    params = dict(
        Webhook.objects.filter(pk__in=ids, applications=application).values_list("pk", "params")
    )
    errors: list[RuleError] = []
    for webhook_id, count, pointer in calls:
        if webhook_id not in params:
            errors.append(
                RuleTypeError(
                    f"triggerWebhook names webhook {webhook_id}, and the application has no "
                    "such webhook (GET /v1/webhooks lists them)",
                    pointer=f"{pointer}/1",
                )
            )
        elif len(params[webhook_id]) != count:
            errors.append(
                RuleTypeError(
                    f"webhook {webhook_id} takes {len(params[webhook_id])} argument(s) after its "
                    f"id, in the order of its parameters, not {count}",
                    pointer=pointer,
                )
            )
    return errors


def _attribute_updates_check(
    node: Any, pointer: str, types: Mapping[str, Mapping[str, Type]]
) -> list[RuleError]:
    """An error for each ``updateAttribute`` in ``node`` whose literal path names no custom
    attribute of the session or the profile (a computed path is checked when it runs)."""
    if not isinstance(node, list):
        return []
    if len(node) == 3 and node[0] == "updateAttribute":
        path = node[1]
        if isinstance(path, list) and path[:1] == ["list"]:
            if not all(isinstance(part, str) for part in path[1:]):
                return []
            path = ".".join(path[1:])
        if not isinstance(path, str):
            return []
        parsed = attribute_path(path)
        if parsed is not None and parsed[1] in types.get(ENTITIES[parsed[0]], {}):
            return []
        return [
            RuleTypeError(
                f"updateAttribute can set a custom attribute of the Session or the Profile "
                f"(Profile.Attributes.<name>), and {path!r} names none",
                pointer=f"{pointer}/1",
            )
        ]
    found: list[RuleError] = []
    for position, child in enumerate(node):
        found += _attribute_updates_check(child, f"{pointer}/{position}", types)
    return found


class NumberTooPrecise(RuleError):
    """A number in a rule that a JSON column cannot store exactly."""

    code = "number_too_precise"


def _json_numbers(value: Any, pointer: str, errors: list[RuleError]) -> Any:
    """``value`` with each ``Decimal`` as a float, an error for each a float would change."""
    if isinstance(value, Decimal):
        number = float(value)
        if not value.is_finite() or Decimal(repr(number)) != value:
            errors.append(
                NumberTooPrecise(
                    "A number in a rule may have at most 15 significant digits.", pointer=pointer
                )
            )
        return number
    if isinstance(value, list):
        return [
            _json_numbers(item, f"{pointer}/{index}", errors) for index, item in enumerate(value)
        ]
    if isinstance(value, dict):
        return {
            key: _json_numbers(item, f"{pointer}/{_token(key)}", errors)
            for key, item in value.items()
        }
    return value


def _token(key: Any) -> str:
    """A JSON pointer's reference token for ``key`` (RFC 6901 escapes)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def applications_rules_changed(*, application_ids: Iterable[int]) -> None:
    """Bump the stamp that invalidates every process's compiled rules of these applications."""
    Application.objects.filter(pk__in=set(application_ids)).update(
        rules_version=F("rules_version") + 1
    )


@transaction.atomic
def ruleset_create(*, campaign: Campaign, rules: Sequence[Any], activate: bool = False) -> Ruleset:
    """Save a new version of a campaign's rules (checked first), optionally making it active.

    Rules read from a request with exact ``Decimal`` numbers are stored with each number as
    the float a JSON column holds (the engine reads it back through its text); a number whose
    text a float would not keep is refused (``NumberTooPrecise``)."""
    numbers: list[RuleError] = []
    rules = _json_numbers(list(rules), "/rules", numbers) if isinstance(rules, list) else rules
    errors = numbers or ruleset_check(application=campaign.application, rules=rules)
    if errors:
        raise RulesetInvalid(errors)
    # The campaign row lock orders concurrent saves, so versions are gapless and unique.
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    latest = locked.rulesets.aggregate(latest=Max("version"))["latest"] or 0
    ruleset = Ruleset.objects.create(
        campaign=locked,
        version=latest + 1,
        rules=[Rule.from_dict(rule).as_dict() for rule in rules],
    )
    if activate:
        _activate(campaign=locked, ruleset=ruleset)
    return ruleset


@transaction.atomic
def ruleset_activate(*, ruleset: Ruleset) -> Ruleset:
    """Make ``ruleset`` the version its campaign runs."""
    campaign = Campaign.objects.select_for_update().get(pk=ruleset.campaign_id)
    _activate(campaign=campaign, ruleset=ruleset)
    return ruleset


def _activate(*, campaign: Campaign, ruleset: Ruleset) -> None:
    ruleset.activated_at = timezone.now()
    ruleset.save(update_fields=["activated_at"])
    campaign.active_ruleset = ruleset
    campaign.save(update_fields=["active_ruleset"])
    applications_rules_changed(application_ids=[campaign.application_id])
