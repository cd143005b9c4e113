"""Coupon batches: the coupons one request generated or imported, and how far it has got.

A batch is what Talon.One's ``batchId`` names: every coupon it creates carries the batch's id
(``Coupon.batch_id``). Generating a million codes takes a while, so a batch is also the record
of the work: what was asked (the pattern, the valid characters and the terms every coupon gets),
how many coupons exist so far (``created_count``, counted in the same transaction as the
coupons it counts) and whether it is pending, running, done or failed. The Celery task that
fills a large batch needs nothing but the batch's primary key, and a second run of it resumes
from ``created_count`` instead of starting again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q

from campaigns.models.applications import Application
from campaigns.models.campaigns import Campaign
from campaigns.models.coupons import COUPON_COUNT_LIMIT_MAX, COUPON_VALUE_MAX_LENGTH
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH, MONEY_DIGITS, MONEY_PLACES

COUPON_BATCH_ID_MAX_LENGTH: Final = 100
"""As long as ``Coupon.batch_id``."""


class CouponBatchStatus(models.TextChoices):
    """Where a batch is: waiting for a worker, being filled, complete, or given up."""

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class CouponBatchSource(models.TextChoices):
    """How a batch's coupons came to be."""

    GENERATED = "generated", "Generated from a pattern"
    IMPORTED = "imported", "Imported from a CSV file"


class CouponBatch(models.Model):
    """The coupons that one generation or import request creates, with its progress.

    ``coupon_pattern`` is the whole pattern (unique prefix, prefix and suffix included; ``#``
    is a random character from ``valid_characters``), as given, before the application's case
    normalisation; it is empty for an import. The terms (``usage_limit`` … ``attributes``)
    are what every generated coupon gets.
    """

    Status = CouponBatchStatus
    Source = CouponBatchSource

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="coupon_batches"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="coupon_batches")
    batch_id = models.CharField(
        max_length=COUPON_BATCH_ID_MAX_LENGTH, help_text="Talon.One's batchId."
    )
    source = models.CharField(
        max_length=16, choices=CouponBatchSource.choices, default=CouponBatchSource.GENERATED
    )
    status = models.CharField(
        max_length=16, choices=CouponBatchStatus.choices, default=CouponBatchStatus.PENDING
    )
    requested = models.PositiveIntegerField(help_text="How many coupons the batch creates.")
    created_count = models.PositiveIntegerField(
        default=0, help_text="How many of them exist so far."
    )
    error = models.TextField(blank=True, help_text="Why the batch failed.")

    coupon_pattern = models.CharField(max_length=COUPON_VALUE_MAX_LENGTH, blank=True)
    valid_characters = models.JSONField(default=list, blank=True)
    usage_limit = models.PositiveIntegerField(
        default=1, validators=[MaxValueValidator(COUPON_COUNT_LIMIT_MAX)]
    )
    discount_limit = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=Decimal(0)
    )
    reservation_limit = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(COUPON_COUNT_LIMIT_MAX)]
    )
    start_date = models.DateTimeField(null=True, blank=True)
    expiry_date = models.DateTimeField(null=True, blank=True)
    recipient_integration_id = models.CharField(max_length=INTEGRATION_ID_MAX_LENGTH, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("application_id", "-created", "-id")
        verbose_name_plural = "coupon batches"
        constraints = [
            models.UniqueConstraint(
                fields=["application", "batch_id"], name="couponbatch_id_unique_per_application"
            ),
            models.CheckConstraint(condition=~Q(batch_id=""), name="couponbatch_id_not_empty"),
            models.CheckConstraint(
                condition=Q(requested__gte=1) & Q(created_count__lte=F("requested")),
                name="couponbatch_created_within_requested",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CouponBatchStatus.values), name="couponbatch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=CouponBatchSource.values), name="couponbatch_source_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=CouponBatchStatus.DONE) | Q(created_count=F("requested")),
                name="couponbatch_done_when_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} ({self.created_count}/{self.requested}, {self.status})"

    @property
    def progress(self) -> float:
        """The share of the requested coupons that exist, from 0 to 1."""
        return self.created_count / self.requested if self.requested else 1.0
