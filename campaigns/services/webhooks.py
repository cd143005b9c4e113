"""Webhooks: define them, turn ``triggerWebhook`` effects into outbox rows, deliver them.

**Definitions** (``webhook_create``, ``webhook_update``, ``webhook_delete``). A webhook lists
the applications it serves (at least one: here nothing is shared across tenants) and its
parameters (``params``, Talon.One's ``TemplateArgDef``: ``type`` and ``title`` required; the
title is the parameter's name, a letter or ``_`` then letters, digits and ``_``). Its URL, the
values of its headers and its payload are templates in which ``${$name}`` stands for the
argument of the parameter ``name`` (Talon.One's notation); a template that names no parameter
of the webhook is refused, with a pointer to it (``WebhookInvalid``). Talon.One's other
references (``${$Profile.Attributes.x}``) are not supported.

**Templates.** Arguments are inserted as text, escaped for where they go, so that no argument
can change the shape of the request:

- in the URL, percent-encoded (``/`` and ``?`` included);
- in a header's value, as they are (a line break in one fails the delivery);
- in a payload that is JSON (the template is valid JSON once each placeholder stands for a
  value), JSON-encoded: a placeholder inside a JSON string (``"Hi ${$name}"``) takes the
  argument's text escaped for a string, one outside (``{"points": ${$points}}``) takes the
  argument as a JSON value (a number, ``true``, a string in quotes, a list …), so the payload
  stays valid JSON whatever the arguments hold;
- in any other payload, as text.

A number is written exactly (``12.50``, never as a float), a time in RFC 3339, a boolean as
``true``/``false``, a list in the URL, a header or text as its items joined by commas.

**Effects** (``webhook_effects``). When a session closes, an event is tracked or a profile
update runs the rules, each ``triggerWebhook`` effect gets the webhook's title (its
``webhookName``) and its arguments are bound to the webhook's parameters. A webhook that does
not exist, does not serve the application or is disabled, and arguments that do not match its
parameters (how many, or of which type), leave the effect out with a failure of its rule
(``ruleFailureReasons``), as other effects that cannot apply. No query is made when no
``triggerWebhook`` fired. ``webhook_deliveries_record`` writes one ``WebhookDelivery`` per
effect, in the transaction that confirms it, and hands the deliveries to Celery once it commits
(an open session, a dry run or a rolled back transaction sends nothing).

**Delivery** (``webhook_delivery_attempt``, run by ``campaigns.tasks.webhook_deliver``). The
templates are rendered, the request signed and sent, and the try logged
(``WebhookDeliveryAttempt``). The signature lets the receiver check that the request comes from
us and was not changed or replayed::

    X-Talon-Delivery: 81                      (the delivery: the same on every retry)
    X-Talon-Timestamp: 1767225600             (when this try was signed, Unix seconds)
    X-Talon-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

with the webhook's signing secret (shown when the webhook is created, or set by its owner).
A network error, a timeout, a 429 or a 5xx is tried again with exponential backoff, up to
``WEBHOOK_MAX_ATTEMPTS`` tries; any other answer is final (2xx delivered, others failed).
Redirects are not followed.

**SSRF guard.** The URL's host is resolved once; if any of its addresses is not a public one
(loopback, private, link-local such as cloud metadata at 169.254.169.254, shared, reserved,
multicast …) the request is refused, unless the address is in ``WEBHOOK_ALLOWED_PRIVATE_
NETWORKS``. The connection goes to the address that was checked (HTTPS still verifies the
certificate against the host's name), so the name cannot resolve elsewhere in between.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns.models import (
    Application,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
    Event,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from campaigns.models.webhooks import DeliveryState, WebhookParamType, WebhookVerb
from rules.effects import TriggerWebhook
from rules.engine import FiredEffect, RuleFailure
from rules.errors import RuleRuntimeError
from rules.values import format_rfc3339

logger = logging.getLogger(__name__)

#: A placeholder: ``${$name}``. What stands between the braces is checked against the params.
PLACEHOLDER: Final = re.compile(r"\$\{\$([^}]*)\}")
#: A parameter's name (its ``title``), as a placeholder may name it.
PARAM_NAME: Final = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
#: An HTTP header's name (RFC 9110 ``token``).
HEADER_NAME: Final = re.compile(r"\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
#: Headers the request sets itself, which a webhook may not set.
RESERVED_HEADERS: Final = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"}
)
SIGNATURE_HEADER: Final = "X-Talon-Signature"
TIMESTAMP_HEADER: Final = "X-Talon-Timestamp"
DELIVERY_HEADER: Final = "X-Talon-Delivery"
#: The prefix of the headers the delivery sets (``X-Talon-…``), which a webhook may not set.
OWN_HEADER_PREFIX: Final = "x-talon-"

MAX_PARAMS: Final = 50
MAX_HEADERS: Final = 50
MAX_HEADER_LENGTH: Final = 8192
MAX_PAYLOAD_LENGTH: Final = 100_000
SECRET_MIN_LENGTH: Final = 32
SECRET_MAX_LENGTH: Final = 256
#: What an attempt keeps of the request's body and of the answer.
REQUEST_KEPT: Final = 65_536
RESPONSE_KEPT: Final = 4096
#: The longest wait between two tries.
MAX_RETRY_SECONDS: Final = 3600
#: How long a worker holds a delivery it is sending, beyond the request's timeout.
LEASE_MARGIN_SECONDS: Final = 60

_RETRY_STATUSES: Final = frozenset({408, 425, 429})


class WebhookInvalid(Exception):
    """A webhook definition that does not check: ``problems`` are ``(pointer, details)``, the
    pointer into the Management API's body (``/params/1/type``, ``/payload``)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        pointer, details = self.problems[0]
        super().__init__(f"{pointer}: {details}")


