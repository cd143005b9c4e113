"""Customer profiles beyond the single update: ``PUT /v2/customer_profiles`` (many at once),
``GET /v1/customer_profiles/{integrationId}/inventory`` and ``DELETE
/v1/customer_data/{integrationId}`` (the GDPR erasure), as thin views over
``campaigns.services.customers`` and the selectors.

Every one of them is scoped to the calling application: another application's profile is a 404,
exactly like one that does not exist. (Talon.One erases a customer from every application of the
environment; here an application is the tenant and owns its customers, so erasure, like every
other call, reaches the calling application's data only.)
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request

from campaigns.compiled import attribute_schema_get
from campaigns.models import CustomerProfile
from campaigns.selectors import customer_coupons, customer_profile_get, customer_referrals
from campaigns.services.customers import customer_data_delete, customer_profiles_update
from integration.errors import BadRequest, ErrorItem, NotFound
from integration.payloads import parse_profiles_batch
from integration.render import render_coupon, render_customer_profile, render_referral
from integration.sessions import (
    Types,
    coupon_view,
    json_response,
    profile_view,
    query_flag,
    referral_view,
)
from integration.views import IntegrationView

SILENT_VALUES = {"yes": True, "no": False}
"""``silent``: ``yes`` (the default) answers 204 without a body, ``no`` the profiles."""

INVENTORY_LISTS = ("giveaways", "achievements")
"""The inventory's sections that are lists and not modelled yet: a profile has none of them.
(``coupons``: those meant for the customer or reserved by them; ``referrals``: the codes they
hand out as an advocate.)"""


def _rendered_profile(profile: CustomerProfile, types: Types) -> dict[str, Any]:
    view = profile_view(profile, types=types)
    assert view is not None
    return render_customer_profile(view)


def _not_found(integration_id: str) -> NotFound:
    return NotFound(f"There is no customer profile {integration_id!r}.")


class CustomerProfilesView(IntegrationView):
    """Create or update up to 1,000 profiles in one transaction; the rules do not run.

    The batch is all or nothing: one bad profile refuses it, with every problem of every
    profile pointed at (``/customerProfiles/3/attributes/Tier``), and nothing is written.
    """

    operation = "updateCustomerProfilesV2"

    def put(self, request: Request) -> HttpResponse:
        silent = _silent(request)
        schema = attribute_schema_get(application=self.application)
        profiles = parse_profiles_batch(request.data, custom_attributes=schema.declared)
        outcome = customer_profiles_update(
            application=self.application, profiles=profiles, now=timezone.now()
        )
        if silent:
            return HttpResponse(status=HTTPStatus.NO_CONTENT)
        return json_response(
            {
                "integrationStates": [
                    {"customerProfile": _rendered_profile(profile, schema.types)}
                    for profile in outcome.profiles
                ]
            }
        )


def _silent(request: Request) -> bool:
    given = str(request.query_params.get("silent", "yes"))
    silent = SILENT_VALUES.get(given)
    if silent is None:
        item = ErrorItem(
            code="invalid_silent",
            title="Invalid value",
            details="must be yes or no",
            parameter="silent",
        )
        raise BadRequest("The silent parameter is not valid.", [item])
    return silent


class CustomerInventoryView(IntegrationView):
    """What a customer has: each section the query asks for (``profile=true``,
    ``coupons=true`` …), the others left out."""

    operation = "getCustomerInventory"

    def get(self, request: Request, integration_id: str) -> HttpResponse:
        try:
            profile = customer_profile_get(
                application=self.application, integration_id=integration_id
            )
        except CustomerProfile.DoesNotExist:
            raise _not_found(integration_id) from None
        body: dict[str, Any] = {}
        types = attribute_schema_get(application=self.application).types
        if query_flag(request, "profile"):
            body["profile"] = _rendered_profile(profile, types)
        if query_flag(request, "loyalty"):
            body["loyalty"] = {"programs": {}, "cards": []}
        for section in INVENTORY_LISTS:
            if query_flag(request, section):
                body[section] = []
        if query_flag(request, "coupons"):
            body["coupons"] = [
                render_coupon(coupon_view(coupon))
                for coupon in customer_coupons(application=self.application, profile=profile)
            ]
        if query_flag(request, "referrals"):
            body["referrals"] = [
                render_referral(referral_view(referral, types=types))
                for referral in customer_referrals(application=self.application, profile=profile)
            ]
        return json_response(body)


class CustomerDataView(IntegrationView):
    """Forget a customer: the profile, their sessions and events; their effect records are
    anonymised (see ``campaigns.services.customers``). 204, or 404 for an unknown profile."""

    operation = "deleteCustomerData"

    def delete(self, request: Request, integration_id: str) -> HttpResponse:
        try:
            customer_data_delete(application=self.application, integration_id=integration_id)
        except CustomerProfile.DoesNotExist:
            raise _not_found(integration_id) from None
        return HttpResponse(status=HTTPStatus.NO_CONTENT)
