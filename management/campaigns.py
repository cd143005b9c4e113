"""``/v1/applications/{applicationId}/campaigns``: an application's campaigns and their
rulesets, as Talon.One's Management API serves them.

- ``getCampaigns`` (viewer) lists them, filtered and paged (``paginate``); ``createCampaign``
  (editor) makes one, with its budgets (``limits``).
- ``getCampaign`` (viewer), ``updateCampaign`` (editor) and ``deleteCampaign`` (admin: deleting
  takes the campaign's coupons, referral codes and budget counters with it and cannot be undone;
  an editor archives instead, ``state: archived``).
- ``getRulesets`` and ``getRuleset`` (viewer) read a campaign's rule versions; ``createRuleset``
  (editor; in Talon.One's SDKs, no longer in its current reference) saves a new version, checked
  against the application's attributes, and makes it the active one with ``activate: true``.
  A version is also activated as Talon.One does it, by ``updateCampaign`` with
  ``activeRulesetId``.
- ``copyCampaignToApplications`` (viewer of the campaign's application, editor of every target)
  copies a campaign into applications, all or none (``campaigns.services.campaigns.campaign_copy``:
  disabled copies with the active rules, budgets and attributes, no codes or counters).
- ``getCampaignByAttributes`` (viewer) lists the campaigns whose custom attributes have the
  values asked for, paged and filtered by ``campaignState`` as ``getCampaigns``.
- ``getCampaignAnalytics`` is in ``management.campaign_analytics``.

Bodies are read as Talon.One's ``NewCampaign``/``UpdateCampaign``/``NewRuleset`` with the fields
a campaign has here (``attributes`` must be defined for the ``Campaign`` entity and of their
type); the others (``couponSettings``, ``campaignGroups`` …) are ignored. ``updateCampaign``
changes the fields it is sent and keeps the others; ``limits``, when sent, replace the
campaign's budgets. Every change that can change what evaluation does (any campaign write, a
new active ruleset) bumps the application's ``rules_version``, so the compiled rules of every
process are rebuilt.

Answers are in Talon.One's ``Campaign`` shape: the Integration API's rendering
(``integration.campaigns.render_campaign``) plus ``created``, ``updated``, ``activeRulesetId``,
``evaluationGroupId``, ``attributes`` and ``limits``. Talon.One's ``userId`` (who created it)
is not recorded here, so it is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from django.db.models import Func, Prefetch, Q, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request

from campaigns.json_queries import array_has_text, having_number, having_value
from campaigns.models import Application, Campaign, EvaluationGroup, Ruleset
from campaigns.models.budgets import (
    AMOUNT_DIGITS,
    AMOUNT_PLACES,
    LIMIT_ENTITIES,
    CampaignLimit,
    LimitAction,
    LimitPeriod,
)
from campaigns.models.campaigns import CAMPAIGN_FEATURES, CampaignState
from campaigns.selectors import (
    CAMPAIGN_STATES,
    campaign_get,
    campaign_list,
    campaigns_in_state,
)
from campaigns.services.campaigns import (
    CampaignInvalid,
    CopyChanges,
    CopyRefused,
    CopyTarget,
    Keep,
    campaign_attributes_checked,
    campaign_copy,
    campaign_create,
    campaign_delete,
    campaign_update,
)
from campaigns.services.rulesets import ruleset_create
from integration.campaigns import campaign_attribute_types, render_campaign
from integration.errors import BadRequest, ErrorItem, IntegrationError, NotFound
from integration.render import dumps, rfc3339
from management.models import Role
from management.views import (
    MAX_ID,
    CampaignScopedView,
    ManagementView,
    RFC3339Field,
    paginate,
)
from rules.values import parse_instant
from talonone.schema import PAGE_PARAMETERS, page_of

#: Talon.One's bounds on a campaign's tags.
MAX_TAGS: Final = 50
MAX_TAG_LENGTH: Final = 50
#: Ours: the most budgets one campaign may have.
MAX_LIMITS: Final = 100
#: The model's bound on a campaign's name.
MAX_NAME_LENGTH: Final = 200

#: The fields ``getCampaigns`` sorts by: API name to model field.
CAMPAIGN_SORT_FIELDS: Final = {
    "id": "id",
    "name": "name",
    "created": "created",
    "updated": "modified",
    "startTime": "start_time",
    "endTime": "end_time",
    "state": "state",
}
#: The fields ``getRulesets`` sorts by.
RULESET_SORT_FIELDS: Final = {"id": "id", "created": "created"}

#: ``getCampaigns``' time filters: query parameter → lookup (bounds inclusive). As in the
#: Integration API, a campaign without a start passes ``startBefore``, one without an end
#: passes ``endAfter``.
_TIME_FILTERS: Final = {
    "createdBefore": "created__lte",
    "createdAfter": "created__gte",
    "startBefore": "start_time__lte",
    "startAfter": "start_time__gte",
    "endBefore": "end_time__lte",
    "endAfter": "end_time__gte",
}
_OPEN_ENDED: Final = {"startBefore": "start_time__isnull", "endAfter": "end_time__isnull"}

#: Filters of things campaigns here never belong to (access groups, templates, stores): a
#: valid id matches no campaign.
_UNMODELLED_FILTERS: Final = ("campaignGroupId", "templateId", "storeId")

#: API field → model field of the campaign's plain fields.
_CAMPAIGN_FIELDS: Final = {
    "name": "name",
    "description": "description",
    "state": "state",
    "startTime": "start_time",
    "endTime": "end_time",
    "tags": "tags",
    "features": "features",
    "attributes": "attributes",
}
#: Model field → API field, for the services' errors.
_API_FIELDS: Final = {model: api for api, model in _CAMPAIGN_FIELDS.items()}

#: Ours: the most applications one copy request may name.
MAX_COPY_TARGETS: Final = 100


# ---------------------------------------------------------------------------------------------
# Bodies


class LimitInput(serializers.Serializer[Any]):
    """One of ``limits``: Talon.One's ``LimitConfig`` with the actions, periods and entities
    budgets have here."""

    action = serializers.ChoiceField(choices=LimitAction.values)
    limit = serializers.DecimalField(
        max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, min_value=0
    )
    period = serializers.ChoiceField(
        choices=[period for period in LimitPeriod.values if period],
        required=False,
        allow_blank=True,
        allow_null=True,
    )
    entities = serializers.ListField(
        child=serializers.ChoiceField(choices=LIMIT_ENTITIES), required=False, allow_empty=True
    )

    def validate_entities(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Name each entity once.", code="duplicate")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A budget is always sent whole, also in ``updateCampaign``, whose partial body would
        # otherwise let DRF skip its required fields.
        required = str(self.error_messages["required"])  # "This field is required."
        missing = {
            name: [serializers.ErrorDetail(required, code="required")]
            for name in ("action", "limit")
            if name not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        return {
            "action": attrs["action"],
            "limit": attrs["limit"],
            "period": attrs.get("period") or "",
            "entities": attrs.get("entities", []),
        }


class CampaignInput(serializers.Serializer[Any]):
    """The body of ``createCampaign`` (``NewCampaign``), the fields a campaign has here."""

    name = serializers.CharField(max_length=MAX_NAME_LENGTH)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    state = serializers.ChoiceField(choices=CampaignState.values, required=False)
    startTime = RFC3339Field(required=False, allow_null=True)
    endTime = RFC3339Field(required=False, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=MAX_TAG_LENGTH),
        max_length=MAX_TAGS,
        required=False,
    )
    features = serializers.ListField(
        child=serializers.ChoiceField(choices=CAMPAIGN_FEATURES), required=False
    )
    limits = serializers.ListField(child=LimitInput(), max_length=MAX_LIMITS, required=False)
    evaluationGroupId = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    attributes = serializers.DictField(required=False)

    def validate_features(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class CampaignUpdateInput(CampaignInput):
    """The body of ``updateCampaign`` (``UpdateCampaign``): every field is optional (those not
    sent are kept), and ``activeRulesetId`` names the version to run."""

    activeRulesetId = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class RulesetInput(serializers.Serializer[Any]):
    """The body of ``createRuleset`` (``NewRuleset``): ``rules`` (checked by the service) and
    whether to activate them. ``bindings``, ``strikethroughRules`` and ``rbVersion`` are not
    read. Numbers in rules are stored as JSON floats, so one with more digits than a float
    keeps is refused rather than rounded."""

    rules = serializers.ListField(allow_empty=True)
    activate = serializers.BooleanField(required=False, default=False)


class CampaignCopyInput(serializers.Serializer[Any]):
    """The body of ``copyCampaignToApplications``: the target applications, and what the copies
    change (the rest is the original's). ``evaluationGroupId`` must name a group of every
    target, so it suits a copy into one application."""

    applicationIds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=MAX_COPY_TARGETS,
    )
    name = serializers.CharField(max_length=MAX_NAME_LENGTH, required=False)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    startTime = RFC3339Field(required=False, allow_null=True)
    endTime = RFC3339Field(required=False, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=MAX_TAG_LENGTH),
        max_length=MAX_TAGS,
        required=False,
    )
    evaluationGroupId = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)

    def validate_applicationIds(self, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Name each application once.", code="duplicate")
        return value


class CampaignSearchInput(serializers.Serializer[Any]):
    """The body of ``getCampaignByAttributes``: the attribute values a campaign must have."""

    attributes = serializers.DictField()


class LimitSerializer(serializers.Serializer[Any]):
    """A budget in an answer (``render_limit``)."""

    action = serializers.ChoiceField(choices=LimitAction.values)
    limit = serializers.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    period = serializers.CharField(required=False)
    entities = serializers.ListField(child=serializers.CharField())


class CampaignRuleSerializer(serializers.Serializer[Any]):
    """A rule of the active ruleset, as a campaign shows it."""

    title = serializers.CharField(allow_blank=True)
    displayName = serializers.CharField(required=False)
    displayDescription = serializers.CharField(required=False)
    relatedData = serializers.CharField(required=False)


class CampaignSerializer(serializers.Serializer[Any]):
    """The answer: Talon.One's ``Campaign`` as ``render_management_campaign`` writes it."""

    id = serializers.IntegerField()
    applicationId = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=CampaignState.values)
    tags = serializers.ListField(child=serializers.CharField())
    features = serializers.ListField(child=serializers.ChoiceField(choices=CAMPAIGN_FEATURES))
    startTime = serializers.DateTimeField(required=False)
    endTime = serializers.DateTimeField(required=False)
    rules = CampaignRuleSerializer(many=True)
    attributes = serializers.DictField()
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()
    activeRulesetId = serializers.IntegerField(required=False)
    evaluationGroupId = serializers.IntegerField(required=False)
    limits = LimitSerializer(many=True)


