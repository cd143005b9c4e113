"""The ``triggerWebhook`` effect end to end, through HTTP on PostgreSQL: a session closed with
``PUT /v2/customer_sessions/{id}`` (or an event) whose rule triggers a webhook writes an outbox
row, and after commit the webhook's receiver, a real HTTP server on 127.0.0.1, gets the
templated, signed request; retries, the SSRF guard, open sessions and dry runs, and effects
that cannot apply.

Delivery runs in-process (Celery eager, through the transaction's on-commit callbacks), except
in the one test that starts a real worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from campaigns.models import (
    Application,
    Campaign,
    EffectRecord,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from campaigns.models.webhooks import DeliveryState
from campaigns.services.rulesets import RulesetInvalid, ruleset_create
from campaigns.services.webhooks import webhook_signature
from integration.render import dumps
from talonone.celery import app as celery_app
from tests.factories import ApplicationFactory, CampaignFactory, UserFactory, api_key_headers
from tests.management.factories import ManagementTokenFactory, bearer

pytestmark = pytest.mark.django_db

REPO_ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# A receiver: a real HTTP server on 127.0.0.1


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server that records every request and answers the ``statuses`` in turn (200
    once they run out)."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(
                Received(self.command, self.path, dict(self.headers.items()), body)
            )
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            answer = b'{"ok": true}' if status < 300 else b"try later"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = do_PUT = do_GET = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = start_receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings: Settings) -> None:
    """The receiver is on loopback, which webhooks may reach only when the operator allows."""
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


@pytest.fixture
def eager() -> Iterator[None]:
    """Celery runs tasks in-process when they are sent (retries at once)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


# ---------------------------------------------------------------------------------------------
# Given


@pytest.fixture
def application() -> Application:
    return ApplicationFactory(currency="EUR")


@pytest.fixture
def auth(application: Application) -> dict[str, str]:
    return api_key_headers(application)


PARAMS = [
    {"type": "string", "title": "sessionId", "description": "The session's id", "ui": {}},
    {"type": "number", "title": "total", "ui": {}},
    {"type": "string", "title": "note", "ui": {}},
]
PAYLOAD = '{"session": "${$sessionId}", "total": ${$total}, "note": "Note: ${$note}"}'


def make_webhook(application: Application, base: str, **fields: Any) -> Webhook:
    defaults: dict[str, Any] = {
        "title": "Tell the CRM",
        "verb": "POST",
        "url": base + "/hooks/${$sessionId}?total=${$total}",
        "headers": [["X-Shop", "shop ${$sessionId}"]],
        "payload": PAYLOAD,
        "params": PARAMS,
        "signing_secret": "s3cret-" + "x" * 30,
    }
    webhook = Webhook.objects.create(**{**defaults, **fields})
    webhook.applications.set([application])
    return webhook


def hook_rule(webhook_id: int, *arguments: Any) -> dict[str, Any]:
    if not arguments:
        arguments = (
            [".", "Session", "IntegrationId"],
            [".", "Session", "Total"],
            'He said "hi" & left',
        )
    return {
        "title": "Tell the CRM",
        "condition": ["and", True],
        "effects": [["triggerWebhook", webhook_id, *arguments], ["setDiscount", "5 off", 5]],
    }


def campaign_with(application: Application, rules: list[dict[str, Any]]) -> Campaign:
    made = CampaignFactory(application=application)
    ruleset_create(campaign=made, rules=rules, activate=True)
    made.refresh_from_db()
    return made


def put_session(
    client: Client, auth: dict[str, str], session: str, *, state: str, dry: bool = False
) -> Any:
    body = {
        "customerSession": {
            "profileId": "ann",
            "state": state,
            "cartItems": [{"sku": "SKU-1", "quantity": 1, "price": Decimal("123.45")}],
        },
        "responseContent": ["ruleFailureReasons"],
    }
    url = f"/v2/customer_sessions/{session}" + ("?dry=true" if dry else "")
    response = client.put(url, data=dumps(body), content_type="application/json", headers=auth)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def close(client: Client, auth: dict[str, str], session: str = "s-1", **kwargs: Any) -> Any:
    return put_session(client, auth, session, state="closed", **kwargs)


