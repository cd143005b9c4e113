"""``GET /v1/integration/campaigns``: the application's running campaigns, for a shop that shows
its customers what is on offer.

"Running" is what evaluation would run now (``campaigns.selectors.running_campaigns``): enabled,
with an active ruleset, started and not ended, in evaluation order. The reference's filters
narrow that list: ``campaignIds`` (comma-separated), and ``startAfter``, ``startBefore``,
``endAfter``, ``endBefore`` (RFC 3339, or a bare date meaning its midnight in UTC; the bounds
are inclusive). A campaign without a start has started forever ago, one without an end never
ends: ``startAfter`` leaves out the first, ``endBefore`` the second. Pages are ``pageSize``
campaigns (1 to 1,000, 50 by default) after ``skip``, with ``hasMore``.

Each campaign is in the reference's shape with the fields this server has: ``attributes`` are
the campaign's custom attributes (those of the ``Campaign`` entity; a number as a number, a
time in RFC 3339), ``startTime`` and ``endTime`` are left out when the campaign has none, and
``rules`` are the active ruleset's rules, each with its ``title`` and the customer-facing
``displayName``, ``displayDescription`` and ``relatedData`` when the rule carries them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request

from campaigns.models import Application, AttributeDefinition, Campaign
from campaigns.selectors import running_campaigns
from campaigns.services.attribute_values import attribute_definitions
from integration.errors import BadRequest, ErrorItem
from integration.render import rfc3339
from integration.sessions import json_response
from integration.views import IntegrationView
from rules.values import parse_instant

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1_000
MAX_CAMPAIGN_IDS: Final = 1_000
"""Ours: the reference sets no limit on ``campaignIds``."""
RULE_DISPLAY_FIELDS: Final = ("displayName", "displayDescription", "relatedData")

_TIME_FILTERS: Final = {
    "startAfter": "start_time__gte",
    "startBefore": "start_time__lte",
    "endAfter": "end_time__gte",
    "endBefore": "end_time__lte",
}
"""Query parameter → lookup. A campaign without a start or end passes ``startBefore`` and
``endAfter`` (see the module)."""
_OPEN_ENDED: Final = {"startBefore": "start_time__isnull", "endAfter": "end_time__isnull"}


@dataclass(frozen=True, slots=True)
class CampaignQuery:
    """The query parameters of ``GET /v1/integration/campaigns``, parsed."""

    page_size: int = DEFAULT_PAGE_SIZE
    skip: int = 0
    campaign_ids: tuple[int, ...] | None = None
    times: tuple[tuple[str, datetime], ...] = ()
    """``(parameter, moment)`` for each time filter given."""


class IntegrationCampaignsView(IntegrationView):
    """List the running campaigns, filtered and paged as the query asks."""

    operation = "integrationGetAllCampaigns"

    def get(self, request: Request) -> HttpResponse:
        query = parse_campaign_query(request)
        campaigns = _filtered(
            running_campaigns(application=self.application, now=timezone.now()), query
        )
        page = list(campaigns[query.skip : query.skip + query.page_size + 1])
        types = campaign_attribute_types(self.application)
        return json_response(
            {
                "hasMore": len(page) > query.page_size,
                "data": [
                    render_campaign(campaign, attribute_types=types)
                    for campaign in page[: query.page_size]
                ],
            }
        )


def _filtered(campaigns: QuerySet[Campaign], query: CampaignQuery) -> QuerySet[Campaign]:
    if query.campaign_ids is not None:
        campaigns = campaigns.filter(pk__in=query.campaign_ids)
    for parameter, moment in query.times:
        condition = Q(**{_TIME_FILTERS[parameter]: moment})
        open_ended = _OPEN_ENDED.get(parameter)
        if open_ended is not None:
            condition |= Q(**{open_ended: True})
        campaigns = campaigns.filter(condition)
    return campaigns


def parse_campaign_query(request: Request) -> CampaignQuery:
    """The query's filters and page; raises ``BadRequest`` naming every bad parameter."""
    params = request.query_params
    problems: list[ErrorItem] = []
    page_size = _integer(params.get("pageSize"), "pageSize", 1, MAX_PAGE_SIZE, problems)
    skip = _integer(params.get("skip"), "skip", 0, None, problems)
    campaign_ids = _campaign_ids(params.get("campaignIds"), problems)
    times = []
    for parameter in _TIME_FILTERS:
        given = params.get(parameter)
        if given is None:
            continue
        moment = parse_instant(str(given), dates=True)
        if moment is None:
            problems.append(
                _problem(parameter, "must be an RFC 3339 time, such as 2024-05-29T15:04:05Z")
            )
        else:
            times.append((parameter, moment))
    if problems:
        raise BadRequest("The query parameters are not valid.", problems)
    return CampaignQuery(
        page_size=DEFAULT_PAGE_SIZE if page_size is None else page_size,
        skip=skip or 0,
        campaign_ids=campaign_ids,
        times=tuple(times),
    )


