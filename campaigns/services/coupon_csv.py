"""Coupons in CSV files: import them (``coupons_import_csv``) and export them
(``coupons_export_csv``) in Talon.One's columns; the row problems and results that the
referrals' import (``campaigns.services.referral_csv``) shares.

**Importing** reads Talon.One's import columns, checks every row before writing any (bad dates,
numbers, undefined attributes, codes repeated in the file or already in the application) and
reports each problem with its line and column; only a file with no problem is imported, in one
transaction, as an imported ``CouponBatch``. **Exporting** streams Talon.One's export columns,
a chunk of rows at a time; a file it wrote imports as it is (the columns that only an export
has, such as ``id`` and ``counter``, are skipped).
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.models import Application, Campaign, Coupon, CouponBatch
from campaigns.models.coupons import COUPON_COUNT_LIMIT_MAX, COUPON_VALUE_MAX_LENGTH
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH, MONEY_DIGITS, MONEY_PLACES
from campaigns.services.attribute_values import attribute_definitions
from campaigns.services.coupon_batches import PATTERN_MIN_LENGTH, coupon_batch_insert
from campaigns.services.coupons import coupon_code_normalised
from campaigns.services.csv_import import (
    CsvLayout,
    ImportProblems,
    ImportResult,
    ImportRowError,
    RowCheck,
    TooManyProblems,
    codes_taken_report,
    csv_rows_read,
)

__all__ = ["ImportResult", "ImportRowError", "coupons_export_csv", "coupons_import_csv"]

EXPORT_CHUNK_SIZE: Final = 2_000
"""Rows read per round trip while exporting."""

_MONEY_MAX: Final = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)
_MONEY_QUANTUM: Final = Decimal(1).scaleb(-MONEY_PLACES)

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

IMPORT_LAYOUT: Final = CsvLayout(
    columns=IMPORT_COLUMNS,
    required=("value",),
    key="value",
    noun="coupons",
    aliases=_IMPORT_ALIASES,
    skipped=_IMPORT_SKIPPED,
)


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
    definitions = attribute_definitions(application, "Coupon")
    problems = ImportProblems()
    parsed: list[_ImportedRow] = []
    with contextlib.suppress(TooManyProblems):
        parsed = csv_rows_read(
            rows,
            IMPORT_LAYOUT,
            read_row=lambda fields, line: _import_row_read(
                fields, line=line, application=application, definitions=definitions, error=problems
            ),
            key_of=lambda row: row.value,
            error=problems,
        )
        _codes_taken_report(parsed, application=application, error=problems)
    if problems:
        return problems.result()
    try:
        with transaction.atomic():
            now = timezone.now()
            batch = coupon_batch_insert(
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
        with contextlib.suppress(TooManyProblems):
            _codes_taken_report(parsed, application=application, error=problems)
        if not problems:
            raise
        return problems.result()
    return ImportResult(len(parsed), batch.batch_id)


def _import_row_read(
    fields: Mapping[str, str],
    *,
    line: int,
    application: Application,
    definitions: Mapping[str, str],
    error: Callable[[int, str, str], None],
) -> _ImportedRow | None:
    """One row, checked; None (and its problems reported) when something is wrong."""
    row = RowCheck(fields, line=line, error=error)
    value = coupon_code_normalised(application=application, value=fields["value"])
    if not PATTERN_MIN_LENGTH <= len(value) <= COUPON_VALUE_MAX_LENGTH:
        row.wrong("value", f"has {PATTERN_MIN_LENGTH} to {COUPON_VALUE_MAX_LENGTH} characters")
    start, expiry = row.validity()
    recipient = fields.get("recipientintegrationid", "")
    if len(recipient) > INTEGRATION_ID_MAX_LENGTH:
        row.wrong("recipientintegrationid", f"has at most {INTEGRATION_ID_MAX_LENGTH} characters")
    usage_limit = row.usage_limit(COUPON_COUNT_LIMIT_MAX)
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
            row.wrong(
                "discountlimit",
                f"{text!r} is not an amount from 0 to below {_MONEY_MAX}"
                f" with at most {MONEY_PLACES} decimals",
            )
    attributes = row.attributes(definitions, entity="Coupon")
    if row.problems:
        return None
    return _ImportedRow(
        line, value, expiry, start, recipient, usage_limit, discount_limit, attributes
    )


def _codes_taken_report(
    rows: Sequence[_ImportedRow],
    *,
    application: Application,
    error: Callable[[int, str, str], None],
) -> None:
    """Report the rows whose code the application already has."""
    codes_taken_report(
        rows,
        code_of=lambda row: row.value,
        line_of=lambda row: row.line,
        taken_among=lambda codes: Coupon.objects.filter(
            application=application, value__in=codes
        ).values_list("value", flat=True),
        column="value",
        already="is already a coupon of this application",
        error=error,
    )


class _Echo:
    """A file that hands back what is written to it, for ``csv.writer`` to format one row."""

    def write(self, text: str) -> str:
        return text


def csv_writer() -> Any:
    """A ``csv.writer`` whose ``writerow`` returns the formatted line, for streaming."""
    return csv.writer(_Echo())


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
        for name, type_name in attribute_definitions(application, "Coupon").items()
        if type_name in ("number", "(list number)")
    }
    writer = csv_writer()
    yield writer.writerow(EXPORT_COLUMNS)
    for values in coupons.order_by("id").values_list(*fields).iterator(EXPORT_CHUNK_SIZE):
        yield writer.writerow([csv_cell(value, numbers) for value in values])


def csv_cell(value: Any, numbers: Collection[str] = ()) -> str:
    """A value as a CSV cell: times in RFC 3339 (UTC), amounts as plain decimals, attributes
    as a JSON object (``numbers`` names the number attributes, stored as text), None empty."""
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