def effect_types(body: Any) -> list[str]:
    return [effect["effectType"] for effect in body["effects"]]


# ---------------------------------------------------------------------------------------------
# Delivery


def test_closing_a_session_sends_the_templated_signed_request(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    webhook = make_webhook(application, receiver.url)
    campaign = campaign_with(application, [hook_rule(webhook.pk)])

    with django_capture_on_commit_callbacks(execute=True):
        body = close(client, auth, "s-1")

    [trigger] = [e for e in body["effects"] if e["effectType"] == "triggerWebhook"]
    assert trigger["props"] == {"webhookId": webhook.pk, "webhookName": "Tell the CRM"}
    assert trigger["campaignId"] == campaign.pk
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/s-1?total=123.45"
    assert request.headers["X-Shop"] == "shop s-1"
    assert request.headers["Content-Type"] == "application/json"
    # Arguments are JSON-encoded where they go: the payload stays valid JSON.
    assert json.loads(request.body, parse_float=Decimal) == {
        "session": "s-1",
        "total": Decimal("123.45"),
        "note": 'Note: He said "hi" & left',
    }
    delivery = WebhookDelivery.objects.get()
    assert request.headers["X-Talon-Delivery"] == str(delivery.pk)
    timestamp = int(request.headers["X-Talon-Timestamp"])
    expected = hmac.new(
        webhook.signing_secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(request.headers["X-Talon-Signature"], f"sha256={expected}")
    # The outbox row says what was sent for which session, campaign and effect.
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempt_count == 1
    assert delivery.session is not None
    assert delivery.session.integration_id == "s-1"
    assert delivery.campaign_id == campaign.pk
    assert delivery.effect is not None
    assert delivery.effect.effect_type == "triggerWebhook"
    assert delivery.arguments == {
        "sessionId": "s-1",
        "total": "123.45",
        "note": 'He said "hi" & left',
    }
    [attempt] = WebhookDeliveryAttempt.objects.all()
    assert attempt.status_code == 200
    assert attempt.response_excerpt == '{"ok": true}'
    assert attempt.url.endswith("/hooks/s-1?total=123.45")


def test_arguments_are_escaped_for_the_url(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    webhook = make_webhook(application, receiver.url, url=receiver.url + "/notes/${$note}")
    rule = hook_rule(webhook.pk, "s", 1, "a/b?c=d&e #f")
    campaign_with(application, [rule])

    with django_capture_on_commit_callbacks(execute=True):
        close(client, auth)

    [request] = receiver.requests
    assert request.path == "/notes/a%2Fb%3Fc%3Dd%26e%20%23f"
    assert json.loads(request.body)["note"] == "Note: a/b?c=d&e #f"


def test_a_5xx_is_retried_until_the_receiver_takes_it(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    webhook = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(webhook.pk)])
    receiver.statuses = [500, 503]

    with django_capture_on_commit_callbacks(execute=True):
        close(client, auth)

    assert len(receiver.requests) == 3
    # The same delivery each time, signed anew.
    assert len({r.headers["X-Talon-Delivery"] for r in receiver.requests}) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempt_count == 3
    attempts = list(delivery.attempts.order_by("number"))
    assert [a.status_code for a in attempts] == [500, 503, 200]
    assert attempts[0].response_excerpt == "try later"
    # The Management API's message logs list the three tries, newest first.
    ManagementTokenFactory(raw_token="root", user=UserFactory(is_superuser=True))
    logs = client.get("/v1/message_logs?entityType=webhook", headers=bearer("root")).json()
    assert [(e["attempt"], e["response"]["status"]) for e in logs["data"]] == [
        (3, 200),
        (2, 503),
        (1, 500),
    ]
    assert {e["webhookId"] for e in logs["data"]} == {webhook.pk}


def test_retries_stop_after_the_last_attempt(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    settings: Settings,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    webhook = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(webhook.pk)])
    receiver.statuses = [500, 500, 500]

    with django_capture_on_commit_callbacks(execute=True):
        close(client, auth)

    assert len(receiver.requests) == 2
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_status_code == 500
    assert delivery.completed_at is not None


def test_a_4xx_is_final(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    webhook = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(webhook.pk)])
    receiver.statuses = [400]

    with django_capture_on_commit_callbacks(execute=True):
        close(client, auth)

    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().state == DeliveryState.FAILED


