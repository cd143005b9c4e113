"""``/v1/applications``: the applications the caller may see (``getApplications``) and one of
them (``getApplication``), in Talon.One's ``Application`` shape; and, ours (Talon.One's public
reference has no such operations), creating one (``createApplication``) and changing its
settings (``updateApplication``).

Who may write:

- ``createApplication``: superusers (the account's admins), who are admins of every
  application already, so no membership is made. Other users are refused (403), and so is
  every management key, even one whose endpoints list ``createApplication``: a key acts on
  the applications it lists, which a new application is not, and a key must never reach
  further than the admin who made it allowed.
- ``updateApplication``: an admin of the application (a key that allows the operation and
  lists the application).

Bodies carry the ``Application`` fields below (``name`` and ``currency`` are required to
create); an update changes the fields it is sent and keeps the others. The time zone must be
an IANA name and the currency an ISO 4217 code this server knows; see
``campaigns.services.applications`` for the settings that cannot change once the application
has codes, campaigns or sessions (409), and for why a new application has no attributes yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application
from campaigns.models.applications import CaseSensitivity, DiscountScope
from campaigns.services.applications import (
    ApplicationConflict,
    ApplicationInvalid,
    application_create,
    application_update,
)
from integration.errors import BadRequest, Conflict, ErrorItem
from integration.render import rfc3339
from management.models import ManagementKey, Role
from management.services import applications_visible
from management.views import Forbidden, ManagementView, paginate
from talonone.schema import PAGE_PARAMETERS, page_of

#: The account every application belongs to: an installation is one Talon.One account.
ACCOUNT_ID = 1

#: The fields ``getApplications`` sorts by: API name to model field.
APPLICATION_SORT_FIELDS = {
    "id": "id",
    "name": "name",
    "created": "created",
    "modified": "modified",
}

#: API field → model field of the settings a body may carry.
_APPLICATION_FIELDS: Final = {
    "name": "name",
    "description": "description",
    "timezone": "timezone",
    "currency": "currency",
    "caseSensitivity": "case_sensitivity",
    "attributes": "attributes",
    "defaultDiscountScope": "default_discount_scope",
    "enableCascadingDiscounts": "enable_cascading_discounts",
    "enableFlattenedCartItems": "enable_flattened_cart_items",
    "enablePartialDiscounts": "enable_partial_discounts",
    "sandbox": "sandbox",
}
_MODEL_FIELDS: Final = {model: api for api, model in _APPLICATION_FIELDS.items()}


class ApplicationInput(serializers.Serializer[Any]):
    """The body of ``createApplication``: the ``Application`` fields an application has here.
    The service checks the time zone and currency against what this server knows."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    timezone = serializers.CharField(required=False, max_length=64)
    currency = serializers.CharField(max_length=3)
    caseSensitivity = serializers.ChoiceField(choices=CaseSensitivity.values, required=False)
    attributes = serializers.DictField(required=False)
    defaultDiscountScope = serializers.ChoiceField(choices=DiscountScope.values, required=False)
    enableCascadingDiscounts = serializers.BooleanField(required=False)
    enableFlattenedCartItems = serializers.BooleanField(required=False)
    enablePartialDiscounts = serializers.BooleanField(required=False)
    sandbox = serializers.BooleanField(required=False)


class ApplicationSerializer(serializers.Serializer[Any]):
    """The answer: Talon.One's ``Application`` as ``render_application`` writes it."""

    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    modified = serializers.DateTimeField()
    accountId = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    timezone = serializers.CharField()
    currency = serializers.CharField()
    caseSensitivity = serializers.ChoiceField(choices=CaseSensitivity.values)
    attributes = serializers.DictField()
    defaultDiscountScope = serializers.ChoiceField(choices=DiscountScope.values)
    enableCascadingDiscounts = serializers.BooleanField()
    enableFlattenedCartItems = serializers.BooleanField()
    enablePartialDiscounts = serializers.BooleanField()
    sandbox = serializers.BooleanField()
    loyaltyPrograms = serializers.ListField(child=serializers.DictField())


class ApplicationUpdateInput(ApplicationInput):
    """The body of ``updateApplication``: every field optional; those not sent are kept."""


def _settings(data: Mapping[str, Any]) -> dict[str, Any]:
    return {_APPLICATION_FIELDS[name]: value for name, value in data.items()}


def _valid(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    data: dict[str, Any] = serializer.validated_data
    return data


def _invalid(error: ApplicationInvalid) -> BadRequest:
    items = [
        ErrorItem(
            code=f"invalid_{_MODEL_FIELDS[field]}",
            title="Invalid value",
            details=details,
            pointer=f"/{_MODEL_FIELDS[field]}",
        )
        for field, details in error.problems.items()
    ]
    return BadRequest("The request is not valid.", items, code="invalid")


def _conflict(error: ApplicationConflict) -> Conflict:
    field = _MODEL_FIELDS[error.field]
    item = ErrorItem(
        code=f"{field}_locked", title="Conflict", details=error.message, pointer=f"/{field}"
    )
    return Conflict(error.message, [item], code=f"{field}_locked")


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
    operation = {"GET": "getApplications", "POST": "createApplication"}

    @extend_schema(
        parameters=[*PAGE_PARAMETERS, OpenApiParameter("sort", str)],
        responses={200: page_of(ApplicationSerializer)},
    )
    def get(self, request: Request) -> Response:
        page = paginate(
            request,
            applications_visible(self.caller),
            sortable=APPLICATION_SORT_FIELDS,
            render=render_application,
        )
        return Response(page)

    @extend_schema(request=ApplicationInput, responses={201: ApplicationSerializer})
    def post(self, request: Request) -> Response:
        caller = self.caller
        if isinstance(caller, ManagementKey):
            raise Forbidden(
                "A management key cannot create applications: log in as an account admin.",
                code="key_cannot_create_applications",
            )
        if not (isinstance(caller, User) and caller.is_superuser):
            raise Forbidden(
                "Only account admins (superusers) may create applications.",
                code="role_too_low",
            )
        data = _valid(ApplicationInput(data=request.data))
        try:
            application = application_create(values=_settings(data))
        except ApplicationInvalid as error:
            raise _invalid(error) from None
        return Response(render_application(application), status=201)


class ApplicationView(ManagementView):
    operation = {"GET": "getApplication", "PUT": "updateApplication"}

    @extend_schema(responses={200: ApplicationSerializer})
    def get(self, request: Request, application_id: int) -> Response:
        return Response(render_application(self.application_for(application_id, role=Role.VIEWER)))

    @extend_schema(
        request=ApplicationUpdateInput(partial=True), responses={200: ApplicationSerializer}
    )
    def put(self, request: Request, application_id: int) -> Response:
        application = self.application_for(application_id, role=Role.ADMIN)
        data = _valid(ApplicationUpdateInput(data=request.data, partial=True))
        try:
            updated = application_update(application=application, values=_settings(data))
        except ApplicationInvalid as error:
            raise _invalid(error) from None
        except ApplicationConflict as error:
            raise _conflict(error) from None
        return Response(render_application(updated))
