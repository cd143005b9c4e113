"""``/v1/applications``: the applications the caller may see (``getApplications``) and one of
them (``getApplication``), in Talon.One's ``Application`` shape."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application
from integration.render import rfc3339
from management.models import Role
from management.services import applications_visible
from management.views import ManagementView, paginate

#: The account every application belongs to: an installation is one Talon.One account.
ACCOUNT_ID = 1

#: The fields ``getApplications`` sorts by: API name to model field.
APPLICATION_SORT_FIELDS = {
    "id": "id",
    "name": "name",
    "created": "created",
    "modified": "modified",
}


def render_application(application: Application) -> dict[str, Any]:
    """``application`` as Talon.One's ``Application``: the fields it has here, and the
    required ones it has no counterpart of (``accountId``, ``loyaltyPrograms``)."""
    return {
        "id": application.pk,
        "created": rfc3339(application.created),
        "modified": rfc3339(application.modified),
        "accountId": ACCOUNT_ID,
        "name": application.name,
        "description": application.description,
        "timezone": application.timezone,
        "currency": application.currency,
        "caseSensitivity": application.case_sensitivity,
        "attributes": application.attributes,
        "defaultDiscountScope": application.default_discount_scope,
        "enableCascadingDiscounts": application.enable_cascading_discounts,
        "enableFlattenedCartItems": application.enable_flattened_cart_items,
        "enablePartialDiscounts": application.enable_partial_discounts,
        "sandbox": application.sandbox,
        "loyaltyPrograms": [],
    }


class ApplicationsView(ManagementView):
    operation = "getApplications"

    def get(self, request: Request) -> Response:
        page = paginate(
            request,
            applications_visible(self.caller),
            sortable=APPLICATION_SORT_FIELDS,
            render=render_application,
        )
        return Response(page)


class ApplicationView(ManagementView):
    operation = "getApplication"

    def get(self, request: Request, application_id: int) -> Response:
        return Response(render_application(self.application_for(application_id, role=Role.VIEWER)))
