"""URLs of the Integration API, included at the root: each pattern carries its own ``v1/`` or
``v2/`` prefix, as in Talon.One's API.
"""

from django.urls import URLPattern, URLResolver, path

from integration.customers import CustomerProfileView, EventView
from integration.sessions import CustomerSessionView

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
    # Paths the official JavaScript SDK 4.3.0 still calls, onto the same views.
    path(
        "v1/customer_profiles/<str:integration_id>",
        CustomerProfileView.as_view(legacy=True),
        name="customer-profile-v1",
    ),
    path("v1/events", EventView.as_view(legacy=True), name="events-v1"),
]