def test_a_private_address_is_refused_unless_the_operator_allows_it(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    settings: Settings,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    webhook = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(webhook.pk)])

    with django_capture_on_commit_callbacks(execute=True):
        close(client, auth)

    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    # Refused once and for all: an address does not become public by waiting.
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempt_count == 1
    assert "127.0.0.1" in delivery.last_error
    assert "not a public address" in delivery.last_error


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "http://10.0.0.1/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
        "http://0.0.0.0:9/hook",
    ],
)
def test_addresses_that_are_not_public_are_refused(
    client: Client,
    auth: dict[str, str],
    application: Application,
    eager: None,
    settings: Settings,
    django_capture_on_commit_callbacks: Any,
    url: str,
) -> None:
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    webhook = make_webhook(application, url, url=url, headers=[], payload="", params=[])
    campaign_with(
        application,
        [
            {
                "title": "Hook",
                "condition": ["and", True],
                "effects": [["triggerWebhook", webhook.pk]],
            }
        ],
    )

    with django_capture_on_commit_callbacks(execute=True):
        close(client, auth)

    delivery = WebhookDelivery.objects.get(webhook=webhook)
    assert delivery.state == DeliveryState.FAILED
    assert "not a public address" in delivery.last_error


def test_an_open_session_and_a_dry_run_send_nothing(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    webhook = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(webhook.pk)])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        opened = put_session(client, auth, "s-1", state="open")
        dry = close(client, auth, "s-2", dry=True)

    # Both show what closing will trigger, with the webhook's name …
    for body in (opened, dry):
        [trigger] = [e for e in body["effects"] if e["effectType"] == "triggerWebhook"]
        assert trigger["props"]["webhookName"] == "Tell the CRM"
    # … and neither writes a delivery nor sends anything.
    assert callbacks == []
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_an_event_that_triggers_a_webhook_sends_it(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    webhook = make_webhook(
        application,
        receiver.url,
        url=receiver.url + "/events",
        headers=[],
        params=[{"type": "string", "title": "type", "ui": {}}],
        payload='{"type": "${$type}"}',
    )
    campaign_with(
        application,
        [
            {
                "title": "On events",
                "condition": ["and", True],
                "effects": [["triggerWebhook", webhook.pk, [".", "Event", "Type"]]],
            }
        ],
    )
    body = {"profileId": "ann", "type": "visited", "attributes": {}}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/v2/events", data=dumps(body), content_type="application/json", headers=auth
        )

    assert response.status_code == 200, response.content
    [request] = receiver.requests
    assert json.loads(request.body) == {"type": "visited"}
    delivery = WebhookDelivery.objects.get()
    assert delivery.event is not None
    assert delivery.event.type == "visited"
    assert delivery.profile is not None
    assert delivery.profile.integration_id == "ann"


# ---------------------------------------------------------------------------------------------
# Effects that cannot apply


def test_a_disabled_or_deleted_webhook_is_left_out_with_a_failure(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    disabled = make_webhook(application, receiver.url, enabled=False)
    deleted = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(disabled.pk), hook_rule(deleted.pk)])
    deleted_id = deleted.pk
    deleted.delete()

    with django_capture_on_commit_callbacks(execute=True):
        body = close(client, auth)

    # The rules' other effects stand.
    assert effect_types(body) == ["setDiscount", "setDiscount"]
    reasons = [failure["details"] for failure in body["ruleFailureReasons"]]
    assert any(f"webhook {disabled.pk} (Tell the CRM) is disabled" in r for r in reasons)
    assert any(f"there is no webhook {deleted_id}" in r for r in reasons)
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()
    assert not EffectRecord.objects.filter(effect_type="triggerWebhook").exists()