# ---------------------------------------------------------------------------------------------
# Definitions


@dataclass(frozen=True, slots=True)
class WebhookDefinition:
    """What a webhook is, as checked by ``webhook_check`` (headers as ``(name, value)`` pairs,
    in the order they are sent)."""

    title: str
    description: str
    verb: str
    url: str
    headers: Sequence[tuple[str, str]]
    payload: str
    params: Sequence[Mapping[str, Any]]
    enabled: bool


def webhook_check(definition: WebhookDefinition) -> list[tuple[str, str]]:
    """Every problem of ``definition`` that a request's fields alone do not show: the
    parameters' names and types, the headers, the URL, and the templates' placeholders."""
    problems: list[tuple[str, str]] = []
    names: list[str] = []
    if len(definition.params) > MAX_PARAMS:
        problems.append(("/params", f"A webhook has at most {MAX_PARAMS} parameters."))
    for index, param in enumerate(definition.params):
        title = param.get("title")
        if not isinstance(title, str) or not PARAM_NAME.match(title):
            problems.append(
                (
                    f"/params/{index}/title",
                    "A parameter's title is its name in templates (${$name}): a letter or _, "
                    "then letters, digits and _.",
                )
            )
        elif title in names:
            problems.append((f"/params/{index}/title", f"Two parameters are named {title!r}."))
        else:
            names.append(title)
        if param.get("type") not in WebhookParamType.values:
            problems.append(
                (
                    f"/params/{index}/type",
                    f"A parameter's type is one of {', '.join(WebhookParamType.values)}.",
                )
            )
    if definition.verb not in WebhookVerb.values:
        problems.append(("/verb", f"verb is one of {', '.join(WebhookVerb.values)}."))
    problems += _url_problems(definition.url, names)
    if len(definition.headers) > MAX_HEADERS:
        problems.append(("/headers", f"A webhook has at most {MAX_HEADERS} headers."))
    seen: set[str] = set()
    for index, (name, value) in enumerate(definition.headers):
        problems += _header_problems(index, name, value, names)
        if name.lower() in seen:
            problems.append((f"/headers/{index}", f"The header {name} is set twice."))
        seen.add(name.lower())
    if len(definition.payload) > MAX_PAYLOAD_LENGTH:
        problems.append(("/payload", f"The payload has at most {MAX_PAYLOAD_LENGTH} characters."))
    problems += _placeholder_problems("/payload", definition.payload, names)
    return problems


