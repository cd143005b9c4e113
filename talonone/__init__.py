"""The Django project: settings, root URLs, the Celery app, WSGI and ASGI entry points.

The Celery app is imported here so that ``@shared_task`` tasks bind to it whenever Django
starts, in web processes as in workers.
"""

from talonone.celery import app as celery_app

__all__ = ("celery_app",)
