"""``Idempotency-Key`` on the Integration API: the view side of
``campaigns.services.idempotency``, shared by every endpoint that honours the header (returns,
events).

``idempotent_response`` reads and checks the header (1 to 255 characters, else a 400), runs the
request's work at most once per key and answers what the work answered, or, to a retry, the
stored answer byte for byte with ``Idempotent-Replayed: true``. The same key with another
request (another path, other query parameters or another body) is a 409
``idempotency_key_reused``. Without the header, and on a dry run (which changes nothing), the
work simply runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request

from campaigns.models import Application
from campaigns.models.idempotency import IDEMPOTENCY_KEY_MAX_LENGTH
from campaigns.services.idempotency import (
    IdempotencyKeyReused,
    StoredResponse,
    idempotent_request_run,
    request_fingerprint,
)
from integration.errors import BadRequest, Conflict, ErrorItem
from integration.sessions import JSON

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def idempotent_response(
    request: Request,
    *,
    application: Application,
    dry: bool,
    run: Callable[[], StoredResponse],
) -> HttpResponse:
    """The answer of ``run()``, carried out at most once per ``Idempotency-Key`` (see the
    module). ``run`` does the request's work and renders its answer; what it raises propagates,
    and nothing is stored."""
    key = idempotency_key(request)
    if key is None or dry:
        response = run()
    else:
        try:
            response = idempotent_request_run(
                application=application,
                key=key,
                method=request.method or "",
                path=request.path,
                fingerprint=request_fingerprint(
                    json.dumps(sorted(request.query_params.lists())),
                    json.dumps(request.data, sort_keys=True, default=str),
                ),
                now=timezone.now(),
                run=run,
            )
        except IdempotencyKeyReused as error:
            item = ErrorItem(
                code="idempotency_key_reused",
                title="Idempotency key already used",
                details=str(error),
                parameter=IDEMPOTENCY_HEADER,
            )
            message = "The Idempotency-Key was already used for another request."
            raise Conflict(message, [item], code="idempotency_key_reused") from None
    answer = HttpResponse(response.body, status=response.status, content_type=JSON)
    if response.replayed:
        answer[REPLAYED_HEADER] = "true"
    return answer


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key``, or None without one; a 400 when it is empty or
    longer than ``IDEMPOTENCY_KEY_MAX_LENGTH``."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        item = ErrorItem(
            code="invalid_idempotency_key",
            title="Invalid value",
            details=f"must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters long",
            parameter=IDEMPOTENCY_HEADER,
        )
        raise BadRequest("The Idempotency-Key header is not valid.", [item])
    return key
