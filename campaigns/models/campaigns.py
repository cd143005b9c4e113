"""Campaigns, the evaluation groups that order them, and their versioned rulesets.

A campaign runs when it is enabled, ``now`` is within its schedule and it has an active ruleset.
Running campaigns are evaluated in the order of their evaluation group's position, then their
own position in the group; a group's mode decides how the discounts of its campaigns combine.

A ruleset is one version of a campaign's rules. Rulesets are **immutable once created**: a
change to the rules is a new version, and ``Campaign.active_ruleset`` says which version runs.
Nothing here refuses an update (models hold no logic); the services create rulesets and never
update their rules, and the admin shows existing rulesets read-only.

That the active ruleset is one of the campaign's own is enforced on PostgreSQL by a composite
foreign key ``(active_ruleset_id, id) → ruleset (id, campaign_id)``, added by the initial
migration (Django cannot declare one); on other databases by ``Campaign.clean`` and the
services only.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from campaigns.models.applications import Application


def validate_string_list(value: Any) -> None:
    """A JSON list of strings (tags)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Enter a list of strings.", code="invalid_list")


def validate_json_list(value: Any) -> None:
    """A JSON list (rules, bindings)."""
    if not isinstance(value, list):
        raise ValidationError("Enter a list.", code="invalid_list")


CAMPAIGN_FEATURES = (
    "coupons",
    "referrals",
    "loyalty",
    "giveaways",
    "strikethrough",
    "achievements",
    "advancedEvents",
)
"""The features a campaign may enable (Talon.One's ``features``)."""


def validate_features(value: Any) -> None:
    """A JSON list of campaign features, each one of ``CAMPAIGN_FEATURES``."""
    validate_string_list(value)
    unknown = sorted(set(value) - set(CAMPAIGN_FEATURES))
    if unknown:
        raise ValidationError(
            "Unknown features: %(unknown)s (known: %(known)s).",
            code="invalid_feature",
            params={"unknown": ", ".join(unknown), "known": ", ".join(CAMPAIGN_FEATURES)},
        )


class EvaluationMode(models.TextChoices):
    """How the campaigns of an evaluation group combine (Talon.One's ``evaluationMode``)."""

    STACKABLE = "stackable", "Stackable"
    LIST_ORDER = "listOrder", "List order"
    LOWEST_DISCOUNT = "lowestDiscount", "Lowest discount"
    HIGHEST_DISCOUNT = "highestDiscount", "Highest discount"


class EvaluationScope(models.TextChoices):
    """What an evaluation group's mode compares (Talon.One's ``evaluationScope``)."""

    SESSION = "session", "Session"
    CART_ITEM = "cartItem", "Cart item"


class CampaignState(models.TextChoices):
    """Whether a campaign may run (its schedule and active ruleset decide the rest)."""

    ENABLED = "enabled", "Enabled"
    DISABLED = "disabled", "Disabled"
    ARCHIVED = "archived", "Archived"


class EvaluationGroup(models.Model):
    """A node of the campaign evaluation tree: how its campaigns' effects combine.

    ``mode`` follows Talon.One's ``evaluationMode``: ``stackable`` applies every campaign,
    ``listOrder`` only the first that produces effects, ``lowestDiscount`` and
    ``highestDiscount`` only the one with the lowest or highest discount.
    """

    Mode = EvaluationMode
    Scope = EvaluationScope

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="evaluation_groups"
    )
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.STACKABLE)
    evaluation_scope = models.CharField(
        max_length=16,
        choices=Scope.choices,
        default=Scope.SESSION,
        help_text="Whether the mode compares discounts per session or per cart item.",
    )
    position = models.PositiveIntegerField(
        default=0, help_text="Order among the groups of the application (lowest first)."
    )

    class Meta:
        ordering = ("application_id", "position", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=EvaluationMode.values), name="evaluationgroup_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(evaluation_scope__in=EvaluationScope.values),
                name="evaluationgroup_scope_valid",
            ),
            models.CheckConstraint(
                condition=~Q(parent=F("id")), name="evaluationgroup_not_its_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.mode})"

    def clean(self) -> None:
        if self.parent_id is not None:
            if self.pk is not None and self.parent_id == self.pk:
                raise ValidationError({"parent": "A group cannot be its own parent."})
            if self.parent is not None and self.parent.application_id != self.application_id:
                raise ValidationError({"parent": "The parent belongs to another application."})


class Campaign(models.Model):
    """A promotion: when it runs, in what order, and which version of its rules."""

    State = CampaignState

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.ENABLED, db_index=True
    )
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    features = models.JSONField(default=list, blank=True, validators=[validate_features])
    attributes = models.JSONField(
        default=dict,
        blank=True,
        help_text="Custom attributes of the campaign (defined for the Campaign entity), "
        "decimals and times stored as text.",
    )
    evaluation_group = models.ForeignKey(
        EvaluationGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    position = models.PositiveIntegerField(
        default=0, help_text="Order within the evaluation group (lowest first)."
    )
    active_ruleset = models.OneToOneField(
        "Ruleset",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The version of the rules that runs.",
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("application_id", "position", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=CampaignState.values), name="campaign_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(start_time__isnull=True)
                | Q(end_time__isnull=True)
                | Q(end_time__gt=F("start_time")),
                name="campaign_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if (
            self.evaluation_group is not None
            and self.evaluation_group.application_id != self.application_id
        ):
            errors["evaluation_group"] = "The evaluation group belongs to another application."
        if self.active_ruleset is not None and (
            self.pk is None or self.active_ruleset.campaign_id != self.pk
        ):
            errors["active_ruleset"] = "The active ruleset must be one of this campaign's."
        if errors:
            raise ValidationError(errors)


class Ruleset(models.Model):
    """One immutable version of a campaign's rules (a list of Talon.One rule objects).

    ``rules`` holds ``{title, description, bindings, condition, effects}`` objects, checked
    against the application's attribute catalogue before they are saved.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rulesets")
    version = models.PositiveIntegerField()
    rules = models.JSONField(default=list, blank=True, validators=[validate_json_list])
    strikethrough_rules = models.JSONField(
        default=list, blank=True, validators=[validate_json_list]
    )
    bindings = models.JSONField(default=list, blank=True, validators=[validate_json_list])
    created = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("campaign_id", "-version")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "version"], name="ruleset_version_unique_per_campaign"
            ),
            # The target of the composite foreign key from Campaign (see the module docstring).
            models.UniqueConstraint(fields=["id", "campaign"], name="ruleset_id_campaign_key"),
            models.CheckConstraint(condition=Q(version__gt=0), name="ruleset_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} v{self.version}"

    @property
    def is_active(self) -> bool:
        """Whether this is the version its campaign runs."""
        return self.campaign.active_ruleset_id == self.pk