def test_a_webhook_of_another_application_is_left_out(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    theirs = make_webhook(ApplicationFactory(), receiver.url)
    ours = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(ours.pk)])
    # Saved when it named our webhook; the id now names theirs (a ruleset is immutable, so
    # change the stored rules directly).
    campaign = Campaign.objects.get(application=application)
    ruleset = campaign.active_ruleset
    assert ruleset is not None
    ruleset.rules[0]["effects"][0][1] = theirs.pk
    ruleset.save(update_fields=["rules"])
    application.rules_version += 1
    application.save(update_fields=["rules_version"])

    with django_capture_on_commit_callbacks(execute=True):
        body = close(client, auth)

    assert "triggerWebhook" not in effect_types(body)
    assert any(
        f"there is no webhook {theirs.pk} in this application" in failure["details"]
        for failure in body["ruleFailureReasons"]
    )
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (("x", 5), "takes 3 argument(s), not 2"),
        (("x", "not a number", "n"), "argument 2 of webhook"),
    ],
)
def test_arguments_that_do_not_fit_the_parameters_are_a_failure(
    client: Client,
    auth: dict[str, str],
    application: Application,
    receiver: Receiver,
    eager: None,
    django_capture_on_commit_callbacks: Any,
    arguments: tuple[Any, ...],
    problem: str,
) -> None:
    webhook = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(webhook.pk, "x", 5, "n")])
    campaign = Campaign.objects.get(application=application)
    ruleset = campaign.active_ruleset
    assert ruleset is not None
    ruleset.rules[0]["effects"][0] = ["triggerWebhook", webhook.pk, *arguments]
    ruleset.save(update_fields=["rules"])
    application.rules_version += 1
    application.save(update_fields=["rules_version"])

    with django_capture_on_commit_callbacks(execute=True):
        body = close(client, auth)

    assert "triggerWebhook" not in effect_types(body)
    assert any(problem in failure["details"] for failure in body["ruleFailureReasons"])
    assert receiver.requests == []


def test_a_session_that_triggers_no_webhook_does_not_look_for_any(
    client: Client, auth: dict[str, str], application: Application
) -> None:
    campaign_with(
        application,
        [{"title": "5 off", "condition": ["and", True], "effects": [["setDiscount", "5", 5]]}],
    )
    close(client, auth, "warm-up")  # compiles the rules

    with CaptureQueriesContext(connection) as queries:
        close(client, auth, "s-1")

    assert not [q for q in queries.captured_queries if "webhook" in q["sql"]]


# ---------------------------------------------------------------------------------------------
# Saving rules


def test_saving_rules_that_name_a_missing_webhook_is_refused_with_a_pointer(
    application: Application,
) -> None:
    webhook = make_webhook(application, "https://hooks.example.com")
    elsewhere = make_webhook(ApplicationFactory(), "https://hooks.example.com")
    campaign = CampaignFactory(application=application)
    rules = [
        hook_rule(webhook.pk),
        hook_rule(elsewhere.pk),
        hook_rule(webhook.pk, "only one"),
    ]

    with pytest.raises(RulesetInvalid) as refused:
        ruleset_create(campaign=campaign, rules=rules)

    errors = {error.pointer: str(error) for error in refused.value.errors}
    assert set(errors) == {"/rules/1/effects/0/1", "/rules/2/effects/0"}
    assert f"webhook {elsewhere.pk}" in errors["/rules/1/effects/0/1"]
    assert "takes 3 argument(s)" in errors["/rules/2/effects/0"]
    assert not campaign.rulesets.exists()


