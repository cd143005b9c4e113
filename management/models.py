"""Who may use the Management API, and on which applications.

- ``ManagementToken``: a bearer token a user got from ``POST /v1/sessions``; only its SHA-256
  is stored (the raw token is shown once), and it stops working when it expires or is revoked.
- ``Membership``: a user's role in an application (viewer < editor < admin). A user sees the
  applications they are a member of, and nothing of the others.
- ``ManagementKey``: a key for scripts (``Authorization: ManagementKey-v1 <key>``), limited to
  the operations (Talon.One's operationIds) and applications it lists; stored hashed as well.
- ``LoginThrottle``: failed logins of one email address, which lock it out for a while once
  there are too many (``management.services.session_create``).
- ``AccessLogEntry``: one Integration API request of an application (``integration.access_log``
  records them, ``getAccessLogsWithoutTotalCount`` lists them), kept for
  ``ACCESS_LOG_RETENTION_DAYS``.
- ``Export``: one export a caller made (coupons, effects, sessions as CSV), listed by
  ``getExports``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns.models import Application
from integration.keys import API_KEY_PREFIX_LENGTH

_SHA256_HEX = r"\A[0-9a-f]{64}\Z"


class Role(models.TextChoices):
    """A user's role in an application, from the least to the most it allows."""

    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"


#: The order of the roles: a role allows everything the roles ranked below it allow.
ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}


class ManagementToken(models.Model):
    """A bearer token of the Management API (``Authorization: Bearer <token>``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="management_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(token_hash__regex=_SHA256_HEX),
                name="managementtoken_hash_is_sha256_hex",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created")),
                name="managementtoken_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"Token of {self.user} from {self.created:%Y-%m-%d %H:%M}"


class Membership(models.Model):
    """``user`` may act on ``application`` as far as ``role`` allows."""

    Role = Role

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("application_id", "user_id")
        constraints = [
            models.UniqueConstraint(
                fields=("user", "application"), name="membership_one_per_user_and_application"
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.application}"


class ManagementKey(models.Model):
    """A Management API key (``Authorization: ManagementKey-v1 <key>``).

    It may call the operations named in ``allowed_endpoints`` (Talon.One's operationIds, such as
    ``getApplications``; none when empty) on the applications in ``applications``, until it
    expires or is revoked. Only its first characters (``prefix``) and its SHA-256 are stored.
    """

    PREFIX_LENGTH = API_KEY_PREFIX_LENGTH

    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        # A key belongs to the account, not to the person who made it: it outlives them.
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="management_keys",
    )
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    allowed_endpoints = models.JSONField(
        default=list,
        blank=True,
        help_text="operationIds the key may call, such as getApplications.",
    )
    applications = models.ManyToManyField(Application, blank=True, related_name="management_keys")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "management API key"
        ordering = ("-created", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(key_hash__regex=_SHA256_HEX), name="managementkey_hash_is_sha256_hex"
            ),
            models.CheckConstraint(condition=~Q(prefix=""), name="managementkey_prefix_not_empty"),
            models.CheckConstraint(condition=~Q(name=""), name="managementkey_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class LoginThrottle(models.Model):
    """Failed logins of one email address (in lower case), whether or not a user has it.

    ``failures`` counts the attempts since ``window_started``, each counted *before* its
    password is checked and forgotten when the login succeeds, so that concurrent attempts
    cannot all slip through while the first ones are being checked. ``locked_until`` is set when
    the attempts reach the limit and fail.
    """

    email = models.CharField(max_length=254, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(email=Lower("email")),
                name="loginthrottle_email_lower_case",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.failures} failed"


#: The most characters of a request's or response's body an access log entry keeps: enough for
#: a session with a few dozen cart items; a longer body is cut there.
ACCESS_LOG_PAYLOAD_MAX_CHARS = 16 * 1024

#: The most characters of a request's path and query string an access log entry keeps.
ACCESS_LOG_URI_MAX_CHARS = 2000


class AccessLogEntry(models.Model):
    """One Integration API request of ``application``, as Talon.One's ``AccessLogEntry``.

    ``path`` is the request's path alone (what the ``path`` filter matches), ``request_uri``
    the path with its query string. The payloads are the bodies as text, cut after
    ``ACCESS_LOG_PAYLOAD_MAX_CHARS`` characters; no header is kept (so neither the API key nor
    the signature). ``duration_ms`` is the time the server took, in milliseconds.
    """

    uuid = models.UUIDField(editable=False)
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="access_log_entries"
    )
    time = models.DateTimeField()
    method = models.CharField(max_length=16)
    path = models.CharField(max_length=ACCESS_LOG_URI_MAX_CHARS)
    request_uri = models.CharField(max_length=ACCESS_LOG_URI_MAX_CHARS)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    request_payload = models.TextField(blank=True)
    response_payload = models.TextField(blank=True)

    class Meta:
        verbose_name = "access log entry"
        verbose_name_plural = "access log entries"
        ordering = ("-time", "-id")
        indexes = [
            models.Index(fields=["application", "time"], name="accesslogentry_app_time"),
            # The retention task deletes by time alone.
            models.Index(fields=["time"], name="accesslogentry_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__gte=100, status__lte=599),
                name="accesslogentry_status_is_http_status",
            ),
            models.CheckConstraint(
                condition=Q(duration_ms__gte=0), name="accesslogentry_duration_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.request_uri} {self.status}"


class ExportEntity(models.TextChoices):
    """What an export holds: Talon.One's ``entity`` of an ``Export``."""

    COUPON = "Coupon", "Coupons"
    REFERRAL = "Referral", "Referrals"
    EFFECT = "Effect", "Effects"
    CUSTOMER_SESSION = "CustomerSession", "Customer sessions"
    LOYALTY_LEDGER = "LoyaltyLedger", "Loyalty ledger"
    LOYALTY_LEDGER_LOG = "LoyaltyLedgerLog", "Loyalty ledger log"
    COLLECTION = "Collection", "Collection"
    AUDIENCE_MEMBERSHIP = "AudienceMembership", "Audience memberships"


class Export(models.Model):
    """An export someone made: what (``entity``), of which application (and campaign), with
    which filters (the query parameters it was asked with), by whom.

    ``user`` is the user of the bearer token, or the user who created the management key that
    made it (``management_key``); both are kept when they go, as the record of what left the
    system. ``campaign_id`` is a plain number for the same reason.
    """

    Entity = ExportEntity

    created = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exports",
    )
    management_key = models.ForeignKey(
        ManagementKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="exports"
    )
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, null=True, blank=True, related_name="exports"
    )
    campaign_id = models.PositiveBigIntegerField(null=True, blank=True)
    entity = models.CharField(max_length=32, choices=ExportEntity.choices)
    filter = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-created", "-id")
        indexes = [
            models.Index(fields=["application", "created"], name="export_app_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(entity__in=ExportEntity.values), name="export_entity_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} export of {self.created:%Y-%m-%d %H:%M}"
