"""Webhooks and their deliveries: the outbox of the ``triggerWebhook`` effect.

A ``Webhook`` is an HTTP request the rules may ask for (``(triggerWebhook 7 "Ann" 20)``): a
verb, a URL, headers and a payload, each a template over the webhook's parameters
(``params``, Talon.One's ``TemplateArgDef``), available in the applications it lists.

Each ``triggerWebhook`` effect of a closed session (or of an event, or of a profile update that
ran the rules) is one ``WebhookDelivery``, written in the transaction that confirms the effect
(the outbox row), with the arguments bound to the parameters' names. A Celery task delivers it
after commit, and each try is one ``WebhookDeliveryAttempt``: what was sent, what came back and
how long it took (``campaigns.services.webhooks``). The Management API's ``getMessageLogs``
answers the attempts.

A delivery outlives its webhook, campaign, session and effect record (the links are set to
null), so that the log still says what was sent; it goes with its application.
"""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from campaigns.models.applications import Application
from campaigns.models.campaigns import Campaign
from campaigns.models.customers import CustomerProfile, CustomerSession, Event
from campaigns.models.effects import EffectRecord


class WebhookVerb(models.TextChoices):
    """The HTTP method of a webhook (Talon.One's ``verb``)."""

    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    GET = "GET", "GET"
    DELETE = "DELETE", "DELETE"
    PATCH = "PATCH", "PATCH"


class WebhookParamType(models.TextChoices):
    """The type of a webhook parameter (Talon.One's ``TemplateArgDef.type``)."""

    STRING = "string", "String"
    BOOLEAN = "boolean", "Boolean"
    NUMBER = "number", "Number"
    TIME = "time", "Time"
    LIST_STRING = "(list string)", "List of strings"
    LIST_NUMBER = "(list number)", "List of numbers"


class Webhook(models.Model):
    """An HTTP request the rules of the applications it lists may trigger.

    ``url``, the values of ``headers`` and ``payload`` are templates: ``${$name}`` stands for
    the argument of the parameter ``name`` (``params``: a list of Talon.One ``TemplateArgDef``
    objects, ``{"type", "title", "description", "ui", …}``, the parameter's name being its
    ``title``). ``headers`` is a list of ``[name, value]`` pairs, in the order they are sent
    (a JSON object would not keep it in PostgreSQL). ``signing_secret`` signs every
    request's body (HMAC-SHA256), so that the receiver can tell it comes from us.
    """

    applications = models.ManyToManyField(Application, related_name="webhooks")
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    verb = models.CharField(max_length=6, choices=WebhookVerb.choices, default=WebhookVerb.POST)
    url = models.CharField(max_length=2048)
    headers = models.JSONField(default=list, blank=True)
    payload = models.TextField(blank=True)
    params = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(
        default=True, help_text="Only an enabled webhook is called; a disabled one is skipped."
    )
    signing_secret = models.CharField(max_length=256)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.CheckConstraint(
                condition=Q(verb__in=WebhookVerb.values), name="webhook_verb_valid"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="webhook_title_not_empty"),
            models.CheckConstraint(condition=~Q(url=""), name="webhook_url_not_empty"),
            models.CheckConstraint(
                condition=~Q(signing_secret=""), name="webhook_signing_secret_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.verb} {self.url})"


class DeliveryState(models.TextChoices):
    """Where a delivery stands: waiting for its first try or a retry, being sent, or final."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Waiting for a retry"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One ``triggerWebhook`` effect to deliver: the outbox row, and the state of its delivery.

    ``arguments`` map each parameter's name to its argument as stored JSON (numbers as exact
    text, times in RFC 3339). ``attempt_count`` counts the tries so far; ``next_attempt_at`` is
    when a retry is due; ``lease_until`` is how long the worker sending it holds it (a
    delivery left ``sending`` by a worker that died may be taken again afterwards).
    """

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    webhook = models.ForeignKey(
        Webhook, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    webhook_title = models.CharField(max_length=255, help_text="The webhook's title, as it was.")
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_deliveries",
    )
    session = models.ForeignKey(
        CustomerSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_deliveries",
    )
    profile = models.ForeignKey(
        CustomerProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_deliveries",
    )
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_deliveries"
    )
    effect = models.ForeignKey(
        EffectRecord,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_deliveries",
    )
    arguments = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    created = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created", "-id")
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["application", "created"], name="webhookdelivery_app_created"),
            models.Index(fields=["state", "next_attempt_at"], name="webhookdelivery_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="webhookdelivery_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True)
                | Q(state__in=[DeliveryState.DELIVERED, DeliveryState.FAILED]),
                name="webhookdelivery_completed_when_final",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_title} for application {self.application_id}: {self.state}"


class WebhookDeliveryAttempt(models.Model):
    """One try at a delivery: the request as sent, and the answer (or why there was none).

    ``request_body`` and ``response_excerpt`` are cut at ``campaigns.services.webhooks``'
    limits; the request's headers are not kept (they may carry the receiver's credentials).
    ``status_code`` is null when no answer came (a network error, a refused address).
    """

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.PositiveSmallIntegerField(help_text="1 for the first try.")
    method = models.CharField(max_length=6)
    url = models.CharField(max_length=4096)
    request_body = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=1000, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ("-started_at", "-id")
        indexes = [
            models.Index(fields=["started_at"], name="webhookattempt_started"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="webhookattempt_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(finished_at__gte=models.F("started_at")),
                name="webhookattempt_finished_after_start",
            ),
        ]

    def __str__(self) -> str:
        answer = self.status_code if self.status_code is not None else self.error or "no answer"
        return f"{self.method} {self.url}: {answer}"
