"""Selectors: the domain's reads, scoped to an application.

Every read of tenant data takes the application it is scoped to, so that no view, API or task
can forget the filter: asking for another application's campaign by id finds nothing. A ``*_get``
raises the model's ``DoesNotExist`` when there is no such object (in that application), which
the interfaces turn into a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db.models import F, Q, QuerySet

from campaigns.models import (
    Application,
    AttributeDefinition,
    Campaign,
    Coupon,
    CustomerProfile,
    CustomerSession,
    Referral,
)
from campaigns.models.attributes import custom_attribute_types
from rules.catalogue import build_catalogue
from rules.types import Type

_EVALUATION_ORDER = (F("evaluation_group__position").asc(nulls_first=True), "position", "id")
"""Evaluation order: the group's position (campaigns outside any group first), the position in
the group, then the id, so that the order is total."""


def application_get(*, id: int) -> Application:
    """The application with this id."""
    return Application.objects.get(pk=id)


def campaign_list(*, application: Application) -> QuerySet[Campaign]:
    """The application's campaigns, in evaluation order (group position, position, id)."""
    return (
        Campaign.objects.filter(application=application)
        .select_related("evaluation_group", "active_ruleset")
        .order_by(*_EVALUATION_ORDER)
    )


def campaign_get(*, application: Application, id: int) -> Campaign:
    """The application's campaign with this id."""
    return Campaign.objects.select_related("evaluation_group", "active_ruleset").get(
        application=application, pk=id
    )


def running_campaigns(*, application: Application, now: datetime) -> QuerySet[Campaign]:
    """The campaigns that run at ``now``, in the order they are evaluated.

    A campaign runs when it is enabled, has an active ruleset, has started (or has no start)
    and has not ended (or has no end; the end itself is excluded). The order is the position
    of its evaluation group (campaigns outside any group first), then its position in the
    group, then its id. The active ruleset comes with each campaign.
    """
    return (
        Campaign.objects.filter(application=application)
        .filter(running_at(now))
        .select_related("active_ruleset", "evaluation_group")
        .order_by(*_EVALUATION_ORDER)
    )


def running_at(now: datetime) -> Q:
    """The condition of a campaign that runs at ``now`` (see ``running_campaigns``)."""
    return (
        Q(state=Campaign.State.ENABLED, active_ruleset__isnull=False)
        & (Q(start_time__isnull=True) | Q(start_time__lte=now))
        & (Q(end_time__isnull=True) | Q(end_time__gt=now))
    )


CAMPAIGN_STATES: Final = (
    "enabled",
    "disabled",
    "archived",
    "scheduled",
    "running",
    "expired",
    "staged",
)
"""Talon.One's ``campaignState`` values (``campaigns_in_state``)."""


def campaigns_in_state(
    campaigns: QuerySet[Campaign], state: str, *, now: datetime
) -> QuerySet[Campaign]:
    """``campaigns`` in Talon.One's ``campaignState``: the stored states, and ``scheduled``
    (enabled, not yet started), ``running`` (what evaluation runs at ``now``), ``expired``
    (enabled, ended); no campaign here is ``staged``."""
    enabled = campaigns.filter(state=Campaign.State.ENABLED)
    if state == "scheduled":
        return enabled.filter(start_time__gt=now)
    if state == "running":
        return campaigns.filter(running_at(now))
    if state == "expired":
        return enabled.filter(end_time__lte=now)
    if state == "staged":
        return campaigns.none()
    return campaigns.filter(state=state)


def customer_profile_get(*, application: Application, integration_id: str) -> CustomerProfile:
    """The application's customer profile with this integration id."""
    return CustomerProfile.objects.get(application=application, integration_id=integration_id)


def customer_coupons(*, application: Application, profile: CustomerProfile) -> QuerySet[Coupon]:
    """The coupons of the application meant for the customer (their recipient) or reserved by
    them, newest first."""
    return (
        Coupon.objects.filter(application=application)
        .filter(
            Q(recipient_integration_id=profile.integration_id) | Q(reservations__profile=profile)
        )
        .distinct()
        .order_by("-created", "-pk")
    )


def customer_referrals(*, application: Application, profile: CustomerProfile) -> QuerySet[Referral]:
    """The referral codes of the application the customer hands out as an advocate, newest
    first."""
    return Referral.objects.filter(
        application=application, advocate_profile_integration_id=profile.integration_id
    ).order_by("-created", "-pk")


def customer_session_get(*, application: Application, integration_id: str) -> CustomerSession:
    """The application's session with this integration id, with its profile and cart items."""
    return (
        CustomerSession.objects.select_related("profile")
        .prefetch_related("cart_items")
        .get(application=application, integration_id=integration_id)
    )


@dataclass(frozen=True, slots=True)
class AttributeSchema:
    """An application's custom attributes, both ways the code needs them."""

    declared: Mapping[str, Mapping[str, str]]
    """Entity → attribute name → type name (``number``, ``(list string)`` …): for reading
    request bodies."""
    types: Mapping[str, Mapping[str, Type]]
    """Entity → attribute name → rule-language type: for bindings and the catalogue."""


def attribute_schema(*, application: Application) -> AttributeSchema:
    """One query: the application's attribute definitions, both ways."""
    definitions = list(AttributeDefinition.objects.filter(application=application))
    declared: dict[str, dict[str, str]] = {}
    for definition in definitions:
        declared.setdefault(definition.entity, {})[definition.name] = definition.type
    return AttributeSchema(declared, custom_attribute_types(definitions))


def attribute_catalogue(*, application: Application) -> Type:
    """What the application's rules may read: the built-in attributes plus its custom ones.

    Every entity's ``Attributes`` map is closed: a rule that reads an attribute the
    application never defined does not check (``UnknownAttribute``).
    """
    return build_catalogue(custom_attributes=attribute_schema(application=application).types)
