"""Custom attribute definitions: the extra data an application's entities carry.

A shop may send only the custom attributes that were defined first, and a rule may read only
those (``[".", "Profile", "Attributes", "Country"]``): the definitions of an application become
its attribute catalogue (``rules.catalogue.build_catalogue``), which rules are checked against.
Entities and types are spelled as in Talon.One's Management API (``CustomerProfile``,
``"(list string)"``); ``rules.catalogue`` maps them to the rule language's names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from campaigns.models.applications import Application
from rules.catalogue import ENTITIES, ENTITY_ALIASES, attribute_type
from rules.types import Type as RuleType

ATTRIBUTE_NAME_PATTERN = r"\A[A-Za-z][A-Za-z0-9_]*\Z"
"""A name is an identifier: it is used in API payloads and in rules. (``\\A``/``\\Z`` rather
than ``^``/``$``, which would let a trailing newline through in Python and SQLite.)"""


class AttributeEntity(models.TextChoices):
    """The entities that can have custom attributes (the Management API's ``entity``)."""

    APPLICATION = "Application", "Application"
    CAMPAIGN = "Campaign", "Campaign"
    CUSTOMER_PROFILE = "CustomerProfile", "Customer profile"
    CUSTOMER_SESSION = "CustomerSession", "Customer session"
    CART_ITEM = "CartItem", "Cart item"
    COUPON = "Coupon", "Coupon"
    EVENT = "Event", "Event"
    GIVEAWAY = "Giveaway", "Giveaway"
    LOYALTY_CARD = "LoyaltyCard", "Loyalty card"
    REFERRAL = "Referral", "Referral"
    STORE = "Store", "Store"


class AttributeType(models.TextChoices):
    """The types a custom attribute can have (the Management API's ``type``)."""

    STRING = "string", "String"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    TIME = "time", "Time"
    LOCATION = "location", "Location"
    LIST_STRING = "(list string)", "List of strings"
    LIST_NUMBER = "(list number)", "List of numbers"
    LIST_TIME = "(list time)", "List of times"
    LIST_LOCATION = "(list location)", "List of locations"


class AttributeDefinition(models.Model):
    """A custom attribute of one kind of entity (``Country`` of a ``CustomerProfile``)."""

    Entity = AttributeEntity
    Type = AttributeType

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="attribute_definitions"
    )
    entity = models.CharField(max_length=32, choices=Entity.choices, db_index=True)
    event_type = models.CharField(
        max_length=255, blank=True, help_text="For Event attributes: the event type they belong to."
    )
    name = models.CharField(
        max_length=255,
        validators=[
            RegexValidator(
                ATTRIBUTE_NAME_PATTERN,
                "Use letters, digits and underscores, starting with a letter.",
                code="invalid_attribute_name",
            )
        ],
        help_text="The key in API payloads and rules, such as Country.",
    )
    title = models.CharField(max_length=255, help_text="The name shown in the Campaign Manager.")
    type = models.CharField(max_length=16, choices=Type.choices)
    description = models.TextField(blank=True)
    suggestions = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("application_id", "entity", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "entity", "name"],
                name="attributedefinition_name_unique_per_entity",
            ),
            models.CheckConstraint(
                condition=Q(name__regex=ATTRIBUTE_NAME_PATTERN),
                name="attributedefinition_name_is_identifier",
            ),
            models.CheckConstraint(
                condition=Q(entity__in=AttributeEntity.values),
                name="attributedefinition_entity_valid",
            ),
            models.CheckConstraint(
                condition=Q(type__in=AttributeType.values), name="attributedefinition_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(entity="Event") | Q(event_type=""),
                name="attributedefinition_event_type_only_for_events",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.name} ({self.type})"

    @property
    def rule_type(self) -> RuleType:
        """The attribute's type in the rule language (``number`` → decimal …)."""
        return attribute_type(self.type, self.description or self.title)


def custom_attribute_types(
    definitions: Iterable[AttributeDefinition],
) -> Mapping[str, Mapping[str, RuleType]]:
    """``build_catalogue``'s ``custom_attributes`` argument: entity → attribute name → type.

    Entities are keyed by their Management API names (``CustomerProfile``), which
    ``build_catalogue`` accepts. Definitions of entities that rules cannot read (giveaways,
    loyalty cards) are left out.
    """
    readable = set(ENTITIES)
    types: dict[str, dict[str, RuleType]] = {}
    for definition in definitions:
        if ENTITY_ALIASES.get(definition.entity, definition.entity) not in readable:
            continue
        types.setdefault(definition.entity, {})[definition.name] = definition.rule_type
    return types
