"""``/v1/webhooks`` and ``/v1/message_logs``: webhooks, and the log of their deliveries.

- ``getWebhooks`` lists the webhooks of the applications the caller may see (any role), paged
  (``paginate``, sorted by ``id``, ``created``, ``modified`` or ``title``) and filtered as
  Talon.One's: ``applicationIds`` (comma separated), ``title`` (contains, any letter case),
  ``creationType``, ``visibility`` and ``outgoingIntegrationsTypeId`` (nothing here is a
  template webhook, hidden, or an outgoing integration, so those select all or nothing).
  ``getWebhook`` reads one.
- ``createWebhook``, ``updateWebhook`` (the whole definition, as created) and
  ``deleteWebhook`` are ours: Talon.One's public API has no writes. As in its Campaign
  Manager, they need the **admin** role in every application the webhook serves (and, for a
  write, in every application the body names); a management key may do what its endpoints
  allow on the applications it lists. An application the caller may not administer named in
  the body is a 400 pointing at it, the same whether it exists or not (as ``createAttribute``).
- ``getMessageLogs`` (``entityType=webhook``) lists every try at delivering a webhook
  (``WebhookDeliveryAttempt``), newest first, of the applications the caller may see: the
  request's body and the answer's start (base64, as Talon.One's ``request``/``response``),
  the status, when and how long. Filters: ``applicationId``, ``campaignId``, ``webhookIDs``
  (up to 30, comma separated), ``messageID``, ``isSuccessful`` (2xx or not), ``responseCode``,
  ``createdAfter``/``createdBefore`` (RFC 3339) or ``period`` (the last ``15m`` … ``2d``);
  pages of ``pageSize`` (1 to 1000) follow ``nextCursor``. The other entity types
  (``application``, ``loyalty_program``: Talon.One's notifications) have no log here yet and
  answer an empty list.

A webhook of applications the caller cannot see answers 404, as one that does not exist. A
webhook serves at least one application: Talon.One's empty ``applicationIds`` ("all
applications") would share it across tenants here, so it is refused.

``headers`` are answered as Talon.One's list of ``"Name: value"`` strings, and may be sent so
or as an object (``{"Name": "value"}``). The signing secret (``signingSecret``,
``campaigns.services.webhooks``) is answered once, by ``createWebhook``; a write may set a new
one (32 to 256 characters) to rotate it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application, Webhook, WebhookDeliveryAttempt
from campaigns.models.webhooks import WebhookParamType, WebhookVerb
from campaigns.services.webhooks import (
    WebhookDefinition,
    WebhookInvalid,
    webhook_create,
    webhook_delete,
    webhook_update,
)
from integration.errors import BadRequest, ErrorItem, NotFound
from integration.render import rfc3339
from management.attributes import TITLE_PATTERN
from management.models import ManagementKey, Role
from management.services import applications_visible, role_allows, role_in
from management.views import (
    MAX_ID,
    MAX_PAGE_SIZE,
    Forbidden,
    ManagementView,
    paginate,
    query_error,
    query_problem,
    query_time,
)
from talonone.schema import PAGE_PARAMETERS, page_of

#: The fields ``getWebhooks`` sorts by: API name to model field.
WEBHOOK_SORT_FIELDS: Final = {
    "id": "id",
    "created": "created",
    "modified": "modified",
    "title": "title",
}
#: Talon.One's bound on the ids of ``webhookIDs``.
MAX_WEBHOOK_IDS: Final = 30
#: ``period``: the time frames ``getMessageLogs`` may look back over.
PERIODS: Final = {
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
    "2d": timedelta(days=2),
}
ENTITY_TYPES: Final = ("application", "loyalty_program", "webhook")


# ---------------------------------------------------------------------------------------------
# Bodies


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {"type": "string"}},
        ],
        "description": 'Headers, as "Name: value" strings or as an object of names to values.',
    }
)
class HeadersField(serializers.Field[list[tuple[str, str]], Any, list[str], Any]):
    """A webhook's headers: Talon.One's list of ``"Name: value"`` strings (or of one-entry JSON
    objects, as its examples show), or an object of names to values; ``(name, value)`` pairs,
    in order."""

    default_error_messages = {
        "invalid": 'Send headers as a list of "Name: value" strings, or as an object of names '
        "to string values."
    }

    def to_internal_value(self, data: Any) -> list[tuple[str, str]]:
        if isinstance(data, dict):
            pairs = list(data.items())
        elif isinstance(data, list):
            pairs = []
            for entry in data:
                if not isinstance(entry, str):
                    self.fail("invalid")
                pairs += self._pairs(entry)
        else:
            self.fail("invalid")
        headers: list[tuple[str, str]] = []
        for name, value in pairs:
            if not isinstance(name, str) or not isinstance(value, str):
                self.fail("invalid")
            headers.append((name.strip(), value.strip()))
        return headers

    def _pairs(self, entry: str) -> list[tuple[Any, Any]]:
        if entry.lstrip().startswith("{"):
            try:
                parsed = json.loads(entry)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                return list(parsed.items())
        name, colon, value = entry.partition(":")
        if not colon:
            self.fail("invalid")
        return [(name, value)]

    def to_representation(self, value: list[tuple[str, str]]) -> list[str]:
        return [f"{name}: {text}" for name, text in value]


class TemplateArgDefSerializer(serializers.Serializer[Any]):
    """A webhook parameter (Talon.One's ``TemplateArgDef``): its ``title`` is its name in
    templates (``${$title}``)."""

    type = serializers.ChoiceField(choices=WebhookParamType.values)
    title = serializers.CharField(min_length=1, max_length=255, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    ui = serializers.DictField(required=False)
    key = serializers.CharField(required=False, allow_blank=True, max_length=255)
    picklistID = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    restrictedByPicklist = serializers.BooleanField(required=False)

    class Meta:
        ref_name = "TemplateArgDef"


class WebhookInput(serializers.Serializer[Any]):
    """The body of ``createWebhook`` and ``updateWebhook``: Talon.One's webhook fields, and
    ``signingSecret`` (optional: a new one is made on create, the old one kept on update)."""

    applicationIds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=1000,
    )
    title = serializers.CharField(
        max_length=255,
        trim_whitespace=False,
        validators=[
            RegexValidator(
                TITLE_PATTERN,
                "Start with a letter; then use letters, digits, spaces and _.!~*'()-.",
                code="invalid_title",
            )
        ],
    )
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=10_000, trim_whitespace=False
    )
    draft = serializers.BooleanField(required=False, help_text="Ignored: no webhook is a draft.")
    verb = serializers.ChoiceField(choices=WebhookVerb.values)
    url = serializers.CharField(max_length=2048, trim_whitespace=False)
    headers = HeadersField(required=False)
    payload = serializers.CharField(
        required=False, allow_blank=True, max_length=100_000, trim_whitespace=False
    )
    params = TemplateArgDefSerializer(many=True, required=False)
    enabled = serializers.BooleanField(required=False, default=True)
    signingSecret = serializers.CharField(
        required=False, write_only=True, trim_whitespace=False, max_length=256
    )


class WebhookSerializer(serializers.Serializer[Any]):
    """A webhook as answered (``render_webhook``, Talon.One's ``Webhook``)."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    modified = serializers.DateTimeField()
    applicationIds = serializers.ListField(child=serializers.IntegerField())
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    draft = serializers.BooleanField()
    verb = serializers.ChoiceField(choices=WebhookVerb.values)
    url = serializers.CharField()
    headers = serializers.ListField(child=serializers.CharField(allow_blank=True))
    payload = serializers.CharField(allow_blank=True)
    params = TemplateArgDefSerializer(many=True)
    enabled = serializers.BooleanField()

    class Meta:
        ref_name = "Webhook"


class CreatedWebhookSerializer(WebhookSerializer):
    """A webhook just created, with its signing secret (answered this once)."""

    signingSecret = serializers.CharField(
        help_text="The secret of the X-Talon-Signature header; shown only here."
    )

    class Meta:
        ref_name = "CreatedWebhook"


class MessageRequestSerializer(serializers.Serializer[Any]):
    createdAt = serializers.DateTimeField()
    request = serializers.CharField(help_text="The request's body, base64-encoded.")

    class Meta:
        ref_name = "MessageLogRequest"


class MessageResponseSerializer(serializers.Serializer[Any]):
    createdAt = serializers.DateTimeField()
    response = serializers.CharField(
        help_text="The start of the answer's body (or why none came), base64-encoded."
    )
    status = serializers.IntegerField(required=False)

    class Meta:
        ref_name = "MessageLogResponse"


class MessageLogEntrySerializer(serializers.Serializer[Any]):
    """One try at delivering a webhook (Talon.One's ``MessageLogEntry``), with ours:
    ``attempt`` (1 for the first try), ``durationMs`` and ``error``."""

    id = serializers.CharField()
    service = serializers.CharField()
    webhookId = serializers.IntegerField(required=False)
    webhookName = serializers.CharField()
    request = MessageRequestSerializer()
    response = MessageResponseSerializer()
    createdAt = serializers.DateTimeField()
    entityType = serializers.ChoiceField(choices=ENTITY_TYPES)
    url = serializers.CharField(allow_blank=True)
    applicationId = serializers.IntegerField()
    campaignId = serializers.IntegerField(required=False)
    attempt = serializers.IntegerField()
    durationMs = serializers.IntegerField()
    error = serializers.CharField(required=False)

    class Meta:
        ref_name = "MessageLogEntry"


class MessageLogEntriesSerializer(serializers.Serializer[Any]):
    nextCursor = serializers.CharField(
        required=False, help_text="Send it as cursor for the next page; absent on the last."
    )
    data = MessageLogEntrySerializer(many=True)  # type: ignore[assignment]

    class Meta:
        ref_name = "MessageLogEntries"


WEBHOOKS_QUERY: Final = [
    *PAGE_PARAMETERS,
    OpenApiParameter(
        "sort",
        str,
        description="The field to sort by, with - in front for descending order: "
        + ", ".join(WEBHOOK_SORT_FIELDS)
        + ".",
    ),
    OpenApiParameter("applicationIds", str, description="Application ids, separated by commas."),
    OpenApiParameter("title", str, description="Text in the title, in any letter case."),
    OpenApiParameter("creationType", str, enum=["templateWebhooks", "webhooks"]),
    OpenApiParameter("visibility", str, enum=["visible", "hidden"]),
    OpenApiParameter("outgoingIntegrationsTypeId", OpenApiTypes.INT),
]

MESSAGE_LOGS_QUERY: Final = [
    OpenApiParameter("entityType", str, enum=list(ENTITY_TYPES), required=True),
    OpenApiParameter("applicationId", OpenApiTypes.INT),
    OpenApiParameter("campaignId", OpenApiTypes.INT),
    OpenApiParameter(
        "webhookIDs", str, description=f"Up to {MAX_WEBHOOK_IDS} ids, separated by commas."
    ),
    OpenApiParameter("messageID", str),
    OpenApiParameter("isSuccessful", OpenApiTypes.BOOL),
    OpenApiParameter("responseCode", OpenApiTypes.INT),
    OpenApiParameter("createdAfter", OpenApiTypes.DATETIME),
    OpenApiParameter("createdBefore", OpenApiTypes.DATETIME),
    OpenApiParameter("period", str, enum=list(PERIODS)),
    OpenApiParameter("cursor", OpenApiTypes.BYTE),
    OpenApiParameter(
        "pageSize",
        OpenApiTypes.INT,
        description=f"The number of entries in the page, 1 to {MAX_PAGE_SIZE} "
        f"(default {MAX_PAGE_SIZE}).",
    ),
]


# ---------------------------------------------------------------------------------------------
# Answers


def render_webhook(webhook: Webhook, application_ids: Sequence[int]) -> dict[str, Any]:
    """``webhook`` as Talon.One's ``Webhook``."""
    return {
        "id": webhook.pk,
        "created": rfc3339(webhook.created),
        "modified": rfc3339(webhook.modified),
        "applicationIds": sorted(application_ids),
        "title": webhook.title,
        "description": webhook.description,
        "draft": False,
        "verb": webhook.verb,
        "url": webhook.url,
        "headers": [f"{name}: {value}" for name, value in webhook.headers],
        "payload": webhook.payload,
        "params": list(webhook.params),
        "enabled": webhook.enabled,
    }


def _render(webhook: Webhook) -> dict[str, Any]:
    return render_webhook(webhook, [application.pk for application in webhook.applications.all()])


def render_message_log(attempt: WebhookDeliveryAttempt) -> dict[str, Any]:
    """One try at a delivery as Talon.One's ``MessageLogEntry`` (see the module)."""
    delivery = attempt.delivery
    response: dict[str, Any] = {
        "createdAt": rfc3339(attempt.finished_at),
        "response": _base64(attempt.response_excerpt or attempt.error),
    }
    if attempt.status_code is not None:
        response["status"] = attempt.status_code
    entry: dict[str, Any] = {
        "id": str(attempt.message_id),
        "service": "WebhookService",
    }
    if delivery.webhook_id is not None:
        entry["webhookId"] = delivery.webhook_id
    entry.update(
        {
            "webhookName": delivery.webhook_title,
            "request": {
                "createdAt": rfc3339(attempt.started_at),
                "request": _base64(attempt.request_body),
            },
            "response": response,
            "createdAt": rfc3339(attempt.started_at),
            "entityType": "webhook",
            "url": attempt.url,
            "applicationId": delivery.application_id,
        }
    )
    if delivery.campaign_id is not None:
        entry["campaignId"] = delivery.campaign_id
    entry["attempt"] = attempt.number
    entry["durationMs"] = attempt.duration_ms
    if attempt.error:
        entry["error"] = attempt.error
    return entry


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------------------------------------
# Checks


def _valid(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data


def _invalid(problems: Sequence[tuple[str, str]], *, code: str) -> BadRequest:
    items = [
        ErrorItem(code=code, title="Invalid value", details=details, pointer=pointer)
        for pointer, details in problems
    ]
    return BadRequest("The webhook is not valid.", items, code=code)


def _definition(data: dict[str, Any]) -> WebhookDefinition:
    return WebhookDefinition(
        title=data["title"],
        description=data.get("description", ""),
        verb=data["verb"],
        url=data["url"],
        headers=data.get("headers", []),
        payload=data.get("payload", ""),
        params=[dict(param) for param in data.get("params", [])],
        enabled=data.get("enabled", True),
    )


def _ids_query(request: Request, name: str, *, most: int | None = None) -> list[int] | None:
    """The comma-separated ids of the query parameter ``name`` (None when absent or empty)."""
    text = request.query_params.get(name)
    if not text:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in parts):
        raise query_error(name, f"{name} is a comma-separated list of whole numbers.")
    if most is not None and len(parts) > most:
        raise query_error(name, f"{name} lists at most {most} ids.")
    return [int(part) for part in parts]


def _whole_query(request: Request, name: str, *, low: int, high: int) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and low <= int(text) <= high):
        raise query_error(name, f"{name} must be a whole number from {low} to {high}.")
    return int(text)


# ---------------------------------------------------------------------------------------------
# Views


class _WebhookAccess(ManagementView):
    """What the webhook views share: which webhooks and applications the caller may touch."""

    def visible_webhooks(self) -> QuerySet[Webhook]:
        visible = applications_visible(self.caller)
        return Webhook.objects.filter(
            pk__in=Webhook.objects.filter(applications__in=visible).values("pk")
        )

    def webhook_for(self, webhook_id: int, *, role: str) -> Webhook:
        """The webhook ``webhook_id`` if it serves an application the caller may see (a 404
        otherwise), and the caller has ``role`` in every application it serves (a 403
        otherwise)."""
        webhook = None
        if 0 < webhook_id <= MAX_ID:
            webhook = (
                self.visible_webhooks()
                .filter(pk=webhook_id)
                .prefetch_related("applications")
                .first()
            )
        if webhook is None:
            raise NotFound(f"There is no webhook {webhook_id}.", code="webhook_not_found")
        if role != Role.VIEWER and not all(
            self._may(application, role) for application in webhook.applications.all()
        ):
            raise Forbidden(
                f"Your role does not allow this: it needs {role} in every application of the "
                "webhook.",
                code="role_too_low",
            )
        return webhook

    def administered(self, ids: Sequence[int]) -> list[Application]:
        """The applications ``ids`` if the caller administers each; a 400 pointing at the
        first they do not (or that does not exist)."""
        found = {a.pk: a for a in applications_visible(self.caller).filter(pk__in=set(ids))}
        chosen: list[Application] = []
        for index, application_id in enumerate(ids):
            application = found.get(application_id)
            if application is None or not self._may(application, Role.ADMIN):
                raise _invalid(
                    [
                        (
                            f"/applicationIds/{index}",
                            f"There is no application {application_id} you administer.",
                        )
                    ],
                    code="application_not_administered",
                )
            if application not in chosen:
                chosen.append(application)
        return chosen

    def _may(self, application: Application, role: str) -> bool:
        caller = self.caller
        if isinstance(caller, ManagementKey):
            return True  # on the applications it lists (``applications_visible``)
        return role_allows(role_in(caller, application), role)


class WebhooksView(_WebhookAccess):
    operation = {"GET": "getWebhooks", "POST": "createWebhook"}

    @extend_schema(parameters=WEBHOOKS_QUERY, responses={200: page_of(WebhookSerializer)})
    def get(self, request: Request) -> Response:
        webhooks = self._filtered(request, self.visible_webhooks())
        page = paginate(
            request,
            webhooks.prefetch_related("applications"),
            sortable=WEBHOOK_SORT_FIELDS,
            render=_render,
        )
        return Response(page)

    @extend_schema(request=WebhookInput, responses={201: CreatedWebhookSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(WebhookInput(data=request.data))
        applications = self.administered(data["applicationIds"])
        try:
            webhook = webhook_create(
                applications=applications,
                definition=_definition(data),
                signing_secret=data.get("signingSecret"),
            )
        except WebhookInvalid as error:
            raise _invalid(error.problems, code="invalid_webhook") from None
        rendered = render_webhook(webhook, [a.pk for a in applications])
        return Response({**rendered, "signingSecret": webhook.signing_secret}, status=201)

    def _filtered(self, request: Request, webhooks: QuerySet[Webhook]) -> QuerySet[Webhook]:
        params = request.query_params
        problems: list[ErrorItem] = []
        try:
            ids = _ids_query(request, "applicationIds")
        except BadRequest as error:
            problems += error.errors
            ids = None
        if ids is not None:
            webhooks = webhooks.filter(
                pk__in=Webhook.objects.filter(applications__in=ids).values("pk")
            )
        title = params.get("title")
        if title:
            webhooks = webhooks.filter(title__icontains=title)
        choices = {
            "creationType": ({"webhooks"}, {"templateWebhooks"}),
            "visibility": ({"visible"}, {"hidden"}),
        }
        for name, (every, none) in choices.items():
            value = params.get(name)
            if not value:
                continue
            if value in none:
                webhooks = webhooks.none()
            elif value not in every:
                allowed = ", ".join(sorted(every | none))
                problems.append(query_problem(name, f"{name} may be one of {allowed}."))
        try:
            if _whole_query(request, "outgoingIntegrationsTypeId", low=0, high=MAX_ID) is not None:
                webhooks = webhooks.none()  # no webhook here is an outgoing integration
        except BadRequest as error:
            problems += error.errors
        if problems:
            raise BadRequest("The query parameters are not valid.", problems)
        return webhooks


class WebhookView(_WebhookAccess):
    operation = {"GET": "getWebhook", "PUT": "updateWebhook", "DELETE": "deleteWebhook"}

    @extend_schema(responses={200: WebhookSerializer})
    def get(self, request: Request, webhook_id: int) -> Response:
        return Response(_render(self.webhook_for(webhook_id, role=Role.VIEWER)))

    @extend_schema(request=WebhookInput, responses={200: WebhookSerializer})
    def put(self, request: Request, webhook_id: int) -> Response:
        webhook = self.webhook_for(webhook_id, role=Role.ADMIN)
        data = _valid(WebhookInput(data=request.data))
        applications = self.administered(data["applicationIds"])
        try:
            webhook = webhook_update(
                webhook=webhook,
                applications=applications,
                definition=_definition(data),
                signing_secret=data.get("signingSecret"),
            )
        except WebhookInvalid as error:
            raise _invalid(error.problems, code="invalid_webhook") from None
        return Response(render_webhook(webhook, [a.pk for a in applications]))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, webhook_id: int) -> Response:
        webhook_delete(webhook=self.webhook_for(webhook_id, role=Role.ADMIN))
        return Response(status=204)


class MessageLogsView(ManagementView):
    operation = "getMessageLogs"

    @extend_schema(parameters=MESSAGE_LOGS_QUERY, responses={200: MessageLogEntriesSerializer})
    def get(self, request: Request) -> Response:
        entity_type = request.query_params.get("entityType")
        if entity_type not in ENTITY_TYPES:
            raise query_error(
                "entityType", f"entityType is required: one of {', '.join(ENTITY_TYPES)}."
            )
        attempts = self._filtered(request)
        page_size = _whole_query(request, "pageSize", low=1, high=MAX_PAGE_SIZE) or MAX_PAGE_SIZE
        after = self._cursor(request)
        if entity_type != "webhook":
            return Response({"data": []})  # Talon.One's notifications are not logged here
        if after is not None:
            attempts = attempts.filter(pk__lt=after)
        rows = list(attempts.select_related("delivery").order_by("-pk")[: page_size + 1])
        answer: dict[str, Any] = {}
        if len(rows) > page_size:
            rows = rows[:page_size]
            answer["nextCursor"] = base64.b64encode(f"id:{rows[-1].pk}".encode()).decode()
        answer["data"] = [render_message_log(row) for row in rows]
        return Response(answer)

    def _filtered(self, request: Request) -> QuerySet[WebhookDeliveryAttempt]:
        params = request.query_params
        attempts = WebhookDeliveryAttempt.objects.filter(
            delivery__application__in=applications_visible(self.caller)
        )
        application_id = _whole_query(request, "applicationId", low=1, high=MAX_ID)
        if application_id is not None:
            attempts = attempts.filter(delivery__application_id=application_id)
        campaign_id = _whole_query(request, "campaignId", low=1, high=MAX_ID)
        if campaign_id is not None:
            attempts = attempts.filter(delivery__campaign_id=campaign_id)
        webhook_ids = _ids_query(request, "webhookIDs", most=MAX_WEBHOOK_IDS)
        if webhook_ids is not None:
            attempts = attempts.filter(delivery__webhook_id__in=webhook_ids)
        message_id = params.get("messageID")
        if message_id:
            try:
                attempts = attempts.filter(message_id=uuid.UUID(message_id))
            except ValueError:
                attempts = attempts.none()  # no message has such an id
        successful = params.get("isSuccessful")
        if successful:
            if successful not in ("true", "false"):
                raise query_error("isSuccessful", "isSuccessful is true or false.")
            two_hundreds = Q(status_code__gte=200, status_code__lt=300)
            attempts = attempts.filter(two_hundreds if successful == "true" else ~two_hundreds)
        code = _whole_query(request, "responseCode", low=100, high=599)
        if code is not None:
            attempts = attempts.filter(status_code=code)
        after = query_time(request, "createdAfter")
        if after is not None:
            attempts = attempts.filter(started_at__gte=after)
        before = query_time(request, "createdBefore")
        if before is not None:
            attempts = attempts.filter(started_at__lte=before)
        period = params.get("period")
        if period:
            if period not in PERIODS:
                raise query_error("period", f"period may be one of {', '.join(PERIODS)}.")
            attempts = attempts.filter(started_at__gte=timezone.now() - PERIODS[period])
        return attempts

    @staticmethod
    def _cursor(request: Request) -> int | None:
        text = request.query_params.get("cursor")
        if not text:
            return None
        try:
            decoded = base64.b64decode(text, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded = ""
        kind, _, number = decoded.partition(":")
        if kind != "id" or not (number.isascii() and number.isdigit() and len(number) <= 19):
            raise query_error("cursor", "cursor is the nextCursor of an earlier page.")
        return int(number)


__all__ = [
    "MessageLogsView",
    "WebhookView",
    "WebhooksView",
    "render_message_log",
    "render_webhook",
]