class RulesetSerializer(serializers.Serializer[Any]):
    """The answer: Talon.One's ``Ruleset`` as ``render_ruleset`` writes it (``activatedAt``
    only once the version has run)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    campaignId = serializers.IntegerField()
    rules = serializers.ListField(child=serializers.DictField())
    strikethroughRules = serializers.ListField(child=serializers.JSONField())
    bindings = serializers.ListField(child=serializers.JSONField())
    activatedAt = serializers.DateTimeField(required=False)

    class Meta:
        ref_name = "Ruleset"


#: The answer of ``copyCampaignToApplications``: the copies, in the order asked.
CAMPAIGN_COPIES: Final = inline_serializer(
    "CampaignCopies",
    {"totalResultSize": serializers.IntegerField(), "data": CampaignSerializer(many=True)},
)


def _valid(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data


def _invalid(pointer: str, details: str, *, code: str = "invalid") -> BadRequest:
    item = ErrorItem(code=code, title="Invalid value", details=details, pointer=pointer)
    return BadRequest("The request is not valid.", [item], code=code)


def _model_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The body's plain campaign fields as model fields (a ``null`` time clears it)."""
    return {
        _CAMPAIGN_FIELDS[name]: value for name, value in data.items() if name in _CAMPAIGN_FIELDS
    }


