"""Applications (the tenant: one shop or channel) and the credentials its integration uses.

Everything else belongs to an application. Its settings change what evaluation does (the
currency decides rounding, case sensitivity how coupon codes compare, the discount settings how
effects apply), so any change to them, or to anything else evaluation reads, bumps
``rules_version``: every process keeps its compiled rules while that stamp is unchanged.

The Integration API authenticates with an API key (``Authorization: ApiKey-v1 <key>``), stored
as its SHA-256 only, or with a signature made with one of the application's signing secrets
(``Content-Signature``), stored as given because computing an HMAC needs the secret itself.
"""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from campaigns.models.currencies import CURRENCY_CODES, minor_units
from integration.keys import API_KEY_PREFIX_LENGTH, key_hash


def validate_currency(value: str) -> None:
    """An ISO 4217 currency code an application may use (``EUR``, ``JPY``)."""
    if value not in CURRENCY_CODES:
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code.",
            code="invalid_currency",
            params={"value": value},
        )


def validate_timezone(value: str) -> None:
    """An IANA time zone name this system knows (``Europe/Berlin``, ``UTC``)."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            "%(value)s is not an IANA time zone name.",
            code="invalid_timezone",
            params={"value": value},
        ) from None


class CaseSensitivity(models.TextChoices):
    """How an application compares coupon and referral codes (Talon.One's ``caseSensitivity``)."""

    SENSITIVE = "sensitive", "Case-sensitive"
    INSENSITIVE_UPPERCASE = "insensitive-uppercase", "Case-insensitive (stored uppercase)"
    INSENSITIVE_LOWERCASE = "insensitive-lowercase", "Case-insensitive (stored lowercase)"


class DiscountScope(models.TextChoices):
    """What a ``setDiscount`` without a scope applies to (``defaultDiscountScope``)."""

    SESSION_TOTAL = "sessionTotal", "Session total"
    CART_ITEMS = "cartItems", "Cart items"
    ADDITIONAL_COSTS = "additionalCosts", "Additional costs"


class Application(models.Model):
    """A Talon.One application: the tenant that owns campaigns, customers and sessions."""

    CaseSensitivity = CaseSensitivity
    DiscountScope = DiscountScope

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = models.CharField(
        max_length=3,
        validators=[validate_currency],
        help_text="ISO 4217 code of the currency amounts are in, such as EUR.",
    )
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="IANA time zone, such as Europe/Berlin.",
    )
    case_sensitivity = models.CharField(
        max_length=24,
        choices=CaseSensitivity.choices,
        default=CaseSensitivity.SENSITIVE,
        help_text="How coupon and referral codes are compared.",
    )
    enable_cascading_discounts = models.BooleanField(
        default=False,
        help_text="Each discount applies to what is left after the discounts before it.",
    )
    enable_partial_discounts = models.BooleanField(
        default=False,
        help_text="A discount that would exceed its budget is reduced instead of rejected.",
    )
    enable_flattened_cart_items = models.BooleanField(
        default=True,
        help_text="Cart items with a quantity above one are split into items of quantity one.",
    )
    default_discount_scope = models.CharField(
        max_length=16,
        choices=DiscountScope.choices,
        default=DiscountScope.SESSION_TOTAL,
        help_text="What setDiscount applies to when its effect names no scope.",
    )
    sandbox = models.BooleanField(default=False)
    attributes = models.JSONField(default=dict, blank=True)
    rules_version = models.PositiveBigIntegerField(
        default=1,
        editable=False,
        help_text="Bumped by every change that affects evaluation; compiled rules compare it.",
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=r"\A[A-Z]{3}\Z"),
                name="application_currency_is_a_code",
            ),
            models.CheckConstraint(
                condition=~Q(timezone=""), name="application_timezone_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(case_sensitivity__in=CaseSensitivity.values),
                name="application_case_sensitivity_valid",
            ),
            models.CheckConstraint(
                condition=Q(default_discount_scope__in=DiscountScope.values),
                name="application_default_discount_scope_valid",
            ),
            models.CheckConstraint(
                condition=Q(rules_version__gt=0), name="application_rules_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def minor_units(self) -> int:
        """Decimals of the application's currency: amounts round to this many places."""
        return minor_units(self.currency)


class IntegrationApiKey(models.Model):
    """A key a shop authenticates with; only its hash and its first characters are kept.

    The raw key is shown once, when it is created. ``prefix`` tells keys apart in lists and
    logs; ``key_hash`` (``hash_key`` of the raw key) is what a request's key is looked up by.
    """

    PREFIX_LENGTH = API_KEY_PREFIX_LENGTH

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "integration API key"
        ordering = ("application_id", "-created", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(key_hash__regex=r"\A[0-9a-f]{64}\Z"),
                name="integrationapikey_hash_is_sha256_hex",
            ),
            models.CheckConstraint(
                condition=~Q(prefix=""), name="integrationapikey_prefix_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(raw: str) -> str:
        """What is stored for a raw key: the SHA-256 of its UTF-8 bytes, as 64 hex digits.

        The key format is defined once, in ``integration.keys`` (which explains why a fast
        unsalted hash is the right one here).
        """
        return key_hash(raw)


class SigningSecret(models.Model):
    """A secret that request signatures (``Content-Signature``) are computed with.

    Two may be valid at once while a shop rotates from the old secret to the new one; a
    secret stops being accepted at ``expires_at`` (never, when empty).
    """

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="signing_secrets"
    )
    secret = models.CharField(max_length=256)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("application_id", "-created", "id")
        constraints = [
            models.CheckConstraint(condition=~Q(secret=""), name="signingsecret_secret_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Signing secret {self.masked_secret} of application {self.application_id}"

    @property
    def masked_secret(self) -> str:
        """The secret as it may be shown: its first four characters (of a long one), no more."""
        shown = self.secret[:4] if len(self.secret) >= 16 else ""
        return f"{shown}{'•' * 8}"
