"""Coupons by the thousand: generate them from a pattern, import them from CSV, export them.

**Generating.** A code format is Talon.One's ``couponPattern`` (``SUMMER-####-####``: each ``#``
is a random character from ``validCharacters``, every other character is itself) or, in its
place, a length of random characters between an optional prefix and suffix; a ``uniquePrefix``
goes in front of either. The random characters come from ``secrets`` (a code is a bearer
token: it must not be guessable from the codes next to it). Formats and codes are normalised by
the application's case sensitivity (``coupon_code_normalised``), so an application that ignores
case never gets ``ab12`` beside ``AB12``, and ``validCharacters`` that differ only in case count
once.

Codes are unique across the application because the database says so (the unique constraint on
``(application, value)``), not because anything was read first: each chunk of fresh codes is
inserted with one ``INSERT … ON CONFLICT DO NOTHING``, the statement's row count says how many
went in, and the next chunk tops up what collided (with the application's other codes, or with
the batch's own earlier chunks). A format whose space holds fewer than twice the codes asked for
is refused before anything is written (``CouponPatternTooSmall``): near a full space most draws
collide. If a space still runs out (the application's other codes already fill it), ten chunks
in a row that insert nothing stop the generation (``CouponCodesExhausted``).

On PostgreSQL a chunk is a single statement whatever its size: the codes travel as one array
parameter (``INSERT … SELECT …, code FROM unnest(%s::varchar[])``), and the columns every coupon
shares are parameters of the ``SELECT`` list. Other databases get a multi-row ``VALUES`` per few
hundred codes.

**Batches.** ``coupon_batch_create`` records a ``CouponBatch`` (its id is Talon.One's
``batchId``, carried by every coupon it makes). Up to ``SYNC_BATCH_MAX`` codes are generated at
once, in the caller's transaction: the batch comes back done, or nothing is written. A larger
batch comes back pending, and the ``coupon_batch_generate`` Celery task, enqueued once the
batch's row is committed, fills it with ``coupon_batch_fill``: one transaction per chunk of
``CHUNK_SIZE`` codes, each adding what it inserted to the batch's ``created_count`` in the same
transaction, under the batch row's lock. So progress (``coupon_batch_get``) is exact at every
commit, a task run twice (or a second worker picking up a redelivered task) resumes from what
exists rather than starting again, and two runs at once never overshoot.

**Importing** (``coupons_import_csv``) reads Talon.One's import columns, checks every row
before writing any (bad dates, numbers, undefined attributes, codes repeated in the file or
already in the application) and reports each problem with its line and column; only a file
with no problem is imported, in one transaction. **Exporting** (``coupons_export_csv``) streams
Talon.One's export columns, a chunk of rows at a time; a file it wrote imports as it is (the
columns that only an export has, such as ``id`` and ``counter``, are skipped).
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import secrets
import string
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from itertools import product
from typing import Any, Final

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from campaigns.evaluation import stored_value
from campaigns.models import Application, AttributeDefinition, Campaign, Coupon, CouponBatch
from campaigns.models.coupon_batches import COUPON_BATCH_ID_MAX_LENGTH
from campaigns.models.coupons import COUPON_COUNT_LIMIT_MAX, COUPON_VALUE_MAX_LENGTH
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH, MONEY_DIGITS, MONEY_PLACES
from campaigns.selectors import attribute_schema
from campaigns.services.coupons import CouponInvalid, coupon_code_normalised, coupon_terms_check
from rules.values import parse_rfc3339

logger = logging.getLogger(__name__)

DEFAULT_VALID_CHARACTERS: Final = tuple(string.ascii_uppercase + string.digits)
"""Talon.One's default ``validCharacters``: ``[A-Z0-9]``."""

RANDOM_CHARACTER: Final = "#"
"""The placeholder of a random character in a ``couponPattern``."""

PATTERN_MIN_LENGTH: Final = 3
"""Talon.One's shortest ``couponPattern``; also the shortest imported code."""

SPACE_FACTOR: Final = 2
"""A format must allow at least this many times the codes asked for."""

SYNC_BATCH_MAX: Final = 1_000
"""The largest batch generated at once, in the caller's transaction; larger ones go to Celery."""

BATCH_COUNT_MAX: Final = 5_000_000
"""The most codes one batch may ask for (Talon.One's ``createCouponsAsync`` maximum)."""

CHUNK_SIZE: Final = 10_000
"""Codes per chunk: per ``INSERT`` statement, and per transaction in the Celery task."""

FRUITLESS_CHUNKS_MAX: Final = 10
"""Chunks in a row that insert nothing (every code taken) before generation gives up."""

OVERSAMPLING_MAX: Final = 64
"""After collisions, a chunk draws up to this many times the codes it wants."""

BATCH_ID_LENGTH: Final = 8
"""A generated ``batchId``: 8 lower-case letters, as Talon.One's (``tqyrgahe``)."""

IMPORT_ERRORS_MAX: Final = 1_000
"""An import stops checking rows after this many problems."""

EXPORT_CHUNK_SIZE: Final = 2_000
"""Coupons read per round trip while exporting."""

_VALUES_ROWS_MAX: Final = 500
"""Rows per multi-row ``VALUES`` insert, on databases other than PostgreSQL."""

_MONEY_MAX: Final = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)
_MONEY_QUANTUM: Final = Decimal(1).scaleb(-MONEY_PLACES)


class CouponPatternTooSmall(CouponInvalid):
    """The format cannot make enough distinct codes for the count asked for."""

    def __init__(self, *, space: int, count: int) -> None:
        super().__init__(
            "coupon_pattern",
            f"allows {space} distinct codes, fewer than {SPACE_FACTOR} times the {count} asked for:"
            " add random characters (#) or valid characters",
        )
        self.space = space
        self.count = count


