"""``PUT /v2/customer_profiles/{integrationId}`` and ``POST /v2/events``, and the v1 paths the
official JavaScript SDK (4.3.0) still calls for them, as thin adapters onto the same services.

Events (both paths) honour ``Idempotency-Key`` as returns do (``integration.idempotency``): a
retry with the same key within 24 hours gets the first answer again, in the shape of the path
it was sent to, without a second event or second effect records. The stored answer belongs to
the event's customer and is deleted when they are forgotten.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.evaluation import typed_attributes
from campaigns.services.customers import CustomerOutcome, customer_profile_update, event_track
from campaigns.services.idempotency import StoredResponse
from integration.idempotency import idempotent_response
from integration.payloads import parse_event, parse_profile_update
from integration.render import (
    dumps,
    render_customer_profile,
    render_session_update_response,
    rfc3339,
)
from integration.sessions import (
    Types,
    evaluation_time,
    json_response,
    profile_view,
    query_flag,
    rendered_effects,
    rendered_failures,
)
from integration.views import IntegrationView


def _answer(
    outcome: CustomerOutcome, response_content: frozenset[str], types: Types
) -> dict[str, Any]:
    return render_session_update_response(
        effects=rendered_effects(outcome.effects, outcome.ruleset_ids),
        response_content=response_content,
        customer_profile=profile_view(outcome.profile, types=types),
        event=_event(outcome, types) if "event" in response_content else None,
        rule_failure_reasons=rendered_failures(
            outcome.failures,
            campaign_names=outcome.campaign_names,
            ruleset_ids=outcome.ruleset_ids,
            set_aside=outcome.set_aside,
        )
        if "ruleFailureReasons" in response_content
        else (),
    )


def _event(outcome: CustomerOutcome, types: Types) -> dict[str, object] | None:
    event = outcome.event
    if event is None:
        return None
    return {
        "id": event.pk,
        "created": rfc3339(event.created),
        "applicationId": event.application_id,
        "profileId": outcome.profile.integration_id,
        "type": event.type,
        "attributes": typed_attributes(event.attributes, types.get("Event", {})),
        "effects": rendered_effects(outcome.effects, outcome.ruleset_ids),
    }


def _answer_v1(outcome: CustomerOutcome, types: Types) -> dict[str, Any]:
    """The v1 ``IntegrationState`` (``profile``, ``event`` with its effects, ``session``) that the
    JavaScript SDK 4.3.0 reads from the v1 paths; it has no top-level ``effects``."""
    profile = profile_view(outcome.profile, types=types)
    assert profile is not None
    return {
        "session": None,
        "profile": render_customer_profile(profile),
        "event": _event(outcome, types),
        "loyalty": None,
        "coupon": None,
    }


class CustomerProfileView(IntegrationView):
    """Create or update a customer profile; evaluate it with ``runRuleEngine=true``."""

    operation = "updateCustomerProfileV2"
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
            return json_response(_answer_v1(outcome, schema.types))
        wanted = update.response_content | {"customerProfile"}
        return json_response(_answer(outcome, wanted, schema.types))


class EventView(IntegrationView):
    """Track a customer's event and evaluate the running campaigns on it."""

    operation = "trackEventV2"
    legacy = False
    """Answer in the v1 shape (``POST /v1/events``)."""

    def post(self, request: Request) -> HttpResponse:
        application = self.application
        schema = attribute_schema_get(application=application)
        event = parse_event(request.data, custom_attributes=schema.declared)
        dry = query_flag(request, "dry")
        now = evaluation_time(request, dry=dry)

        def respond() -> StoredResponse:
            outcome = event_track(
                application=application,
                profile_id=event.profile_id,
                event_type=event.type,
                attributes=event.attributes,
                custom_types=schema.types,
                now=now,
                dry=dry,
            )
            if self.legacy:
                body = _answer_v1(outcome, schema.types)
            else:
                wanted = event.response_content | {"customerProfile", "event"}
                body = _answer(outcome, wanted, schema.types)
            # The answer holds the customer's profile and event: it is forgotten with them.
            return StoredResponse(
                HTTPStatus.OK, dumps(body).decode("ascii"), profile=outcome.profile
            )

        return idempotent_response(request, application=application, dry=dry, run=respond)


class CustomerProfileV1View(CustomerProfileView):
    """``PUT /v1/customer_profiles/{integrationId}``, answered in the v1 shape."""

    operation = "updateCustomerProfile"
    legacy = True


class EventV1View(EventView):
    """``POST /v1/events``, answered in the v1 shape."""

    operation = "trackEvent"
    legacy = True
