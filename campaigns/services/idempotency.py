"""Carrying out a request at most once per idempotency key.

``idempotent_request_run`` wraps the work of one request: in one transaction it looks for an
answer stored under the key, and either replays it (the same request) or refuses (another
request under the same key), or does the work and stores its answer with what the work wrote.
Either both are committed or neither is, so a retry never finds the work done without its
answer, nor an answer without the work.

Two requests with the same key at the same time both find nothing and both do the work; the
second one's insert of the key then waits for the first transaction, fails on the unique key
when it commits, and the second transaction is rolled back whole (its work included) before it
answers what the first stored. Work that locks the same rows (a session) is serialised anyway.

Only successful answers are stored: a refused request changed nothing, so sending it again is
safe, and its key stays free for a corrected request. A stored answer is linked to the customer
whose data it holds (``StoredResponse.profile``), so that forgetting the customer deletes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from campaigns.models import Application, CustomerProfile, IdempotentRequest
from campaigns.models.idempotency import IDEMPOTENCY_KEY_LIFETIME


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """An answer as sent: its status and its body."""

    status: int
    body: str
    replayed: bool = False
    """True when this is the stored answer of an earlier request with the same key."""
    profile: CustomerProfile | None = None
    """The customer whose data the body holds, if any: the stored answer is theirs (it is
    deleted with them). Not set on a replay."""


class IdempotencyKeyReused(Exception):
    """The key was used, within its lifetime, for a different request."""

    def __init__(self, key: str, method: str, path: str) -> None:
        super().__init__(
            f"the Idempotency-Key {key!r} was already used for another request "
            f"({method} {path}, with other parameters or another body)"
        )
        self.key = key


def request_fingerprint(*parts: str | bytes) -> str:
    """The SHA-256 (hex) of a request's identifying parts (query, body), in order."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def idempotent_request_run(
    *,
    application: Application,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
    now: datetime,
    run: Callable[[], StoredResponse],
) -> StoredResponse:
    """``run()`` once per ``key``: its answer, or the answer stored by an earlier request with
    the same key, method, path and fingerprint. Raises ``IdempotencyKeyReused`` when the key
    was used for another request less than ``IDEMPOTENCY_KEY_LIFETIME`` ago; exceptions of
    ``run`` propagate (and nothing is stored)."""
    try:
        with transaction.atomic():
            stored = _stored(application=application, key=key, now=now)
            if stored is not None:
                return _replay(stored, method=method, path=path, fingerprint=fingerprint)
            response = run()
            if 200 <= response.status < 300:
                IdempotentRequest.objects.create(
                    application=application,
                    profile=response.profile,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=fingerprint,
                    response_status=response.status,
                    response_body=response.body,
                    created=now,
                )
            return response
    except IntegrityError:
        # A concurrent request with the same key committed first; this one was rolled back.
        stored = _stored(application=application, key=key, now=now)
        if stored is None:
            raise
        return _replay(stored, method=method, path=path, fingerprint=fingerprint)


def _stored(*, application: Application, key: str, now: datetime) -> IdempotentRequest | None:
    """The live answer under ``key``; an expired one is deleted, so that the key is free."""
    found = IdempotentRequest.objects.filter(application=application, key=key).first()
    if found is not None and found.created <= now - IDEMPOTENCY_KEY_LIFETIME:
        IdempotentRequest.objects.filter(pk=found.pk).delete()
        return None
    return found


def _replay(
    stored: IdempotentRequest, *, method: str, path: str, fingerprint: str
) -> StoredResponse:
    if (stored.method, stored.path, stored.request_hash) != (method, path, fingerprint):
        raise IdempotencyKeyReused(stored.key, stored.method, stored.path)
    return StoredResponse(stored.response_status, stored.response_body, replayed=True)
