"""The Management API's tokens, memberships and keys in the Django admin, for operators.

Tokens and keys are shown by their prefix or owner only: their hashes are of no use to anyone,
and the raw values are never stored. Keys are created with ``management_key_create`` (which
shows the raw key once), not here. The access log and the record of exports are read-only:
the system writes them.
"""

from django.contrib import admin
from django.http import HttpRequest

from management.models import (
    AccessLogEntry,
    Export,
    LoginThrottle,
    ManagementKey,
    ManagementToken,
    Membership,
)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "application", "role", "created")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "application__name")
    autocomplete_fields = ("application",)
    raw_id_fields = ("user",)


@admin.register(ManagementToken)
class ManagementTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "created", "expires_at", "revoked_at")
    search_fields = ("user__username", "user__email")
    readonly_fields = ("user", "created", "expires_at")
    fields = ("user", "created", "expires_at", "revoked_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ManagementKey)
class ManagementKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_by", "expires_at", "revoked_at")
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_by", "created")
    fields = (
        "name",
        "prefix",
        "created_by",
        "created",
        "expires_at",
        "allowed_endpoints",
        "applications",
        "revoked_at",
    )
    filter_horizontal = ("applications",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin):
    list_display = ("email", "failures", "window_started", "locked_until")
    search_fields = ("email",)


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(_ReadOnlyAdmin):
    list_display = ("time", "application", "method", "request_uri", "status", "duration_ms")
    list_filter = ("method", "status")
    search_fields = ("request_uri",)
    date_hierarchy = "time"
    list_select_related = ("application",)
    show_full_result_count = False


@admin.register(Export)
class ExportAdmin(_ReadOnlyAdmin):
    list_display = ("created", "entity", "application", "user", "management_key")
    list_filter = ("entity",)
    list_select_related = ("application", "user", "management_key")