def _campaign_invalid(error: CampaignInvalid) -> BadRequest:
    field = _API_FIELDS.get(error.field, error.field)
    code = "attribute_not_valid" if field == "attributes" else "invalid"
    return _invalid(f"/{field}", error.details, code=code)


def _schedule_check(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise _invalid("/endTime", "endTime must be after startTime.", code="ends_before_start")


def _evaluation_group(application: Application, group_id: int | None) -> EvaluationGroup | None:
    if group_id is None:
        return None
    group = EvaluationGroup.objects.filter(application=application, pk=group_id).first()
    if group is None:
        raise _invalid(
            "/evaluationGroupId",
            f"There is no evaluation group {group_id} in this application.",
            code="evaluation_group_not_found",
        )
    return group


# ---------------------------------------------------------------------------------------------
# Answers


def render_limit(limit: CampaignLimit) -> dict[str, Any]:
    """A budget as Talon.One's ``LimitConfig`` (no ``period`` when it never starts again)."""
    rendered: dict[str, Any] = {"action": limit.action, "limit": limit.limit}
    if limit.period:
        rendered["period"] = limit.period
    rendered["entities"] = list(limit.entities or [])
    return rendered


#: Where a list of campaigns keeps each one's budgets, read with one query for the page.
_PREFETCHED_LIMITS: Final = "prefetched_limits"


def render_management_campaign(
    campaign: Campaign, *, attribute_types: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``campaign`` as the Management API's ``Campaign`` (see the module). ``attribute_types``:
    ``campaign_attribute_types`` of its application, read once for a page of campaigns."""
    rendered = render_campaign(campaign, attribute_types=attribute_types)
    rendered["created"] = rfc3339(campaign.created)
    rendered["updated"] = rfc3339(campaign.modified)
    if campaign.active_ruleset_id is not None:
        rendered["activeRulesetId"] = campaign.active_ruleset_id
    if campaign.evaluation_group_id is not None:
        rendered["evaluationGroupId"] = campaign.evaluation_group_id
    limits = getattr(campaign, _PREFETCHED_LIMITS, None)
    if limits is None:
        limits = CampaignLimit.objects.filter(campaign=campaign).order_by("pk")
    rendered["limits"] = [render_limit(limit) for limit in limits]
    return rendered


def _renderer(application: Application) -> Callable[[Campaign], dict[str, Any]]:
    """``render_management_campaign`` for a page of ``application``'s campaigns."""
    types = campaign_attribute_types(application)
    return lambda campaign: render_management_campaign(campaign, attribute_types=types)


def _with_limits(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """``campaigns`` with their budgets, read with one query for the page."""
    return campaigns.prefetch_related(
        Prefetch("limits", CampaignLimit.objects.order_by("pk"), to_attr=_PREFETCHED_LIMITS)
    )


def render_ruleset(ruleset: Ruleset) -> dict[str, Any]:
    """``ruleset`` as Talon.One's ``Ruleset``."""
    rendered: dict[str, Any] = {
        "id": ruleset.pk,
        "created": rfc3339(ruleset.created),
        "campaignId": ruleset.campaign_id,
        "rules": ruleset.rules,
        "strikethroughRules": ruleset.strikethrough_rules,
        "bindings": ruleset.bindings,
    }
    if ruleset.activated_at is not None:
        rendered["activatedAt"] = rfc3339(ruleset.activated_at)
    return rendered


def _json(data: Any, *, status: int = 200) -> HttpResponse:
    # ``dumps`` writes budgets' amounts as exact numbers (DRF's encoder would make floats).
    return HttpResponse(dumps(data), status=status, content_type="application/json")


# ---------------------------------------------------------------------------------------------
# Filters of getCampaigns


def _campaigns_filtered(request: Request, campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """``campaigns`` narrowed by ``getCampaigns``' query parameters; ``BadRequest`` naming
    every parameter that is not valid."""
    params = request.query_params
    problems: list[ErrorItem] = []

    def problem(parameter: str, details: str) -> None:
        problems.append(
            ErrorItem(
                code="invalid_query_parameter",
                title="Invalid value",
                details=details,
                parameter=parameter,
            )
        )

    state = params.get("campaignState")
    if state is not None:
        if state in CAMPAIGN_STATES:
            campaigns = campaigns_in_state(campaigns, state, now=timezone.now())
        else:
            problem("campaignState", f"campaignState may be one of {', '.join(CAMPAIGN_STATES)}.")
    for parameter, lookup in _TIME_FILTERS.items():
        text = params.get(parameter)
        if text is None:
            continue
        moment = parse_instant(text)
        if moment is None:
            problem(
                parameter, f"{parameter} must be an RFC 3339 time, such as 2026-07-01T00:00:00Z."
            )
            continue
        condition = Q(**{lookup: moment})
        open_ended = _OPEN_ENDED.get(parameter)
        if open_ended is not None:
            condition |= Q(**{open_ended: True})
        campaigns = campaigns.filter(condition)
    for parameter in _UNMODELLED_FILTERS:
        text = params.get(parameter)
        if text is None:
            continue
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            problem(parameter, f"{parameter} must be a whole number.")
        else:
            campaigns = campaigns.none()
    words = Q()
    name = params.get("name")
    if name:
        words |= Q(name__icontains=name)
    tag = params.get("tags")
    if tag:
        campaigns = campaigns.annotate(_tagged=_tag_like(tag))
        words |= Q(_tagged=True)
    if problems:
        raise BadRequest("The query parameters are not valid.", problems)
    return campaigns.filter(words)


def _tag_like(text: str) -> Func:
    """Whether any of the campaign's tags contains ``text``, ignoring case (on SQLite, the
    case of ASCII letters only)."""
    return array_has_text("tags", text)


# ---------------------------------------------------------------------------------------------
# Views


class CampaignsView(ManagementView):
    operation = {"GET": "getCampaigns", "POST": "createCampaign"}

    @extend_schema(
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("sort", str),
            OpenApiParameter("campaignState", str, enum=CAMPAIGN_STATES),
            OpenApiParameter("name", str),
            OpenApiParameter("tags", str),
            *(OpenApiParameter(name, OpenApiTypes.DATETIME) for name in _TIME_FILTERS),
            *(OpenApiParameter(name, int) for name in _UNMODELLED_FILTERS),
        ],
        responses={200: page_of(CampaignSerializer)},
    )
    def get(self, request: Request, application_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        campaigns = _campaigns_filtered(request, campaign_list(application=application))
        page = paginate(
            request,
            _with_limits(campaigns),
            sortable=CAMPAIGN_SORT_FIELDS,
            render=_renderer(application),
        )
        return _json(page)

    @extend_schema(request=CampaignInput, responses={201: CampaignSerializer})
    def post(self, request: Request, application_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.EDITOR)
        data = _valid(CampaignInput(data=request.data))
        _schedule_check(data.get("startTime"), data.get("endTime"))
        try:
            campaign = campaign_create(
                application=application,
                values=_model_values(data),
                evaluation_group=_evaluation_group(application, data.get("evaluationGroupId")),
                limits=data.get("limits", []),
            )
        except CampaignInvalid as error:
            raise _campaign_invalid(error) from None
        created = campaign_get(application=application, id=campaign.pk)
        return _json(render_management_campaign(created), status=201)


class CampaignView(CampaignScopedView):
    operation = {"GET": "getCampaign", "PUT": "updateCampaign", "DELETE": "deleteCampaign"}

    @extend_schema(responses={200: CampaignSerializer})
    def get(self, request: Request, application_id: int, campaign_id: int) -> HttpResponse:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.VIEWER)
        return _json(render_management_campaign(campaign))

    @extend_schema(request=CampaignUpdateInput(partial=True), responses={200: CampaignSerializer})
    def put(self, request: Request, application_id: int, campaign_id: int) -> HttpResponse:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        application = campaign.application
        data = _valid(CampaignUpdateInput(data=request.data, partial=True))
        _schedule_check(
            data.get("startTime", campaign.start_time), data.get("endTime", campaign.end_time)
        )
        group: EvaluationGroup | type[Keep] | None = Keep
        if "evaluationGroupId" in data:
            group = _evaluation_group(application, data["evaluationGroupId"])
        active = None
        if "activeRulesetId" in data:
            active = campaign.rulesets.filter(pk=data["activeRulesetId"]).first()
            if active is None:
                raise _invalid(
                    "/activeRulesetId",
                    f"The campaign has no ruleset {data['activeRulesetId']}.",
                    code="ruleset_not_found",
                )
        try:
            campaign_update(
                campaign=campaign,
                values=_model_values(data),
                evaluation_group=group,
                limits=data.get("limits"),
                active_ruleset=active,
            )
        except CampaignInvalid as error:
            raise _campaign_invalid(error) from None
        updated = campaign_get(application=application, id=campaign.pk)
        return _json(render_management_campaign(updated))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, application_id: int, campaign_id: int) -> HttpResponse:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.ADMIN)
        campaign_delete(campaign=campaign)
        return HttpResponse(status=204)


class RulesetsView(CampaignScopedView):
    operation = {"GET": "getRulesets", "POST": "createRuleset"}

    @extend_schema(
        parameters=[*PAGE_PARAMETERS, OpenApiParameter("sort", str)],
        responses={200: page_of(RulesetSerializer)},
    )
    def get(self, request: Request, application_id: int, campaign_id: int) -> HttpResponse:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.VIEWER)
        page = paginate(
            request,
            Ruleset.objects.filter(campaign=campaign),
            sortable=RULESET_SORT_FIELDS,
            render=render_ruleset,
        )
        return _json(page)

    @extend_schema(request=RulesetInput, responses={201: RulesetSerializer})
    def post(self, request: Request, application_id: int, campaign_id: int) -> HttpResponse:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.EDITOR)
        data = _valid(RulesetInput(data=request.data))
        # RulesetInvalid is answered 400 with a pointer into ``rules`` for each problem.
        ruleset = ruleset_create(campaign=campaign, rules=data["rules"], activate=data["activate"])
        return _json(render_ruleset(ruleset), status=201)


