"""Celery tasks of the domain.

Tasks are thin: they take ids, call a service and are safe to run twice.
"""

from celery import shared_task

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