def _problem(parameter: str, details: str) -> ErrorItem:
    return ErrorItem(
        code="invalid_parameter", title="Invalid value", details=details, parameter=parameter
    )


def _integer(
    given: Any, parameter: str, low: int, high: int | None, problems: list[ErrorItem]
) -> int | None:
    if given is None:
        return None
    text = str(given)
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        problems.append(_problem(parameter, f"must be a whole number {bounds}"))
        return None
    return value


def _campaign_ids(given: Any, problems: list[ErrorItem]) -> tuple[int, ...] | None:
    if given is None or str(given) == "":
        return None
    parts = str(given).split(",")
    if len(parts) > MAX_CAMPAIGN_IDS:
        problems.append(_problem("campaignIds", f"must name at most {MAX_CAMPAIGN_IDS} campaigns"))
        return None
    ids = []
    for part in parts:
        text = part.strip()
        if not (text.isascii() and text.isdigit() and 0 < len(text) <= 18 and int(text) > 0):
            problems.append(
                _problem("campaignIds", f"must be campaign ids separated by commas, not {part!r}")
            )
            return None
        ids.append(int(text))
    return tuple(ids)


def campaign_attribute_types(application: Application) -> Mapping[str, str]:
    """The application's ``Campaign`` attributes: name → type name (one query)."""
    return attribute_definitions(application, AttributeDefinition.Entity.CAMPAIGN)


def render_attributes(stored: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """Stored campaign attributes as the APIs show them: numbers (stored as text) as numbers."""
    return {name: _shown(value, types.get(name, "")) for name, value in stored.items()}


def _shown(value: Any, type_name: str) -> Any:
    if isinstance(value, list):
        return [_shown(item, type_name.removeprefix("(list ").removesuffix(")")) for item in value]
    if type_name == "number" and isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:  # stored before its definition changed: shown as stored
            return value
    return value


def render_campaign(
    campaign: Campaign, *, attribute_types: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A campaign in the reference's shape (the running state is always ``enabled``).
    ``attribute_types``: ``campaign_attribute_types`` of its application, read once for a page
    of campaigns."""
    if attribute_types is None:
        attribute_types = campaign_attribute_types(campaign.application)
    rendered: dict[str, Any] = {
        "id": campaign.pk,
        "applicationId": campaign.application_id,
        "name": campaign.name,
        "description": campaign.description,
        "state": campaign.state,
        "tags": list(campaign.tags),
        "features": list(campaign.features),
        "attributes": render_attributes(campaign.attributes or {}, attribute_types),
    }
    if campaign.start_time is not None:
        rendered["startTime"] = rfc3339(campaign.start_time)
    if campaign.end_time is not None:
        rendered["endTime"] = rfc3339(campaign.end_time)
    ruleset = campaign.active_ruleset
    rendered["rules"] = [_rule(rule) for rule in (ruleset.rules if ruleset else [])]
    return rendered


def _rule(rule: Any) -> dict[str, Any]:
    if not isinstance(rule, dict):  # rulesets are validated when saved; this is a safeguard
        return {"title": ""}
    rendered = {"title": str(rule.get("title", ""))}
    for key in RULE_DISPLAY_FIELDS:
        value = rule.get(key)
        if isinstance(value, str) and value:
            rendered[key] = value
    return rendered
