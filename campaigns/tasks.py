"""Celery tasks of the domain.

Tasks are thin: they take ids, call a service and are safe to run twice.
"""

from celery import shared_task
from django.db import OperationalError

from campaigns.models import CouponBatch
from campaigns.services.coupon_batches import coupon_batch_fill
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
