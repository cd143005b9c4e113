"""Root URL configuration.

- ``/app/``: the Campaign Manager (marketers' web UI), ``campaigns.urls``;
- ``/v1/…``, ``/v2/…``: the Integration API and the Management API, whose own URL modules
  carry the version prefixes that Talon.One uses;
- ``/admin/``: the Django admin, for operators;
- ``/healthz``: a JSON health check for load balancers.
"""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from talonone import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="campaigns:home"), name="root"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("app/", include("campaigns.urls")),
    path("", include("integration.urls")),
    path("", include("management.urls")),
]
