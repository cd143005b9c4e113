"""App configuration for the Management API."""

from django.apps import AppConfig


class ManagementConfig(AppConfig):
    name = "management"
    verbose_name = "Management API"
    default_auto_field = "django.db.models.BigAutoField"
