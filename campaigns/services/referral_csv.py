"""Referrals in CSV files: import them into a campaign (``referrals_import_csv``) and export
them (``referrals_export_csv``), in Talon.One's columns.

Importing works as the coupons' import does (``campaigns.services.coupon_csv``): every row is
checked before any is written (codes repeated in the file or already in the application, a
missing advocate, a friend who is the advocate, bad dates, limits or attributes), each problem
is reported with its line and column, and only a file without problems is imported, in one
transaction, its referrals sharing a new ``batchId``. An export imports as it is: the columns
only an export has (``id``, ``counter``, …) are skipped, and ``friendprofileintegrationid``,
which Talon.One exports but does not document for imports, is read back.
"""

from __future__ import annotations

import contextlib
import secrets
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from campaigns.models import Application, Campaign, Referral
from campaigns.models.attributes import AttributeEntity
from campaigns.models.customers import INTEGRATION_ID_MAX_LENGTH
from campaigns.models.referrals import REFERRAL_CODE_MAX_LENGTH, REFERRAL_USAGE_LIMIT_MAX
from campaigns.services.attribute_values import attribute_definitions
from campaigns.services.coupon_batches import BATCH_ID_LENGTH
from campaigns.services.coupon_csv import EXPORT_CHUNK_SIZE, csv_cell, csv_writer
from campaigns.services.coupons import coupon_code_normalised
from campaigns.services.csv_import import (
    CsvLayout,
    ImportProblems,
    ImportResult,
    RowCheck,
    TooManyProblems,
    codes_taken_report,
    csv_rows_read,
)

REFERRAL_CODE_MIN_LENGTH: Final = 4
"""The shortest code an import takes (Talon.One's ``Referral.code`` has at least 4)."""

IMPORT_COLUMNS: Final = (
    "code",
    "advocateprofileintegrationid",
    "friendprofileintegrationid",
    "startdate",
    "expirydate",
    "limitval",
    "attributes",
)
"""The columns an import reads: ``code`` and ``advocateprofileintegrationid`` are required."""

EXPORT_COLUMNS: Final = (
    "id",
    "created",
    "campaignid",
    "advocateprofileintegrationid",
    "friendprofileintegrationid",
    "startdate",
    "expirydate",
    "code",
    "importid",
    "attributes",
    "batchid",
    "counter",
    "limitval",
)
"""Talon.One's export columns, in its order."""

_IMPORT_SKIPPED: Final = frozenset(set(EXPORT_COLUMNS) - set(IMPORT_COLUMNS))
"""Columns of an export that an import skips: what the server counts or assigns."""

IMPORT_LAYOUT: Final = CsvLayout(
    columns=IMPORT_COLUMNS,
    required=("code", "advocateprofileintegrationid"),
    key="code",
    noun="referrals",
    skipped=_IMPORT_SKIPPED,
)

EXCEL_DATE_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
"""``dateFormat=excel``: a time as spreadsheets read it (UTC, to the second)."""


@dataclass(frozen=True, slots=True)
class _ImportedReferral:
    line: int
    code: str
    advocate: str
    friend: str
    start_date: datetime | None
    expiry_date: datetime | None
    usage_limit: int
    attributes: dict[str, Any]