def _placeholder_problems(
    pointer: str, template: str, names: Sequence[str]
) -> list[tuple[str, str]]:
    unknown = [name for name in PLACEHOLDER.findall(template) if name not in names]
    if not unknown:
        return []
    declared = ", ".join(names) if names else "none"
    return [
        (
            pointer,
            f"${{${unknown[0]}}} names no parameter of the webhook (its parameters: {declared}).",
        )
    ]


def _url_problems(url: str, names: Sequence[str]) -> list[tuple[str, str]]:
    problems = _placeholder_problems("/url", url, names)
    if problems:
        return problems
    sample = PLACEHOLDER.sub("x", url)
    try:
        parts = urlsplit(sample)
        port = parts.port
    except ValueError:
        return [("/url", "The URL is not valid.")]
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [("/url", "The URL is an absolute http:// or https:// URL, with a host.")]
    if parts.username is not None or parts.password is not None:
        return [("/url", "Send credentials in a header, not in the URL.")]
    if any(ord(char) <= 32 or ord(char) == 127 for char in sample):
        return [("/url", "The URL may not contain spaces or control characters.")]
    return []


def _header_problems(
    index: int, name: str, value: str, names: Sequence[str]
) -> list[tuple[str, str]]:
    pointer = f"/headers/{index}"
    if not HEADER_NAME.match(name):
        return [(pointer, f"{name!r} is not a header name.")]
    lowered = name.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith(OWN_HEADER_PREFIX):
        return [(pointer, f"The request sets {name} itself.")]
    if len(value) > MAX_HEADER_LENGTH or any(char in value for char in "\r\n\0"):
        return [
            (pointer, f"The value of {name} is one line of at most {MAX_HEADER_LENGTH} characters.")
        ]
    return _placeholder_problems(pointer, value, names)


def webhook_create(
    *,
    applications: Sequence[Application],
    definition: WebhookDefinition,
    signing_secret: str | None = None,
) -> Webhook:
    """Define a webhook for ``applications``; a new random signing secret unless one is given.
    Raises ``WebhookInvalid`` with every problem (nothing is written then)."""
    _raise_problems(definition, signing_secret)
    with transaction.atomic():
        webhook = Webhook.objects.create(
            **_fields(definition),
            signing_secret=signing_secret or secrets.token_urlsafe(32),
        )
        webhook.applications.set(applications)
    return webhook


def webhook_update(
    *,
    webhook: Webhook,
    applications: Sequence[Application],
    definition: WebhookDefinition,
    signing_secret: str | None = None,
) -> Webhook:
    """Redefine ``webhook`` (its secret too, when given). Deliveries already recorded keep
    their arguments and are rendered with the definition as it is when they are sent."""
    _raise_problems(definition, signing_secret)
    with transaction.atomic():
        for name, value in _fields(definition).items():
            setattr(webhook, name, value)
        if signing_secret:
            webhook.signing_secret = signing_secret
        webhook.save()
        webhook.applications.set(applications)
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """Delete ``webhook``; its deliveries stay in the log (their ``webhook`` becomes null) and
    those not yet sent are not sent. Rules that trigger it fail from now on."""
    webhook.delete()


def _raise_problems(definition: WebhookDefinition, signing_secret: str | None) -> None:
    problems = webhook_check(definition)
    if signing_secret is not None and not (
        SECRET_MIN_LENGTH <= len(signing_secret) <= SECRET_MAX_LENGTH
        and signing_secret.isprintable()
    ):
        problems.append(
            (
                "/signingSecret",
                f"A signing secret has {SECRET_MIN_LENGTH} to {SECRET_MAX_LENGTH} printable "
                "characters.",
            )
        )
    if problems:
        raise WebhookInvalid(problems)


def _fields(definition: WebhookDefinition) -> dict[str, Any]:
    return {
        "title": definition.title,
        "description": definition.description,
        "verb": definition.verb,
        "url": definition.url,
        "headers": [[name, value] for name, value in definition.headers],
        "payload": definition.payload,
        "params": [dict(param) for param in definition.params],
        "enabled": definition.enabled,
    }