class RulesetView(CampaignScopedView):
    operation = "getRuleset"

    @extend_schema(responses={200: RulesetSerializer})
    def get(
        self, request: Request, application_id: int, campaign_id: int, ruleset_id: int
    ) -> HttpResponse:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.VIEWER)
        ruleset = campaign.rulesets.filter(pk=ruleset_id).first() if ruleset_id <= MAX_ID else None
        if ruleset is None:
            raise NotFound(
                f"There is no ruleset {ruleset_id} in this campaign.", code="ruleset_not_found"
            )
        return _json(render_ruleset(ruleset))


class CampaignCopyView(CampaignScopedView):
    operation = "copyCampaignToApplications"

    @extend_schema(request=CampaignCopyInput, responses={200: CAMPAIGN_COPIES})
    def post(self, request: Request, application_id: int, campaign_id: int) -> HttpResponse:
        campaign = self.campaign_for(application_id, campaign_id, role=Role.VIEWER)
        data = _valid(CampaignCopyInput(data=request.data))
        targets = [
            self._target(index, target_id, data.get("evaluationGroupId"))
            for index, target_id in enumerate(data["applicationIds"])
        ]
        changes = CopyChanges(
            name=data.get("name"),
            description=data.get("description"),
            start_time=data.get("startTime"),
            end_time=data.get("endTime"),
            tags=data.get("tags"),
            schedule_given=frozenset(
                {"start_time", "end_time"}
                & {_CAMPAIGN_FIELDS[name] for name in ("startTime", "endTime") if name in data}
            ),
        )
        try:
            copies = campaign_copy(campaign=campaign, targets=targets, changes=changes)
        except CampaignInvalid as error:
            raise _campaign_invalid(error) from None
        except CopyRefused as error:
            raise _copy_refused(error) from None
        rendered = [
            render_management_campaign(campaign_get(application=copy.application, id=copy.pk))
            for copy in copies
        ]
        return _json({"totalResultSize": len(rendered), "data": rendered})

    def _target(self, index: int, application_id: int, group_id: int | None) -> CopyTarget:
        """The ``index``-th target: an application the caller may edit (the errors of
        ``application_for``, pointing at the id in the body)."""
        pointer = f"/applicationIds/{index}"
        try:
            application = self.application_for(application_id, role=Role.EDITOR)
        except IntegrationError as error:
            item = ErrorItem(
                code=error.code, title="Invalid value", details=error.message, pointer=pointer
            )
            raise IntegrationError(
                error.status_code, error.message, [item], code=error.code
            ) from None
        group = None
        if group_id is not None:
            group = EvaluationGroup.objects.filter(application=application, pk=group_id).first()
            if group is None:
                raise _invalid(
                    "/evaluationGroupId",
                    f"There is no evaluation group {group_id} in application {application_id}.",
                    code="evaluation_group_not_found",
                )
        return CopyTarget(application=application, evaluation_group=group)


