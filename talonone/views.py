"""Project-level views that belong to no app."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from talonone.health import database_is_reachable


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the process can serve requests (its database answers), 503 otherwise.

    Meant for load balancers and process supervisors; it needs no authentication.
    """
    database_ok = database_is_reachable()
    return JsonResponse(
        {
            "status": "ok" if database_ok else "unavailable",
            "checks": {"database": "ok" if database_ok else "unavailable"},
        },
        status=200 if database_ok else 503,
    )