def webhook_param_names(webhook: Webhook) -> list[str]:
    """The names of ``webhook``'s parameters, in order."""
    return [str(param.get("title", "")) for param in webhook.params]


# ---------------------------------------------------------------------------------------------
# Effects


def webhook_effects(
    effects: Sequence[FiredEffect], *, application: Application
) -> tuple[list[FiredEffect], list[RuleFailure], dict[int, tuple[Webhook, dict[str, Any]]]]:
    """Split ``effects``: the ones that apply (every ``triggerWebhook`` with its webhook's
    title), a failure for each ``triggerWebhook`` that cannot, and, by the position of each
    ``triggerWebhook`` kept among the kept effects, its webhook and its arguments bound to the
    parameters' names (stored values). One query when a ``triggerWebhook`` fired, none
    otherwise."""
    if not any(type(fired.effect) is TriggerWebhook for fired in effects):
        return effects if isinstance(effects, list) else list(effects), [], {}
    ids = {fired.effect.webhook_id for fired in effects if type(fired.effect) is TriggerWebhook}
    webhooks = {webhook.pk: webhook for webhook in _served(application, ids)}
    kept: list[FiredEffect] = []
    failures: list[RuleFailure] = []
    calls: dict[int, tuple[Webhook, dict[str, Any]]] = {}
    for fired in effects:
        effect = fired.effect
        if type(effect) is not TriggerWebhook:
            kept.append(fired)
            continue
        webhook = webhooks.get(effect.webhook_id)
        problem: str | None
        if webhook is None:
            problem = f"there is no webhook {effect.webhook_id} in this application"
            arguments = None
        elif not webhook.enabled:
            problem = f"webhook {effect.webhook_id} ({webhook.title}) is disabled"
            arguments = None
        else:
            arguments, problem = webhook_arguments(webhook, effect.arguments)
        if problem is not None or webhook is None or arguments is None:
            failures.append(RuleFailure(fired.rule, RuleRuntimeError(f"cannot trigger: {problem}")))
            continue
        calls[len(kept)] = (webhook, arguments)
        kept.append(fired._replace(effect=replace(effect, webhook_name=webhook.title)))
    return kept, failures, calls


def _served(application: Application, ids: Iterable[int]) -> list[Webhook]:
    return list(Webhook.objects.filter(pk__in=set(ids), applications=application))


