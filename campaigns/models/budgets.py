"""Campaign budgets: limits on what a campaign may give, and the counters that spend them.

A ``CampaignLimit`` is Talon.One's ``{action, limit, period, entities}``: at most ``limit`` of
``action`` (the money its discounts give for ``setDiscount``, a count for the others), for the
campaign as a whole (no entities) or for each value of its entities (each customer profile,
each coupon, each profile and coupon together …), over all time or per calendar ``period``.

A ``BudgetCounter`` is one budget being spent: a limit, the entities' values it counts for
(``key``) and the period it counts in. It carries its own ``cap`` so that the database can
refuse to spend past it (``CHECK spent <= cap``): counters are only ever changed by conditional
updates in the database (``campaigns.services.budgets``). A ``BudgetSpend`` is what one session
took of one counter, so that cancelling the session gives exactly that back, once.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from campaigns.models.campaigns import Campaign
from campaigns.models.customers import CustomerSession

AMOUNT_DIGITS = 20
AMOUNT_PLACES = 4


class LimitAction(models.TextChoices):
    """What a limit counts (Talon.One's limitable actions that exist here)."""

    SET_DISCOUNT = "setDiscount", "Discount given (amount)"
    SET_DISCOUNT_EFFECT = "setDiscountEffect", "Discounts given (count)"
    REDEEM_COUPON = "redeemCoupon", "Coupons redeemed"
    REDEEM_REFERRAL = "redeemReferral", "Referral codes redeemed"
    CREATE_COUPON = "createCoupon", "Coupons created"
    CREATE_REFERRAL = "createReferral", "Referral codes created"
    ADD_FREE_ITEM_EFFECT = "addFreeItemEffect", "Free items given"
    CUSTOM_EFFECT = "customEffect", "Custom effects"


class LimitPeriod(models.TextChoices):
    """How often a limit starts again (calendar periods in the application's time zone)."""

    NONE = "", "Never"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    YEARLY = "yearly", "Yearly"


LIMIT_ENTITIES = ("Coupon", "Referral", "Profile", "Identifier", "Session")
"""The entities a limit can be counted per (of Talon.One's, those that exist here)."""


class CampaignLimit(models.Model):
    """At most ``limit`` of ``action`` per ``entities`` per ``period`` (see the module)."""

    Action = LimitAction
    Period = LimitPeriod

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="limits")
    action = models.CharField(max_length=32, choices=LimitAction.choices)
    limit = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    period = models.CharField(max_length=8, choices=LimitPeriod.choices, blank=True, default="")
    entities = models.JSONField(
        default=list,
        blank=True,
        help_text="Counted per value of these entities (Coupon, Referral, Profile, Identifier, "
        "Session); none: for the whole campaign.",
    )

    class Meta:
        ordering = ("campaign", "pk")
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=LimitAction.values), name="campaignlimit_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(period__in=LimitPeriod.values), name="campaignlimit_period_valid"
            ),
            models.CheckConstraint(condition=Q(limit__gte=0), name="campaignlimit_not_negative"),
        ]

    def __str__(self) -> str:
        per = f" per {'+'.join(self.entities)}" if self.entities else ""
        every = f" {self.period}" if self.period else ""
        return f"{self.action} ≤ {self.limit}{per}{every}"


class BudgetCounter(models.Model):
    """What has been spent of one limit, for one value of its entities, in one period."""

    limit = models.ForeignKey(CampaignLimit, on_delete=models.CASCADE, related_name="counters")
    key = models.CharField(
        max_length=2000, blank=True, help_text="The entities' values ('' for the campaign)."
    )
    period_start = models.DateField(
        help_text="The first day of the period counted (1970-01-01 for a limit with no period)."
    )
    cap = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    spent = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["limit", "key", "period_start"], name="budgetcounter_unique"
            ),
            models.CheckConstraint(condition=Q(spent__gte=0), name="budgetcounter_not_negative"),
            models.CheckConstraint(
                condition=Q(spent__lte=F("cap")), name="budgetcounter_within_cap"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.limit}: {self.spent} of {self.cap} ({self.key or 'campaign'})"


class BudgetSpend(models.Model):
    """What one session took of one counter when it closed; given back once when it is
    cancelled (``rolled_back_at``)."""

    counter = models.ForeignKey(BudgetCounter, on_delete=models.CASCADE, related_name="spends")
    session = models.ForeignKey(
        CustomerSession, on_delete=models.CASCADE, related_name="budget_spends"
    )
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    created = models.DateTimeField()
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="budgetspend_positive"),
        ]
        indexes = [models.Index(fields=["session", "rolled_back_at"])]

    def __str__(self) -> str:
        given_back = " (given back)" if self.rolled_back_at else ""
        return f"{self.amount} of {self.counter_id} by session {self.session_id}{given_back}"
