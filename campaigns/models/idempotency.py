"""Idempotent requests: what an API request answered, kept under the key its client chose.

A client that sends ``Idempotency-Key: <key>`` with a request may send it again (after a
timeout, a dropped connection) without the request being carried out twice: the first answer
is stored here, in the same transaction as what the request changed, and a retry with the same
key within ``IDEMPOTENCY_KEY_LIFETIME`` gets that answer back. The row says which request the
key was used for (method, path and a hash of the query and body), so that reusing a key for a
different request can be refused rather than answered with somebody else's response.

A stored answer may hold a customer's data (their profile's attributes, their session, their
event), so it is linked to the customer it belongs to (``profile``): forgetting the customer
deletes their profile and, with it, their stored answers (``on_delete=CASCADE``). An answer
about no customer (a return of an anonymous session) is linked to none; it can be replayed for
``IDEMPOTENCY_KEY_LIFETIME`` only, and is deleted once expired and its key is used again.

Nothing here is specific to one endpoint; ``campaigns.services.idempotency`` does the work.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.db import models
from django.db.models import Q

from campaigns.models.applications import Application
from campaigns.models.customers import CustomerProfile

IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255
"""The longest key accepted (Talon.One: keys "should not exceed 255 characters")."""

IDEMPOTENCY_KEY_LIFETIME: Final = timedelta(hours=24)
"""How long a stored answer is replayed; after that the key is free again (Talon.One's 24 h)."""


class IdempotentRequest(models.Model):
    """One request made with an idempotency key, and the answer it got."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="idempotent_requests"
    )
    profile = models.ForeignKey(
        CustomerProfile,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="idempotent_requests",
        help_text="The customer whose data the answer holds: forgetting them deletes it.",
    )
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    request_hash = models.CharField(
        max_length=64, help_text="SHA-256 (hex) of the request's query parameters and body."
    )
    response_status = models.PositiveSmallIntegerField()
    response_body = models.TextField(help_text="The response body as sent (JSON).")
    created = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ("-created", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "key"], name="idempotentrequest_key_unique"
            ),
            models.CheckConstraint(condition=~Q(key=""), name="idempotentrequest_key_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
