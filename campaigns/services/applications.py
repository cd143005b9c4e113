"""Applications: create them and change their settings.

An application's settings change what evaluation does (the currency decides rounding, case
sensitivity how codes compare, the discount settings how effects apply, its name and id are
read by rules), so every change bumps ``rules_version`` in the same ``UPDATE``: every process
then compiles the application's campaigns again (``campaigns.compiled``).

Two settings cannot change once the application holds what depends on them, and a change is
refused (``ApplicationConflict``) rather than silently breaking it:

- ``case_sensitivity`` while it has coupon or referral codes: codes are stored normalised to
  the setting (``coupon_code_normalised``), so stored codes would stop matching what shops send.
- ``currency`` while it has campaigns or customer sessions: amounts in rules, budgets, coupons
  and the sales history are amounts of the old currency.

Custom attributes (``attributes``) must be defined for the ``Application`` entity and be of
their type; a new application has no definitions yet, so it is created without attributes and
given them by an update once they are defined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from campaigns.models import Application, AttributeDefinition, Campaign, Coupon, Referral
from campaigns.models.applications import validate_currency, validate_timezone
from campaigns.models.customers import CustomerSession
from campaigns.services.attribute_values import attribute_definitions, attributes_read

#: The model fields ``application_create`` and ``application_update`` set.
SETTINGS: Final = frozenset(
    {
        "name",
        "description",
        "timezone",
        "currency",
        "case_sensitivity",
        "default_discount_scope",
        "enable_cascading_discounts",
        "enable_flattened_cart_items",
        "enable_partial_discounts",
        "sandbox",
        "attributes",
    }
)


class ApplicationInvalid(Exception):
    """Values an application cannot have; ``problems`` maps a model field to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {text}" for field, text in problems.items()))
        self.problems = dict(problems)


class ApplicationConflict(Exception):
    """A setting that cannot change while the application holds what depends on it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def application_create(*, values: Mapping[str, Any]) -> Application:
    """A new application with the model ``values`` (a subset of ``SETTINGS``; ``name`` and
    ``currency`` are required). Raises ``ApplicationInvalid``."""
    _known_fields(values)
    problems = _values_problems(values)
    if values.get("attributes"):
        problems["attributes"] = (
            "A new application has no attribute definitions yet: create it, define its "
            "Application attributes, then set them with an update."
        )
    if problems:
        raise ApplicationInvalid(problems)
    return Application.objects.create(**values)


@transaction.atomic
def application_update(*, application: Application, values: Mapping[str, Any]) -> Application:
    """Change the application's settings in ``values`` (a subset of ``SETTINGS``; the others are
    kept) and bump ``rules_version``. Raises ``ApplicationInvalid`` or ``ApplicationConflict``;
    nothing is written then."""
    _known_fields(values)
    locked = Application.objects.select_for_update().get(pk=application.pk)
    problems = _values_problems(values)
    stored = dict(values)
    if "attributes" in values:
        definitions = attribute_definitions(locked, AttributeDefinition.Entity.APPLICATION)
        attributes, problem = attributes_read(
            values["attributes"], definitions, entity=AttributeDefinition.Entity.APPLICATION
        )
        if problem is not None:
            problems["attributes"] = problem
        stored["attributes"] = attributes
    if problems:
        raise ApplicationInvalid(problems)
    _conflicts_check(locked, values)
    for field, value in stored.items():
        setattr(locked, field, value)
    locked.rules_version = F("rules_version") + 1
    locked.save(update_fields=[*stored, "rules_version", "modified"])
    locked.refresh_from_db()
    return locked


def _known_fields(values: Mapping[str, Any]) -> None:
    unknown = set(values) - SETTINGS
    if unknown:  # a programming error, not a request's
        raise ValueError(f"not application settings: {', '.join(sorted(unknown))}")


def _values_problems(values: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with the time zone, the currency and the name of ``values``."""
    problems: dict[str, str] = {}
    for field, validate in (("timezone", validate_timezone), ("currency", validate_currency)):
        if field in values:
            try:
                validate(values[field])
            except ValidationError as error:
                problems[field] = " ".join(error.messages)
    if "name" in values and not str(values["name"]).strip():
        problems["name"] = "An application needs a name."
    return problems


def _conflicts_check(application: Application, values: Mapping[str, Any]) -> None:
    sensitivity = values.get("case_sensitivity", application.case_sensitivity)
    if sensitivity != application.case_sensitivity and (
        Coupon.objects.filter(application=application).exists()
        or Referral.objects.filter(application=application).exists()
    ):
        raise ApplicationConflict(
            "case_sensitivity",
            "The application has coupon or referral codes, stored as its case sensitivity "
            "says: it cannot change while they exist.",
        )
    currency = values.get("currency", application.currency)
    if currency != application.currency and (
        Campaign.objects.filter(application=application).exists()
        or CustomerSession.objects.filter(application=application).exists()
    ):
        raise ApplicationConflict(
            "currency",
            "The application has campaigns or customer sessions, whose amounts are in its "
            "currency: it cannot change while they exist.",
        )
