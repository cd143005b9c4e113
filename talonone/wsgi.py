"""WSGI entry point (gunicorn ``talonone.wsgi``, and ``manage.py runserver``)."""

import os

from django.core.wsgi import get_wsgi_application

from talonone.checks import require_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "talonone.settings")

application = get_wsgi_application()

require_secret_key()
