"""An application's custom attributes, as the views need them: the declared type names (for
parsing request bodies) and the rule-language types (for the binding)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from campaigns.models import Application, AttributeDefinition
from campaigns.models.attributes import custom_attribute_types
from rules.types import Type


@dataclass(frozen=True, slots=True)
class AttributeSchema:
    declared: Mapping[str, Mapping[str, str]]
    """Entity → attribute name → type name (``number``, ``(list string)`` …)."""
    types: Mapping[str, Mapping[str, Type]]
    """Entity → attribute name → rule-language type."""


def attribute_schema(application: Application) -> AttributeSchema:
    """One query: the application's attribute definitions, both ways."""
    definitions = list(AttributeDefinition.objects.filter(application=application))
    declared: dict[str, dict[str, str]] = {}
    for definition in definitions:
        declared.setdefault(definition.entity, {})[definition.name] = definition.type
    return AttributeSchema(declared, custom_attribute_types(definitions))
