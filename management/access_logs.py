"""The Integration API's access log and the health of an application's integration, read
through the Management API (viewer role). ``integration.access_log`` records the requests.

- ``getAccessLogsWithoutTotalCount``: the requests of an application within ``rangeStart`` …
  ``rangeEnd`` (both required; RFC 3339, or a date for its midnight in UTC), in Talon.One's
  ``AccessLogEntry`` shape, without a total. ``path`` is a regular expression the request's
  path (without its query string) must match, ``method`` one of ``get``, ``put``, ``post``,
  ``delete``, ``patch``, ``status`` ``success`` (below 400) or ``error`` (400 and above);
  sorted by ``time``, ``status``, ``method`` or ``requestUri``.
- ``getApplicationApiHealth``: ``summary`` of the requests of the last five minutes
  (``HEALTH_WINDOW``): ``NONE`` without any, ``OK`` when none failed, ``WARNING`` when some
  but at most half failed, ``ERROR`` when more than half but not all failed, ``CRITICAL`` when
  all failed; a request failed when its status is 400 or above. ``lastUsed`` is the time of
  the application's latest logged request, or its creation when the log holds none.

The ``path`` pattern is matched by PostgreSQL (``~``) after being checked: at most
``PATH_PATTERN_MAX`` characters, and valid in RE2's syntax (google-re2), which has no
back-references nor look-arounds, so that no pattern can make the match take exponential time;
a pattern PostgreSQL still refuses is a 400 too, and the query is cut off after
``QUERY_TIMEOUT_MS``. Entries reach the log about a second after their request (the writer's
interval), and are deleted after ``ACCESS_LOG_RETENTION_DAYS`` (``access_log_prune``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import re2
from django.conf import settings
from django.db import DataError, OperationalError, connection, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from psycopg.errors import QueryCanceled
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Application
from integration.errors import BadRequest
from integration.render import rfc3339
from management.models import AccessLogEntry, Role
from management.views import ManagementView, paginate, query_error, query_time
from talonone.schema import PAGE_PARAMETERS, RANGE_PARAMETERS, page_of

#: The longest ``path`` pattern accepted.
PATH_PATTERN_MAX: Final = 200

#: The longest a list of the log may take in the database before it is given up (400).
QUERY_TIMEOUT_MS: Final = 5000

#: The values of ``method``.
METHODS: Final = ("get", "put", "post", "delete", "patch")

#: The fields the log sorts by: API name to model field.
ACCESS_LOG_SORT_FIELDS: Final = {
    "time": "time",
    "status": "status",
    "method": "method",
    "requestUri": "request_uri",
}

#: The requests the health report looks at: those of this last while.
HEALTH_WINDOW: Final = timedelta(minutes=5)

#: A request with this status or above failed (the health report, ``status=error``).
FAILED_STATUS: Final = 400

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


# ---------------------------------------------------------------------------------------------
# Query parameters


def report_range(request: Request) -> tuple[datetime, datetime]:
    """``rangeStart`` and ``rangeEnd``: required, RFC 3339 times (a date alone is its
    midnight in UTC, as Talon.One reads it), the end not before the start."""
    start = query_time(request, "rangeStart", required=True)
    end = query_time(request, "rangeEnd", required=True)
    if end < start:
        raise query_error("rangeEnd", "rangeEnd must not be before rangeStart.")
    return start, end


def _path_pattern(text: str) -> str:
    if len(text) > PATH_PATTERN_MAX:
        raise query_error(
            "path", f"path is a regular expression of at most {PATH_PATTERN_MAX} characters."
        )
    if "(?P<" in text or "(?<" in text:
        # RE2 and Python name groups; PostgreSQL's regular expressions do not: refused on
        # every database alike (a name would change nothing about what matches).
        raise query_error("path", "path may not name its groups: use plain ( ) groups.")
    try:
        re2.compile(text, options=_RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else ""
        raise query_error(
            "path",
            f"path must be a regular expression in RE2's syntax (no back-references or "
            f"look-arounds): {reason or 'it does not parse'}.",
        ) from None
    return text


# ---------------------------------------------------------------------------------------------
# Selectors and services


def access_log_filtered(
    request: Request, entries: QuerySet[AccessLogEntry]
) -> QuerySet[AccessLogEntry]:
    """``entries`` narrowed by ``getAccessLogsWithoutTotalCount``' query parameters."""
    start, end = report_range(request)
    entries = entries.filter(time__gte=start, time__lte=end)
    params = request.query_params
    path = params.get("path")
    if path:
        entries = entries.filter(path__regex=_path_pattern(path))
    method = params.get("method")
    if method is not None:
        if method.lower() not in METHODS:
            raise query_error("method", f"method may be one of {', '.join(METHODS)}.")
        entries = entries.filter(method=method.upper())
    status = params.get("status")
    if status is not None:
        if status == "success":
            entries = entries.filter(status__lt=FAILED_STATUS)
        elif status == "error":
            entries = entries.filter(status__gte=FAILED_STATUS)
        else:
            raise query_error("status", "status may be success or error.")
    return entries


