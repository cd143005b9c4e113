"""The access log of the Integration API: every request an application makes, kept for a while.

``AccessLogMiddleware`` times each request that the Integration API's URLs serve
(``integration.urls``: its ``/v1/…`` and ``/v2/…`` paths; neither the Management API, nor
``/app/``, nor ``/admin/``) and, once the response is made, records it for the application
that made it: method, path with query string, status, duration, time, and both bodies cut after
``management.models.ACCESS_LOG_PAYLOAD_MAX_CHARS`` characters. No header is recorded, so
neither the ``Authorization`` key nor the ``Content-Signature``.

How the log learns the application
----------------------------------

The integration authentication, once it has found the application of a valid API key
(``ApiKeyAuthentication``, ``ContentSignatureAuthentication`` and views that check the key
themselves all go through ``integration.authentication.application_found``), sets
``talon_application_id`` (``APPLICATION_ATTRIBUTE``: the application's primary key) on the
Django ``HttpRequest`` (``request._request`` of DRF's request). The middleware reads that
attribute after the response; nothing else is shared between the two.

A request refused before its application is known (no key, or a key that is malformed,
unknown or expired) has no application and is not recorded: the log is listed per
application, and such a request belongs to none. A request whose key is valid but whose
signature is refused is recorded, with its 401.

The hot path
------------

Recording must not slow the Integration API down, so a request costs no database write:
``record`` appends a tuple to an in-process buffer (a bounded ``deque``), and a background
thread (the writer) inserts what has gathered every ``ACCESS_LOG_FLUSH_SECONDS`` seconds, or as
soon as ``FLUSH_BATCH`` entries wait, in one ``COPY``. The uuids, datetimes and text of the
entries are made by the writer, not by the request. Measured (timeit, a 2 kB body): ``record``
takes about 1.3 µs, the whole middleware 8 to 11 µs a request (timing, the bodies, the buffer).

The writer's work is off the request's path but not free: on a busy server it shares the CPU
with the requests, and PostgreSQL's part of it counts as much as the requests' queries. For a
session update (1.5 kB in, 4.9 kB out) it cost about 17 µs of Python and 75 µs of PostgreSQL
per entry, most of it PostgreSQL compressing the two bodies with its default ``pglz``. So on
PostgreSQL the writer ``COPY``s in the binary format (nothing to escape and parse as text) and,
where the server has it, has the bodies compressed with ``lz4`` (``SET LOCAL
default_toast_compression``, for its own transaction only; reading needs nothing, each value
records how it was compressed): about 11 µs of Python and 30 µs of PostgreSQL per entry
(``docs/benchmarks.md``, 2026-11-26).

The writer starts with the first request a process records (so each worker of a pre-forking
server has its own), and what it has not written yet is written when the process exits
(``atexit``). Entries of a request are thus visible in the log about a second later.

When the database cannot be reached the writer drops the entries it was writing (logged as a
warning) rather than hold them: the log is a diagnostic, not a ledger. The buffer holds at most
``BUFFER_MAX`` entries; beyond that the oldest are dropped.

``ACCESS_LOG_WRITER = False`` (the test suite's setting) starts no writer: entries wait in the
buffer until ``flush()`` writes them, in the calling thread and its transaction, which is what
tests do. Entries are deleted after ``ACCESS_LOG_RETENTION_DAYS`` days
(``management.access_logs.access_log_prune``, run daily by the Celery task
``management.tasks.access_log_prune_task``).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from campaigns.models import Application
from integration.views import MAX_BODY_BYTES
from management.models import ACCESS_LOG_PAYLOAD_MAX_CHARS, ACCESS_LOG_URI_MAX_CHARS, AccessLogEntry

logger = logging.getLogger(__name__)

#: The attribute of the Django ``HttpRequest`` that the integration authentication sets to the
#: application's primary key once it knows it (see the module's docstring).
APPLICATION_ATTRIBUTE: Final = "talon_application_id"

#: The URL namespace whose requests are recorded: the Integration API's.
NAMESPACE: Final = "integration"

#: The writer writes as soon as this many entries wait, without waiting for its interval.
FLUSH_BATCH: Final = 1000

#: The most entries the buffer holds; beyond it the oldest are dropped.
BUFFER_MAX: Final = 100_000

#: Rows per ``INSERT`` statement (databases other than PostgreSQL, which takes ``COPY``).
INSERT_BATCH: Final = 500

# Where ``process_view`` leaves the request body for ``__call__`` (and marks the request as one
# of the Integration API's).
_BODY_ATTRIBUTE: Final = "_talon_access_log_body"

#: (application id, time, method, path, request URI, status, duration in ms, request body,
#: response body): what a request leaves in the buffer.
Entry = tuple[int, float, str, str, str, int, float, bytes, bytes]

_buffer: deque[Entry] = deque(maxlen=BUFFER_MAX)
_flush_lock = threading.Lock()
_wake = threading.Event()
_writer_lock = threading.Lock()
_writer: threading.Thread | None = None
_writer_pid: int | None = None
_exit_flush_registered = threading.Event()


class AccessLogMiddleware:
    """Records the Integration API's requests in the access log (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        # Bytes are cut at this many (a character is at most 4 bytes in UTF-8); the writer
        # decodes them and cuts to the number of characters.
        self.payload_bytes = ACCESS_LOG_PAYLOAD_MAX_CHARS * 4

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        body = getattr(request, _BODY_ATTRIBUTE, None)
        if body is None:
            return response
        application_id = getattr(request, APPLICATION_ATTRIBUTE, None)
        if application_id is None:
            return response
        duration_ms = (time.perf_counter() - started) * 1000
        content = response.content if isinstance(response, HttpResponse) else b""
        record(
            (
                application_id,
                time.time(),
                request.method or "",
                request.path,
                request.get_full_path(),
                response.status_code,
                duration_ms,
                body,
                content[: self.payload_bytes],
            )
        )
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> None:
        match = request.resolver_match
        if match is None or match.namespace != NAMESPACE:
            return
        # Read now: once DRF has parsed the body from the stream, it cannot be read again.
        # Reading it here costs nothing more: the view reads it anyway, from this copy.
        setattr(request, _BODY_ATTRIBUTE, _body_of(request)[: self.payload_bytes])


