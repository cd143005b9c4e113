"""The Django admin: operators inspect and fix any record of the domain.

Two kinds of data get special care. Credentials: an API key's hash is never shown (only its
first characters), and a signing secret appears only masked once saved. Evaluation: saving or
deleting anything that evaluation reads (an application's settings, a campaign, an evaluation
group, an attribute definition, a ruleset) bumps the application's ``rules_version``, so that
every process recompiles its rules instead of running stale ones.

Rulesets are immutable: an existing version is shown read-only, and a new one is checked against
the application's attribute catalogue before it is saved.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from campaigns.models import (
    Application,
    AttributeDefinition,
    Campaign,
    CampaignLimit,
    CartItem,
    Coupon,
    CouponRedemption,
    CustomerProfile,
    CustomerSession,
    EffectRecord,
    EvaluationGroup,
    Event,
    IntegrationApiKey,
    Referral,
    ReferralRedemption,
    Ruleset,
    SigningSecret,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from campaigns.models.webhooks import DeliveryState
from campaigns.selectors import attribute_catalogue
from campaigns.services.coupons import coupon_code_normalised, coupon_create
from campaigns.services.referrals import referral_create
from campaigns.services.rulesets import applications_rules_changed
from integration.keys import generate_api_key
from rules.engine import check_rule


def _rules_changed(application_ids: Iterable[int]) -> None:
    """Invalidate the compiled rules of these applications in every process."""
    applications_rules_changed(application_ids=application_ids)


class TenantAdmin(admin.ModelAdmin):
    """An admin of a model that belongs to an application: the application is fixed once set."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and "application" not in readonly:
            readonly += ("application",)
        return readonly