class CouponCodesExhausted(Exception):
    """Generation stopped: the application already has (nearly) every code the format makes."""


# ---------------------------------------------------------------------------------------------
# Code formats and random codes


@dataclass(frozen=True)
class CouponCodeFormat:
    """How to make codes: ``pattern``, with ``#`` for each random character, drawn from
    ``characters``; both already normalised by the application's case sensitivity."""

    pattern: str
    characters: str
    application: Application = field(compare=False, repr=False)

    @property
    def random_length(self) -> int:
        """How many random characters a code has."""
        return self.pattern.count(RANDOM_CHARACTER)

    @property
    def space(self) -> int:
        """How many distinct codes the format can make."""
        return len(self.characters) ** self.random_length


def coupon_pattern_assembled(
    *,
    coupon_pattern: str | None = None,
    length: int | None = None,
    prefix: str = "",
    suffix: str = "",
    unique_prefix: str = "",
) -> str:
    """The one pattern that a ``couponPattern``, or a ``length`` with an optional prefix and
    suffix, and a ``uniquePrefix`` make together: ``unique_prefix + prefix + body + suffix``.

    Raises ``CouponInvalid`` when neither or both of ``coupon_pattern`` and ``length`` are
    given, when a prefix or suffix contains ``#``, or when the pattern is shorter than
    ``PATTERN_MIN_LENGTH`` or longer than a code may be.
    """
    if (coupon_pattern is None) == (length is None):
        raise CouponInvalid("coupon_pattern", "give either a pattern or a length")
    for name, literal in (("prefix", prefix), ("suffix", suffix), ("unique_prefix", unique_prefix)):
        if RANDOM_CHARACTER in literal:
            raise CouponInvalid(name, f"cannot contain {RANDOM_CHARACTER!r}")
    if length is not None:
        if length < 1:
            raise CouponInvalid("length", "is at least 1")
        body = RANDOM_CHARACTER * length
    else:
        body = coupon_pattern or ""
    pattern = unique_prefix + prefix + body + suffix
    if not PATTERN_MIN_LENGTH <= len(pattern) <= COUPON_VALUE_MAX_LENGTH:
        raise CouponInvalid(
            "coupon_pattern",
            f"has {PATTERN_MIN_LENGTH} to {COUPON_VALUE_MAX_LENGTH} characters"
            " (with its prefixes and suffix)",
        )
    return pattern


def coupon_code_format(
    *,
    application: Application,
    coupon_pattern: str,
    valid_characters: Sequence[str] | None = None,
) -> CouponCodeFormat:
    """The format of ``coupon_pattern`` (a whole pattern, see ``coupon_pattern_assembled``)
    with ``valid_characters`` (default ``[A-Z0-9]``), normalised as the application compares
    codes; valid characters that become the same character count once.

    Raises ``CouponInvalid`` for a pattern of the wrong length or a valid character that is not
    exactly one character (before and after normalising).
    """
    if not PATTERN_MIN_LENGTH <= len(coupon_pattern) <= COUPON_VALUE_MAX_LENGTH:
        raise CouponInvalid(
            "coupon_pattern", f"has {PATTERN_MIN_LENGTH} to {COUPON_VALUE_MAX_LENGTH} characters"
        )
    given = DEFAULT_VALID_CHARACTERS if valid_characters is None else valid_characters
    if not given:
        raise CouponInvalid("valid_characters", "is a non-empty list of characters")
    characters: dict[str, None] = {}  # a set that keeps the given order
    for character in given:
        if not isinstance(character, str) or len(character) != 1:
            raise CouponInvalid("valid_characters", f"{character!r} is not one character")
        normalised = coupon_code_normalised(application=application, value=character)
        if len(normalised) != 1:  # "ß".upper() is "SS"
            raise CouponInvalid("valid_characters", f"{character!r} is not one character")
        characters[normalised] = None
    pattern = coupon_code_normalised(application=application, value=coupon_pattern)
    return CouponCodeFormat(pattern, "".join(characters), application)


def coupon_codes_random(code_format: CouponCodeFormat, count: int) -> list[str]:
    """``count`` distinct random codes of the format (distinct among themselves; whether the
    application has them already is for the database to say), normalised by the application's
    case sensitivity."""
    if code_format.space < count:
        raise CouponPatternTooSmall(space=code_format.space, count=count)
    width = code_format.random_length
    application = code_format.application
    literal = code_format.pattern.replace("%", "%%")
    if RANDOM_CHARACTER * width in code_format.pattern:  # SUMMER-####: one slice per code
        template = literal.replace(RANDOM_CHARACTER * width, "%s", 1)

        def fill(piece: str) -> str:
            return template % piece
    else:
        template = literal.replace(RANDOM_CHARACTER, "%s")

        def fill(piece: str) -> str:
            return template % tuple(piece)

    codes: set[str] = set()
    if 2 * count > code_format.space:  # most of the space: sample it rather than draw
        pieces = ["".join(chars) for chars in product(code_format.characters, repeat=width)]
        for piece in secrets.SystemRandom().sample(pieces, count):
            codes.add(coupon_code_normalised(application=application, value=fill(piece)))
        return list(codes)
    while len(codes) < count:
        missing = count - len(codes)
        drawn = _random_characters(code_format.characters, missing * width)
        for start in range(0, missing * width, width):
            code = fill(drawn[start : start + width])
            codes.add(coupon_code_normalised(application=application, value=code))
    return list(codes)


