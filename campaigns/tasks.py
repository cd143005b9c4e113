"""Celery tasks of the domain.

Tasks are thin: they take ids, call a service and are safe to run twice.
"""

from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task
from django.db import OperationalError
from django.utils import timezone

from campaigns.models import CouponBatch
from campaigns.services.coupon_batches import coupon_batch_fill
from campaigns.services.webhooks import webhook_deliveries_due, webhook_delivery_attempt
from talonone.health import database_is_reachable


@shared_task
def ping() -> str:
    """Answer "pong": proves a worker takes tasks from the broker and returns results."""
    return "pong"


@shared_task
def health_check() -> dict[str, str]:
    """Report what the worker can reach, as ``/healthz`` does for a web process."""
    return {
        "worker": "ok",
        "database": "ok" if database_is_reachable() else "unavailable",
    }


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def coupon_batch_generate(batch_pk: int) -> dict[str, object] | None:
    """Create the coupons of a pending batch (``coupon_batch_fill``) and answer its progress.

    Safe to run twice: a second run resumes from the coupons the batch has. A database that
    cannot be reached is retried with backoff; the batch stays running meanwhile. None when the
    batch no longer exists (its campaign was deleted)."""
    batch = (
        CouponBatch.objects.select_related("application", "campaign").filter(pk=batch_pk).first()
    )
    if batch is None:
        return None
    batch = coupon_batch_fill(batch=batch)
    return {
        "batchId": batch.batch_id,
        "status": batch.status,
        "requested": batch.requested,
        "created": batch.created_count,
    }


@shared_task(bind=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=None)
def webhook_deliver(self: Task[..., str], delivery_pk: int, attempt: int = 1) -> str:
    """Make try ``attempt`` of a webhook delivery (``webhook_delivery_attempt``) and answer the
    delivery's state; schedule the next try when this one may pass later (a network error, a
    429 or a 5xx, with exponential backoff). Safe to run twice: each try is made once."""
    outcome = webhook_delivery_attempt(delivery_pk=delivery_pk, attempt=attempt)
    if outcome.retry_in is not None:
        raise self.retry(args=(delivery_pk, attempt + 1), countdown=outcome.retry_in)
    return outcome.state


#: How long a new delivery may stay pending before the sweep sends it (its enqueue was lost).
WEBHOOK_SWEEP_SETTLED = timedelta(minutes=1)


@shared_task
def webhook_deliveries_sweep() -> int:
    """Enqueue the webhook deliveries that are due and that no task holds (run every minute by
    ``celery beat``): retries whose message was lost, deliveries a broker outage left pending,
    and those of a worker that died while sending. Answers how many were enqueued."""
    due = webhook_deliveries_due(now=timezone.now(), settled_for=WEBHOOK_SWEEP_SETTLED)
    for delivery_pk, attempt in due:
        webhook_deliver.delay(delivery_pk, attempt)
    return len(due)