def webhook_arguments(
    webhook: Webhook, arguments: Sequence[Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """``arguments`` (rule values, in the parameters' order) bound to the names of
    ``webhook``'s parameters, as stored values; or why they cannot be."""
    params = webhook.params
    if len(arguments) != len(params):
        return None, (
            f"webhook {webhook.pk} ({webhook.title}) takes {len(params)} argument(s), "
            f"not {len(arguments)}"
        )
    bound: dict[str, Any] = {}
    for position, (param, value) in enumerate(zip(params, arguments, strict=True)):
        stored = _stored_argument(str(param.get("type")), value)
        if stored is _MISMATCH:
            return None, (
                f"argument {position + 1} of webhook {webhook.pk} ({webhook.title}) is a "
                f"{param.get('type')}, not {_describe(value)}"
            )
        bound[str(param.get("title"))] = stored
    return bound, None


_MISMATCH: Final = object()


def _stored_argument(type_name: str, value: Any) -> Any:
    """``value`` as stored for a parameter of ``type_name`` (numbers as exact text, times in
    RFC 3339), or ``_MISMATCH``."""
    if value is None:
        return None
    if type_name == WebhookParamType.STRING:
        return value if isinstance(value, str) else _MISMATCH
    if type_name == WebhookParamType.BOOLEAN:
        return value if isinstance(value, bool) else _MISMATCH
    if type_name == WebhookParamType.NUMBER:
        return _number_text(value) if isinstance(value, Decimal) else _MISMATCH
    if type_name == WebhookParamType.TIME:
        return format_rfc3339(value) if isinstance(value, datetime) else _MISMATCH
    if type_name in (WebhookParamType.LIST_STRING, WebhookParamType.LIST_NUMBER):
        item_type = (
            WebhookParamType.STRING
            if type_name == WebhookParamType.LIST_STRING
            else WebhookParamType.NUMBER
        )
        if not isinstance(value, list):
            return _MISMATCH
        items = [_stored_argument(item_type, item) for item in value]
        return _MISMATCH if any(item is _MISMATCH or item is None for item in items) else items
    return _MISMATCH


def _number_text(value: Decimal) -> str:
    """An exact number as JSON writes one: no exponent, no trailing zeros lost."""
    if not value.is_finite():
        return "0"
    return format(value, "f")


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, datetime):
        return "a time"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


def webhook_deliveries_record(
    *,
    application: Application,
    effects: Sequence[FiredEffect],
    calls: Mapping[int, tuple[Webhook, dict[str, Any]]],
    records: Sequence[EffectRecord] | None = None,
    session: CustomerSession | None = None,
    profile: CustomerProfile | None = None,
    event: Event | None = None,
    now: datetime,
) -> list[WebhookDelivery]:
    """Write the outbox row of each call (``webhook_effects``' third answer: positions in
    ``effects``, whose effect records are ``records``, in the same order), and have Celery
    deliver them once the transaction commits. Nothing when there are no calls."""
    if not calls:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            application=application,
            webhook=webhook,
            webhook_title=webhook.title,
            campaign_id=effects[position].rule.ruleset or None,
            session=session,
            profile=profile,
            event=event,
            effect=records[position] if records is not None else None,
            arguments=arguments,
            created=now,
        )
        for position, (webhook, arguments) in sorted(calls.items())
    )
    pks = [delivery.pk for delivery in deliveries]

    def webhook_deliveries_enqueue() -> None:
        """Hand the deliveries to a worker (after commit: the worker must find their rows).
        A broker that cannot be reached leaves them pending, for ``webhook_deliveries_due``."""
        from campaigns.tasks import webhook_deliver  # the tasks module imports services

        for pk in pks:
            webhook_deliver.delay(pk, 1)

    transaction.on_commit(webhook_deliveries_enqueue, robust=True)
    return deliveries


def webhook_deliveries_due(*, now: datetime, settled_for: timedelta) -> list[tuple[int, int]]:
    """The deliveries a worker should try now, as ``(delivery id, attempt number)``: pending
    for longer than ``settled_for`` (their enqueue was lost), due for a retry, or left
    ``sending`` by a worker that died."""
    due = WebhookDelivery.objects.filter(
        Q(state=DeliveryState.PENDING, created__lte=now - settled_for)
        | Q(state=DeliveryState.RETRYING, next_attempt_at__lte=now)
        | Q(state=DeliveryState.SENDING, lease_until__lte=now)
    ).values_list("pk", "attempt_count")
    return [(pk, count + 1) for pk, count in due[:1000]]


# ---------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class RenderError(ValueError):
    """A template whose arguments make no valid request (a line break in a header …)."""


def webhook_render(webhook: Webhook, arguments: Mapping[str, Any]) -> RenderedRequest:
    """The request ``webhook`` makes with ``arguments`` (stored values by parameter name),
    before signing (see the module on escaping)."""
    types = {str(p.get("title")): str(p.get("type")) for p in webhook.params}

    def text(name: str) -> str:
        return _plain(arguments.get(name), types.get(name, ""))

    url = PLACEHOLDER.sub(lambda m: quote(text(m.group(1)), safe=""), webhook.url)
    headers: dict[str, str] = {}
    for name, template in webhook.headers:
        value = PLACEHOLDER.sub(lambda m: text(m.group(1)), str(template))
        if any(char in value for char in "\r\n\0"):
            raise RenderError(f"the value of header {name} would have a line break")
        headers[name] = value
    payload = webhook.payload
    if payload and _is_json_template(payload):
        body = _render_json(payload, arguments, types)
        content_type = "application/json"
    else:
        body = PLACEHOLDER.sub(lambda m: text(m.group(1)), payload)
        content_type = "text/plain; charset=utf-8"
    if payload and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = content_type
    return RenderedRequest(webhook.verb, url, headers, body.encode())