def _body_of(request: HttpRequest) -> bytes:
    """The request's body, or nothing when it is too large for the view to read (which
    refuses it with 413 before reading) or cannot be read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    if not 0 < length <= MAX_BODY_BYTES:
        return b""
    try:
        return request.body
    except Exception:  # an unreadable body is the view's to answer, not the log's
        return b""


def record(entry: Entry) -> None:
    """Add ``entry`` to the buffer, for the writer to insert (see the module)."""
    _buffer.append(entry)
    if _writer_pid != os.getpid() and settings.ACCESS_LOG_WRITER:
        _start_writer()
    if len(_buffer) >= FLUSH_BATCH:
        _wake.set()


def pending() -> int:
    """How many entries wait in the buffer."""
    return len(_buffer)


def discard() -> None:
    """Forget the entries waiting in the buffer (tests start from an empty one)."""
    _buffer.clear()


def flush() -> int:
    """Write the waiting entries to the database, in the calling thread; answer how many.

    Entries of applications deleted meanwhile are left out. A database error drops the
    entries being written (logged) and is not raised: the log must never break a request or
    the process's exit.
    """
    with _flush_lock:
        entries: list[Entry] = []
        while True:
            try:
                entries.append(_buffer.popleft())
            except IndexError:
                break
        if not entries:
            return 0
        try:
            known = set(
                Application.objects.filter(pk__in={entry[0] for entry in entries}).values_list(
                    "pk", flat=True
                )
            )
            rows = [_row(entry) for entry in entries if entry[0] in known]
            _insert(rows)
        except DatabaseError:
            logger.warning(
                "Dropped %d access log entries: the database refused them.", len(entries)
            )
            return 0
        return len(rows)


#: The columns ``_row`` gives values for, in its order.
_COLUMNS: Final = (
    "uuid",
    "application_id",
    "time",
    "method",
    "path",
    "request_uri",
    "status",
    "duration_ms",
    "request_payload",
    "response_payload",
)

Row = tuple[uuid.UUID, int, datetime, str, str, str, int, float, str, str]


def _row(entry: Entry) -> Row:
    limit = ACCESS_LOG_PAYLOAD_MAX_CHARS
    application_id, moment, method, path, uri, status, duration_ms, body, content = entry
    return (
        uuid.uuid4(),
        application_id,
        datetime.fromtimestamp(moment, UTC),
        _text(method, 16),
        _text(path, ACCESS_LOG_URI_MAX_CHARS),
        _text(uri, ACCESS_LOG_URI_MAX_CHARS),
        status,
        max(duration_ms, 0.0),
        _text(body.decode("utf-8", "replace"), limit),
        _text(content.decode("utf-8", "replace"), limit),
    )


def _insert(rows: list[Row]) -> None:
    """Insert ``rows``: with a binary ``COPY`` on PostgreSQL (a bulk ``INSERT`` of large texts
    costs about a millisecond a row in psycopg's quoting; ``COPY`` a few microseconds), the
    bodies compressed with ``lz4`` where the server has it (see the module); with
    ``bulk_create`` elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        AccessLogEntry.objects.bulk_create(
            [AccessLogEntry(**dict(zip(_COLUMNS, row, strict=True))) for row in rows],
            batch_size=INSERT_BATCH,
        )
        return
    statement, types = _copy_statement()
    with transaction.atomic(), connection.cursor() as cursor:
        if _has_lz4(cursor):
            cursor.execute("SET LOCAL default_toast_compression = lz4")
        with cursor.cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)


