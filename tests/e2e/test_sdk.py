"""The official Talon.One JavaScript SDK (npm ``talon_one`` 4.3.0) against the running server.

One live server, one ``node`` process: ``sdk/drive.mjs`` makes the calls a shop's backend makes
with the SDK (a session updated open then closed, a profile updated, an event tracked, and the
v1 profile update the SDK still offers) and prints what the SDK sent and deserialised; the test
checks both.

What the server cannot do for the SDK yet makes the test an expected failure that names it, and
only after everything else has been checked (never a silent pass): an endpoint it does not serve
(the SDK gets a 404), and a v1 endpoint that answers in the v2 shape (``customerProfile``),
which the SDK's v1 ``IntegrationState`` model (``session``, ``profile``, ``event``) cannot read.
Once the server answers as the SDK reads, the same run checks those answers instead.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.live_server_helper import LiveServer

from campaigns.compiled import compiled_campaigns_forget
from campaigns.models import CustomerProfile, CustomerSession, Event
from campaigns.services.keys import integration_key_create
from campaigns.services.rulesets import ruleset_create
from tests.factories import ApplicationFactory, AttributeDefinitionFactory, CampaignFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NODE_TIMEOUT_SECONDS = 60

SESSION_ID = "sdk-session-1"
PROFILE_ID = "sdk-customer-1"
EVENT_TYPE = "viewed_cart"
# Two items worth 108.90, over the rule's 100 (59.9 and 24.5 cross JSON.stringify unchanged).
CART = [
    {"name": "Running shoes", "sku": "SHOE-1", "quantity": 1, "price": 59.9, "category": "shoes"},
    {"name": "Socks", "sku": "SOCK-2", "quantity": 2, "price": 24.5, "category": "socks"},
]
#: CART as the report shows it: JSON numbers read as ``Decimal``.
CART_READ = json.loads(json.dumps(CART), parse_float=Decimal)
TOTAL = Decimal("108.9")
RULES = [
    {
        "title": "10% off big carts",
        "condition": [">", [".", "Session", "Total"], 100],
        "effects": [["setDiscount", "10% off", ["*", [".", "Session", "Total"], 0.1]]],
    }
]
EVENT_RULES = [
    {
        "title": "Thank cart viewers",
        "condition": ["=", [".", "Event", "Type"], EVENT_TYPE],
        "effects": [["showNotification", "Info", "Cart viewed", "Thanks for looking"]],
    }
]


def drive(node: str, sdk_dir: Path, scenario: dict[str, Any]) -> dict[str, Any]:
    """Run ``drive.mjs`` on ``scenario``; its report, numbers as ``Decimal``."""
    try:
        done = subprocess.run(
            [node, "drive.mjs"],
            cwd=sdk_dir,
            input=json.dumps(scenario),
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"drive.mjs took over {NODE_TIMEOUT_SECONDS} s:\n{error.stderr}")
    if done.returncode != 0:
        pytest.fail(
            f"drive.mjs exited with {done.returncode}\n"
            f"stderr:\n{done.stderr}\nstdout:\n{done.stdout}"
        )
    report: dict[str, Any] = json.loads(done.stdout, parse_float=Decimal)
    return report


def answered(step: dict[str, Any]) -> dict[str, Any]:
    """The data the SDK deserialised from a 200 answer, failing with the step otherwise."""
    assert step["error"] is None, json.dumps(step, indent=2, default=str)
    assert step["status"] == 200, json.dumps(step, indent=2, default=str)
    data: dict[str, Any] = step["data"]
    return data


def is_not_found(step: dict[str, Any]) -> bool:
    """Whether the SDK's call found no endpoint: a 404 for a path the server does not route."""
    return step["error"] is not None and step["error"]["status"] == 404


def describe(step: dict[str, Any]) -> str:
    body = json.dumps(step["error"]["body"], default=str)
    return f"{step['call']}: {step['error']['status']} {body[:200]}"