def _plain(value: Any, type_name: str) -> str:
    """An argument as plain text (URL, header, non-JSON payload, inside a JSON string)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_plain(item, "") for item in value)
    return str(value)


def _json_value(value: Any, type_name: str) -> str:
    """An argument as a JSON value (a placeholder outside any JSON string)."""
    if value is None:
        return "null"
    if type_name in (WebhookParamType.NUMBER, WebhookParamType.LIST_NUMBER):
        if isinstance(value, list):
            return "[" + ",".join(_json_number(item) for item in value) + "]"
        return _json_number(value)
    return json.dumps(value, ensure_ascii=False)


def _json_number(text: Any) -> str:
    try:
        number = Decimal(str(text))
    except ArithmeticError:
        return "null"
    return _number_text(number) if number.is_finite() else "null"


def _json_pieces(template: str) -> list[tuple[str, bool | None]]:
    """``template`` as literal pieces (``(text, None)``) and placeholders (``(name,
    in_string)``), telling for each placeholder whether it stands inside a JSON string."""
    pieces: list[tuple[str, bool | None]] = []
    in_string = escaped = False
    start = position = 0
    while position < len(template):
        char = template[position]
        if char == "$" and not escaped:
            match = PLACEHOLDER.match(template, position)
            if match is not None:
                pieces.append((template[start:position], None))
                pieces.append((match.group(1), in_string))
                position = start = match.end()
                continue
        if escaped:
            escaped = False
        elif in_string and char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
        position += 1
    pieces.append((template[start:], None))
    return pieces


def _is_json_template(template: str) -> bool:
    """Whether ``template`` is JSON once each placeholder stands for a value."""
    sample = "".join(
        text if where is None else ("x" if where else "0") for text, where in _json_pieces(template)
    )
    try:
        json.loads(sample)
    except ValueError:
        return False
    return True


def _render_json(template: str, arguments: Mapping[str, Any], types: Mapping[str, str]) -> str:
    out: list[str] = []
    for text, where in _json_pieces(template):
        if where is None:
            out.append(text)
        elif where:
            value = _plain(arguments.get(text), types.get(text, ""))
            out.append(json.dumps(value, ensure_ascii=False)[1:-1])
        else:
            out.append(_json_value(arguments.get(text), types.get(text, "")))
    return "".join(out)


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Talon-Signature`` of ``body`` signed at ``timestamp`` (see the module)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


# ---------------------------------------------------------------------------------------------
# Delivery


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one try did: the delivery's state after it, and in how many seconds to try again
    (None: no retry). ``attempted`` is false when there was nothing to do (the delivery was
    final, or another worker had taken this try)."""

    state: str
    retry_in: int | None = None
    attempted: bool = True


class AddressRefused(Exception):
    """A URL whose host is not public (and not allowed by the operator), or not usable."""