def test_the_signature_is_an_hmac_of_the_timestamp_and_body() -> None:
    signature = webhook_signature("secret", 1767225600, b'{"a": 1}')

    expected = hmac.new(b"secret", b'1767225600.{"a": 1}', hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"


# ---------------------------------------------------------------------------------------------
# A real worker


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_delivers_after_the_session_closes(
    client: Client, receiver: Receiver, tmp_path: Path
) -> None:
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("REDIS_URL is not set (bin/test sets it)")
    from tests.test_celery_worker import database_url_of_this_session

    application = ApplicationFactory(currency="EUR")
    auth = api_key_headers(application)
    webhook = make_webhook(application, receiver.url)
    campaign_with(application, [hook_rule(webhook.pk)])
    queue = f"test-{uuid.uuid4().hex}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_VAR_DIR"}},
        "DJANGO_SETTINGS_MODULE": "talonone.settings",
        "DJANGO_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url_of_this_session(),
        "REDIS_URL": redis_url,
        "WEBHOOK_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/32",
    }
    log_path = tmp_path / "worker.log"
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "talonone",
                "worker",
                "--pool=solo",
                "--queues",
                queue,
                "--hostname",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        close(client, auth)  # commits: the delivery is sent to the broker

        requests = receiver.wait_for(1, timeout=60)
        deadline = time.monotonic() + 30
        while (
            WebhookDelivery.objects.get().state != DeliveryState.DELIVERED
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
    finally:
        celery_app.conf.task_default_queue = previous_queue
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        print("--- worker log ---\n" + log_path.read_text())

    assert len(requests) == 1
    assert json.loads(requests[0].body)["session"] == "s-1"
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempts.get().status_code == 200


# ---------------------------------------------------------------------------------------------
# The admin


def test_the_admin_shows_webhooks_masked_and_deliveries_with_their_tries(
    client: Client, application: Application
) -> None:
    from django.urls import reverse

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    webhook = make_webhook(application, "https://hooks.example.com")
    delivery = WebhookDelivery.objects.create(
        application=application,
        webhook=webhook,
        webhook_title=webhook.title,
        state=DeliveryState.FAILED,
        attempt_count=1,
    )
    now = delivery.created
    WebhookDeliveryAttempt.objects.create(
        delivery=delivery,
        number=1,
        method="POST",
        url="https://hooks.example.com/x",
        status_code=500,
        started_at=now,
        finished_at=now,
        duration_ms=3,
    )
    pages = [
        reverse("admin:campaigns_webhook_changelist"),
        reverse("admin:campaigns_webhook_add"),
        reverse("admin:campaigns_webhook_change", args=[webhook.pk]),
        reverse("admin:campaigns_webhookdelivery_changelist"),
        reverse("admin:campaigns_webhookdelivery_change", args=[delivery.pk]),
        reverse("admin:campaigns_webhookdeliveryattempt_changelist"),
    ]

    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert webhook.signing_secret not in response.content.decode()

    retried = client.post(
        reverse("admin:campaigns_webhookdelivery_changelist"),
        {"action": "retry", "_selected_action": [delivery.pk]},
    )
    assert retried.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.RETRYING
    assert delivery.next_attempt_at is not None


# ---------------------------------------------------------------------------------------------
# The worker's side


def test_a_try_is_made_once_however_often_its_task_runs(
    application: Application, receiver: Receiver
) -> None:
    from campaigns.tasks import webhook_deliver

    webhook = make_webhook(application, receiver.url, url=receiver.url + "/once", params=[])
    webhook.payload = ""
    webhook.headers = []
    webhook.save()
    delivery = WebhookDelivery.objects.create(
        application=application, webhook=webhook, webhook_title=webhook.title
    )

    first = webhook_deliver.apply(args=[delivery.pk, 1]).get()
    second = webhook_deliver.apply(args=[delivery.pk, 1]).get()

    assert (first, second) == (DeliveryState.DELIVERED, DeliveryState.DELIVERED)
    assert len(receiver.requests) == 1
    assert WebhookDeliveryAttempt.objects.count() == 1


def test_the_sweep_sends_due_retries_and_lost_deliveries_only(
    application: Application, receiver: Receiver, eager: None
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.tasks import webhook_deliveries_sweep

    webhook = make_webhook(application, receiver.url, url=receiver.url + "/swept", params=[])
    webhook.payload = ""
    webhook.headers = []
    webhook.save()
    now = timezone.now()

    def delivery(**fields: Any) -> WebhookDelivery:
        return WebhookDelivery.objects.create(
            application=application, webhook=webhook, webhook_title=webhook.title, **fields
        )

    due = delivery(state=DeliveryState.RETRYING, attempt_count=1, next_attempt_at=now)
    lost = delivery(created=now - timedelta(minutes=5))
    fresh = delivery()  # its own task is on its way
    later = delivery(
        state=DeliveryState.RETRYING, attempt_count=1, next_attempt_at=now + timedelta(hours=1)
    )

    assert webhook_deliveries_sweep.apply().get() == 2

    states = dict(WebhookDelivery.objects.values_list("pk", "state"))
    assert states[due.pk] == states[lost.pk] == DeliveryState.DELIVERED
    assert states[fresh.pk] == DeliveryState.PENDING
    assert states[later.pk] == DeliveryState.RETRYING
    assert len(receiver.requests) == 2
    assert due.attempts.get().number == 2
