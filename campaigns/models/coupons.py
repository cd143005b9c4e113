"""Coupons: codes that belong to a campaign, and their redemptions by customer sessions.

A coupon's ``value`` is its code as stored: normalised by the application's
``case_sensitivity`` (upper-cased for ``insensitive-uppercase``, lower-cased for
``insensitive-lowercase``, as given for ``sensitive``), and looked up normalised the same way,
so that the uniqueness of ``(application, value)`` also makes codes unique regardless of case
where the application ignores case. ``campaigns.services.coupons`` does the normalising; the
coupon's application is always its campaign's (the services set it from the campaign).

Field names follow Talon.One's coupon (``usageLimit`` is ``usage_limit``, ``discountCounter``
is ``discount_counter``, and so on). A limit of 0 means unlimited. Talon.One sets a coupon's
per-customer limit as a ``limits`` item (``{action: "redeemCoupon", entities: ["Profile"],
limit}``, the only kind a coupon may carry); here it is one field, ``profile_redemption_limit``,
counted per customer in ``CouponProfileCounter``.

The counters are what concurrent sessions fight over, so the database itself refuses any value
that breaks them: no counter below 0, none above its limit (``CheckConstraint``), and a coupon
redeemed at most once per session at a time (a partial ``UniqueConstraint`` on the live
redemptions). The services change counters only by conditional ``UPDATE`` statements; these
constraints are the net under them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from campaigns.models.applications import Application
from campaigns.models.campaigns import Campaign
from campaigns.models.customers import (
    INTEGRATION_ID_MAX_LENGTH,
    MONEY_DIGITS,
    MONEY_PLACES,
    CustomerProfile,
    CustomerSession,
)

COUPON_VALUE_MAX_LENGTH: Final = 100
"""The longest coupon code (Talon.One's ``couponPattern`` has at most 100 characters)."""

COUPON_COUNT_LIMIT_MAX: Final = 999_999
"""The highest ``usageLimit`` and ``reservationLimit`` Talon.One accepts (and the highest
per-customer limit here)."""


class Coupon(models.Model):
    """A code that a customer session can send (``couponCodes``) to trigger its campaign's rules.

    ``usage_counter`` counts the redemptions (sessions closed with the coupon, minus those
    cancelled or returned since); ``discount_counter`` the discounts given with it, drawn from
    ``discount_limit`` (a gift card's value); ``reservation_counter`` the customers who reserved
    it (``CouponReservation``), up to ``reservation_limit``.

    A coupon whose reservation is mandatory can be redeemed only by a customer who reserved it;
    one with a ``recipient_integration_id`` is its recipient's alone, reserved or not.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="coupons")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="coupons")
    value = models.CharField(
        max_length=COUPON_VALUE_MAX_LENGTH,
        help_text="The code, as stored: normalised by the application's case sensitivity.",
    )
    usage_limit = models.PositiveIntegerField(
        default=1,
        validators=[MaxValueValidator(COUPON_COUNT_LIMIT_MAX)],
        help_text="How many times the coupon can be redeemed; 0 for no limit.",
    )
    usage_counter = models.PositiveIntegerField(default=0)
    discount_limit = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        default=Decimal(0),
        help_text="The total discount the coupon can give; 0 for no limit.",
    )
    discount_counter = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=Decimal(0)
    )
    reservation_limit = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(COUPON_COUNT_LIMIT_MAX)],
        help_text="How many customers can reserve the coupon; 0 for no limit.",
    )
    reservation_counter = models.PositiveIntegerField(default=0)
    is_reservation_mandatory = models.BooleanField(
        default=False, help_text="Whether only the customers who reserved it can redeem it."
    )
    profile_redemption_limit = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(COUPON_COUNT_LIMIT_MAX)],
        help_text="How many times one customer can redeem the coupon; 0 for no limit.",
    )
    start_date = models.DateTimeField(
        null=True, blank=True, help_text="When the coupon becomes valid; empty for at once."
    )
    expiry_date = models.DateTimeField(
        null=True, blank=True, help_text="When the coupon stops being valid; empty for never."
    )
    recipient_integration_id = models.CharField(
        max_length=INTEGRATION_ID_MAX_LENGTH,
        blank=True,
        help_text="The only customer profile that may redeem the coupon; empty for anyone.",
    )
    attributes = models.JSONField(default=dict, blank=True)
    batch_id = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="The batch that generated it."
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("application_id", "-created", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "value"], name="coupon_value_unique_per_application"
            ),
            models.CheckConstraint(condition=~Q(value=""), name="coupon_value_not_empty"),
            models.CheckConstraint(
                condition=Q(usage_counter__gte=0)
                & Q(discount_counter__gte=0)
                & Q(discount_limit__gte=0),
                name="coupon_counters_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(usage_limit=0) | Q(usage_counter__lte=F("usage_limit")),
                name="coupon_usage_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(discount_limit=0) | Q(discount_counter__lte=F("discount_limit")),
                name="coupon_discount_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(usage_limit__lte=COUPON_COUNT_LIMIT_MAX)
                & Q(reservation_limit__lte=COUPON_COUNT_LIMIT_MAX),
                name="coupon_limits_in_range",
            ),
            models.CheckConstraint(
                condition=Q(reservation_counter__gte=0)
                & (Q(reservation_limit=0) | Q(reservation_counter__lte=F("reservation_limit"))),
                name="coupon_reservations_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(profile_redemption_limit__lte=COUPON_COUNT_LIMIT_MAX),
                name="coupon_profile_redemption_limit_in_range",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(expiry_date__isnull=True)
                | Q(expiry_date__gt=F("start_date")),
                name="coupon_expires_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return self.value


class CouponRedemption(models.Model):
    """One use of a coupon by a customer session, counted in the coupon's ``usage_counter``.

    A redemption is live until ``rolled_back_at`` is set (the session was cancelled or
    returned), which gives the use back. A session has at most one live redemption of a coupon.
    The row goes with its session (a forgotten customer's sessions take their redemptions
    along) while the use stays counted: the coupon was used.
    """

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="redemptions")
    session = models.ForeignKey(
        CustomerSession, on_delete=models.CASCADE, related_name="coupon_redemptions"
    )
    profile = models.ForeignKey(
        CustomerProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coupon_redemptions",
        help_text="The customer; empty for an anonymous session.",
    )
    created = models.DateTimeField(default=timezone.now)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    discount = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        default=0,
        help_text="What the session's discounts drew of the coupon's discount limit.",
    )

    class Meta:
        ordering = ("-created", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "session"],
                condition=Q(rolled_back_at__isnull=True),
                name="couponredemption_live_unique_per_session",
            ),
            models.CheckConstraint(
                condition=Q(rolled_back_at__isnull=True) | Q(rolled_back_at__gte=F("created")),
                name="couponredemption_rolled_back_after_created",
            ),
            models.CheckConstraint(
                condition=Q(discount__gte=0), name="couponredemption_discount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon} in session {self.session_id}"


class CouponProfileCounter(models.Model):
    """How many live redemptions of a coupon one customer has: the count that the coupon's
    ``profile_redemption_limit`` bounds (``profileRedemptionCount`` in Talon.One's answers).

    Counted for every redemption by a customer, limited or not, so that a limit set later
    applies to the uses already made. The services change it only by conditional statements,
    under the coupon's row lock (see ``campaigns.services.coupons``); the database refuses a
    count below 0. Goes with its customer: a forgotten customer's uses stay counted on the
    coupon, like their redemptions.
    """

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="profile_counters")
    profile = models.ForeignKey(
        CustomerProfile, on_delete=models.CASCADE, related_name="coupon_counters"
    )
    counter = models.PositiveIntegerField(default=0)
    cap = models.PositiveIntegerField(
        default=0,
        help_text="The coupon's per-customer limit when this count last grew (0: none): the "
        "database refuses a count above it.",
    )

    class Meta:
        ordering = ("coupon_id", "profile_id")
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "profile"], name="couponprofilecounter_unique_per_profile"
            ),
            models.CheckConstraint(
                condition=Q(counter__gte=0), name="couponprofilecounter_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(cap=0) | Q(counter__lte=F("cap")),
                name="couponprofilecounter_within_cap",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon} by {self.profile_id}: {self.counter}"
