"""Who may use the Management API, and on which applications.

- ``ManagementToken``: a bearer token a user got from ``POST /v1/sessions``; only its SHA-256
  is stored (the raw token is shown once), and it stops working when it expires or is revoked.
- ``Membership``: a user's role in an application (viewer < editor < admin). A user sees the
  applications they are a member of, and nothing of the others.
- ``ManagementKey``: a key for scripts (``Authorization: ManagementKey-v1 <key>``), limited to
  the operations (Talon.One's operationIds) and applications it lists; stored hashed as well.
- ``LoginThrottle``: failed logins of one email address, which lock it out for a while once
  there are too many (``management.services.session_create``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

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