def _random_characters(alphabet: str, count: int) -> str:
    """``count`` characters drawn uniformly and independently from ``alphabet`` by ``secrets``.

    Random bytes are mapped to characters by ``bytes.translate`` (C speed), bytes at or above
    the largest multiple of the alphabet's size being dropped so that every character is equally
    likely (no modulo bias)."""
    size = len(alphabet)
    if size == 1:
        return alphabet * count
    if size > 256 or max(map(ord, alphabet)) > 255:
        return "".join(secrets.choice(alphabet) for _ in range(count))
    limit = 256 - 256 % size
    table = bytes(ord(alphabet[byte % size]) if byte < limit else 0 for byte in range(256))
    dropped = bytes(range(limit, 256))
    parts: list[bytes] = []
    have = 0
    while have < count:
        part = secrets.token_bytes((count - have) * 256 // limit + 16).translate(table, dropped)
        parts.append(part)
        have += len(part)
    return b"".join(parts)[:count].decode("latin-1")


# ---------------------------------------------------------------------------------------------
# The terms every coupon of a batch gets, and the chunked insert


@dataclass(frozen=True)
class _Terms:
    usage_limit: int
    discount_limit: Decimal
    reservation_limit: int
    start_date: datetime | None
    expiry_date: datetime | None
    recipient_integration_id: str
    attributes: dict[str, Any]


def _terms_checked(
    *,
    application: Application,
    usage_limit: int,
    discount_limit: Decimal | int,
    reservation_limit: int,
    start_date: datetime | None,
    expiry_date: datetime | None,
    recipient_integration_id: str,
    attributes: Mapping[str, Any] | None,
) -> _Terms:
    """The terms, checked as ``coupon_create`` checks a coupon's; the attributes must be
    defined for ``Coupon`` and of their type. Raises ``CouponInvalid``."""
    for name, moment in (("start_date", start_date), ("expiry_date", expiry_date)):
        if moment is not None and timezone.is_naive(moment):
            raise CouponInvalid(name, "has a time zone")
    discount = coupon_terms_check(
        usage_limit=usage_limit,
        discount_limit=discount_limit,
        reservation_limit=reservation_limit,
        start_date=start_date,
        expiry_date=expiry_date,
        recipient_integration_id=recipient_integration_id,
    )
    checked = coupon_attributes_checked(application, attributes)
    return _Terms(
        usage_limit,
        discount,
        reservation_limit,
        start_date,
        expiry_date,
        recipient_integration_id,
        checked,
    )


def _coupon_template(*, campaign: Campaign, terms: _Terms, batch_id: str) -> Coupon:
    """An unsaved coupon with everything but the code: what every row of a chunk shares."""
    return Coupon(
        application=campaign.application,
        campaign=campaign,
        batch_id=batch_id,
        usage_limit=terms.usage_limit,
        discount_limit=terms.discount_limit,
        reservation_limit=terms.reservation_limit,
        start_date=terms.start_date,
        expiry_date=terms.expiry_date,
        recipient_integration_id=terms.recipient_integration_id,
        attributes=terms.attributes,
    )


def _coupons_insert(*, template: Coupon, codes: Sequence[str], limit: int) -> int:
    """Insert a coupon like ``template`` for each of ``codes`` that the application does not
    have, ``limit`` at most; how many were inserted.

    Every concrete column is written, each with the template's value as ``save()`` would write
    it (``pre_save``: ``created`` is now), so a column added to ``Coupon`` later gets its
    default here too."""
    if not codes or limit <= 0:
        return 0
    meta = Coupon._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    value_field = meta.get_field("value")
    shared = {
        f.column: f.get_db_prep_save(f.pre_save(template, add=True), connection)
        for f in fields
        if f is not value_field
    }
    columns = ", ".join(quote(f.column) for f in fields)
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement per chunk: the codes are one array parameter. The shared values are
            # cast to their columns' types, or a NULL would be taken for text.
            select = ", ".join(
                "code" if f is value_field else f"CAST(%s AS {f.db_type(connection)})"
                for f in fields
            )
            params = [shared[f.column] for f in fields if f is not value_field]
            params.append(list(codes))
            sql = f"INSERT INTO {table} ({columns}) SELECT {select} "
            sql += "FROM unnest(%s::varchar[]) AS chunk(code) "
            if limit < len(codes):
                # More codes than wanted (after collisions): the first `limit` free ones. The
                # ON CONFLICT still catches a code that a concurrent transaction takes.
                application = quote(meta.get_field("application").column)
                value = quote(value_field.column)
                sql += (
                    f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS taken "  # noqa: S608 (names)
                    f"WHERE taken.{application} = %s AND taken.{value} = chunk.code) LIMIT %s "
                )
                params += [template.application_id, limit]
            cursor.execute(sql + "ON CONFLICT DO NOTHING", params)
            return cursor.rowcount
        if limit < len(codes):
            codes = _codes_free(template.application_id, codes)[:limit]
        inserted = 0
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(codes), _VALUES_ROWS_MAX):
            part = codes[start : start + _VALUES_ROWS_MAX]
            rows = ", ".join([placeholders] * len(part))
            sql = f"INSERT INTO {table} ({columns}) VALUES {rows} ON CONFLICT DO NOTHING"  # noqa: S608
            params = [
                code if f is value_field else shared[f.column] for code in part for f in fields
            ]
            cursor.execute(sql, params)
            inserted += cursor.rowcount
        return inserted


