"""Hand-written SQL for the statements every session update makes.

The ORM builds each statement anew on every call, and for the session update's few, simple
statements that costs more than running them (a ``select_related`` query of two wide tables
took about 2 ms of Python to build, against 0.3 ms to run; ``docs/benchmarks.md``). The
statements here are built once per process from the models' metadata, so the models stay the one
definition of tables, columns and types: values are adapted on the way in with each field's
``get_db_prep_save`` (and ``pre_save``, for ``auto_now``), and rows become model instances on
the way out through each field's converters and ``Model.from_db``, exactly as the ORM would do.
They run on PostgreSQL and on SQLite (where ``FOR UPDATE`` does not exist, and a write locks the
whole database anyway).

Only the hot path lives here; everything else uses the ORM.

Every statement is text made of the models' table and column names (quoted) and ``%s``
placeholders; no value is ever formatted into it (hence the ``S608`` exemptions).
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

from django.db import connection, models
from django.db.models.base import ModelState
from django.db.models.expressions import Col
from django.db.models.signals import post_init, pre_init

from campaigns.models import Application, CartItem, CustomerProfile, CustomerSession
from campaigns.models.applications import IntegrationApiKey

_Converter = Callable[[Any, Any, Any], Any]


_M = TypeVar("_M", bound=models.Model)
_MODEL_INIT: Final = models.Model.__init__


def model_instance(
    model: type[_M], names: Sequence[str], values: Sequence[Any], *, db: str | None
) -> _M:
    """``model(*values)`` for ``values`` of every concrete field in ``names``' order (their
    ``attname``s), as read from the database ``db`` (``Model.from_db``), or new when ``db`` is
    None: the same instance, in a fifth of the time.

    ``Model.__init__`` sets each value through ``setattr`` and sends ``pre_init`` and
    ``post_init``. On a new instance, the descriptors Django puts on ``attname``s
    (``DeferredAttribute``, and ``ForeignKeyDeferredAttribute``, which would first drop a
    cached related object) only store the value in the instance's ``__dict__``, so for a model
    that keeps Django's ``__init__`` that is all it comes down to, and what this does; unless
    a receiver listens to either signal, or the model has an ``__init__`` of its own: then the
    model is called as usual."""
    if pre_init.receivers or post_init.receivers or model.__init__ is not _MODEL_INIT:
        instance = model(*values)
    else:
        instance = model.__new__(model)
        instance.__dict__.update(zip(names, values, strict=True))
        instance._state = ModelState()
    if db is not None:
        instance._state.adding = False
        instance._state.db = db
    return instance


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _converters(field: models.Field[Any, Any], alias: str) -> tuple[list[_Converter], Col]:
    """What the ORM applies to a value of ``field`` read from the database, and the column
    the converters are called with."""
    column = field.get_col(alias)
    return connection.ops.get_db_converters(column) + column.get_db_converters(connection), column


@functools.cache
def _reader(
    model: type[models.Model], alias: str
) -> tuple[str, int, Callable[[Sequence[Any]], Any]]:
    """The select list of every concrete column of ``model`` under ``alias``, its length, and
    a function that turns that slice of a row into an instance (converters applied)."""
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(f"{alias}.{_quote(field.column)}" for field in fields)
    names = [field.attname for field in fields]
    converters: list[tuple[int, list[_Converter], Col]] = []
    for index, field in enumerate(fields):
        found, column = _converters(field, alias)
        if found:
            converters.append((index, found, column))
    database = connection.alias

    def load(values: Sequence[Any]) -> Any:
        row = list(values)
        for index, functions, column in converters:
            value = row[index]
            for function in functions:
                value = function(value, column, connection)
            row[index] = value
        return model_instance(model, names, row, db=database)

    return columns, len(fields), load


_NONE = type(None)
_PLAIN: tuple[tuple[type[models.Field[Any, Any]], tuple[type, ...]], ...] = (
    (models.ForeignKey, (int, _NONE)),
    (models.CharField, (str, _NONE)),
    (models.TextField, (str, _NONE)),
    (models.IntegerField, (int, _NONE)),
    (models.DecimalField, (Decimal, _NONE)),
)
"""Fields, and the Python types of their values, that both databases take as they are:
``get_db_prep_save`` would hand such values over unchanged, at a few microseconds each."""

_Writer = tuple["models.Field[Any, Any]", str, tuple[type, ...]]
"""A field a statement writes: the field, its attribute name, and its plain value types."""


def _writers(model: type[models.Model]) -> tuple[_Writer, ...]:
    """The fields an insert or a full update writes (all but the primary key)."""
    return tuple(
        (
            field,
            field.attname,
            next((types for kind, types in _PLAIN if isinstance(field, kind)), ()),
        )
        for field in model._meta.concrete_fields
        if not field.primary_key
    )


def _saved(
    instance: models.Model, writers: tuple[_Writer, ...], add: bool, *, as_text: bool = False
) -> list[Any]:
    """The database values ``save()`` would write for ``writers`` of ``instance``.

    ``as_text`` is for a statement prepared on PostgreSQL (``_prepared``): its parameters have
    their columns' types, so a JSON value can go as its JSON text and an aware time as its ISO
    text, which psycopg quotes as any string, where adapting them (``Jsonb``, a time with its
    zone) costs it ten times as much."""
    values = []
    for field, attname, plain in writers:
        if plain:
            value = getattr(instance, attname)
            if type(value) in plain:
                values.append(value)
                continue
        elif as_text and isinstance(field, models.JSONField) and field.encoder is None:
            value = getattr(instance, attname)
            if type(value) is list or type(value) is dict:
                values.append(json.dumps(value) if value else _EMPTY_JSON[type(value)])
                continue
        elif as_text and isinstance(field, models.DateTimeField):
            value = field.pre_save(instance, add)  # once: it sets an auto_now time
            aware = isinstance(value, datetime) and value.tzinfo is not None
            values.append(value.isoformat() if aware else field.get_db_prep_save(value, connection))
            continue
        values.append(field.get_db_prep_save(field.pre_save(instance, add), connection))
    return values


_EMPTY_JSON: Final = {list: "[]", dict: "{}"}


@functools.cache
def _session_select(for_update: bool) -> tuple[str, int]:
    session_columns, session_width, _ = _reader(CustomerSession, "s")
    profile_columns, _, _ = _reader(CustomerProfile, "p")
    sql = (
        f"SELECT {session_columns}, {profile_columns} "  # noqa: S608 (names from the models)
        f"FROM {_quote(CustomerSession._meta.db_table)} s "
        f"LEFT JOIN {_quote(CustomerProfile._meta.db_table)} p ON p.id = s.profile_id "
        f"WHERE s.application_id = %s AND s.integration_id = %s"
    )
    if for_update:
        sql += " FOR UPDATE OF s"
    return sql, session_width


def session_locked(*, application_id: int, integration_id: str) -> CustomerSession | None:
    """The session with its profile (``session.profile`` needs no query), its row locked until
    the transaction ends; ``None`` when there is no such session. One statement."""
    sql, width = _session_select(connection.features.has_select_for_update)
    with connection.cursor() as cursor:
        cursor.execute(sql, [application_id, integration_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return _session_found(row, width)


def _session_found(row: Sequence[Any], width: int) -> CustomerSession | None:
    """The session (with its profile) of a row of ``_session_select``'s columns; ``None`` when
    they are null (a left join that found no session)."""
    if row[0] is None:  # the primary key
        return None
    session: CustomerSession = _reader(CustomerSession, "s")[2](row[:width])
    profile = _reader(CustomerProfile, "p")[2](row[width:]) if session.profile_id else None
    session.profile = profile
    return session


@functools.cache
def _key_select() -> str:
    key = IntegrationApiKey._meta
    application = Application._meta
    return (
        f"SELECT k.id, k.{_quote('last_used_at')}, a.id, a.{_quote('rules_version')} "  # noqa: S608
        f"FROM {_quote(key.db_table)} k "
        f"JOIN {_quote(application.db_table)} a ON a.id = k.application_id "
        f"WHERE k.{_quote('key_hash')} = %s AND k.{_quote('expires_at')} > %s"
    )


def api_key_find(*, hashed: str, now: datetime) -> tuple[int, datetime | None, int, int] | None:
    """The unexpired API key whose hash is ``hashed``: its id, when it was last used, its
    application's id and that application's ``rules_version``. One statement."""
    expires_at = IntegrationApiKey._meta.get_field("expires_at")
    with connection.cursor() as cursor:
        cursor.execute(_key_select(), [hashed, expires_at.get_db_prep_value(now, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    return _key_found(row)


def _key_found(row: Sequence[Any]) -> tuple[int, datetime | None, int, int]:
    key_id, last_used_at, application_id, rules_version = row
    if last_used_at is not None:
        functions, column = _last_used_converters()
        for function in functions:
            last_used_at = function(last_used_at, column, connection)
    return key_id, last_used_at, application_id, rules_version


@functools.cache
def _last_used_converters() -> tuple[list[_Converter], Col]:
    return _converters(IntegrationApiKey._meta.get_field("last_used_at"), "k")


@functools.cache
def _key_session_select() -> tuple[str, int]:
    """PostgreSQL: the key's columns of ``_key_select``, then ``_session_select``'s, in one
    statement to prepare (parameters ``$1``: the session's integration id, ``$2``: the key's
    hash, ``$3``: now): the session is looked up in the key's application by a ``LATERAL``
    subquery, which locks it (``FOR UPDATE`` cannot apply to the nullable side of an outer
    join, but can inside the subquery); and the width of the session's slice of a row."""
    session_columns, session_width, _ = _reader(CustomerSession, "s")
    profile_columns, _, _ = _reader(CustomerProfile, "p")
    key = IntegrationApiKey._meta
    session = CustomerSession._meta
    sql = (
        f"SELECT k.id, k.{_quote('last_used_at')}, a.id, a.{_quote('rules_version')}, "  # noqa: S608
        f"{session_columns}, {profile_columns} "
        f"FROM {_quote(key.db_table)} k "
        f"JOIN {_quote(Application._meta.db_table)} a ON a.id = k.application_id "
        f"LEFT JOIN LATERAL (SELECT * FROM {_quote(session.db_table)} "
        f"WHERE {_quote('application_id')} = a.id AND {_quote('integration_id')} = $1 "
        f"FOR UPDATE) s ON true "
        f"LEFT JOIN {_quote(CustomerProfile._meta.db_table)} p ON p.id = s.profile_id "
        f"WHERE k.{_quote('key_hash')} = $2 AND k.{_quote('expires_at')} > $3"
    )
    return sql, session_width


