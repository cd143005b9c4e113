"""Referrals: codes an advocate hands to friends, and their redemptions by the friends' sessions.

A referral belongs to a campaign and names its advocate (``advocate_profile_integration_id``)
and, optionally, the one friend who may use it (``friend_profile_integration_id``; empty: any
customer but the advocate). Its ``code`` is stored as coupon codes are: normalised by the
application's ``case_sensitivity`` (``campaigns.services.coupons.coupon_code_normalised``), so
that the uniqueness of ``(application, code)`` also makes codes unique regardless of case where
the application ignores case. The referral's application is always its campaign's (the
services set it from the campaign).

Field names follow Talon.One's referral (``usageLimit`` is ``usage_limit``, ``usageCounter``
``usage_counter``, ``batchId`` ``batch_id``). A limit of 0 means unlimited.

As with coupons, the database refuses what would break the counts that concurrent sessions
fight over: no counter below 0 nor above its limit (``CheckConstraint``), a referral redeemed
at most once per session at a time, and a friend referred at most once per campaign (partial
``UniqueConstraint``\\s on the live redemptions). The services change the counter only by
conditional ``UPDATE`` statements; the constraints are the net under them.
"""

from __future__ import annotations

from typing import Final

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from campaigns.models.applications import Application
from campaigns.models.campaigns import Campaign
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH, CustomerProfile, CustomerSession

REFERRAL_CODE_MAX_LENGTH: Final = 100
"""The longest referral code (as long as a coupon code, and as a session's ``referralCode``)."""

REFERRAL_USAGE_LIMIT_MAX: Final = 999_999
"""The highest ``usageLimit`` Talon.One accepts."""


class Referral(models.Model):
    """A code that an advocate's friend sends in a session (``referralCode``) to trigger the
    campaign's referral rules.

    ``usage_counter`` counts the redemptions (sessions closed with the code, minus those
    cancelled or returned since), up to ``usage_limit``.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="referrals")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="referrals")
    code = models.CharField(
        max_length=REFERRAL_CODE_MAX_LENGTH,
        help_text="The code, as stored: normalised by the application's case sensitivity.",
    )
    advocate_profile_integration_id = models.CharField(
        max_length=INTEGRATION_ID_MAX_LENGTH,
        help_text="The customer who hands the code out.",
    )
    friend_profile_integration_id = models.CharField(
        max_length=INTEGRATION_ID_MAX_LENGTH,
        blank=True,
        help_text="The only customer who may use the code; empty for anyone but the advocate.",
    )
    start_date = models.DateTimeField(
        null=True, blank=True, help_text="When the code becomes valid; empty for at once."
    )
    expiry_date = models.DateTimeField(
        null=True, blank=True, help_text="When the code stops being valid; empty for never."
    )
    usage_limit = models.PositiveIntegerField(
        default=1,
        validators=[MaxValueValidator(REFERRAL_USAGE_LIMIT_MAX)],
        help_text="How many times the code can be used; 0 for no limit.",
    )
    usage_counter = models.PositiveIntegerField(default=0)
    attributes = models.JSONField(default=dict, blank=True)
    batch_id = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="The batch that generated it."
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("application_id", "-created", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "code"], name="referral_code_unique_per_application"
            ),
            models.CheckConstraint(condition=~Q(code=""), name="referral_code_not_empty"),
            models.CheckConstraint(
                condition=~Q(advocate_profile_integration_id=""),
                name="referral_advocate_not_empty",
            ),
            models.CheckConstraint(
                condition=~Q(friend_profile_integration_id=F("advocate_profile_integration_id")),
                name="referral_friend_is_not_the_advocate",
            ),
            models.CheckConstraint(
                condition=Q(usage_counter__gte=0) & Q(usage_limit__gte=0),
                name="referral_counters_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(usage_limit=0) | Q(usage_counter__lte=F("usage_limit")),
                name="referral_usage_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(usage_limit__lte=REFERRAL_USAGE_LIMIT_MAX),
                name="referral_usage_limit_in_range",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(expiry_date__isnull=True)
                | Q(expiry_date__gt=F("start_date")),
                name="referral_expires_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class ReferralRedemption(models.Model):
    """One use of a referral code by a friend's session, counted in the referral's
    ``usage_counter``.

    A redemption is live until ``rolled_back_at`` is set (the session was cancelled or
    returned), which gives the use back. A session has at most one live redemption of a
    referral, and a friend at most one live redemption in a campaign
    (``ReferralCustomerAlreadyReferred``): ``campaign`` is the referral's, kept here for that
    constraint. The row goes with its session; a forgotten friend leaves it without a friend
    (and free of the once-per-campaign rule) while the use stays counted.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="redemptions")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="referral_redemptions"
    )
    session = models.ForeignKey(
        CustomerSession, on_delete=models.CASCADE, related_name="referral_redemptions"
    )
    friend = models.ForeignKey(
        CustomerProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referral_redemptions",
        help_text="The friend who used the code.",
    )
    created = models.DateTimeField(default=timezone.now)
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["referral", "session"],
                condition=Q(rolled_back_at__isnull=True),
                name="referralredemption_live_unique_per_session",
            ),
            models.UniqueConstraint(
                fields=["campaign", "friend"],
                condition=Q(rolled_back_at__isnull=True),
                name="referralredemption_friend_referred_once_per_campaign",
            ),
            models.CheckConstraint(
                condition=Q(rolled_back_at__isnull=True) | Q(rolled_back_at__gte=F("created")),
                name="referralredemption_rolled_back_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.referral} in session {self.session_id}"