def _copy_refused(error: CopyRefused) -> BadRequest:
    """The refusal pointing at the target application; each rule problem pointing there too,
    its pointer into the rules in its details."""
    pointer = f"/applicationIds/{error.index}"
    items = [
        ErrorItem(code=error.code, title="Invalid value", details=error.details, pointer=pointer)
    ]
    items += [
        ErrorItem(
            code=rule_error.code,
            title=rule_error.code.replace("_", " ").capitalize(),
            details=f"{rule_error.pointer}: {rule_error.message}",
            pointer=pointer,
        )
        for rule_error in error.rule_errors
    ]
    return BadRequest(error.details, items, code=error.code)


class CampaignSearchView(ManagementView):
    operation = "getCampaignByAttributes"

    @extend_schema(
        request=CampaignSearchInput,
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("sort", str),
            OpenApiParameter("campaignState", str, enum=CAMPAIGN_STATES),
        ],
        responses={200: page_of(CampaignSerializer)},
    )
    def post(self, request: Request, application_id: int) -> HttpResponse:
        application = self.application_for(application_id, role=Role.VIEWER)
        data = _valid(CampaignSearchInput(data=request.data))
        try:
            wanted = campaign_attributes_checked(application=application, raw=data["attributes"])
        except CampaignInvalid as error:
            raise _campaign_invalid(error) from None
        types = campaign_attribute_types(application)
        campaigns = _campaigns_filtered(request, campaign_list(application=application))
        for name, value in wanted.items():
            campaigns = _having_attribute(campaigns, name, value, types.get(name, ""))
        page = paginate(
            request,
            _with_limits(campaigns),
            sortable=CAMPAIGN_SORT_FIELDS,
            render=_renderer(application),
        )
        return _json(page)


def _having_attribute(
    campaigns: QuerySet[Campaign], name: str, value: Any, type_name: str
) -> QuerySet[Campaign]:
    """``campaigns`` whose attribute ``name`` is ``value`` (as stored): a number compares as a
    number (``10.5`` finds ``10.50``; text that is no number, such as another application's
    attribute of that name, is never cast), anything else as JSON (a list in the same order);
    alike on PostgreSQL and SQLite (``campaigns.json_queries``)."""
    if type_name == "number" and value is not None:
        return having_number(campaigns, "attributes", name, Decimal(value))
    return having_value(campaigns, "attributes", name, value)