def _codes_free(application_id: int, codes: Sequence[str]) -> list[str]:
    """The codes the application does not have, in their order."""
    taken: set[str] = set()
    for start in range(0, len(codes), _VALUES_ROWS_MAX):
        part = codes[start : start + _VALUES_ROWS_MAX]
        taken.update(
            Coupon.objects.filter(application_id=application_id, value__in=part).values_list(
                "value", flat=True
            )
        )
    return [code for code in codes if code not in taken]


def _chunks_generate(
    *,
    template: Coupon,
    code_format: CouponCodeFormat,
    chunk_size: int,
    wanted: Callable[[], int],
    inserted_hook: Callable[[int], None],
) -> int:
    """Insert chunks of fresh codes until ``wanted()`` (asked inside each chunk's transaction,
    so it may lock what it reads) says no more; ``inserted_hook(n)`` runs in the same
    transaction. How many coupons were inserted in all.

    A chunk draws as many codes as it wants. Once a chunk comes up short (its codes collided),
    the next ones draw more candidates (up to ``OVERSAMPLING_MAX`` times what they want, or the
    whole space) and insert only as many free ones as they want: near a full space, topping up
    one missing code by drawing one code at a time would take as many rounds as the space has
    codes."""
    total = 0
    fruitless = 0
    oversampling = 1
    while True:
        with transaction.atomic():
            want = min(chunk_size, wanted())
            if want <= 0:
                return total
            draw = min(code_format.space, want * oversampling)
            codes = coupon_codes_random(code_format, draw)
            inserted = _coupons_insert(template=template, codes=codes, limit=want)
            inserted_hook(inserted)
        total += inserted
        if inserted < want and draw == code_format.space:
            raise CouponCodesExhausted(
                f"every code of {code_format.pattern!r} is taken in the application"
                f" ({code_format.space} codes)"
            )
        if inserted < want:
            oversampling = min(oversampling * 4, OVERSAMPLING_MAX)
        fruitless = 0 if inserted else fruitless + 1
        if fruitless >= FRUITLESS_CHUNKS_MAX:
            raise CouponCodesExhausted(
                f"{FRUITLESS_CHUNKS_MAX} chunks in a row found every code taken: the application"
                f" has nearly all {code_format.space} codes of {code_format.pattern!r}"
            )


