"""URLs of the Integration API, included at the root: each pattern carries its own ``v1/`` or
``v2/`` prefix, as in Talon.One's API.
"""

from django.urls import URLPattern, URLResolver, path

from integration.campaigns import IntegrationCampaignsView
from integration.customers import (
    CustomerProfileV1View,
    CustomerProfileView,
    EventV1View,
    EventView,
)
from integration.profiles import CustomerDataView, CustomerInventoryView, CustomerProfilesView
from integration.referrals import ReferralsView
from integration.reservations import CouponReservationsView, ReservedCustomersView
from integration.returns import CustomerSessionReopenView, CustomerSessionReturnsView
from integration.schema import annotate_views
from integration.sessions import CustomerSessionView

# The views' descriptions in the OpenAPI schema, before anything can generate it.
annotate_views()

app_name = "integration"

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "v2/customer_sessions/<str:customer_session_id>",
        CustomerSessionView.as_view(),
        name="customer-session",
    ),
    path(
        "v2/customer_profiles/<str:integration_id>",
        CustomerProfileView.as_view(),
        name="customer-profile",
    ),
    path("v2/events", EventView.as_view(), name="events"),
    path("v2/customer_profiles", CustomerProfilesView.as_view(), name="customer-profiles"),
    path(
        "v1/customer_profiles/<str:integration_id>/inventory",
        CustomerInventoryView.as_view(),
        name="customer-inventory",
    ),
    path(
        "v1/customer_data/<str:integration_id>",
        CustomerDataView.as_view(),
        name="customer-data",
    ),
    path("v1/integration/campaigns", IntegrationCampaignsView.as_view(), name="campaigns"),
    path(
        "v2/customer_sessions/<str:customer_session_id>/returns",
        CustomerSessionReturnsView.as_view(),
        name="customer-session-returns",
    ),
    path(
        "v2/customer_sessions/<str:customer_session_id>/reopen",
        CustomerSessionReopenView.as_view(),
        name="customer-session-reopen",
    ),
    path(
        "v1/coupon_reservations/<str:coupon_value>",
        CouponReservationsView.as_view(),
        name="coupon-reservations",
    ),
    path(
        "v1/coupon_reservations/customerprofiles/<str:coupon_value>",
        ReservedCustomersView.as_view(),
        name="coupon-reserved-customers",
    ),
    path("v1/referrals", ReferralsView.as_view(), name="referrals"),
    # Paths the official JavaScript SDK 4.3.0 still calls, onto the same views.
    path(
        "v1/customer_profiles/<str:integration_id>",
        CustomerProfileV1View.as_view(),
        name="customer-profile-v1",
    ),
    path("v1/events", EventV1View.as_view(), name="events-v1"),
]
