"""The Integration API's access log (``integration.access_log``) and what the Management API
reads of it: ``getAccessLogsWithoutTotalCount`` and ``getApplicationApiHealth``."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from campaigns.models import Application
from integration import access_log
from integration.render import dumps, rfc3339
from management.access_logs import PATH_PATTERN_MAX
from management.models import ACCESS_LOG_PAYLOAD_MAX_CHARS, AccessLogEntry, Role
from management.tasks import access_log_prune_task
from tests.factories import ApplicationFactory, api_key_headers
from tests.management.factories import member_headers
from tests.management.test_sessions import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_buffer() -> None:
    """Entries other tests left waiting are not this test's."""
    access_log.discard()


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


@pytest.fixture
def auth(application: Application) -> dict[str, str]:
    return member_headers(application, Role.VIEWER, raw_token="viewer-token")


def logged(application: Application, **fields: Any) -> AccessLogEntry:
    """An entry of ``application``'s log, a minute ago unless ``time`` says otherwise."""
    values: dict[str, Any] = {
        "uuid": uuid.uuid4(),
        "time": timezone.now() - timedelta(minutes=1),
        "method": "PUT",
        "path": "/v2/customer_sessions/s-1",
        "request_uri": "/v2/customer_sessions/s-1",
        "status": 200,
        "duration_ms": 12.5,
        "request_payload": "{}",
        "response_payload": "{}",
        **fields,
    }
    return AccessLogEntry.objects.create(application=application, **values)


def day_range(query: str = "") -> str:
    start = rfc3339(timezone.now() - timedelta(days=1))
    end = rfc3339(timezone.now() + timedelta(minutes=1))
    return f"?rangeStart={start}&rangeEnd={end}{query}".replace("+", "%2B")


def logs(client: Client, application: Application, auth: dict[str, str], query: str = "") -> Any:
    response = client.get(
        f"/v1/applications/{application.pk}/access_logs/no_total{day_range(query)}",
        headers=auth,
    )
    assert response.status_code == 200, response.content
    return response.json()


def put_session(client: Client, headers: dict[str, str], body: Any, query: str = "") -> Any:
    return client.put(
        f"/v2/customer_sessions/s-1{query}",
        data=body if isinstance(body, str) else dumps(body),
        content_type="application/json",
        headers=headers,
    )


# ---------------------------------------------------------------------------------------------
# Recording


