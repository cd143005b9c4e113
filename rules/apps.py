"""App configuration for the rule engine.

``rules`` is pure Python (no models, no ORM, no DRF, no I/O); this config only lets Django
know the package, so that it can later ship templates or static files for the rule builder.
"""

from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "rules"
    verbose_name = "Rule engine"