@functools.cache
def _copy_statement() -> tuple[str, list[str]]:
    """The binary ``COPY`` of ``_COLUMNS``, and their PostgreSQL types (the models' own, as the
    binary format needs them exactly; ``varchar(16)`` is sent as ``varchar``)."""
    quote = connection.ops.quote_name
    fields = sorted(
        (field for field in AccessLogEntry._meta.concrete_fields if field.attname in _COLUMNS),
        key=lambda field: _COLUMNS.index(field.attname),
    )
    columns = ", ".join(quote(field.column) for field in fields)
    types = [str(field.db_type(connection)).split("(", 1)[0] for field in fields]
    table = quote(AccessLogEntry._meta.db_table)
    return f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)", types


_lz4: bool | None = None
"""Whether the PostgreSQL server compresses with ``lz4`` (built with it); None: not asked yet."""


def _has_lz4(cursor: CursorWrapper) -> bool:
    """Whether the server offers ``lz4`` compression (asked once per process)."""
    global _lz4
    if _lz4 is None:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        found = cursor.fetchone()
        _lz4 = bool(found and found[0])
    return _lz4


def _text(text: str, limit: int) -> str:
    # PostgreSQL's text cannot hold NUL, which a client may send.
    return text[:limit].replace("\x00", "\ufffd")


def _start_writer() -> None:
    """Start this process's writer thread, once (again in a forked child)."""
    global _writer, _writer_pid
    with _writer_lock:
        pid = os.getpid()
        if _writer_pid == pid:
            return
        _writer_pid = pid
        _writer = threading.Thread(target=_write_forever, name="access-log-writer", daemon=True)
        _writer.start()
        if not _exit_flush_registered.is_set():
            _exit_flush_registered.set()
            atexit.register(flush)


def stop_writer(timeout: float = 5.0) -> None:
    """Stop the writer (once ``ACCESS_LOG_WRITER`` is off; tests), writing what waits."""
    writer = _writer
    _wake.set()
    if writer is not None:
        writer.join(timeout)


def _write_forever() -> None:
    global _writer_pid
    try:
        while settings.ACCESS_LOG_WRITER:
            _wake.wait(timeout=settings.ACCESS_LOG_FLUSH_SECONDS)
            _wake.clear()
            # As Django does around a request: drop a connection that is broken or too old.
            close_old_connections()
            try:
                flush()
            except Exception:  # the writer must outlive any one failure
                logger.exception("The access log writer failed.")
    finally:
        with _writer_lock:
            _writer_pid = None
        connection.close()
