"""``POST /v2/customer_sessions/{id}/returns`` and ``PUT /v2/customer_sessions/{id}/reopen``:
thin views over ``customer_session_return`` and ``customer_session_reopen``.

A return answers like a session update (``effects``, here the rollbacks, ``createdCoupons``,
``createdReferrals``, and the parts ``responseContent`` asks for) plus ``return``, the return
just made; ``previousReturns`` lists the session's earlier ones. A reopening answers
``{effects}``, the rollbacks.

Returns honour ``Idempotency-Key`` (at most 255 characters): a retry with the same key within
24 hours gets the first answer again, byte for byte, with ``Idempotent-Replayed: true``, and
does nothing; the same key with another request (another session, other query parameters or
another body) is a 409. Only successful answers are kept, and a dry run (which changes nothing)
ignores the key (``integration.idempotency``). The stored answer belongs to the session's
customer and is deleted when they are forgotten; one of an anonymous session belongs to nobody
(see ``campaigns.services.customers``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.models import Application, CustomerSession, Event
from campaigns.services.idempotency import StoredResponse
from campaigns.services.sessions import (
    ReturnOutcome,
    ReturnRefused,
    SessionStateError,
    customer_session_reopen,
    customer_session_return,
)
from integration.errors import BadRequest, ErrorItem, NotFound
from integration.idempotency import idempotent_response
from integration.payloads import CartReturn, parse_return
from integration.render import dumps, render_session_update_response, rfc3339
from integration.sessions import (
    Types,
    json_response,
    profile_view,
    query_flag,
    rendered_effects,
    session_view,
)
from integration.views import IntegrationView


class CustomerSessionReturnsView(IntegrationView):
    """Return cart items of a closed or partially returned session (``POST``)."""

    operation = "returnCartItems"

    def post(self, request: Request, customer_session_id: str) -> HttpResponse:
        application = self.application
        cart_return = parse_return(request.data)
        dry = query_flag(request, "dry")
        run_rule_engine = query_flag(request, "runRuleEngine")

        def respond() -> StoredResponse:
            outcome = _return(
                request,
                application=application,
                customer_session_id=customer_session_id,
                cart_return=cart_return,
                run_rule_engine=run_rule_engine,
                dry=dry,
            )
            types = attribute_schema_get(application=application).types
            body = render_return_response(
                outcome, application, cart_return.response_content, types=types
            )
            # The answer holds the session's customer's data: it is forgotten with them.
            return StoredResponse(
                HTTPStatus.OK, dumps(body).decode("ascii"), profile=outcome.profile
            )

        return idempotent_response(request, application=application, dry=dry, run=respond)


class CustomerSessionReopenView(IntegrationView):
    """Reopen a closed session (``PUT``), rolling back what closing it confirmed."""

    operation = "reopenCustomerSession"

    def put(self, request: Request, customer_session_id: str) -> HttpResponse:
        try:
            outcome = customer_session_reopen(
                application=self.application,
                integration_id=customer_session_id,
                now=timezone.now(),
            )
        except CustomerSession.DoesNotExist:
            raise _no_session(customer_session_id) from None
        except SessionStateError as error:
            raise _wrong_state(
                request,
                f"Only a closed session can be reopened; {customer_session_id!r} is "
                f"{error.current}.",
            ) from None
        return json_response({"effects": rendered_effects(outcome.effects, outcome.ruleset_ids)})


def _return(
    request: Request,
    *,
    application: Application,
    customer_session_id: str,
    cart_return: CartReturn,
    run_rule_engine: bool,
    dry: bool,
) -> ReturnOutcome:
    types = attribute_schema_get(application=application).types
    try:
        return customer_session_return(
            application=application,
            integration_id=customer_session_id,
            returned=cart_return.items,
            custom_types=types,
            now=timezone.now(),
            run_rule_engine=run_rule_engine,
            dry=dry,
        )
    except CustomerSession.DoesNotExist:
        raise _no_session(customer_session_id) from None
    except SessionStateError as error:
        raise _wrong_state(
            request,
            f"Only a closed or partially returned session accepts returns; "
            f"{customer_session_id!r} is {error.current}.",
        ) from None
    except ReturnRefused as refused:
        items = [
            ErrorItem(
                code="invalid_return",
                title="Invalid value",
                details=details,
                pointer=f"/return/returnedCartItems/{index}/{field}",
            )
            for index, field, details in refused.problems
        ]
        raise BadRequest(
            "The session's cart does not have these items to return.",
            items,
            code="invalid_return",
        ) from None


def _no_session(customer_session_id: str) -> NotFound:
    return NotFound(f"There is no customer session {customer_session_id!r}.")


def _wrong_state(request: Request, message: str) -> BadRequest:
    item = ErrorItem(
        code="invalid_state_transition",
        title="Invalid state transition",
        details=message,
        resource=request.path,
    )
    return BadRequest(message, [item], code="invalid_state_transition")


def render_return(event: Event, outcome: ReturnOutcome, application: Application) -> dict[str, Any]:
    """A return (``return``, an item of ``previousReturns``), from the event it generated."""
    session = outcome.session
    rendered: dict[str, Any] = {
        "id": event.pk,
        "created": rfc3339(event.created),
        "applicationId": application.pk,
        "accountId": application.pk,
        "returnedCartItems": list(event.attributes.get("returnedCartItems", [])),
        "eventId": event.pk,
        "sessionId": session.pk,
        "sessionIntegrationId": session.integration_id,
    }
    if outcome.profile is not None:
        rendered["profileId"] = outcome.profile.pk
        rendered["profileIntegrationId"] = outcome.profile.integration_id
    return rendered


def render_return_response(
    outcome: ReturnOutcome,
    application: Application,
    response_content: frozenset[str],
    *,
    types: Types,
) -> dict[str, Any]:
    """The 200 body of a return: a session update's shape, with ``return`` after
    ``customerSession`` and before ``previousReturns``, as in the reference."""
    previous = [render_return(event, outcome, application) for event in outcome.previous_returns]
    rendered = render_session_update_response(
        effects=rendered_effects(outcome.effects, outcome.ruleset_ids),
        response_content=response_content,
        customer_session=session_view(outcome.session, outcome.items, types=types),
        customer_profile=profile_view(outcome.profile, types=types),
        previous_returns=previous,
    )
    earlier = rendered.pop("previousReturns", None)
    if outcome.event is not None:
        rendered["return"] = render_return(outcome.event, outcome, application)
    if earlier is not None:
        rendered["previousReturns"] = earlier
    return rendered
