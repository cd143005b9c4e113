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

**Importing and exporting** CSV files is ``campaigns.services.coupon_csv``'s; creating coupons
as a request asks (``coupons_generate``, ``coupons_generate_for_recipients``) is here, on top of
the batches.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from itertools import product
from typing import Any, Final

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from campaigns.models import Application, Campaign, Coupon, CouponBatch
from campaigns.models.coupon_batches import COUPON_BATCH_ID_MAX_LENGTH
from campaigns.models.coupons import COUPON_VALUE_MAX_LENGTH
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH
from campaigns.services.coupons import (
    CouponInvalid,
    coupon_attributes_checked,
    coupon_code_normalised,
    coupon_create,
    coupon_terms_check,
)

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

DEFAULT_CODE_LENGTH: Final = 8
"""How many random characters a code has when a request gives no pattern."""

RECIPIENTS_MAX: Final = 1_000
"""The most recipients ``coupons_generate_for_recipients`` takes (Talon.One's ``maxItems``)."""

BATCH_ID_LENGTH: Final = 8
"""A generated ``batchId``: 8 lower-case letters, as Talon.One's (``tqyrgahe``)."""

_VALUES_ROWS_MAX: Final = 500
"""Rows per multi-row ``VALUES`` insert, on databases other than PostgreSQL."""


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
            batch = coupon_batch_insert(
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
        batch = coupon_batch_insert(
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


def coupon_batch_insert(*, campaign: Campaign, batch_id: str | None, **details: Any) -> CouponBatch:
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
# Coupons as a request asks for them


def coupons_generate(
    *,
    campaign: Campaign,
    count: int,
    coupon_pattern: str | None = None,
    valid_characters: Sequence[str] | None = None,
    unique_prefix: str = "",
    attributes: Mapping[str, Any] | None = None,
    is_reservation_mandatory: bool = False,
    profile_redemption_limit: int = 0,
    **terms: Any,
) -> list[Coupon]:
    """Up to ``SYNC_BATCH_MAX`` new coupons of the campaign, created in one transaction, in id
    order (``createCoupons``).

    A ``coupon_pattern`` without ``#`` is the one code to create (``coupon_create``); otherwise
    ``coupon_batch_create`` makes ``count`` random codes (``DEFAULT_CODE_LENGTH`` characters
    when there is no pattern), and the terms it does not take (a mandatory reservation, a
    per-customer limit) are set on its coupons before the transaction commits. ``terms`` are
    ``coupon_batch_create``'s (``usage_limit``, ``discount_limit``, ``reservation_limit``,
    ``start_date``, ``expiry_date``, ``recipient_integration_id``). Raises ``CouponInvalid``,
    ``CouponExists``, ``CouponCodesExhausted``.
    """
    application = campaign.application
    if coupon_pattern is not None and RANDOM_CHARACTER not in coupon_pattern:
        coupon = coupon_create(
            campaign=campaign,
            value=unique_prefix + coupon_pattern,
            attributes=coupon_attributes_checked(application, attributes),
            is_reservation_mandatory=is_reservation_mandatory,
            profile_redemption_limit=profile_redemption_limit,
            **terms,
        )
        return [coupon]
    if count > SYNC_BATCH_MAX:
        raise CouponInvalid("count", f"is at most {SYNC_BATCH_MAX}")
    with transaction.atomic():
        batch = coupon_batch_create(
            campaign=campaign,
            count=count,
            coupon_pattern=coupon_pattern,
            length=None if coupon_pattern is not None else DEFAULT_CODE_LENGTH,
            valid_characters=valid_characters,
            unique_prefix=unique_prefix,
            attributes=attributes,
            **terms,
        )
        coupons = Coupon.objects.filter(application=application, batch_id=batch.batch_id)
        extra: dict[str, Any] = {}
        if is_reservation_mandatory:
            extra["is_reservation_mandatory"] = True
        if profile_redemption_limit:
            extra["profile_redemption_limit"] = profile_redemption_limit
        if extra:
            coupon_terms_check(
                usage_limit=0, discount_limit=0, profile_redemption_limit=profile_redemption_limit
            )
            coupons.update(**extra)
        return list(coupons.order_by("id"))


def coupons_generate_for_recipients(
    *,
    campaign: Campaign,
    recipients: Sequence[str],
    coupon_pattern: str | None = None,
    valid_characters: Sequence[str] | None = None,
    attributes: Mapping[str, Any] | None = None,
    **terms: Any,
) -> list[Coupon]:
    """One new coupon of the campaign for each of ``recipients`` (customer integration ids,
    up to ``RECIPIENTS_MAX``, each once), its recipient's alone; in one transaction, in the
    order of ``recipients`` (``createCouponsForMultipleRecipients``).

    The codes are a batch's (``coupon_batch_create``: random, from ``coupon_pattern`` or
    ``DEFAULT_CODE_LENGTH`` characters); ``terms`` are its terms but the recipient. Raises
    ``CouponInvalid`` (``recipients`` at fault: empty, too many, repeated, an id too long or
    empty) and ``CouponCodesExhausted``.
    """
    if not 1 <= len(recipients) <= RECIPIENTS_MAX:
        raise CouponInvalid("recipients", f"has 1 to {RECIPIENTS_MAX} integration ids")
    seen: set[str] = set()
    for recipient in recipients:
        if not 1 <= len(recipient) <= INTEGRATION_ID_MAX_LENGTH:
            raise CouponInvalid(
                "recipients", f"are integration ids of 1 to {INTEGRATION_ID_MAX_LENGTH} characters"
            )
        if recipient in seen:
            raise CouponInvalid("recipients", f"name {recipient!r} more than once")
        seen.add(recipient)
    with transaction.atomic():
        batch = coupon_batch_create(
            campaign=campaign,
            count=len(recipients),
            coupon_pattern=coupon_pattern,
            length=None if coupon_pattern is not None else DEFAULT_CODE_LENGTH,
            valid_characters=valid_characters,
            attributes=attributes,
            **terms,
        )
        coupons = list(
            Coupon.objects.filter(
                application=campaign.application, batch_id=batch.batch_id
            ).order_by("id")
        )
        for coupon, recipient in zip(coupons, recipients, strict=True):
            coupon.recipient_integration_id = recipient
        Coupon.objects.bulk_update(coupons, ["recipient_integration_id"], batch_size=1_000)
        return coupons
