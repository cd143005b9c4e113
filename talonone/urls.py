"""Root URL configuration.

- ``/app/``: the Campaign Manager (marketers' web UI), ``campaigns.urls``;
- ``/v1/…``, ``/v2/…``: the Integration API and the Management API, whose own URL modules
  carry the version prefixes that Talon.One uses;
- ``/openapi/<api>.json``: the OpenAPI schema of each API (``integration``, ``management``),
  one per API as Talon.One publishes them, with Swagger UI at ``/openapi/<api>/`` and Redoc at
  ``/openapi/<api>/redoc/``; readable without credentials (``talonone.schema``);
- ``/admin/``: the Django admin, for operators;
- ``/healthz``: a JSON health check for load balancers.
"""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from talonone import views
from talonone.schema import INTEGRATION_SCHEMA_SETTINGS, MANAGEMENT_SCHEMA_SETTINGS

#: The APIs with a schema of their own: the name in their URLs, their URL module and the
#: settings that tell their schemas apart.
OPENAPI_APIS = {
    "integration": ("integration.urls", INTEGRATION_SCHEMA_SETTINGS),
    "management": ("management.urls", MANAGEMENT_SCHEMA_SETTINGS),
}


def openapi_urls(api: str) -> list[URLPattern]:
    """The schema of ``api`` and its two browsable UIs."""
    urlconf, custom_settings = OPENAPI_APIS[api]
    title = str(custom_settings["TITLE"])
    schema = f"openapi-{api}"
    return [
        path(
            f"openapi/{api}.json",
            SpectacularJSONAPIView.as_view(urlconf=urlconf, custom_settings=custom_settings),
            name=schema,
        ),
        path(
            f"openapi/{api}/",
            SpectacularSwaggerView.as_view(url_name=schema, title=title),
            name=f"{schema}-swagger-ui",
        ),
        path(
            f"openapi/{api}/redoc/",
            SpectacularRedocView.as_view(url_name=schema, title=title),
            name=f"{schema}-redoc",
        ),
    ]


urlpatterns: list[URLPattern | URLResolver] = [
    # First: the Integration API takes most requests by far, and Django tries the patterns in
    # order. None of the others matches a path of its (``v1/…``, ``v2/…``).
    path("", include("integration.urls")),
    path("", RedirectView.as_view(pattern_name="campaigns:home"), name="root"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("app/", include("campaigns.urls")),
    *openapi_urls("integration"),
    *openapi_urls("management"),
    path("", include("management.urls")),
]
