"""URLs of the Management API, included at the root: each pattern carries its own ``v1/``
prefix, as in Talon.One's API.
"""

from django.urls import URLPattern, URLResolver, path

from management.applications import ApplicationsView, ApplicationView
from management.sessions import SessionsView

app_name = "management"

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/sessions", SessionsView.as_view(), name="sessions"),
    path("v1/applications", ApplicationsView.as_view(), name="applications"),
    path("v1/applications/<int:application_id>", ApplicationView.as_view(), name="application"),
]
