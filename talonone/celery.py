"""The Celery application.

Configuration comes from Django settings (the ``CELERY_`` names in ``talonone.settings``), so
the broker is Redis when ``REDIS_URL`` is set and kombu's file-system transport otherwise.
Tasks are found in each installed app's ``tasks`` module. Start a worker with::

    celery -A talonone worker --loglevel=INFO
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "talonone.settings")

app = Celery("talonone")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
