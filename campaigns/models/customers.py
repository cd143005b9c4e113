"""Customers and what they do: profiles, sessions (carts) with their items, and events.

The shop identifies each of them by its own ``integration_id``, unique within the application
(the same id in two applications names two different customers or carts). Field names follow
Talon.One's Integration API (``PUT /v2/customer_sessions/{id}``): ``storeIntegrationId`` is
``store_integration_id``, ``cartItemTotal`` is ``cart_item_total``, and so on.

Money is ``Decimal`` with six decimals, so that no currency's amounts lose precision before
they are rounded to its minor unit.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from campaigns.models.applications import Application

INTEGRATION_ID_MAX_LENGTH = 1000
"""The longest integration id Talon.One accepts."""

MONEY_DIGITS = 20
MONEY_PLACES = 6
"""The shape of every amount of money: 20 digits, 6 of them decimals."""

ZERO = Decimal(0)


class CustomerProfile(models.Model):
    """A customer of the shop, with the custom attributes rules may read."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="customer_profiles"
    )
    integration_id = models.CharField(max_length=INTEGRATION_ID_MAX_LENGTH)
    attributes = models.JSONField(default=dict, blank=True)
    closed_sessions = models.PositiveIntegerField(default=0)
    total_sales = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=ZERO
    )
    last_activity = models.DateTimeField(default=timezone.now)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("application_id", "-created", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "integration_id"],
                name="customerprofile_integration_id_unique",
            ),
            models.CheckConstraint(
                condition=~Q(integration_id=""), name="customerprofile_integration_id_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(total_sales__gte=0), name="customerprofile_total_sales_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.integration_id


class SessionState(models.TextChoices):
    """The states of a customer session (transitions: see ``CustomerSession``)."""

    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    PARTIALLY_RETURNED = "partially_returned", "Partially returned"
    CANCELLED = "cancelled", "Cancelled"


class CustomerSession(models.Model):
    """A customer session: the cart, its costs and codes, as last sent by the shop.

    ``state`` moves ``open → closed | cancelled``, ``closed → cancelled | partially_returned |
    open``, ``partially_returned → cancelled``; the services refuse any other transition.
    ``additional_costs`` maps a cost's name to ``{"price": …}`` (``{"shipping": {"price": 5}}``).
    """

    State = SessionState

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="customer_sessions"
    )
    integration_id = models.CharField(max_length=INTEGRATION_ID_MAX_LENGTH)
    profile = models.ForeignKey(
        CustomerProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
        help_text="The customer; empty for an anonymous session.",
    )
    store_integration_id = models.CharField(
        max_length=INTEGRATION_ID_MAX_LENGTH, blank=True, db_index=True
    )
    state = models.CharField(
        max_length=24, choices=State.choices, default=State.OPEN, db_index=True
    )
    coupon_codes = models.JSONField(default=list, blank=True)
    referral_code = models.CharField(max_length=100, blank=True)
    loyalty_cards = models.JSONField(default=list, blank=True)
    identifiers = models.JSONField(default=list, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    additional_costs = models.JSONField(default=dict, blank=True)
    first_session = models.BooleanField(default=False)
    update_count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=ZERO)
    cart_item_total = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=ZERO
    )
    additional_cost_total = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=ZERO
    )
    cart_item_additional_cost_total = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=ZERO
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("application_id", "-created", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "integration_id"],
                name="customersession_integration_id_unique",
            ),
            models.CheckConstraint(
                condition=~Q(integration_id=""), name="customersession_integration_id_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(state__in=SessionState.values), name="customersession_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0)
                & Q(cart_item_total__gte=0)
                & Q(additional_cost_total__gte=0)
                & Q(cart_item_additional_cost_total__gte=0),
                name="customersession_totals_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.integration_id


class CartItem(models.Model):
    """One line of a session's cart.

    ``position`` is the item's place in the cart, from 0 (what ``Item.Position`` reads and
    per-item effects point at). ``remaining_quantity`` is ``quantity - returned_quantity``,
    kept as a column because the API returns it and rules read it.
    """

    session = models.ForeignKey(
        CustomerSession, on_delete=models.CASCADE, related_name="cart_items"
    )
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=1000, blank=True)
    sku = models.CharField(max_length=1000)
    quantity = models.PositiveIntegerField()
    returned_quantity = models.PositiveIntegerField(default=0)
    remaining_quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    category = models.CharField(max_length=1000, blank=True)
    product_name = models.CharField(
        max_length=1000, blank=True, help_text="The product this item is a variant of."
    )
    weight = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        help_text="In grams.",
    )
    height = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        help_text="In millimetres.",
    )
    width = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        help_text="In millimetres.",
    )
    length = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        help_text="In millimetres.",
    )
    attributes = models.JSONField(default=dict, blank=True)
    additional_costs = models.JSONField(default=dict, blank=True)
    catalog_item_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("session_id", "position")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "position"], name="cartitem_position_unique_per_session"
            ),
            models.CheckConstraint(condition=~Q(sku=""), name="cartitem_sku_not_empty"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cartitem_quantity_positive"),
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=F("quantity")),
                name="cartitem_returned_at_most_quantity",
            ),
            models.CheckConstraint(
                condition=Q(remaining_quantity=F("quantity") - F("returned_quantity")),
                name="cartitem_remaining_is_quantity_minus_returned",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="cartitem_price_not_negative"),
            models.CheckConstraint(
                condition=(Q(weight__isnull=True) | Q(weight__gte=0))
                & (Q(height__isnull=True) | Q(height__gte=0))
                & (Q(width__isnull=True) | Q(width__gte=0))
                & (Q(length__isnull=True) | Q(length__gte=0)),
                name="cartitem_dimensions_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"


class Event(models.Model):
    """Something that happened, reported by the shop (``POST /v2/events``) or by the system
    (``talon_session_updated``); rules can react to it."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    profile = models.ForeignKey(
        CustomerProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
    )
    session = models.ForeignKey(
        CustomerSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
    )
    type = models.CharField(max_length=255, db_index=True)
    attributes = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-created", "-id")
        indexes = [
            models.Index(fields=["application", "type", "created"], name="event_app_type_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(type=""), name="event_type_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.created:%Y-%m-%d %H:%M:%S}"