class AffectsEvaluationAdmin(TenantAdmin):
    """An admin whose saves and deletes change what evaluation does (see the module docstring)."""

    @staticmethod
    def application_id_of(obj: Any) -> int:
        return int(obj.application_id)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _rules_changed([self.application_id_of(obj)])

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        application_id = self.application_id_of(obj)
        super().delete_model(request, obj)
        _rules_changed([application_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        application_ids = [self.application_id_of(obj) for obj in queryset]
        super().delete_queryset(request, queryset)
        _rules_changed(application_ids)


# ---------------------------------------------------------------------------------------------
# Applications and their credentials


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "id",
        "currency",
        "timezone",
        "case_sensitivity",
        "sandbox",
        "rules_version",
        "modified",
    )
    list_filter = ("sandbox", "currency", "case_sensitivity", "enable_cascading_discounts")
    search_fields = ("name", "description")
    readonly_fields = ("rules_version", "created", "modified")
    fieldsets = (
        (None, {"fields": ("name", "description", "currency", "timezone", "sandbox")}),
        (
            "Evaluation",
            {
                "fields": (
                    "case_sensitivity",
                    "enable_cascading_discounts",
                    "enable_partial_discounts",
                    "enable_flattened_cart_items",
                    "default_discount_scope",
                    "attributes",
                )
            },
        ),
        ("History", {"fields": ("rules_version", "created", "modified")}),
    )

    def save_model(self, request: HttpRequest, obj: Application, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Write only what the form changed: a full save would write back the rules_version
        # loaded with the form, undoing a bump made meanwhile by another change.
        obj.save(update_fields=[*form.changed_data, "modified"])
        _rules_changed([obj.pk])
        obj.refresh_from_db(fields=["rules_version"])


@admin.register(IntegrationApiKey)
class IntegrationApiKeyAdmin(TenantAdmin):
    """API keys are generated here and shown once; only their prefix is displayed after that."""

    list_display = ("name", "prefix", "application", "expires_at", "last_used_at", "created")
    list_filter = ("application", "expires_at", "created")
    search_fields = ("name", "prefix", "application__name")
    list_select_related = ("application",)
    autocomplete_fields = ("application",)
    fields = ("application", "name", "expires_at", "prefix", "created", "last_used_at")
    readonly_fields = ("prefix", "created", "last_used_at")

    def save_model(
        self, request: HttpRequest, obj: IntegrationApiKey, form: Any, change: bool
    ) -> None:
        generated = None
        if not change:
            generated = generate_api_key()
            obj.prefix = generated.prefix
            obj.key_hash = generated.hashed
        super().save_model(request, obj, form, change)
        if generated is not None:
            messages.warning(
                request,
                f"The new API key is {generated.raw} — copy it now: it is stored hashed and "
                "cannot be shown again.",
            )


class SigningSecretAddForm(forms.ModelForm):
    class Meta:
        model = SigningSecret
        fields = ("application", "secret", "expires_at")


@admin.register(SigningSecret)
class SigningSecretAdmin(TenantAdmin):
    """A secret is typed (or accepted as suggested) when added; afterwards only masked."""

    list_display = ("masked_secret", "application", "created", "expires_at")
    list_filter = ("application", "expires_at", "created")
    search_fields = ("application__name",)
    list_select_related = ("application",)
    autocomplete_fields = ("application",)
    readonly_fields = ("masked_secret", "created")

    def get_fields(self, request: HttpRequest, obj: SigningSecret | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("application", "secret", "expires_at")
        return ("application", "masked_secret", "expires_at", "created")

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = dict(super().get_changeform_initial_data(request))
        initial.setdefault("secret", secrets.token_hex(32))
        return initial

    @admin.display(description="secret")
    def masked_secret(self, obj: SigningSecret) -> str:
        return obj.masked_secret


# ---------------------------------------------------------------------------------------------
# Campaigns, evaluation groups and rulesets


@admin.register(EvaluationGroup)
class EvaluationGroupAdmin(AffectsEvaluationAdmin):
    list_display = ("name", "application", "mode", "evaluation_scope", "parent", "position")
    list_filter = ("mode", "evaluation_scope", "application")
    search_fields = ("name", "application__name")
    list_select_related = ("application", "parent")
    autocomplete_fields = ("application", "parent")
    ordering = ("application_id", "position", "id")


class CampaignLimitInline(admin.TabularInline):
    """A campaign's budgets: ``{action, limit, period, entities}``, as in Talon.One."""

    model = CampaignLimit
    fields = ("action", "limit", "period", "entities")
    extra = 0


class RulesetInline(admin.TabularInline):
    """A campaign's versions, newest first; read-only, since rulesets never change."""

    model = Ruleset
    fields = ("version", "rule_count", "created", "activated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-version",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="rules")
    def rule_count(self, obj: Ruleset) -> int:
        return len(obj.rules) if isinstance(obj.rules, list) else 0


@admin.register(Campaign)
class CampaignAdmin(AffectsEvaluationAdmin):
    list_display = (
        "name",
        "id",
        "application",
        "state",
        "start_time",
        "end_time",
        "evaluation_group",
        "position",
        "active_version",
        "modified",
    )
    list_filter = ("state", "application", "start_time", "end_time")
    search_fields = ("name", "description", "tags")
    list_select_related = ("application", "evaluation_group", "active_ruleset")
    autocomplete_fields = ("application", "evaluation_group")
    raw_id_fields = ("active_ruleset",)
    readonly_fields = ("created", "modified")
    date_hierarchy = "created"
    inlines = (CampaignLimitInline, RulesetInline)

    @admin.display(description="active version", ordering="active_ruleset__version")
    def active_version(self, obj: Campaign) -> int | None:
        return obj.active_ruleset.version if obj.active_ruleset else None

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if "active_ruleset" in form.changed_data and obj.active_ruleset is not None:
            obj.active_ruleset.activated_at = timezone.now()
            obj.active_ruleset.save(update_fields=["activated_at"])
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # The budgets (an inline) are saved after the campaign: invalidate again with them.
        _rules_changed([form.instance.application_id])


class RulesetAddForm(forms.ModelForm):
    """A new version, checked against the application's attribute catalogue."""

    class Meta:
        model = Ruleset
        fields = ("campaign", "version", "rules", "strikethrough_rules", "bindings")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        campaign = cleaned.get("campaign")
        rules = cleaned.get("rules")
        if campaign is None or not isinstance(rules, list):
            return cleaned
        catalogue = attribute_catalogue(application=campaign.application)
        problems = []
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict):
                problems.append(f"/{index}: a rule is an object")
                continue
            problems.extend(
                f"/{index}{error.pointer}: {error.message}"
                for error in check_rule(rule, catalogue=catalogue)
            )
        if problems:
            self.add_error("rules", problems)
        return cleaned


@admin.register(Ruleset)
class RulesetAdmin(AffectsEvaluationAdmin):
    """New versions can be added; existing ones are shown read-only (they are immutable)."""

    form = RulesetAddForm
    list_display = ("__str__", "campaign", "version", "is_active", "created", "activated_at")
    list_filter = ("campaign__application", "created", "activated_at")
    search_fields = ("campaign__name",)
    list_select_related = ("campaign", "campaign__active_ruleset")
    autocomplete_fields = ("campaign",)
    readonly_fields = ("created", "activated_at")

    @staticmethod
    def application_id_of(obj: Ruleset) -> int:
        return obj.campaign.application_id

    def get_readonly_fields(
        self, request: HttpRequest, obj: Ruleset | None = None
    ) -> tuple[str, ...]:
        if obj is None:
            return ("created", "activated_at")
        return (
            "campaign",
            "version",
            "rules",
            "strikethrough_rules",
            "bindings",
            "created",
            "activated_at",
        )

    def has_change_permission(self, request: HttpRequest, obj: Ruleset | None = None) -> bool:
        # Viewing stays possible (has_view_permission); saving an existing version is not.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: Ruleset) -> bool:
        return obj.is_active


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(AffectsEvaluationAdmin):
    list_display = ("name", "entity", "type", "title", "event_type", "application", "created")
    list_filter = ("entity", "type", "application")
    search_fields = ("name", "title", "description", "event_type")
    list_select_related = ("application",)
    autocomplete_fields = ("application",)
    readonly_fields = ("created",)


# ---------------------------------------------------------------------------------------------
# Customers, sessions, events and effects


@admin.register(CustomerProfile)
class CustomerProfileAdmin(TenantAdmin):
    list_display = (
        "integration_id",
        "application",
        "closed_sessions",
        "total_sales",
        "last_activity",
        "created",
    )
    list_filter = ("application", "last_activity", "created")
    search_fields = ("integration_id",)
    list_select_related = ("application",)
    autocomplete_fields = ("application",)
    readonly_fields = ("created", "modified")
    date_hierarchy = "created"


class CartItemInline(admin.TabularInline):
    model = CartItem
    fields = (
        "position",
        "sku",
        "name",
        "quantity",
        "returned_quantity",
        "remaining_quantity",
        "price",
        "category",
    )
    extra = 0
    ordering = ("position",)
    show_change_link = True


@admin.register(CustomerSession)
class CustomerSessionAdmin(TenantAdmin):
    list_display = (
        "integration_id",
        "application",
        "profile",
        "state",
        "total",
        "update_count",
        "updated",
    )
    list_filter = ("state", "application", "first_session", "updated")
    search_fields = (
        "integration_id",
        "profile__integration_id",
        "store_integration_id",
        "referral_code",
    )
    list_select_related = ("application", "profile")
    autocomplete_fields = ("application",)
    raw_id_fields = ("profile",)
    readonly_fields = ("created", "updated")
    date_hierarchy = "created"
    inlines = (CartItemInline,)


@admin.register(CartItem)
class CartItemAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "session", "position", "quantity", "price", "category")
    list_filter = ("session__application", "category")
    search_fields = ("sku", "name", "category", "session__integration_id")
    list_select_related = ("session",)
    raw_id_fields = ("session",)


@admin.register(Event)
class EventAdmin(TenantAdmin):
    list_display = ("type", "application", "profile", "session", "created")
    list_filter = ("application", "created")
    search_fields = ("type", "profile__integration_id", "session__integration_id")
    list_select_related = ("application", "profile", "session")
    autocomplete_fields = ("application",)
    raw_id_fields = ("profile", "session")
    date_hierarchy = "created"


@admin.register(EffectRecord)
class EffectRecordAdmin(TenantAdmin):
    list_display = (
        "effect_type",
        "application",
        "campaign",
        "rule_index",
        "rule_name",
        "session",
        "created",
        "rolled_back_at",
    )
    list_filter = (
        "effect_type",
        "application",
        ("rolled_back_at", admin.EmptyFieldListFilter),
        "created",
    )
    search_fields = ("effect_type", "rule_name", "session__integration_id", "campaign__name")
    list_select_related = ("application", "campaign", "session")
    autocomplete_fields = ("application",)
    raw_id_fields = ("campaign", "ruleset", "session", "profile", "event")
    date_hierarchy = "created"


# ---------------------------------------------------------------------------------------------
# Coupons and their redemptions


class CouponForm(forms.ModelForm):
    """A coupon: its code is compared as its application compares codes, and a limit cannot
    drop below what was already used."""

    class Meta:
        model = Coupon
        fields = (
            "campaign",
            "value",
            "usage_limit",
            "discount_limit",
            "reservation_limit",
            "start_date",
            "expiry_date",
            "recipient_integration_id",
            "attributes",
            "batch_id",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        coupon = self.instance
        if coupon.pk is None:
            campaign, value = cleaned.get("campaign"), cleaned.get("value")
            if campaign is not None and value:
                code = coupon_code_normalised(application=campaign.application, value=value)
                if Coupon.objects.filter(application=campaign.application, value=code).exists():
                    self.add_error("value", f"The application already has the code {code}.")
        usage_limit = cleaned.get("usage_limit")
        if usage_limit and usage_limit < coupon.usage_counter:
            self.add_error("usage_limit", f"It was used {coupon.usage_counter} times already.")
        discount_limit = cleaned.get("discount_limit")
        if discount_limit and discount_limit < coupon.discount_counter:
            self.add_error(
                "discount_limit", f"It gave {coupon.discount_counter} of discounts already."
            )
        start, expiry = cleaned.get("start_date"), cleaned.get("expiry_date")
        if start is not None and expiry is not None and expiry <= start:
            self.add_error("expiry_date", "A coupon expires after it starts.")
        return cleaned


@admin.register(Coupon)
class CouponAdmin(TenantAdmin):
    """Coupons are added through ``coupon_create`` (the code normalised); the counters are
    read-only, and a change writes only the fields the form changed, so that it cannot undo
    redemptions counted while the form was open."""

    form = CouponForm
    list_display = (
        "value",
        "campaign",
        "application",
        "usage_counter",
        "usage_limit",
        "discount_counter",
        "discount_limit",
        "start_date",
        "expiry_date",
        "recipient_integration_id",
        "batch_id",
        "created",
    )
    list_filter = ("application", "start_date", "expiry_date", "created")
    search_fields = ("value", "recipient_integration_id", "batch_id", "campaign__name")
    list_select_related = ("application", "campaign")
    autocomplete_fields = ("campaign",)
    readonly_fields = ("application", "usage_counter", "discount_counter", "created")
    date_hierarchy = "created"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return (*super().get_readonly_fields(request, obj), "campaign", "value")

    def save_model(self, request: HttpRequest, obj: Coupon, form: Any, change: bool) -> None:
        if change:
            if form.changed_data:
                obj.save(update_fields=form.changed_data)
            return
        created = coupon_create(
            campaign=obj.campaign,
            value=obj.value,
            usage_limit=obj.usage_limit,
            discount_limit=obj.discount_limit,
            reservation_limit=obj.reservation_limit,
            start_date=obj.start_date,
            expiry_date=obj.expiry_date,
            recipient_integration_id=obj.recipient_integration_id,
            attributes=obj.attributes,
            batch_id=obj.batch_id,
        )
        obj.pk, obj.application, obj.value, obj.created = (
            created.pk,
            created.application,
            created.value,
            created.created,
        )
        obj._state.adding = False


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(admin.ModelAdmin):
    """View only: a redemption is counted in its coupon's ``usage_counter``, so adding,
    changing or deleting one by hand would put the two out of step. Cancelling the session
    gives a use back."""

    list_display = ("coupon", "session", "profile", "created", "rolled_back_at")
    list_filter = (
        ("rolled_back_at", admin.EmptyFieldListFilter),
        "coupon__application",
        "created",
    )
    search_fields = ("coupon__value", "session__integration_id", "profile__integration_id")
    list_select_related = ("coupon", "session", "profile")
    raw_id_fields = ("coupon", "session", "profile")
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---------------------------------------------------------------------------------------------
# Referrals and their redemptions


class ReferralForm(forms.ModelForm):
    """A referral: its code is compared as its application compares codes, its friend is not
    its advocate, and its limit cannot drop below what was already used."""

    class Meta:
        model = Referral
        fields = (
            "campaign",
            "code",
            "advocate_profile_integration_id",
            "friend_profile_integration_id",
            "usage_limit",
            "start_date",
            "expiry_date",
            "attributes",
            "batch_id",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        referral = self.instance
        if referral.pk is None:
            campaign, code = cleaned.get("campaign"), cleaned.get("code")
            if campaign is not None and code:
                code = coupon_code_normalised(application=campaign.application, value=code)
                if Referral.objects.filter(application=campaign.application, code=code).exists():
                    self.add_error("code", f"The application already has the code {code}.")
        advocate = cleaned.get("advocate_profile_integration_id")
        if advocate and cleaned.get("friend_profile_integration_id") == advocate:
            self.add_error("friend_profile_integration_id", "An advocate cannot refer themselves.")
        usage_limit = cleaned.get("usage_limit")
        if usage_limit and usage_limit < referral.usage_counter:
            self.add_error("usage_limit", f"It was used {referral.usage_counter} times already.")
        start, expiry = cleaned.get("start_date"), cleaned.get("expiry_date")
        if start is not None and expiry is not None and expiry <= start:
            self.add_error("expiry_date", "A referral expires after it starts.")
        return cleaned


@admin.register(Referral)
class ReferralAdmin(TenantAdmin):
    """Referrals are added through ``referral_create`` (the code normalised); the counter is
    read-only, and a change writes only the fields the form changed, so that it cannot undo
    redemptions counted while the form was open."""

    form = ReferralForm
    list_display = (
        "code",
        "campaign",
        "application",
        "advocate_profile_integration_id",
        "friend_profile_integration_id",
        "usage_counter",
        "usage_limit",
        "start_date",
        "expiry_date",
        "created",
    )
    list_filter = ("application", "start_date", "expiry_date", "created")
    search_fields = (
        "code",
        "advocate_profile_integration_id",
        "friend_profile_integration_id",
        "batch_id",
        "campaign__name",
    )
    list_select_related = ("application", "campaign")
    autocomplete_fields = ("campaign",)
    readonly_fields = ("application", "usage_counter", "created")
    date_hierarchy = "created"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return (*super().get_readonly_fields(request, obj), "campaign", "code")

    def save_model(self, request: HttpRequest, obj: Referral, form: Any, change: bool) -> None:
        if change:
            if form.changed_data:
                obj.save(update_fields=form.changed_data)
            return
        created = referral_create(
            campaign=obj.campaign,
            advocate_profile_integration_id=obj.advocate_profile_integration_id,
            friend_profile_integration_id=obj.friend_profile_integration_id,
            start_date=obj.start_date,
            expiry_date=obj.expiry_date,
            usage_limit=obj.usage_limit,
            attributes=obj.attributes,
            code=obj.code,
        )
        obj.pk, obj.application, obj.code, obj.created = (
            created.pk,
            created.application,
            created.code,
            created.created,
        )
        obj._state.adding = False


@admin.register(ReferralRedemption)
class ReferralRedemptionAdmin(admin.ModelAdmin):
    """View only, as coupon redemptions: a redemption is counted in its referral's
    ``usage_counter``. Cancelling the session gives the use back."""

    list_display = ("referral", "campaign", "session", "friend", "created", "rolled_back_at")
    list_filter = (("rolled_back_at", admin.EmptyFieldListFilter), "created")
    search_fields = ("referral__code", "session__integration_id", "friend__integration_id")
    list_select_related = ("referral", "campaign", "session", "friend")
    raw_id_fields = ("referral", "campaign", "session", "friend")
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---------------------------------------------------------------------------------------------
# Webhooks and their deliveries


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """A webhook's signing secret is typed (or accepted as suggested) when it is added, and
    shown only masked afterwards, as an application's signing secret is. A definition saved
    here is not checked as the Management API checks it: prefer the API."""

    list_display = ("title", "verb", "url", "enabled", "created", "modified")
    list_filter = ("enabled", "verb", "applications", "created")
    search_fields = ("title", "url", "description")
    filter_horizontal = ("applications",)
    readonly_fields = ("masked_secret", "created", "modified")

    def get_fields(self, request: HttpRequest, obj: Webhook | None = None) -> tuple[str, ...]:
        definition = (
            "applications",
            "title",
            "description",
            "verb",
            "url",
            "headers",
            "payload",
            "params",
            "enabled",
        )
        if obj is None:
            return (*definition, "signing_secret")
        return (*definition, "masked_secret", "created", "modified")

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = dict(super().get_changeform_initial_data(request))
        initial.setdefault("signing_secret", secrets.token_urlsafe(32))
        return initial

    @admin.display(description="signing secret")
    def masked_secret(self, obj: Webhook) -> str:
        return f"{obj.signing_secret[:4]}{'•' * 8}"


class WebhookDeliveryAttemptInline(admin.TabularInline):
    model = WebhookDeliveryAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "error", "url")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("number",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The outbox: view only, with each try inline. A failed delivery can be sent again
    (``retry``): the next sweep (``campaigns.tasks.webhook_deliveries_sweep``) takes it."""

    list_display = (
        "id",
        "webhook_title",
        "application",
        "campaign",
        "state",
        "attempt_count",
        "last_status_code",
        "created",
        "next_attempt_at",
        "completed_at",
    )
    list_filter = ("state", "application", "created")
    search_fields = ("webhook_title", "session__integration_id", "campaign__name")
    list_select_related = ("application", "campaign")
    raw_id_fields = ("webhook", "campaign", "session", "profile", "event", "effect")
    date_hierarchy = "created"
    inlines = (WebhookDeliveryAttemptInline,)
    actions = ("retry",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send the selected failed deliveries again")
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = queryset.filter(state=DeliveryState.FAILED).update(
            state=DeliveryState.RETRYING, next_attempt_at=timezone.now(), completed_at=None
        )
        self.message_user(request, f"{count} deliveries will be sent again.", messages.SUCCESS)


@admin.register(WebhookDeliveryAttempt)
class WebhookDeliveryAttemptAdmin(admin.ModelAdmin):
    """Each try at a delivery, view only: what the message logs of the Management API list."""

    list_display = (
        "started_at",
        "delivery",
        "number",
        "method",
        "url",
        "status_code",
        "error",
        "duration_ms",
    )
    list_filter = ("status_code", "started_at")
    search_fields = ("url", "delivery__webhook_title", "error")
    list_select_related = ("delivery",)
    raw_id_fields = ("delivery",)
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