def coupon_codes_generate(
    *,
    campaign: Campaign,
    count: int,
    code_format: CouponCodeFormat,
    usage_limit: int = 1,
    discount_limit: Decimal | int = 0,
    reservation_limit: int = 0,
    start_date: datetime | None = None,
    expiry_date: datetime | None = None,
    recipient_integration_id: str = "",
    attributes: Mapping[str, Any] | None = None,
    batch_id: str = "",
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Create ``count`` coupons of the campaign with new random codes of ``code_format``, each
    unique in the application; returns ``count``.

    One transaction per chunk of ``chunk_size`` codes (savepoints, inside a transaction of the
    caller's). Raises ``CouponPatternTooSmall`` when the format allows fewer than
    ``SPACE_FACTOR * count`` codes, ``CouponInvalid`` for a term out of range, and
    ``CouponCodesExhausted`` when the application's codes leave too few free.
    """
    if count < 1:
        raise CouponInvalid("count", "is at least 1")
    if code_format.space < SPACE_FACTOR * count:
        raise CouponPatternTooSmall(space=code_format.space, count=count)
    terms = _terms_checked(
        application=campaign.application,
        usage_limit=usage_limit,
        discount_limit=discount_limit,
        reservation_limit=reservation_limit,
        start_date=start_date,
        expiry_date=expiry_date,
        recipient_integration_id=recipient_integration_id,
        attributes=attributes,
    )
    created = 0

    def counted(inserted: int) -> None:
        nonlocal created
        created += inserted

    _chunks_generate(
        template=_coupon_template(campaign=campaign, terms=terms, batch_id=batch_id),
        code_format=code_format,
        chunk_size=chunk_size,
        wanted=lambda: count - created,
        inserted_hook=counted,
    )
    return created


# ---------------------------------------------------------------------------------------------
# Batches


def coupon_batch_create(
    *,
    campaign: Campaign,
    count: int,
    coupon_pattern: str | None = None,
    length: int | None = None,
    valid_characters: Sequence[str] | None = None,
    prefix: str = "",
    suffix: str = "",
    unique_prefix: str = "",
    usage_limit: int = 1,
    discount_limit: Decimal | int = 0,
    reservation_limit: int = 0,
    start_date: datetime | None = None,
    expiry_date: datetime | None = None,
    recipient_integration_id: str = "",
    attributes: Mapping[str, Any] | None = None,
    batch_id: str | None = None,
) -> CouponBatch:
    """A batch of ``count`` new coupons of the campaign, with random codes of a pattern.

    The format is a ``coupon_pattern`` or a ``length`` (with ``prefix`` and ``suffix``), after
    ``unique_prefix`` (see ``coupon_pattern_assembled``); ``valid_characters`` default to
    ``[A-Z0-9]``. ``batch_id`` is generated when not given. Everything is checked before
    anything is written (``CouponInvalid``, ``CouponPatternTooSmall``).

    Up to ``SYNC_BATCH_MAX`` coupons are created now, in one transaction, and the batch comes
    back done. A larger batch comes back pending: the ``coupon_batch_generate`` task, enqueued
    when the batch's row is committed, creates the coupons; follow it with
    ``coupon_batch_get``.
    """
    application = campaign.application
    if not 1 <= count <= BATCH_COUNT_MAX:
        raise CouponInvalid("count", f"is between 1 and {BATCH_COUNT_MAX}")
    pattern = coupon_pattern_assembled(
        coupon_pattern=coupon_pattern,
        length=length,
        prefix=prefix,
        suffix=suffix,
        unique_prefix=unique_prefix,
    )
    characters = list(DEFAULT_VALID_CHARACTERS if valid_characters is None else valid_characters)
    code_format = coupon_code_format(
        application=application, coupon_pattern=pattern, valid_characters=characters
    )
    if code_format.space < SPACE_FACTOR * count:
        raise CouponPatternTooSmall(space=code_format.space, count=count)
    terms = _terms_checked(
        application=application,
        usage_limit=usage_limit,
        discount_limit=discount_limit,
        reservation_limit=reservation_limit,
        start_date=start_date,
        expiry_date=expiry_date,
        recipient_integration_id=recipient_integration_id,
        attributes=attributes,
    )
    details: dict[str, Any] = {
        "source": CouponBatch.Source.GENERATED,
        "requested": count,
        "coupon_pattern": pattern,
        "valid_characters": characters,
        "usage_limit": terms.usage_limit,
        "discount_limit": terms.discount_limit,
        "reservation_limit": terms.reservation_limit,
        "start_date": terms.start_date,
        "expiry_date": terms.expiry_date,
        "recipient_integration_id": terms.recipient_integration_id,
        "attributes": terms.attributes,
    }
    if count <= SYNC_BATCH_MAX:
        with transaction.atomic():
            batch = _batch_insert(
                campaign=campaign,
                batch_id=batch_id,
                status=CouponBatch.Status.RUNNING,
                started_at=timezone.now(),
                **details,
            )
            _batch_fill(batch, code_format=code_format, terms=terms)
            _batch_finish(batch)
        batch.refresh_from_db()
        return batch
    with transaction.atomic():
        batch = _batch_insert(
            campaign=campaign, batch_id=batch_id, status=CouponBatch.Status.PENDING, **details
        )
        transaction.on_commit(partial(_batch_enqueue, batch.pk), robust=True)
    return batch


def coupon_batch_get(*, application: Application, batch_id: str) -> CouponBatch:
    """The application's batch with this id, with its progress (``created_count`` of
    ``requested``, ``status``); raises ``CouponBatch.DoesNotExist``."""
    return CouponBatch.objects.select_related("campaign").get(
        application=application, batch_id=batch_id
    )


def coupon_batch_fill(*, batch: CouponBatch) -> CouponBatch:
    """Create the coupons a pending or running batch still lacks, a chunk per transaction, and
    mark it done; what the Celery task runs. Safe to run twice, and twice at once: each chunk
    locks the batch's row and asks for what is still missing.

    A batch that cannot be completed (its codes ran out, or its stored request no longer
    checks) is marked failed, with the reason in ``error``. A database that cannot be reached
    leaves the batch running, for a retry to resume; any other error marks it failed and is
    raised. A done or failed batch is returned as it is.
    """
    if batch.status in (CouponBatch.Status.DONE, CouponBatch.Status.FAILED):
        return batch
    CouponBatch.objects.filter(
        pk=batch.pk, status__in=[CouponBatch.Status.PENDING, CouponBatch.Status.RUNNING]
    ).update(status=CouponBatch.Status.RUNNING, started_at=Coalesce(F("started_at"), Now()))
    application = batch.application
    try:
        code_format = coupon_code_format(
            application=application,
            coupon_pattern=batch.coupon_pattern,
            valid_characters=batch.valid_characters,
        )
        terms = _terms_checked(
            application=application,
            usage_limit=batch.usage_limit,
            discount_limit=batch.discount_limit,
            reservation_limit=batch.reservation_limit,
            start_date=batch.start_date,
            expiry_date=batch.expiry_date,
            recipient_integration_id=batch.recipient_integration_id,
            attributes=batch.attributes,
        )
        _batch_fill(batch, code_format=code_format, terms=terms)
        _batch_finish(batch)
    except (CouponInvalid, CouponCodesExhausted) as error:
        _batch_fail(batch, str(error))
    except OperationalError:
        raise
    except Exception as error:
        _batch_fail(batch, f"{type(error).__name__}: {error}")
        raise
    batch.refresh_from_db()
    return batch


def _batch_fill(batch: CouponBatch, *, code_format: CouponCodeFormat, terms: _Terms) -> None:
    running = CouponBatch.objects.select_for_update().filter(
        pk=batch.pk, status=CouponBatch.Status.RUNNING
    )

    def missing() -> int:
        counts = running.values_list("requested", "created_count").first()
        return 0 if counts is None else counts[0] - counts[1]

    def counted(inserted: int) -> None:
        CouponBatch.objects.filter(pk=batch.pk).update(created_count=F("created_count") + inserted)

    _chunks_generate(
        template=_coupon_template(campaign=batch.campaign, terms=terms, batch_id=batch.batch_id),
        code_format=code_format,
        chunk_size=CHUNK_SIZE,
        wanted=missing,
        inserted_hook=counted,
    )


def _batch_finish(batch: CouponBatch) -> None:
    CouponBatch.objects.filter(
        pk=batch.pk, status=CouponBatch.Status.RUNNING, created_count=F("requested")
    ).update(status=CouponBatch.Status.DONE, finished_at=timezone.now())


def _batch_fail(batch: CouponBatch, error: str) -> None:
    logger.warning("coupon batch %s failed: %s", batch.batch_id, error)
    CouponBatch.objects.filter(
        pk=batch.pk, status__in=[CouponBatch.Status.PENDING, CouponBatch.Status.RUNNING]
    ).update(status=CouponBatch.Status.FAILED, error=error, finished_at=timezone.now())


def _batch_enqueue(batch_pk: int) -> None:
    """Hand the batch to a worker (after commit: the worker must find its row)."""
    from campaigns.tasks import coupon_batch_generate  # the tasks module imports services

    coupon_batch_generate.delay(batch_pk)


def _batch_insert(*, campaign: Campaign, batch_id: str | None, **details: Any) -> CouponBatch:
    """The batch's row, with ``batch_id`` or a new random one; ``CouponInvalid`` when the
    given id is taken in the application (by a batch, or by coupons made without one)."""
    application = campaign.application
    if batch_id is not None:
        if not batch_id or len(batch_id) > COUPON_BATCH_ID_MAX_LENGTH:
            raise CouponInvalid("batch_id", f"has 1 to {COUPON_BATCH_ID_MAX_LENGTH} characters")
        taken = (
            CouponBatch.objects.filter(application=application, batch_id=batch_id).exists()
            or Coupon.objects.filter(application=application, batch_id=batch_id).exists()
        )
        if taken:
            raise CouponInvalid("batch_id", f"{batch_id!r} is already used in this application")
    for _ in range(5):
        candidate = batch_id or "".join(
            secrets.choice(string.ascii_lowercase) for _ in range(BATCH_ID_LENGTH)
        )
        try:
            with transaction.atomic():
                return CouponBatch.objects.create(
                    application=application, campaign=campaign, batch_id=candidate, **details
                )
        except IntegrityError:
            if (
                batch_id is not None
                or not CouponBatch.objects.filter(
                    application=application, batch_id=candidate
                ).exists()
            ):
                raise CouponInvalid(
                    "batch_id", f"{candidate!r} is already used in this application"
                ) from None
    raise RuntimeError("five random batch ids in a row were taken")  # 26⁸ ids: never


# ---------------------------------------------------------------------------------------------
# Attributes


def coupon_attributes_checked(application: Application, raw: Any) -> dict[str, Any]:
    """Coupon attributes as stored, each defined for coupons and of its type; raises
    ``CouponInvalid`` naming ``attributes``."""
    stored, problem = _attributes_read(raw or {}, _coupon_attributes(application))
    if problem is not None:
        raise CouponInvalid("attributes", problem)
    return stored


def _coupon_attributes(application: Application) -> Mapping[str, str]:
    """The application's ``Coupon`` attributes: name → type name."""
    declared = attribute_schema(application=application).declared
    return declared.get(AttributeDefinition.Entity.COUPON, {})


def _attributes_read(raw: Any, definitions: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """``raw`` as stored coupon attributes (decimals and times as text), or a problem."""
    if not isinstance(raw, Mapping):
        return {}, "is an object"
    stored: dict[str, Any] = {}
    for name, value in raw.items():
        type_name = definitions.get(name)
        if type_name is None:
            return {}, f"{name!r} is not a custom attribute of coupons: define it first"
        if value is None:
            stored[name] = None
            continue
        if type_name.startswith("(list "):
            item_type = type_name[len("(list ") : -1]
            items = value if isinstance(value, list) else None
            read = None if items is None else [_attribute_value(item_type, i) for i in items]
            if read is None or any(item is _BAD for item in read):
                return {}, f"{name!r} is a list of {item_type}s"
            stored[name] = stored_value(read)
            continue
        single = _attribute_value(type_name, value)
        if single is _BAD:
            return {}, f"{name!r} is a {type_name}"
        stored[name] = stored_value(single)
    return stored, None


_BAD: Final = object()


def _attribute_value(type_name: str, value: Any) -> Any:
    """The value as its type's Python value, or ``_BAD``."""
    if type_name in ("string", "location"):
        return value if isinstance(value, str) else _BAD
    if type_name == "boolean":
        return value if isinstance(value, bool) else _BAD
    if type_name == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return _BAD
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return number if number.is_finite() else _BAD
    if type_name == "time":
        if isinstance(value, datetime):
            return value if timezone.is_aware(value) else _BAD
        parsed = parse_rfc3339(value) if isinstance(value, str) else None
        return _BAD if parsed is None else parsed
    return _BAD


# ---------------------------------------------------------------------------------------------
# CSV import and export

IMPORT_COLUMNS: Final = (
    "value",
    "expirydate",
    "startdate",
    "recipientintegrationid",
    "limitval",
    "discountlimit",
    "attributes",
)
"""Talon.One's import columns; only ``value`` is required."""

EXPORT_COLUMNS: Final = (
    "id",
    "created",
    "campaignid",
    "value",
    "expirydate",
    "startdate",
    "attributes",
    "applicationid",
    "recipientintegrationid",
    "batchid",
    "limitval",
    "counter",
    "discount_counter",
    "discount_limitval",
    "reservation_limitval",
)
"""Talon.One's export columns, in its order, for the fields coupons have here."""

_IMPORT_ALIASES: Final = {"discount_limitval": "discountlimit"}
"""Export columns that an import reads as an import column."""

_IMPORT_SKIPPED: Final = frozenset(
    {
        *(set(EXPORT_COLUMNS) - set(IMPORT_COLUMNS) - set(_IMPORT_ALIASES)),
        # The rest of Talon.One's export columns.
        "accountid",
        "deleted",
        "deleted_changelogid",
        "importid",
        "is_reservation_mandatory",
        "limits",
        "referralid",
        "reservation",
        "reservation_counter",
    }
)
"""Columns of an export that an import skips: what the server counts or assigns."""


@dataclass(frozen=True, slots=True)
class ImportRowError:
    """A problem with one field of an imported file: ``line`` is the line the row starts on
    (the header is line 1) and ``column`` the column's name (empty for the row as a whole)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: ``imported`` coupons under ``batch_id``, or nothing and ``errors``
    (at most ``IMPORT_ERRORS_MAX``; checking stops there)."""

    imported: int
    batch_id: str
    errors: tuple[ImportRowError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class _ImportedRow:
    line: int
    value: str
    expiry_date: datetime | None
    start_date: datetime | None
    recipient_integration_id: str
    usage_limit: int
    discount_limit: Decimal
    attributes: dict[str, Any]


class _TooManyErrors(Exception):
    pass


def coupons_import_csv(*, campaign: Campaign, rows: Iterable[str]) -> ImportResult:
    """Import the coupons of a CSV file into the campaign: all of them, or none.

    ``rows`` is the file's text: a text stream (opened with ``newline=""``) or any iterable of
    its lines. The first row names the columns (``IMPORT_COLUMNS``, any order, any case;
    ``value`` required; an export's own columns are skipped, see ``_IMPORT_SKIPPED``). Dates are
    RFC 3339; ``limitval`` defaults to 1 (0 is unlimited); ``attributes`` is a JSON object of
    custom ``Coupon`` attributes. Codes are normalised by the application's case sensitivity
    and must be at least ``PATTERN_MIN_LENGTH`` characters long.

    Every row is checked first. If any is wrong, nothing is written and the result lists each
    problem with its line and column; otherwise every coupon is created in one transaction,
    under a new batch id (an imported ``CouponBatch``).
    """
    application = campaign.application
    errors: list[ImportRowError] = []

    def error(line: int, column: str, message: str) -> None:
        errors.append(ImportRowError(line, column, message))
        if len(errors) >= IMPORT_ERRORS_MAX:
            raise _TooManyErrors

    parsed: list[_ImportedRow] = []
    try:
        parsed = _import_rows_read(
            rows, application=application, definitions=_coupon_attributes(application), error=error
        )
        _import_duplicates_check(parsed, application=application, error=error)
    except _TooManyErrors:
        pass
    if errors:
        return ImportResult(0, "", tuple(sorted(errors, key=lambda e: e.line)))
    try:
        with transaction.atomic():
            now = timezone.now()
            batch = _batch_insert(
                campaign=campaign,
                batch_id=None,
                source=CouponBatch.Source.IMPORTED,
                status=CouponBatch.Status.DONE,
                requested=len(parsed),
                created_count=len(parsed),
                started_at=now,
                finished_at=now,
            )
            Coupon.objects.bulk_create(
                (
                    Coupon(
                        application=application,
                        campaign=campaign,
                        value=row.value,
                        usage_limit=row.usage_limit,
                        discount_limit=row.discount_limit,
                        start_date=row.start_date,
                        expiry_date=row.expiry_date,
                        recipient_integration_id=row.recipient_integration_id,
                        attributes=row.attributes,
                        batch_id=batch.batch_id,
                    )
                    for row in parsed
                ),
                batch_size=5_000,
            )
    except IntegrityError:
        # Codes created by someone else since they were checked: say which.
        with contextlib.suppress(_TooManyErrors):
            _import_duplicates_check(parsed, application=application, error=error)
        if not errors:
            raise
        return ImportResult(0, "", tuple(sorted(errors, key=lambda e: e.line)))
    return ImportResult(len(parsed), batch.batch_id)


def _import_rows_read(
    rows: Iterable[str],
    *,
    application: Application,
    definitions: Mapping[str, str],
    error: Callable[[int, str, str], None],
) -> list[_ImportedRow]:
    """The file's rows, read and checked one by one; problems go to ``error``."""
    reader = csv.reader(rows)
    header = next(reader, None)
    if header is None:
        error(1, "", "the file is empty: it needs a header row naming the columns")
        return []
    names = [name.strip().lower() for name in header]
    columns: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for position, name in enumerate(names):
        column = _IMPORT_ALIASES.get(name, name)
        if column in _IMPORT_SKIPPED:
            continue
        if column not in IMPORT_COLUMNS:
            problems.append((name, f"unknown column; the columns are {', '.join(IMPORT_COLUMNS)}"))
        elif column in columns:
            problems.append((name, "the column appears twice"))
        else:
            columns[column] = position
    if "value" not in columns:
        problems.append(("value", "the required column is missing"))
    if problems:  # the rows would only echo the header's problems
        for column, message in problems:
            error(1, column, message)
        return []
    parsed: list[_ImportedRow] = []
    first_line: dict[str, int] = {}
    data_rows = 0
    end_of_previous = reader.line_num
    for fields in reader:
        line = end_of_previous + 1
        end_of_previous = reader.line_num
        if not fields or fields == [""]:
            continue  # a blank line
        data_rows += 1
        if len(fields) != len(names):
            error(line, "", f"has {len(fields)} fields; the header has {len(names)}")
            continue
        row = _import_row_read(
            {column: fields[position].strip() for column, position in columns.items()},
            line=line,
            application=application,
            definitions=definitions,
            error=error,
        )
        if row is None:
            continue
        if row.value in first_line:
            error(line, "value", f"{row.value!r} is already on line {first_line[row.value]}")
            continue
        first_line[row.value] = line
        parsed.append(row)
    if not data_rows:
        error(2, "", "the file has no coupons")
    return parsed


def _import_row_read(
    fields: Mapping[str, str],
    *,
    line: int,
    application: Application,
    definitions: Mapping[str, str],
    error: Callable[[int, str, str], None],
) -> _ImportedRow | None:
    """One row, checked; None (and its problems reported) when something is wrong."""
    problems = 0

    def wrong(column: str, message: str) -> None:
        nonlocal problems
        problems += 1
        error(line, column, message)

    value = coupon_code_normalised(application=application, value=fields["value"])
    if not PATTERN_MIN_LENGTH <= len(value) <= COUPON_VALUE_MAX_LENGTH:
        wrong("value", f"has {PATTERN_MIN_LENGTH} to {COUPON_VALUE_MAX_LENGTH} characters")
    dates: dict[str, datetime | None] = {}
    for column in ("expirydate", "startdate"):
        text = fields.get(column, "")
        dates[column] = parse_rfc3339(text) if text else None
        if text and dates[column] is None:
            wrong(column, f"{text!r} is not an RFC 3339 time, such as 2025-07-01T04:00:00Z")
    start, expiry = dates["startdate"], dates["expirydate"]
    if start is not None and expiry is not None and expiry <= start:
        wrong("expirydate", "is not after startdate")
    recipient = fields.get("recipientintegrationid", "")
    if len(recipient) > INTEGRATION_ID_MAX_LENGTH:
        wrong("recipientintegrationid", f"has at most {INTEGRATION_ID_MAX_LENGTH} characters")
    usage_limit = 1
    if text := fields.get("limitval", ""):
        if text.isdigit() and int(text) <= COUPON_COUNT_LIMIT_MAX:
            usage_limit = int(text)
        else:
            wrong("limitval", f"{text!r} is not a whole number from 0 to {COUPON_COUNT_LIMIT_MAX}")
    discount_limit = Decimal(0)
    if text := fields.get("discountlimit", ""):
        try:
            discount_limit = Decimal(text)
        except InvalidOperation:
            discount_limit = Decimal("NaN")
        if (
            not discount_limit.is_finite()
            or not 0 <= discount_limit < _MONEY_MAX
            or discount_limit != discount_limit.quantize(_MONEY_QUANTUM)
        ):
            wrong(
                "discountlimit",
                f"{text!r} is not an amount from 0 to below {_MONEY_MAX}"
                f" with at most {MONEY_PLACES} decimals",
            )
    attributes: dict[str, Any] = {}
    if text := fields.get("attributes", ""):
        try:
            raw = json.loads(text, parse_float=Decimal)
        except ValueError:
            wrong("attributes", "is not a JSON object")
        else:
            attributes, problem = _attributes_read(raw, definitions)
            if problem is not None:
                wrong("attributes", problem)
    if problems:
        return None
    return _ImportedRow(
        line, value, expiry, start, recipient, usage_limit, discount_limit, attributes
    )


def _import_duplicates_check(
    rows: Sequence[_ImportedRow],
    *,
    application: Application,
    error: Callable[[int, str, str], None],
) -> None:
    """Report the rows whose code the application already has."""
    for start in range(0, len(rows), 5_000):
        part = {row.value: row.line for row in rows[start : start + 5_000]}
        taken = Coupon.objects.filter(application=application, value__in=part).values_list(
            "value", flat=True
        )
        for value in sorted(taken, key=part.__getitem__):
            error(part[value], "value", f"{value!r} is already a coupon of this application")


class _Echo:
    """A file that hands back what is written to it, for ``csv.writer`` to format one row."""

    def write(self, text: str) -> str:
        return text


def coupons_export_csv(
    *, application: Application, campaign: Campaign | None = None
) -> Iterator[str]:
    """The application's coupons (or one campaign's) as CSV lines, the header first
    (``EXPORT_COLUMNS``), in creation order.

    Lines are made as they are read, ``EXPORT_CHUNK_SIZE`` coupons at a time (a server-side
    cursor on PostgreSQL), so an export of millions never holds them all in memory: hand the
    iterator to a streaming response. Times are RFC 3339 in UTC, amounts plain decimals,
    attributes a JSON object (empty when there are none).
    """
    if campaign is not None and campaign.application_id != application.pk:
        raise ValueError(
            f"campaign {campaign.pk} is not a campaign of application {application.pk}"
        )
    coupons = Coupon.objects.filter(application=application)
    if campaign is not None:
        coupons = coupons.filter(campaign=campaign)
    fields = (
        "id",
        "created",
        "campaign_id",
        "value",
        "expiry_date",
        "start_date",
        "attributes",
        "application_id",
        "recipient_integration_id",
        "batch_id",
        "usage_limit",
        "usage_counter",
        "discount_counter",
        "discount_limit",
        "reservation_limit",
    )
    numbers = {
        name
        for name, type_name in _coupon_attributes(application).items()
        if type_name in ("number", "(list number)")
    }
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for values in coupons.order_by("id").values_list(*fields).iterator(EXPORT_CHUNK_SIZE):
        yield writer.writerow([_csv_text(value, numbers) for value in values])


def _csv_text(value: Any, numbers: Collection[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return _attributes_json(value, numbers) if value else ""
    return str(value)


def _attributes_json(attributes: Mapping[str, Any], numbers: Collection[str]) -> str:
    """Stored attributes as a JSON object, with the ``numbers`` (stored as text, to keep
    every digit) written as JSON numbers again, as an import reads them."""
    members = []
    for name, value in attributes.items():
        text = _json_number(value) if name in numbers else json.dumps(value)
        members.append(f"{json.dumps(name)}: {text}")
    return "{" + ", ".join(members) + "}"


def _json_number(value: Any) -> str:
    """A stored number (or list of numbers) as JSON; anything else as it is."""
    if isinstance(value, list):
        return "[" + ", ".join(_json_number(item) for item in value) + "]"
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return json.dumps(value)
        if number.is_finite():
            return str(number)
    return json.dumps(value)
