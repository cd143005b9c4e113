"""Start-up guards for the processes that serve requests."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_secret_key() -> None:
    """Refuse to serve requests without a secret key.

    ``talonone.settings`` leaves ``SECRET_KEY`` empty when ``DJANGO_SECRET_KEY`` is missing and
    ``DEBUG`` is off. Django would then fail on the first request that signs something (a login,
    a CSRF token); failing here makes a misconfigured server stop at start instead.
    """
    try:
        secret_key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django raises on an empty SECRET_KEY
        secret_key = ""
    if not secret_key:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string (bin/run generates "
            "one in var/secret_key), or set DJANGO_DEBUG=1 for local development only."
        )