def api_key_session_locked(
    *, hashed: str, now: datetime, integration_id: str
) -> tuple[tuple[int, datetime | None, int, int], CustomerSession | None] | None:
    """``api_key_find`` and, for the key's application, ``session_locked``: what each answers
    (the session ``None`` when its application has no session ``integration_id``), or ``None``
    when there is no such unexpired key, in which case nothing is locked. One statement on
    PostgreSQL, two elsewhere; in a transaction, which keeps the lock."""
    if connection.vendor != "postgresql":
        found = api_key_find(hashed=hashed, now=now)
        if found is None:
            return None
        return found, session_locked(application_id=found[2], integration_id=integration_id)
    sql, width = _key_session_select()
    expires_at = IntegrationApiKey._meta.get_field("expires_at")
    with connection.cursor() as cursor:
        moment = expires_at.get_db_prep_value(now, connection)
        cursor.execute(
            _prepared(cursor, KEY_SESSION_STATEMENT, sql, 3),
            # An aware time as ISO text: the prepared parameter is a timestamptz.
            [integration_id, hashed, moment.isoformat() if moment.tzinfo else moment],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return _key_found(row[:4]), _session_found(row[4:], width)


KEY_SESSION_STATEMENT: Final = "talonone_key_session"
"""The name ``_key_session_select`` is prepared under, on each PostgreSQL connection.

Prepared, because planning it (four tables, a lateral subquery) costs PostgreSQL about 0.2 ms
of CPU, more than running it; prepared, PostgreSQL plans it for the first few executions, then
keeps a generic plan, which for these lookups by unique keys is the same plan
(``docs/benchmarks.md``, 2026-11-26)."""

_prepared_on: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
"""The statements prepared on each (psycopg) connection, by name; a new connection is a new
object, on which they are prepared again."""


def _prepared(cursor: Any, name: str, sql: str, count: int) -> str:
    """The text that runs ``sql`` (a statement with parameters ``$1`` to ``$count``) as the
    statement prepared as ``name`` on the cursor's PostgreSQL connection, with ``count``
    ``%s`` placeholders for the cursor's parameters; prepared first, on a connection that has
    not got it yet.

    PostgreSQL then neither parses nor plans the statement again: for the hot path's short
    statements, which run by unique keys, that is most of their cost to the server. With
    ``PREPARE`` and ``EXECUTE`` in SQL, rather than the driver's protocol-level preparation,
    the statements go through Django's cursor like any other (errors wrapped, logged, counted
    by tests), and several can share one query text (one round trip, ``session_write``). A
    prepared statement lasts as long as its connection (a rolled-back transaction does not
    undo it), so this needs connections of its own, not a pooler in transaction mode, as
    Django's ``server_side_binding`` does."""
    raw = connection.connection
    names = _prepared_on.get(raw)
    if names is None:
        names = _prepared_on[raw] = set()
    if name not in names:
        cursor.execute(f"PREPARE {name} AS {sql}")
        names.add(name)
    return f"EXECUTE {name}(" + ", ".join(["%s"] * count) + ")"


@functools.cache
def _insert_statement(model: type[models.Model]) -> tuple[str, str, tuple[_Writer, ...]]:
    """The head of a multi-row insert of every column but the primary key, one row's
    placeholders, and the fields written."""
    writers = _writers(model)
    columns = ", ".join(_quote(field.column) for field, _, _ in writers)
    table = _quote(model._meta.db_table)
    row = "(" + ", ".join(["%s"] * len(writers)) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES ", row, writers  # noqa: S608


def _rows_insert(instances: Sequence[models.Model]) -> list[tuple[str, list[Any]]]:
    """The statements inserting ``instances`` (of one model): as few multi-row statements as
    the database's parameter limit allows (one statement is parsed and planned once, where one
    per row would each be)."""
    head, row, writers = _insert_statement(type(instances[0]))
    fields = [field for field, _, _ in writers]
    batch = max(1, connection.ops.bulk_batch_size(fields, instances))
    statements = []
    for start in range(0, len(instances), batch):
        chunk = instances[start : start + batch]
        values = [value for instance in chunk for value in _saved(instance, writers, True)]
        statements.append((head + ", ".join([row] * len(chunk)), values))
    return statements


@functools.cache
def _recordset_insert_statement(
    model: type[models.Model],
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """PostgreSQL: an insert of every column but the primary key from one JSON array of row
    objects (``json_to_recordset``), and, per column, its name (the objects' key) and the
    attribute that holds its value.

    However many rows there are, it is one short statement with one parameter: psycopg caches
    its conversion, and PostgreSQL parses it as quickly, where a multi-row ``VALUES`` list has a
    placeholder per value for psycopg to convert and quote and for PostgreSQL to parse, on every
    call. Values are written as the instance holds them (no ``pre_save``), so a model with
    ``auto_now`` fields is refused."""
    writers = _writers(model)
    if any(
        getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        for field, _, _ in writers
    ):
        raise ValueError(f"{model.__name__} has auto_now fields: insert it with _rows_insert")
    columns = ", ".join(_quote(field.column) for field, _, _ in writers)
    record = ", ".join(
        f"{_quote(field.column)} {field.db_type(connection)}" for field, _, _ in writers
    )
    table = _quote(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608
        f"FROM json_to_recordset(%s::json) AS r({record})"
    )
    return sql, tuple((field.column, attname) for field, attname, _ in writers)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal | datetime):
        return str(value)  # PostgreSQL reads the text with the column type's input function
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _recordset_insert(instances: Sequence[models.Model]) -> tuple[str, list[Any]]:
    """The statement inserting ``instances`` (of one model) on PostgreSQL, and its parameter."""
    sql, columns = _recordset_insert_statement(type(instances[0]))
    rows = [
        {column: getattr(instance, attname) for column, attname in columns}
        for instance in instances
    ]
    return sql, [json.dumps(rows, default=_json_value, separators=(",", ":"))]


@functools.cache
def _update_statement(model: type[models.Model]) -> tuple[str, tuple[_Writer, ...]]:
    writers = _writers(model)
    assignments = ", ".join(f"{_quote(field.column)} = %s" for field, _, _ in writers)
    pk = _quote(model._meta.pk.column)
    table = _quote(model._meta.db_table)
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s", writers  # noqa: S608


@functools.cache
def _numbered(sql: str) -> tuple[str, int]:
    """``sql`` with its ``%s`` placeholders numbered (``$1``, ``$2``…) for ``PREPARE``, and
    their count. (The statements here hold no other ``%``.)"""
    *heads, tail = sql.split("%s")
    numbered = "".join(f"{head}${index}" for index, head in enumerate(heads, 1)) + tail
    return numbered, len(heads)


def _execute_together(statements: Sequence[tuple[str, str, Sequence[Any]]]) -> None:
    """Run ``statements`` (name, SQL, parameters) in order. On PostgreSQL each is prepared
    under its name (``_prepared``) and they go to the server as one query text of ``EXECUTE``s,
    the parameters bound on the client as every ORM query's are: one round trip, in the simple
    protocol, and neither parsed nor planned again. Elsewhere, one after the other. Logged and
    wrapped as usual."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            texts = []
            for name, sql, _ in statements:
                numbered, count = _numbered(sql)
                texts.append(_prepared(cursor, name, numbered, count))
            cursor.execute(
                "; ".join(texts), [value for _, _, params in statements for value in params]
            )
            return
        for _, sql, params in statements:
            cursor.execute(sql, params)


def session_write(session: CustomerSession, *, items: Sequence[CartItem] | None) -> None:
    """Write every field of ``session`` to its row, as ``save()`` does (``auto_now`` fields are
    set on the instance too), and, when ``items`` are given, replace its cart items with them
    (their primary keys are not read back). One round trip on PostgreSQL."""
    update, session_writers = _update_statement(CustomerSession)
    statements: list[tuple[str, str, Sequence[Any]]] = []
    if items is not None:
        table = _quote(CartItem._meta.db_table)
        delete = f"DELETE FROM {table} WHERE session_id = %s"  # noqa: S608
        statements.append(("talonone_items_delete", delete, [session.pk]))
        if items and connection.vendor == "postgresql":
            statements.append(("talonone_items_insert", *_recordset_insert(items)))
        elif items:
            statements += [("", sql, params) for sql, params in _rows_insert(items)]
    as_text = connection.vendor == "postgresql"  # prepared there (``_execute_together``)
    params = [*_saved(session, session_writers, False, as_text=as_text), session.pk]
    statements.append(("talonone_session_update", update, params))
    _execute_together(statements)
