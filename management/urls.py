"""URLs of the Management API, included at the root: each pattern carries its own ``v1/``
prefix, as in Talon.One's API.
"""

from django.urls import URLPattern, URLResolver

app_name = "management"

urlpatterns: list[URLPattern | URLResolver] = []