def application_api_health(*, application: Application, now: datetime) -> dict[str, str]:
    """The health report of ``application``'s integration at ``now`` (see the module)."""
    entries = AccessLogEntry.objects.filter(application=application)
    recent = entries.filter(time__gt=now - HEALTH_WINDOW, time__lte=now).aggregate(
        total=Count("id"), failed=Count("id", filter=Q(status__gte=FAILED_STATUS))
    )
    total, failed = recent["total"], recent["failed"]
    if total == 0:
        summary = "NONE"
    elif failed == 0:
        summary = "OK"
    elif failed == total:
        summary = "CRITICAL"
    elif failed * 2 > total:
        summary = "ERROR"
    else:
        summary = "WARNING"
    last_used = entries.aggregate(last=Max("time"))["last"] or application.created
    return {"summary": summary, "lastUsed": rfc3339(last_used)}


def access_log_prune(*, now: datetime, days: int | None = None) -> int:
    """Delete the access log entries older than ``days`` (default
    ``ACCESS_LOG_RETENTION_DAYS``); answer how many went. Safe to run twice."""
    keep = settings.ACCESS_LOG_RETENTION_DAYS if days is None else days
    deleted, _ = AccessLogEntry.objects.filter(time__lt=now - timedelta(days=keep)).delete()
    return deleted


def render_access_log_entry(entry: AccessLogEntry) -> dict[str, Any]:
    """``entry`` as Talon.One's ``AccessLogEntry``."""
    return {
        "uuid": str(entry.uuid),
        "status": entry.status,
        "method": entry.method,
        "requestUri": entry.request_uri,
        "time": rfc3339(entry.time),
        "requestPayload": entry.request_payload,
        "responsePayload": entry.response_payload,
    }


# ---------------------------------------------------------------------------------------------
# Views


class AccessLogEntrySerializer(serializers.Serializer[Any]):
    """Talon.One's ``AccessLogEntry`` (the schema of ``render_access_log_entry``)."""

    uuid = serializers.UUIDField(help_text="The request's UUID.")
    status = serializers.IntegerField(help_text="The HTTP status of the response.")
    method = serializers.CharField(help_text="The HTTP method of the request.")
    requestUri = serializers.CharField(help_text="The request's path and query string.")
    time = serializers.DateTimeField(help_text="When the request came.")
    requestPayload = serializers.CharField(
        allow_blank=True, help_text="The request's body, cut after 16,384 characters."
    )
    responsePayload = serializers.CharField(
        allow_blank=True, help_text="The response's body, cut after 16,384 characters."
    )

    class Meta:
        ref_name = "AccessLogEntry"


class AccessLogsNoTotalView(ManagementView):
    operation = "getAccessLogsWithoutTotalCount"

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            OpenApiParameter("path", str, description="A regular expression (RE2 syntax)."),
            OpenApiParameter("method", str, enum=list(METHODS)),
            OpenApiParameter("status", str, enum=["success", "error"]),
            *PAGE_PARAMETERS,
            OpenApiParameter("sort", str, description="time, status, method or requestUri."),
        ],
        responses={200: page_of(AccessLogEntrySerializer, with_total=False)},
    )
    def get(self, request: Request, application_id: int) -> Response:
        application = self.application_for(application_id, role=Role.VIEWER)
        entries = access_log_filtered(
            request, AccessLogEntry.objects.filter(application=application)
        )
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(f"SET LOCAL statement_timeout = {QUERY_TIMEOUT_MS}")
                page = paginate(
                    request,
                    entries,
                    sortable=ACCESS_LOG_SORT_FIELDS,
                    render=render_access_log_entry,
                    with_total=False,
                )
        except DataError:
            # PostgreSQL refused the pattern (a syntax RE2 reads and PostgreSQL does not).
            raise query_error(
                "path", "path is not a regular expression the database can match."
            ) from None
        except OperationalError as error:
            if not isinstance(error.__cause__, QueryCanceled):
                raise
            raise BadRequest(
                "Listing the access log took too long: narrow the range or simplify path.",
                code="query_too_slow",
            ) from None
        return Response(page)


class ApplicationApiHealthView(ManagementView):
    operation = "getApplicationApiHealth"

    @extend_schema(
        responses={
            200: inline_serializer(
                "ApplicationApiHealth",
                {
                    "summary": serializers.ChoiceField(
                        choices=["OK", "WARNING", "ERROR", "CRITICAL", "NONE"]
                    ),
                    "lastUsed": serializers.DateTimeField(),
                },
            )
        }
    )
    def get(self, request: Request, application_id: int) -> Response:
        application = self.application_for(application_id, role=Role.VIEWER)
        return Response(application_api_health(application=application, now=timezone.now()))
