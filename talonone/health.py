"""Health checks shared by the ``/healthz`` view and the worker's ``health_check`` task."""

import logging

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)


def database_is_reachable(*, alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Tell whether the database answers a trivial query."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Database %r is not reachable", alias)
        return False
    return True
