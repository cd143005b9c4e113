"""Campaign Manager views (Django templates + htmx).

A view renders one template; when htmx asks for a fragment it renders a named partial of the
same template (``{% partialdef %}``), so the full page and the fragment never drift apart.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe
from django_htmx.middleware import HtmxDetails

from talonone.health import database_is_reachable


class HtmxHttpRequest(HttpRequest):
    """A request that went through ``django_htmx.middleware.HtmxMiddleware``."""

    htmx: HtmxDetails


@require_safe
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The landing page; htmx refreshes only its ``system-status`` partial."""
    template_name = "campaigns/home.html"
    if request.htmx:
        template_name += "#system-status"
    context = {
        "database_ok": database_is_reachable(),
        "checked_at": timezone.now(),
    }
    response = render(request, template_name, context)
    # The same URL answers a page or a fragment: caches must tell them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response