def referrals_import_csv(*, campaign: Campaign, rows: Iterable[str]) -> ImportResult:
    """Import the referrals of a CSV file into the campaign: all of them, or none.

    ``rows`` is the file's text (a stream opened with ``newline=""``, or its lines). The first
    row names the columns (``IMPORT_COLUMNS``, any order, any case; an export's own columns are
    skipped). Dates are RFC 3339; ``limitval`` defaults to 1 (0 is unlimited); ``attributes`` is
    a JSON object of custom ``Referral`` attributes. Codes are normalised by the application's
    case sensitivity. The result carries the referrals' new ``batch_id``, or every problem.
    """
    application = campaign.application
    definitions = attribute_definitions(application, AttributeEntity.REFERRAL)
    problems = ImportProblems()
    parsed: list[_ImportedReferral] = []
    with contextlib.suppress(TooManyProblems):
        parsed = csv_rows_read(
            rows,
            IMPORT_LAYOUT,
            read_row=lambda fields, line: _row_read(
                fields, line=line, application=application, definitions=definitions, error=problems
            ),
            key_of=lambda row: row.code,
            error=problems,
        )
        _codes_taken_report(parsed, application=application, error=problems)
    if problems:
        return problems.result()
    try:
        with transaction.atomic():
            batch_id = _batch_id_new(application)
            Referral.objects.bulk_create(
                (
                    Referral(
                        application=application,
                        campaign=campaign,
                        code=row.code,
                        advocate_profile_integration_id=row.advocate,
                        friend_profile_integration_id=row.friend,
                        start_date=row.start_date,
                        expiry_date=row.expiry_date,
                        usage_limit=row.usage_limit,
                        attributes=row.attributes,
                        batch_id=batch_id,
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
    return ImportResult(len(parsed), batch_id)


def _batch_id_new(application: Application) -> str:
    """A batch id no referral of the application has: 8 lower-case letters, as Talon.One's."""
    while True:
        candidate = "".join(secrets.choice(string.ascii_lowercase) for _ in range(BATCH_ID_LENGTH))
        if not Referral.objects.filter(application=application, batch_id=candidate).exists():
            return candidate


def _row_read(
    fields: Mapping[str, str],
    *,
    line: int,
    application: Application,
    definitions: Mapping[str, str],
    error: Callable[[int, str, str], None],
) -> _ImportedReferral | None:
    """One row, checked; None (and its problems reported) when something is wrong."""
    row = RowCheck(fields, line=line, error=error)
    code = coupon_code_normalised(application=application, value=fields["code"])
    if not REFERRAL_CODE_MIN_LENGTH <= len(code) <= REFERRAL_CODE_MAX_LENGTH:
        row.wrong(
            "code", f"has {REFERRAL_CODE_MIN_LENGTH} to {REFERRAL_CODE_MAX_LENGTH} characters"
        )
    advocate = fields["advocateprofileintegrationid"]
    friend = fields.get("friendprofileintegrationid", "")
    for column, value in (
        ("advocateprofileintegrationid", advocate),
        ("friendprofileintegrationid", friend),
    ):
        if len(value) > INTEGRATION_ID_MAX_LENGTH:
            row.wrong(column, f"has at most {INTEGRATION_ID_MAX_LENGTH} characters")
    if not advocate:
        row.wrong("advocateprofileintegrationid", "is required")
    elif friend == advocate:
        row.wrong(
            "friendprofileintegrationid", "is not the advocate: an advocate cannot refer themselves"
        )
    start, expiry = row.validity()
    usage_limit = row.usage_limit(REFERRAL_USAGE_LIMIT_MAX)
    attributes = row.attributes(definitions, entity=AttributeEntity.REFERRAL)
    if row.problems:
        return None
    return _ImportedReferral(line, code, advocate, friend, start, expiry, usage_limit, attributes)


def _codes_taken_report(
    rows: Sequence[_ImportedReferral],
    *,
    application: Application,
    error: Callable[[int, str, str], None],
) -> None:
    """Report the rows whose code the application already has."""
    codes_taken_report(
        rows,
        code_of=lambda row: row.code,
        line_of=lambda row: row.line,
        taken_among=lambda codes: Referral.objects.filter(
            application=application, code__in=codes
        ).values_list("code", flat=True),
        column="code",
        already="is already a referral of this application",
        error=error,
    )


def referrals_export_csv(
    *, application: Application, referrals: QuerySet[Referral], excel_dates: bool = False
) -> Iterator[str]:
    """The application's referrals of ``referrals`` as CSV lines (``EXPORT_COLUMNS``), the
    header first, in id order, made as they are read (``EXPORT_CHUNK_SIZE`` at a time): hand
    the iterator to a streaming response.

    Times are RFC 3339 in UTC, or ``2021-09-10 09:21:06`` (UTC) with ``excel_dates``;
    attributes a JSON object; ``importid`` is empty (imports are not recorded apart from
    their ``batchid``).
    """
    fields = (
        "id",
        "created",
        "campaign_id",
        "advocate_profile_integration_id",
        "friend_profile_integration_id",
        "start_date",
        "expiry_date",
        "code",
        "attributes",
        "batch_id",
        "usage_counter",
        "usage_limit",
    )
    numbers = {
        name
        for name, type_name in attribute_definitions(application, AttributeEntity.REFERRAL).items()
        if type_name in ("number", "(list number)")
    }
    writer = csv_writer()
    yield writer.writerow(EXPORT_COLUMNS)
    rows = (
        referrals.filter(application=application)
        .order_by("id")
        .values_list(*fields)
        .iterator(EXPORT_CHUNK_SIZE)
    )
    for values in rows:
        cells = [_cell(value, numbers, excel_dates=excel_dates) for value in values]
        cells.insert(EXPORT_COLUMNS.index("importid"), "")
        yield writer.writerow(cells)


def _cell(value: Any, numbers: set[str], *, excel_dates: bool) -> str:
    if excel_dates and isinstance(value, datetime):
        return value.astimezone(UTC).strftime(EXCEL_DATE_FORMAT)
    if isinstance(value, dict) and not value:
        return "{}"
    return csv_cell(value, numbers)
