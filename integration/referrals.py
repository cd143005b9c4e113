"""Referral codes: ``POST /v1/referrals``, a thin view over ``referral_create``.

The body is Talon.One's ``NewReferral``: ``{campaignId, advocateProfileIntegrationId,
friendProfileIntegrationId?, startDate?, expiryDate?, usageLimit?, attributes?}``. The answer
is 201 with the referral, code and ``usageCounter`` included, in Talon.One's ``Referral`` shape.
The code is generated (``CODE_LENGTH`` characters that cannot be read as one another), stored
as the application compares codes.

A body that is not valid is a 400 pointing at every offending field, and nothing is written:
a missing or ill-typed field, a friend who is the advocate, an expiry not after the start, a
``usageLimit`` outside 0 to 999,999, an attribute not defined for the ``Referral`` entity or
not of its type. A campaign that is not the application's is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.models import Campaign
from campaigns.models.attributes import AttributeEntity
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH
from campaigns.models.referrals import REFERRAL_USAGE_LIMIT_MAX
from campaigns.selectors import campaign_get
from campaigns.services.referrals import referral_create
from integration.errors import NotFound

# The attribute reader of every other body; private to ``integration.payloads``, where it
# should become public (that module was not this change's to edit).
from integration.payloads import (
    MAX_ID,
    TITLE_LIMIT,
    TITLE_REQUIRED,
    TITLE_TYPE,
    TITLE_VALUE,
    PayloadError,
    Problem,
    _attributes,
)
from integration.render import dumps, render_referral
from integration.sessions import JSON, referral_view
from integration.views import IntegrationView
from rules.values import parse_rfc3339


@dataclass(frozen=True, slots=True)
class NewReferral:
    """A ``POST /v1/referrals`` body, parsed."""

    campaign_id: int
    advocate_profile_integration_id: str
    friend_profile_integration_id: str = ""
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    usage_limit: int = 1
    attributes: dict[str, Any] | None = None


def parse_new_referral(body: Any, *, definitions: dict[str, str]) -> NewReferral:
    """The body of ``POST /v1/referrals``; ``definitions`` are the types of the application's
    ``Referral`` attributes by name. Omitted and ``null`` are alike. Raises ``PayloadError``
    with every problem found."""
    if not isinstance(body, dict):
        raise PayloadError([("", TITLE_TYPE, "the request body must be a JSON object")])
    problems: list[Problem] = []

    campaign_id: Any = body.get("campaignId")
    if campaign_id is None:
        problems.append(("/campaignId", TITLE_REQUIRED, "is required"))
    elif type(campaign_id) is not int:
        problems.append(("/campaignId", TITLE_TYPE, "must be an integer"))
    elif not 1 <= campaign_id <= MAX_ID:
        problems.append(("/campaignId", TITLE_VALUE, f"must be from 1 to {MAX_ID}"))

    advocate: Any = body.get("advocateProfileIntegrationId")
    if advocate is None:
        problems.append(("/advocateProfileIntegrationId", TITLE_REQUIRED, "is required"))
    else:
        _integration_id(advocate, "/advocateProfileIntegrationId", problems, required=True)

    friend = body.get("friendProfileIntegrationId")
    if friend is None:
        friend = ""
    elif (
        _integration_id(friend, "/friendProfileIntegrationId", problems, required=False)
        and friend
        and friend == advocate
    ):
        details = "must not be the advocate: an advocate cannot refer themselves"
        problems.append(("/friendProfileIntegrationId", TITLE_VALUE, details))

    start_date = _time(body.get("startDate"), "/startDate", problems)
    expiry_date = _time(body.get("expiryDate"), "/expiryDate", problems)
    if start_date is not None and expiry_date is not None and expiry_date <= start_date:
        problems.append(("/expiryDate", TITLE_VALUE, "must be after startDate"))

    usage_limit = body.get("usageLimit")
    if usage_limit is None:
        usage_limit = 1
    elif type(usage_limit) is not int:
        problems.append(("/usageLimit", TITLE_TYPE, "must be an integer"))
    elif not 0 <= usage_limit <= REFERRAL_USAGE_LIMIT_MAX:
        details = f"must be from 0 (no limit) to {REFERRAL_USAGE_LIMIT_MAX}"
        problems.append(("/usageLimit", TITLE_VALUE, details))

    attributes = body.get("attributes")
    if attributes is not None:
        attributes = _attributes(
            attributes, "/attributes", problems, definitions, AttributeEntity.REFERRAL.value
        )

    if problems:
        raise PayloadError(problems)
    return NewReferral(
        campaign_id=campaign_id,
        advocate_profile_integration_id=advocate,
        friend_profile_integration_id=friend,
        start_date=start_date,
        expiry_date=expiry_date,
        usage_limit=usage_limit,
        attributes=attributes,
    )


def _integration_id(value: Any, pointer: str, problems: list[Problem], *, required: bool) -> bool:
    """Whether ``value`` is an integration id (empty allowed unless ``required``); records
    the problem otherwise."""
    if not isinstance(value, str):
        problems.append((pointer, TITLE_TYPE, "must be a string"))
    elif required and not value:
        problems.append((pointer, TITLE_VALUE, "must not be empty"))
    elif len(value) > INTEGRATION_ID_MAX_LENGTH:
        details = f"must be at most {INTEGRATION_ID_MAX_LENGTH} characters long"
        problems.append((pointer, TITLE_LIMIT, details))
    else:
        return True
    return False


def _time(value: Any, pointer: str, problems: list[Problem]) -> datetime | None:
    if value is None:
        return None
    moment = parse_rfc3339(value) if isinstance(value, str) else None
    if moment is not None:
        # Stored in UTC: PostgreSQL refuses offsets beyond ±15:59, which RFC 3339 allows.
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # the first or last day of the calendar, moved out of it
            moment = None
    if moment is None:
        details = "must be an RFC 3339 time, such as 2024-05-29T15:04:05Z"
        problems.append(
            (pointer, TITLE_TYPE if not isinstance(value, str) else TITLE_VALUE, details)
        )
    return moment


class ReferralsView(IntegrationView):
    """Create a referral code for an advocate (``POST``)."""

    operation = "createReferral"

    def post(self, request: Request) -> HttpResponse:
        schema = attribute_schema_get(application=self.application)
        definitions = dict(schema.declared.get(AttributeEntity.REFERRAL.value, {}))
        new = parse_new_referral(request.data, definitions=definitions)
        try:
            campaign = campaign_get(application=self.application, id=new.campaign_id)
        except Campaign.DoesNotExist:
            raise NotFound(f"There is no campaign {new.campaign_id}.") from None
        referral = referral_create(
            campaign=campaign,
            advocate_profile_integration_id=new.advocate_profile_integration_id,
            friend_profile_integration_id=new.friend_profile_integration_id,
            start_date=new.start_date,
            expiry_date=new.expiry_date,
            usage_limit=new.usage_limit,
            attributes=new.attributes,
        )
        view = referral_view(referral, types=schema.types)
        return HttpResponse(
            dumps(render_referral(view)), content_type=JSON, status=HTTPStatus.CREATED
        )
