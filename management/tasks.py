"""Celery tasks of the Management API.

Tasks are thin: they call a service and are safe to run twice.
"""

from celery import shared_task
from django.utils import timezone

from management.access_logs import access_log_prune


@shared_task
def access_log_prune_task() -> int:
    """Delete the access log entries older than ``ACCESS_LOG_RETENTION_DAYS`` (run daily by
    ``celery beat``: ``CELERY_BEAT_SCHEDULE``); answer how many went."""
    return access_log_prune(now=timezone.now())