def webhook_delivery_attempt(*, delivery_pk: int, attempt: int) -> AttemptOutcome:
    """Make try number ``attempt`` of the delivery: render, sign, send, log, and move the
    delivery on. Safe to run twice: a try is made once, by whoever claims it first."""
    now = timezone.now()
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_pk, attempt_count=attempt - 1)
        .filter(
            Q(state__in=[DeliveryState.PENDING, DeliveryState.RETRYING])
            | Q(state=DeliveryState.SENDING, lease_until__lte=now)
        )
        .update(
            state=DeliveryState.SENDING,
            attempt_count=F("attempt_count") + 1,
            lease_until=now + timedelta(seconds=timeout + LEASE_MARGIN_SECONDS),
        )
    )
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_pk).first()
    if not claimed or delivery is None:
        state = delivery.state if delivery is not None else DeliveryState.FAILED
        return AttemptOutcome(state, attempted=False)

    webhook = delivery.webhook
    started = timezone.now()
    clock = time.monotonic()
    status: int | None = None
    excerpt = ""
    error = ""
    retryable = False
    method, url, body = "", "", b""
    if webhook is None:
        error = "The webhook was deleted."
    elif not webhook.enabled:
        error = "The webhook is disabled."
    else:
        try:
            rendered = webhook_render(webhook, delivery.arguments)
            method, url, body = rendered.method, rendered.url, rendered.body
            headers = dict(rendered.headers)
            timestamp = int(started.timestamp())
            headers[DELIVERY_HEADER] = str(delivery.pk)
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = webhook_signature(webhook.signing_secret, timestamp, body)
            status, excerpt = _send(method, url, headers, body, timeout=timeout)
            retryable = status >= 500 or status in _RETRY_STATUSES
        except (RenderError, AddressRefused) as refused:
            error = str(refused)
        except (OSError, http.client.HTTPException) as failure:
            error = f"{type(failure).__name__}: {failure}"[:1000]
            retryable = True
    finished = timezone.now()
    delivered = status is not None and 200 <= status < 300
    retry_in = None
    if not delivered and retryable and attempt < settings.WEBHOOK_MAX_ATTEMPTS:
        retry_in = min(MAX_RETRY_SECONDS, settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    if delivered:
        state = DeliveryState.DELIVERED
    elif retry_in is not None:
        state = DeliveryState.RETRYING
    else:
        state = DeliveryState.FAILED
    with transaction.atomic():
        WebhookDeliveryAttempt.objects.create(
            delivery=delivery,
            number=attempt,
            method=method or (webhook.verb if webhook is not None else ""),
            url=(url or (webhook.url if webhook is not None else ""))[:4096],
            request_body=body[:REQUEST_KEPT].decode(errors="replace"),
            status_code=status,
            response_excerpt=excerpt,
            error=error,
            started_at=started,
            finished_at=max(finished, started),
            duration_ms=int((time.monotonic() - clock) * 1000),
        )
        WebhookDelivery.objects.filter(pk=delivery.pk, attempt_count=attempt).update(
            state=state,
            last_status_code=status,
            last_error=error,
            lease_until=None,
            next_attempt_at=finished + timedelta(seconds=retry_in) if retry_in else None,
            completed_at=finished if state != DeliveryState.RETRYING else None,
        )
    if not delivered:
        logger.info(
            "webhook delivery %s, try %s: %s", delivery.pk, attempt, status or error or "refused"
        )
    return AttemptOutcome(state, retry_in)


def _send(
    method: str, url: str, headers: Mapping[str, str], body: bytes, *, timeout: float
) -> tuple[int, str]:
    """Send the request to the address its host resolves to (once checked, see the module),
    following no redirect: the answer's status and the start of its body."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise AddressRefused("The URL is not an http:// or https:// URL with a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as invalid:
        raise AddressRefused(f"The URL's port is not valid: {invalid}") from None
    address = _public_address(host, port)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)

    def connect_to_checked(
        _address: tuple[str, int], timeout: float | None = None, source: Any = None
    ) -> socket.socket:
        return socket.create_connection((address, port), timeout, source)

    connection._create_connection = connect_to_checked  # type: ignore[attr-defined]
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.request(method, target, body=body or None, headers=dict(headers))
        response = connection.getresponse()
        excerpt = response.read(RESPONSE_KEPT).decode(errors="replace")
        return response.status, excerpt
    finally:
        connection.close()


def _public_address(host: str, port: int) -> str:
    """The address to connect to for ``host``: the first it resolves to, once every address
    it resolves to is public or allowed (``WEBHOOK_ALLOWED_PRIVATE_NETWORKS``)."""
    try:
        resolved = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as failure:
        raise AddressRefused(f"The host {host} cannot be resolved: {failure}") from None
    allowed = [
        ipaddress.ip_network(network, strict=False)
        for network in settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS
    ]
    addresses = [str(info[4][0]) for info in resolved]
    if not addresses:
        raise AddressRefused(f"The host {host} resolves to no address.")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        public = address.is_global and not address.is_multicast
        if not public and not any(address in network for network in allowed):
            raise AddressRefused(
                f"The host {host} resolves to {address}, which is not a public address: "
                "webhooks may not call it (WEBHOOK_ALLOWED_PRIVATE_NETWORKS)."
            )
    return addresses[0]