def test_an_integration_request_is_logged_with_its_payloads_and_without_its_key(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    key = api_key_headers(application)
    body = {"customerSession": {"profileId": "ada", "cartItems": []}}

    response = put_session(client, key, body, "?dry=false")
    assert response.status_code == 200, response.content
    assert AccessLogEntry.objects.count() == 0  # nothing written on the request's path
    assert access_log.flush() == 1

    [entry] = logs(client, application, auth)["data"]
    assert entry["method"] == "PUT"
    assert entry["requestUri"] == "/v2/customer_sessions/s-1?dry=false"
    assert entry["status"] == 200
    assert json.loads(entry["requestPayload"]) == body
    assert json.loads(entry["responsePayload"]) == response.json()
    assert set(entry) == {
        "uuid",
        "status",
        "method",
        "requestUri",
        "time",
        "requestPayload",
        "responsePayload",
    }
    stored = AccessLogEntry.objects.get()
    assert stored.duration_ms > 0
    assert stored.path == "/v2/customer_sessions/s-1"
    raw_key = key["Authorization"].split(" ", 1)[1]
    assert all(raw_key not in str(value) for value in stored.__dict__.values())


def test_a_refused_request_of_a_known_application_is_logged_as_an_error(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    response = put_session(client, api_key_headers(application), "{not json")
    assert response.status_code == 400
    access_log.flush()

    [entry] = logs(client, application, auth)["data"]
    assert entry["status"] == 400
    assert entry["requestPayload"] == "{not json"
    assert json.loads(entry["responsePayload"])["StatusCode"] == 400


def test_a_valid_key_with_a_refused_signature_is_logged_with_its_401(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    headers = {**api_key_headers(application), "Content-Signature": "signer=1; nonsense"}
    assert put_session(client, headers, {"customerSession": {}}).status_code == 401
    access_log.flush()

    [entry] = logs(client, application, auth)["data"]
    assert entry["status"] == 401
    assert "nonsense" not in str(AccessLogEntry.objects.values().get())


def test_requests_without_a_valid_key_and_other_apis_are_not_logged(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    body = {"customerSession": {"cartItems": []}}
    assert put_session(client, {"Authorization": "ApiKey-v1 nope"}, body).status_code == 401
    assert put_session(client, {}, body).status_code == 401
    assert client.get(f"/v1/applications/{application.pk}", headers=auth).status_code == 200
    client.get("/healthz")

    assert access_log.pending() == 0


def test_payloads_are_cut_after_the_documented_size(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    big = {"customerSession": {"attributes": {"note": "x" * (2 * ACCESS_LOG_PAYLOAD_MAX_CHARS)}}}

    put_session(client, api_key_headers(application), big)
    access_log.flush()

    stored = AccessLogEntry.objects.get()
    assert len(stored.request_payload) == ACCESS_LOG_PAYLOAD_MAX_CHARS
    assert dumps(big).decode().startswith(stored.request_payload)


def test_entries_of_an_application_deleted_before_the_flush_are_left_out(
    client: Client, application: Application
) -> None:
    other = ApplicationFactory()
    put_session(client, api_key_headers(application), {"customerSession": {}})
    put_session(client, api_key_headers(other), {"customerSession": {}})
    other.delete()

    assert access_log.flush() == 1
    assert list(AccessLogEntry.objects.values_list("application_id", flat=True)) == [application.pk]


def test_recording_a_request_costs_no_query(application: Application) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    entry = (application.pk, 0.0, "PUT", "/v2/x", "/v2/x", 200, 1.0, b"{}", b"{}")
    with CaptureQueriesContext(connection) as queries:
        access_log.record(entry)
    assert len(queries) == 0
    assert access_log.pending() == 1


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_writes_requests_within_seconds(
    client: Client, settings: Settings
) -> None:
    application = ApplicationFactory()
    settings.ACCESS_LOG_WRITER = True
    settings.ACCESS_LOG_FLUSH_SECONDS = 0.1
    try:
        put_session(client, api_key_headers(application), {"customerSession": {}})
        deadline = time.monotonic() + 5
        while not AccessLogEntry.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        settings.ACCESS_LOG_WRITER = False
        access_log.stop_writer()

    assert AccessLogEntry.objects.get().application_id == application.pk


# ---------------------------------------------------------------------------------------------
# Listing


def test_the_log_is_filtered_by_path_method_status_and_range(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    session = logged(application, path="/v2/customer_sessions/s-1", method="PUT", status=200)
    failed = logged(application, path="/v2/customer_sessions/s-2", method="PUT", status=409)
    profile = logged(application, path="/v2/customer_profiles/ada", method="PUT", status=200)
    event = logged(application, path="/v2/events", method="POST", status=201)
    logged(application, time=timezone.now() - timedelta(days=3))  # before the range
    logged(ApplicationFactory())  # another application's

    def uuids(query: str) -> list[str]:
        return [entry["uuid"] for entry in logs(client, application, auth, query)["data"]]

    every = [session, failed, profile, event]
    assert uuids("") == [str(entry.uuid) for entry in every]
    assert uuids("&path=^/v2/customer_sessions/") == [str(session.uuid), str(failed.uuid)]
    assert uuids("&path=profiles|events") == [str(profile.uuid), str(event.uuid)]
    assert uuids("&method=post") == [str(event.uuid)]
    assert uuids("&status=error") == [str(failed.uuid)]
    assert uuids("&status=success&method=put") == [str(session.uuid), str(profile.uuid)]
    assert uuids("&sort=-status")[0] == str(failed.uuid)
    page = logs(client, application, auth, "&pageSize=2&skip=1")
    assert page == {"hasMore": True, "data": page["data"]}
    assert [entry["uuid"] for entry in page["data"]] == [str(failed.uuid), str(profile.uuid)]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("", "rangeStart"),
        ("?rangeStart=2026-01-01T00:00:00Z", "rangeEnd"),
        ("?rangeStart=yesterday&rangeEnd=2026-01-01T00:00:00Z", "rangeStart"),
        ("?rangeStart=0001-01-01T00:00:00%2B01:00&rangeEnd=2026-01-01", "rangeStart"),
        ("?rangeStart=2026-02-01T00:00:00Z&rangeEnd=2026-01-01T00:00:00Z", "rangeEnd"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&path=a(b", "path"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&path=(a)\\1", "path"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&path=(?<=a)b", "path"),
        (f"?rangeStart=2026-01-01&rangeEnd=2026-02-01&path={'a' * (PATH_PATTERN_MAX + 1)}", "path"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&path=(?P<x>a)", "path"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&method=trace", "method"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&status=fine", "status"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&sort=payload", "sort"),
        ("?rangeStart=2026-01-01&rangeEnd=2026-02-01&pageSize=0", "pageSize"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(
    client: Client, application: Application, auth: dict[str, str], query: str, parameter: str
) -> None:
    logged(application)
    response = client.get(
        f"/v1/applications/{application.pk}/access_logs/no_total{query}", headers=auth
    )
    body = assert_error(
        response, 400, "invalid_sort" if parameter == "sort" else "invalid_query_parameter"
    )
    assert body["errors"][0]["source"] == {"parameter": parameter}


def test_a_date_without_time_is_its_midnight_in_utc(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    today = timezone.now().date()
    logged(application, time=timezone.now())
    query = f"?rangeStart={today}&rangeEnd={today + timedelta(days=1)}"
    response = client.get(
        f"/v1/applications/{application.pk}/access_logs/no_total{query}", headers=auth
    )
    assert len(response.json()["data"]) == 1


def test_another_applications_log_and_health_answer_404(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    other = ApplicationFactory()
    logged(other)
    for path in (f"access_logs/no_total{day_range()}", "health_report"):
        response = client.get(f"/v1/applications/{other.pk}/{path}", headers=auth)
        assert_error(response, 404, "application_not_found")


def test_the_log_needs_credentials(client: Client, application: Application) -> None:
    response = client.get(f"/v1/applications/{application.pk}/access_logs/no_total{day_range()}")
    assert response.status_code == 401


# ---------------------------------------------------------------------------------------------
# Health


def health(client: Client, application: Application, auth: dict[str, str]) -> Any:
    response = client.get(f"/v1/applications/{application.pk}/health_report", headers=auth)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    ("statuses", "summary"),
    [
        ([], "NONE"),
        ([200, 201, 204], "OK"),
        ([200, 200, 500], "WARNING"),
        ([200, 400], "WARNING"),
        ([200, 404, 500], "ERROR"),
        ([401, 500], "CRITICAL"),
    ],
)
def test_the_health_report_sums_up_the_last_five_minutes(
    client: Client,
    application: Application,
    auth: dict[str, str],
    statuses: list[int],
    summary: str,
) -> None:
    # Older failures do not count.
    logged(application, status=500, time=timezone.now() - timedelta(minutes=6))
    for status in statuses:
        logged(application, status=status, time=timezone.now() - timedelta(seconds=30))

    assert health(client, application, auth)["summary"] == summary


def test_last_used_is_the_latest_request_or_the_applications_creation(
    client: Client, application: Application, auth: dict[str, str]
) -> None:
    assert health(client, application, auth) == {
        "summary": "NONE",
        "lastUsed": rfc3339(application.created),
    }
    latest = logged(application, time=timezone.now() - timedelta(hours=2))
    logged(application, time=timezone.now() - timedelta(hours=3))

    assert health(client, application, auth)["lastUsed"] == rfc3339(latest.time)


# ---------------------------------------------------------------------------------------------
# Retention


def test_entries_older_than_the_retention_are_deleted(
    application: Application, settings: Settings
) -> None:
    settings.ACCESS_LOG_RETENTION_DAYS = 30
    kept = logged(application, time=timezone.now() - timedelta(days=29))
    logged(application, time=timezone.now() - timedelta(days=31))

    assert access_log_prune_task() == 1
    assert access_log_prune_task() == 0
    assert list(AccessLogEntry.objects.all()) == [kept]