def v1_profile_gaps(what: str, step: dict[str, Any]) -> list[str]:
    """Checks the customer profile of a v1 answer, the SDK's ``IntegrationState.profile``;
    returns what is missing for the SDK to read it (a v2-shaped answer has ``customerProfile``
    instead, which the v1 model ignores).
    """
    if step["types"].get("profile") is None:
        fields = sorted(key for key in step["data"] if key)
        return [
            f"{what} ({step['call']}) answers without the v1 IntegrationState's `profile`, so "
            f"the SDK deserialises no profile (it read the fields {fields})"
        ]
    assert step["types"]["profile"] == "CustomerProfile"
    assert step["data"]["profile"]["integrationId"] == PROFILE_ID
    assert step["data"]["profile"]["attributes"] == {"Tier": "gold"}
    return []


def sent_as_json_with_key(step: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """Checks the request line and headers the SDK sent; returns the body it sent."""
    request = step["request"]
    assert (request["method"], request["path"]) == (method, path)
    assert request["headers"]["authorization"] == "ApiKey-v1 <apiKey>"
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["accept"] == "application/json"
    assert "content-signature" not in request["headers"]
    body: dict[str, Any] = request["body"]
    return body


def test_the_javascript_sdk_drives_a_session_a_profile_and_an_event(
    live_server: LiveServer, node: str, sdk_dir: Path
) -> None:
    compiled_campaigns_forget()
    application = ApplicationFactory()
    AttributeDefinitionFactory(
        application=application, entity="CustomerProfile", name="Tier", type="string"
    )
    _, api_key = integration_key_create(
        application=application,
        name="JavaScript SDK",
        expires_at=timezone.now() + timedelta(days=1),
    )
    campaign = CampaignFactory(application=application)
    ruleset = ruleset_create(campaign=campaign, rules=RULES, activate=True)
    event_campaign = CampaignFactory(application=application)
    ruleset_create(campaign=event_campaign, rules=EVENT_RULES, activate=True)

    report = drive(
        node,
        sdk_dir,
        {
            "baseUrl": live_server.url,
            "apiKey": api_key,
            "sessionId": SESSION_ID,
            "profileId": PROFILE_ID,
            "cart": CART,
            "profileAttributes": {"Tier": "gold"},
            "eventType": EVENT_TYPE,
        },
    )
    assert report["sdk"] == {"package": "talon_one", "version": "4.3.0"}
    steps = report["steps"]

    # updateCustomerSessionV2, open: the cart earns the campaign's 10% discount.
    opened = steps["sessionOpen"]
    assert sent_as_json_with_key(opened, "PUT", f"/v2/customer_sessions/{SESSION_ID}") == {
        "customerSession": {"profileId": PROFILE_ID, "state": "open", "cartItems": CART_READ},
        "responseContent": ["customerSession", "customerProfile"],
    }
    state = answered(opened)
    assert opened["model"] == "IntegrationStateV2"
    assert opened["types"]["customerSession"] == "CustomerSessionV2"
    assert opened["types"]["customerProfile"] == "CustomerProfile"
    assert opened["types"]["effects"] == ["Effect"]
    session = state["customerSession"]
    assert session["integrationId"] == SESSION_ID
    assert session["profileId"] == PROFILE_ID
    assert session["state"] == "open"
    assert session["total"] == TOTAL
    assert [(item["sku"], item["quantity"], item["price"]) for item in session["cartItems"]] == [
        (item["sku"], item["quantity"], item["price"]) for item in CART_READ
    ]
    assert state["customerProfile"]["integrationId"] == PROFILE_ID
    [effect] = opened["effects"]
    assert effect["sdkClass"] == "Effect"
    assert effect["effectType"] == "setDiscount"
    assert effect["campaignId"] == campaign.pk
    assert effect["rulesetId"] == ruleset.pk
    assert (effect["ruleIndex"], effect["ruleName"]) == (0, "10% off big carts")
    assert effect["props"] == {"name": "10% off", "value": TOTAL * Decimal("0.1")}
    assert effect["propsClass"] == "SetDiscountEffectProps"
    assert effect["typedProps"] == {"name": "10% off", "value": Decimal("10.89")}

    # updateCustomerSessionV2, closed: the rules run once more and the discount is confirmed.
    closed = steps["sessionClosed"]
    assert sent_as_json_with_key(closed, "PUT", f"/v2/customer_sessions/{SESSION_ID}") == {
        "customerSession": {"profileId": PROFILE_ID, "state": "closed", "cartItems": CART_READ},
        "responseContent": ["customerSession", "customerProfile"],
    }
    state = answered(closed)
    assert closed["types"]["customerSession"] == "CustomerSessionV2"
    assert state["customerSession"]["state"] == "closed"
    assert state["customerSession"]["total"] == TOTAL
    assert state["customerProfile"]["closedSessions"] == 1
    assert state["customerProfile"]["totalSales"] == TOTAL
    assert closed["effects"] == opened["effects"]
    assert CustomerSession.objects.get(integration_id=SESSION_ID).state == "closed"

    not_served: list[str] = []  # calls that found no endpoint (404)
    unreadable: list[str] = []  # v1 answers in a shape the SDK's v1 model does not read

    # updateCustomerProfileV2, with the rule engine.
    profile = steps["profileV2"]
    assert sent_as_json_with_key(profile, "PUT", f"/v2/customer_profiles/{PROFILE_ID}") == {
        "attributes": {"Tier": "gold"},
        "responseContent": ["customerProfile"],
    }
    assert profile["request"]["query"] == "?runRuleEngine=true"
    if is_not_found(profile):
        not_served.append(f"PUT /v2/customer_profiles/{{id}} ({describe(profile)})")
    else:
        state = answered(profile)
        assert profile["model"] == "IntegrationStateV2"
        assert profile["types"]["customerProfile"] == "CustomerProfile"
        assert state["customerProfile"]["integrationId"] == PROFILE_ID
        assert state["customerProfile"]["attributes"] == {"Tier": "gold"}
        assert profile["effects"] == []
        assert CustomerProfile.objects.get(integration_id=PROFILE_ID).attributes == {"Tier": "gold"}

    # trackEvent: the SDK posts to the v1 path and reads a v1 IntegrationState.
    event = steps["event"]
    assert sent_as_json_with_key(event, "POST", "/v1/events") == {
        "type": EVENT_TYPE,
        "attributes": {},
        "sessionId": SESSION_ID,
        "profileId": PROFILE_ID,
    }
    if is_not_found(event):
        not_served.append(f"POST /v1/events ({describe(event)})")
    else:
        state = answered(event)
        assert event["model"] == "IntegrationState"
        assert event["types"]["event"] == "Event"
        assert state["event"]["type"] == EVENT_TYPE
        assert state["event"]["profileId"] == PROFILE_ID
        [event_effect] = state["event"]["effects"]  # plain objects: Event.effects is [Object]
        assert event_effect["campaignId"] == event_campaign.pk
        assert event_effect["effectType"] == "showNotification"
        assert event_effect["props"] == {
            "notificationType": "Info",
            "title": "Cart viewed",
            "body": "Thanks for looking",
        }
        [typed] = event["effects"]
        assert (typed["effectType"], typed["propsClass"]) == (
            "showNotification",
            "ShowNotificationEffectProps",
        )
        assert typed["typedProps"] == event_effect["props"]
        assert Event.objects.filter(application=application, type=EVENT_TYPE).count() == 1
        unreadable += v1_profile_gaps("POST /v1/events", event)

    # updateCustomerProfile: the v1 path, a v1 IntegrationState.
    profile_v1 = steps["profileV1"]
    assert sent_as_json_with_key(profile_v1, "PUT", f"/v1/customer_profiles/{PROFILE_ID}") == {
        "attributes": {"Tier": "gold"}
    }
    if is_not_found(profile_v1):
        not_served.append(f"PUT /v1/customer_profiles/{{id}} ({describe(profile_v1)})")
    else:
        answered(profile_v1)
        assert profile_v1["model"] == "IntegrationState"
        unreadable += v1_profile_gaps("PUT /v1/customer_profiles/{id}", profile_v1)

    # Everything else has been checked: now say what the SDK could not use, if anything.
    reasons = []
    if not_served:
        reasons.append("not served, the SDK got a 404: " + "; ".join(not_served))
    if unreadable:
        reasons.append("; ".join(unreadable))
    assert not reasons, " | ".join(reasons)
