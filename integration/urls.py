"""URLs of the Integration API, included at the root: each pattern carries its own ``v1/`` or
``v2/`` prefix, as in Talon.One's API.
"""

from django.urls import URLPattern, URLResolver

app_name = "integration"

urlpatterns: list[URLPattern | URLResolver] = []
