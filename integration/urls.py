"""URLs of the Integration API, included at the root: each pattern carries its own ``v1/`` or
``v2/`` prefix, as in Talon.One's API.
"""

from django.urls import URLPattern, URLResolver, path

from integration.sessions import CustomerSessionView

app_name = "integration"

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "v2/customer_sessions/<str:customer_session_id>",
        CustomerSessionView.as_view(),
        name="customer-session",
    ),
]
