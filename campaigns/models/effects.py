"""The log of every effect a session update or event produced.

Each effect the engine returned and the services applied is one ``EffectRecord``: analytics
count them (discounts given per campaign and day), the session's ``GET`` answers with them,
and cancelling or returning a session reads them back to produce the ``rollback*`` effects,
marking each with ``rolled_back_at``. Dry runs write none.

``props`` are the effect's Talon.One props, stored with ``DjangoJSONEncoder``: amounts, which
are ``Decimal``, are stored as strings and never pass through a float.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from campaigns.models.applications import Application
from campaigns.models.campaigns import Campaign, Ruleset
from campaigns.models.customers import CustomerProfile, CustomerSession, Event


class EffectRecord(models.Model):
    """One effect produced by one rule (``setDiscount``, ``acceptCoupon``, ``addLoyaltyPoints``…).

    The links are kept (set to null) when what they point at is deleted, so that analytics
    outlive deleted campaigns and customers.
    """

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="effect_records"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="effect_records"
    )
    ruleset = models.ForeignKey(
        Ruleset, on_delete=models.SET_NULL, null=True, blank=True, related_name="effect_records"
    )
    session = models.ForeignKey(
        CustomerSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="effect_records",
    )
    profile = models.ForeignKey(
        CustomerProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="effect_records",
    )
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="effect_records"
    )
    rule_index = models.PositiveIntegerField(help_text="The rule's place in its ruleset, from 0.")
    rule_name = models.CharField(max_length=1000, blank=True)
    effect_type = models.CharField(max_length=100, db_index=True)
    props = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # Talon.One's ``triggeredByCoupon``: the id of the coupon whose rule fired. A plain column
    # until coupons are modelled; named so that a foreign key ``triggered_by_coupon`` can take
    # over the same column.
    triggered_by_coupon_id = models.PositiveBigIntegerField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created", "-id")
        indexes = [
            models.Index(fields=["campaign", "created"], name="effectrecord_campaign_created"),
            models.Index(fields=["application", "created"], name="effectrecord_app_created"),
            models.Index(fields=["session", "created"], name="effectrecord_session_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(effect_type=""), name="effectrecord_effect_type_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(rolled_back_at__isnull=True)
                | Q(rolled_back_at__gte=models.F("created")),
                name="effectrecord_rolled_back_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.effect_type} (campaign {self.campaign_id}, rule {self.rule_index})"
