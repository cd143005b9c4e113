"""``PUT /v2/customer_profiles/{integrationId}`` and ``POST /v2/events``, and the v1 paths the
official JavaScript SDK (4.3.0) still calls for them, as thin adapters onto the same services."""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.services.customers import CustomerOutcome, customer_profile_update, event_track
from integration.payloads import parse_event, parse_profile_update
from integration.render import render_customer_profile, render_session_update_response, rfc3339
from integration.sessions import (
    evaluation_time,
    json_response,
    profile_view,
    query_flag,
    rendered_effects,
)
from integration.views import IntegrationView


def _answer(outcome: CustomerOutcome, response_content: frozenset[str]) -> HttpResponse:
    body = render_session_update_response(
        effects=rendered_effects(outcome.effects, outcome.ruleset_ids),
        response_content=response_content,
        customer_profile=profile_view(outcome.profile),
        event=_event(outcome) if "event" in response_content else None,
    )
    return json_response(body)


def _event(outcome: CustomerOutcome) -> dict[str, object] | None:
    event = outcome.event
    if event is None:
        return None
    return {
        "id": event.pk,
        "created": rfc3339(event.created),
        "applicationId": event.application_id,
        "profileId": outcome.profile.integration_id,
        "type": event.type,
        "attributes": event.attributes,
        "effects": rendered_effects(outcome.effects, outcome.ruleset_ids),
    }


def _answer_v1(outcome: CustomerOutcome) -> HttpResponse:
    """The v1 ``IntegrationState`` (``profile``, ``event`` with its effects, ``session``) that the
    JavaScript SDK 4.3.0 reads from the v1 paths; it has no top-level ``effects``."""
    profile = profile_view(outcome.profile)
    assert profile is not None
    return json_response(
        {
            "session": None,
            "profile": render_customer_profile(profile),
            "event": _event(outcome),
            "loyalty": None,
            "coupon": None,
        }
    )


class CustomerProfileView(IntegrationView):
    """Create or update a customer profile; evaluate it with ``runRuleEngine=true``."""

    legacy = False
    """Answer in the v1 shape (``PUT /v1/customer_profiles/{integrationId}``)."""

    def put(self, request: Request, integration_id: str) -> HttpResponse:
        schema = attribute_schema_get(application=self.application)
        update = parse_profile_update(request.data, custom_attributes=schema.declared)
        dry = query_flag(request, "dry")
        outcome = customer_profile_update(
            application=self.application,
            integration_id=integration_id,
            attributes=update.attributes,
            custom_types=schema.types,
            now=evaluation_time(request, dry=dry),
            run_rule_engine=query_flag(request, "runRuleEngine"),
            dry=dry,
        )
        if self.legacy:
            return _answer_v1(outcome)
        return _answer(outcome, update.response_content | {"customerProfile"})


class EventView(IntegrationView):
    """Track a customer's event and evaluate the running campaigns on it."""

    legacy = False
    """Answer in the v1 shape (``POST /v1/events``)."""

    def post(self, request: Request) -> HttpResponse:
        schema = attribute_schema_get(application=self.application)
        event = parse_event(request.data, custom_attributes=schema.declared)
        dry = query_flag(request, "dry")
        outcome = event_track(
            application=self.application,
            profile_id=event.profile_id,
            event_type=event.type,
            attributes=event.attributes,
            custom_types=schema.types,
            now=evaluation_time(request, dry=dry),
            dry=dry,
        )
        if self.legacy:
            return _answer_v1(outcome)
        return _answer(outcome, event.response_content | {"customerProfile", "event"})
