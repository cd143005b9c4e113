"""App configuration for the Integration API."""

from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "integration"
    verbose_name = "Integration API"
    default_auto_field = "django.db.models.BigAutoField"
