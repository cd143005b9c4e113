"""How the access log's writer stores entries on PostgreSQL (``integration/access_log.py``):
a binary ``COPY`` that keeps every value exactly, with the bodies compressed by ``lz4`` where
the server has it (and PostgreSQL's default where it has not).

Given entries in the buffer, when they are flushed, then the rows hold what the requests left,
and the bodies are stored compressed as the module says.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection

from campaigns.models import Application
from integration import access_log
from management.models import AccessLogEntry
from tests.factories import ApplicationFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="COPY and compression are PostgreSQL's"
    ),
]

MOMENT = datetime(2026, 11, 26, 5, 30, 1, 123456, tzinfo=UTC)
# Large enough for PostgreSQL to compress the row (over about 2 kB), with text to keep exactly.
RESPONSE = (
    '{"effects":[],"note":"Grüße, 東京 🎉 \\"quoted\\"\\n","pad":"' + "ab" * 3000 + '"}'
).encode()


@pytest.fixture(autouse=True)
def _empty_buffer() -> Iterator[None]:
    access_log.discard()
    yield
    access_log.discard()


@pytest.fixture
def application() -> Application:
    return ApplicationFactory()


def server_has_lz4() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        return bool(cursor.fetchone()[0])


def compression_of(entry: AccessLogEntry) -> tuple[str | None, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(request_payload), "
            "pg_column_compression(response_payload) "
            f"FROM {AccessLogEntry._meta.db_table} WHERE id = %s",
            [entry.pk],
        )
        return cursor.fetchone()


def record(application: Application, request: bytes, response: bytes = RESPONSE) -> None:
    access_log.record(
        (
            application.pk,
            MOMENT.timestamp(),
            "PUT",
            "/v2/customer_sessions/s-ü",
            "/v2/customer_sessions/s-ü?dry=true&x=%00",
            201,
            12.75,
            request,
            response,
        )
    )


def test_a_flushed_entry_keeps_every_value_exactly(application: Application) -> None:
    request = b'{"customerSession":{"attributes":{"n":"a\x00b"}}}\xff\xfe'

    record(application, request)
    assert access_log.flush() == 1

    entry = AccessLogEntry.objects.get()
    assert isinstance(entry.uuid, uuid.UUID)
    assert entry.application_id == application.pk
    assert entry.time == MOMENT
    assert entry.method == "PUT"
    assert entry.path == "/v2/customer_sessions/s-ü"
    assert entry.request_uri == "/v2/customer_sessions/s-ü?dry=true&x=%00"
    assert entry.status == 201
    assert entry.duration_ms == 12.75
    # NUL, which PostgreSQL's text cannot hold, and bytes that are not UTF-8 are replaced.
    assert (
        entry.request_payload == '{"customerSession":{"attributes":{"n":"a\ufffdb"}}}\ufffd\ufffd'
    )
    assert entry.response_payload == RESPONSE.decode()


def test_bodies_are_compressed_with_lz4_where_the_server_has_it(
    application: Application,
) -> None:
    if not server_has_lz4():
        pytest.skip("this PostgreSQL server was built without lz4")
    record(application, b'{"pad":"' + b"xy" * 2000 + b'"}')

    access_log.flush()

    entry = AccessLogEntry.objects.get()
    assert compression_of(entry) == ("lz4", "lz4")
    assert entry.response_payload == RESPONSE.decode()


def test_without_lz4_the_servers_default_compression_is_kept(
    application: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access_log, "_lz4", False)
    record(application, b"{}")

    access_log.flush()

    entry = AccessLogEntry.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SHOW default_toast_compression")
        default = cursor.fetchone()[0]
    assert compression_of(entry) == (None, default)  # "{}" is too small to compress
    assert entry.response_payload == RESPONSE.decode()


@pytest.mark.django_db(transaction=True)
def test_the_compression_setting_lasts_only_for_the_writers_transaction(
    application: Application,
) -> None:
    # As the writer thread does it: the flush is a transaction of its own.
    with connection.cursor() as cursor:
        cursor.execute("SHOW default_toast_compression")
        before = cursor.fetchone()[0]
    record(application, b"{}")

    access_log.flush()

    with connection.cursor() as cursor:
        cursor.execute("SHOW default_toast_compression")
        assert cursor.fetchone()[0] == before
