"""Coupon batches: codes by pattern, unique across the application, large batches filled by a
real Celery worker with progress to follow, CSV import that is all or nothing, CSV export that
streams and imports again.

The insert is PostgreSQL's ``INSERT … SELECT … FROM unnest(…) ON CONFLICT DO NOTHING``, so these
tests run on PostgreSQL.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Application, AttributeDefinition, Coupon, CouponBatch
from campaigns.models.applications import CaseSensitivity
from campaigns.services.coupon_batches import (
    CouponCodesExhausted,
    CouponPatternTooSmall,
    coupon_batch_create,
    coupon_batch_get,
    coupon_code_format,
    coupon_codes_generate,
)
from campaigns.services.coupon_csv import coupons_export_csv, coupons_import_csv
from campaigns.services.coupons import CouponInvalid
from campaigns.tasks import coupon_batch_generate
from tests.factories import (
    ApplicationFactory,
    AttributeDefinitionFactory,
    CampaignFactory,
    CouponFactory,
)
from tests.test_celery_worker import database_url_of_this_session

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the chunked insert is PostgreSQL's"
)

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_TIMEOUT = 120  # seconds for a 20,000-code batch, the worker's start included


def codes_of(batch: CouponBatch) -> list[str]:
    return list(
        Coupon.objects.filter(application=batch.application, batch_id=batch.batch_id)
        .order_by("value")
        .values_list("value", flat=True)
    )


# ---------------------------------------------------------------------------------------------
# Patterns


@pytest.mark.django_db
def test_codes_follow_the_pattern_with_only_the_valid_characters() -> None:
    campaign = CampaignFactory()

    batch = coupon_batch_create(
        campaign=campaign, count=200, coupon_pattern="SUMMER-####-##", valid_characters="AB12"
    )

    codes = codes_of(batch)
    assert len(codes) == len(set(codes)) == 200
    assert all(re.fullmatch(r"SUMMER-[AB12]{4}-[AB12]{2}", code) for code in codes)
    assert batch.status == CouponBatch.Status.DONE
    assert (batch.requested, batch.created_count, batch.progress) == (200, 200, 1.0)
    assert re.fullmatch(r"[a-z]{8}", batch.batch_id)


@pytest.mark.django_db
def test_a_length_between_a_unique_prefix_a_prefix_and_a_suffix() -> None:
    campaign = CampaignFactory()

    batch = coupon_batch_create(
        campaign=campaign,
        count=50,
        length=6,
        unique_prefix="XMAS24",
        prefix="-",
        suffix="-EU",
        batch_id="christmas",
    )

    assert batch.batch_id == "christmas"
    assert batch.coupon_pattern == "XMAS24-######-EU"
    assert all(re.fullmatch(r"XMAS24-[A-Z0-9]{6}-EU", code) for code in codes_of(batch))


@pytest.mark.django_db
def test_every_coupon_gets_the_batch_terms() -> None:
    campaign = CampaignFactory()
    AttributeDefinitionFactory(
        application=campaign.application,
        entity=AttributeDefinition.Entity.COUPON,
        name="venueId",
        type=AttributeDefinition.Type.NUMBER,
    )
    start, expiry = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)

    batch = coupon_batch_create(
        campaign=campaign,
        count=20,
        coupon_pattern="GIFT-#####",
        usage_limit=3,
        discount_limit=Decimal("25.50"),
        reservation_limit=2,
        start_date=start,
        expiry_date=expiry,
        recipient_integration_id="customer-1",
        attributes={"venueId": 12},
    )

    terms = list(
        Coupon.objects.filter(batch_id=batch.batch_id).values_list(
            "campaign_id",
            "usage_limit",
            "discount_limit",
            "reservation_limit",
            "start_date",
            "expiry_date",
            "recipient_integration_id",
            "attributes",
        )
    )
    assert terms == 20 * [
        (campaign.pk, 3, Decimal("25.50"), 2, start, expiry, "customer-1", {"venueId": "12"})
    ]


@pytest.mark.django_db
def test_an_application_that_ignores_case_gets_codes_in_its_case() -> None:
    application = ApplicationFactory(case_sensitivity=CaseSensitivity.INSENSITIVE_LOWERCASE)
    campaign = CampaignFactory(application=application)

    batch = coupon_batch_create(
        campaign=campaign, count=4, coupon_pattern="Promo-###", valid_characters=["a", "A", "B"]
    )

    # "a" and "A" are one character here: 2 characters, 8 codes, enough for 4 and no more.
    assert all(re.fullmatch(r"promo-[ab]{3}", code) for code in codes_of(batch))
    with pytest.raises(CouponPatternTooSmall) as refused:
        coupon_batch_create(
            campaign=campaign, count=5, coupon_pattern="Promo-###", valid_characters="aAB"
        )
    assert refused.value.space == 8


@pytest.mark.django_db
def test_a_pattern_with_too_few_codes_for_the_count_is_refused_before_writing() -> None:
    campaign = CampaignFactory()

    with pytest.raises(CouponPatternTooSmall, match="allows 4 distinct codes"):
        coupon_batch_create(
            campaign=campaign, count=3, coupon_pattern="AB##", valid_characters=["0", "1"]
        )

    assert not CouponBatch.objects.exists()
    assert not Coupon.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"coupon_pattern": "AB####", "length": 4}, "coupon_pattern"),
        ({}, "coupon_pattern"),
        ({"coupon_pattern": "#" * 101}, "coupon_pattern"),
        ({"length": 6, "prefix": "A#"}, "prefix"),
        ({"coupon_pattern": "AB####", "valid_characters": ["AB"]}, "valid_characters"),
        ({"coupon_pattern": "AB####", "valid_characters": []}, "valid_characters"),
        ({"coupon_pattern": "AB####", "usage_limit": 1_000_000}, "usage_limit"),
        ({"coupon_pattern": "AB####", "attributes": {"undefined": 1}}, "attributes"),
        (
            {
                "coupon_pattern": "AB####",
                "start_date": datetime(2025, 2, 1, tzinfo=UTC),
                "expiry_date": datetime(2025, 1, 1, tzinfo=UTC),
            },
            "expiry_date",
        ),
    ],
)
def test_a_request_that_does_not_check_writes_nothing(arguments: dict, field: str) -> None:
    campaign = CampaignFactory()

    with pytest.raises(CouponInvalid) as refused:
        coupon_batch_create(campaign=campaign, count=10, **arguments)

    assert refused.value.field == field
    assert not CouponBatch.objects.exists()


# ---------------------------------------------------------------------------------------------
# Uniqueness across the application


def all_codes(prefix: str, width: int) -> list[str]:
    return [prefix + format(n, f"0{width}b") for n in range(2**width)]


@pytest.mark.django_db
def test_codes_skip_every_code_the_application_has_and_top_up_the_collisions() -> None:
    application = ApplicationFactory()
    campaign = CampaignFactory(application=application)
    space = all_codes("C-", 5)  # 32 codes of "0" and "1"
    taken = space[::2]
    for code in taken:  # another campaign of the same application has half the space
        CouponFactory(campaign=CampaignFactory(application=application), value=code)
    other_application = CampaignFactory()
    for code in space[1::2]:  # another application's codes do not count
        CouponFactory(campaign=other_application, value=code)

    batch = coupon_batch_create(
        campaign=campaign, count=16, coupon_pattern="C-#####", valid_characters="01"
    )

    assert codes_of(batch) == sorted(set(space) - set(taken))
    assert batch.created_count == 16


@pytest.mark.django_db
def test_codes_are_unique_across_batches_of_the_application() -> None:
    application = ApplicationFactory()
    first, second = CampaignFactory.create_batch(2, application=application)
    code_format = coupon_code_format(
        application=application, coupon_pattern="X######", valid_characters="01"
    )

    made = [
        coupon_codes_generate(campaign=campaign, count=32, code_format=code_format, chunk_size=7)
        for campaign in (first, second)
    ]

    assert made == [32, 32]
    values = list(Coupon.objects.filter(application=application).values_list("value", flat=True))
    assert sorted(values) == sorted(set(values))
    assert len(values) == 64  # the whole space of 2⁶ codes


@pytest.mark.django_db
def test_a_space_the_application_has_filled_stops_generation_and_writes_nothing() -> None:
    application = ApplicationFactory()
    campaign = CampaignFactory(application=application)
    for code in all_codes("C-", 5)[:30]:
        CouponFactory(campaign=campaign, value=code)

    with pytest.raises(CouponCodesExhausted):
        coupon_batch_create(
            campaign=campaign, count=16, coupon_pattern="C-#####", valid_characters="01"
        )

    assert Coupon.objects.count() == 30
    assert not CouponBatch.objects.exists()


# ---------------------------------------------------------------------------------------------
# Large batches: the Celery task


@pytest.mark.django_db
def test_a_large_batch_is_left_pending_for_the_task() -> None:
    campaign = CampaignFactory()

    batch = coupon_batch_create(campaign=campaign, count=2_500, coupon_pattern="BIG-########")

    assert batch.status == CouponBatch.Status.PENDING
    assert batch.created_count == 0
    assert not Coupon.objects.exists()


@pytest.mark.django_db
def test_the_task_resumes_a_batch_and_a_second_run_adds_nothing() -> None:
    campaign = CampaignFactory()
    batch = coupon_batch_create(campaign=campaign, count=2_500, coupon_pattern="BIG-########")
    # A first run that died after its first chunk: 1,000 coupons, counted, batch running.
    code_format = coupon_code_format(
        application=campaign.application, coupon_pattern=batch.coupon_pattern
    )
    coupon_codes_generate(
        campaign=campaign, count=1_000, code_format=code_format, batch_id=batch.batch_id
    )
    CouponBatch.objects.filter(pk=batch.pk).update(status="running", created_count=1_000)

    first = coupon_batch_generate(batch.pk)
    second = coupon_batch_generate(batch.pk)

    expected = {
        "batchId": batch.batch_id,
        "status": "done",
        "requested": 2_500,
        "created": 2_500,
    }
    assert first == second == expected
    assert Coupon.objects.filter(batch_id=batch.batch_id).count() == 2_500
    batch.refresh_from_db()
    assert batch.finished_at is not None


@pytest.mark.django_db
def test_a_batch_whose_codes_run_out_fails_with_the_reason() -> None:
    application = ApplicationFactory()
    campaign = CampaignFactory(application=application)
    batch = coupon_batch_create(
        campaign=campaign, count=1_024, coupon_pattern="C-###########", valid_characters="01"
    )
    space = all_codes("C-", 11)
    Coupon.objects.bulk_create(
        Coupon(application=application, campaign=campaign, value=code) for code in space[:-500]
    )

    result = coupon_batch_generate(batch.pk)

    assert result is not None
    assert (result["status"], result["created"]) == ("failed", 500)
    batch.refresh_from_db()
    assert "is taken in the application" in batch.error
    assert coupon_batch_generate(batch.pk) == result  # a failed batch stays as it is


def test_the_task_ignores_a_batch_that_no_longer_exists(db: None) -> None:
    assert coupon_batch_generate(10**9) is None


@pytest.fixture
def celery_worker_process(tmp_path: Path) -> Iterator[None]:
    """A real worker on the default queue, with this process's broker and the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_this_session(),
        "DJANGO_SETTINGS_MODULE": "talonone.settings",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "talonone",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--hostname",
                f"batches-{uuid.uuid4().hex}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        print("--- worker log ---\n" + log_path.read_text())  # shown if the test failed


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_fills_a_large_batch_with_progress_to_follow(
    celery_worker_process: None,
) -> None:
    campaign = CampaignFactory()
    application = campaign.application

    batch = coupon_batch_create(
        campaign=campaign, count=20_000, coupon_pattern="BULK-########", usage_limit=2
    )

    seen = [batch.created_count]
    deadline = time.monotonic() + WORKER_TIMEOUT
    while batch.status in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        batch = coupon_batch_get(application=application, batch_id=batch.batch_id)
        seen.append(batch.created_count)
    assert batch.status == CouponBatch.Status.DONE, batch.error
    assert seen == sorted(seen)  # progress only grows
    assert batch.created_count == 20_000
    coupons = Coupon.objects.filter(application=application, batch_id=batch.batch_id)
    assert coupons.count() == coupons.values("value").distinct().count() == 20_000
    assert set(coupons.values_list("usage_limit", flat=True)) == {2}

    assert coupon_batch_generate(batch.pk) == {  # run again: nothing more
        "batchId": batch.batch_id,
        "status": "done",
        "requested": 20_000,
        "created": 20_000,
    }
    assert coupons.count() == 20_000


# ---------------------------------------------------------------------------------------------
# CSV import and export


def define_coupon_attributes(application: Application) -> None:
    """The application's ``category`` (string) and ``weight`` (number) coupon attributes."""
    AttributeDefinitionFactory(
        application=application,
        entity=AttributeDefinition.Entity.COUPON,
        name="category",
        type=AttributeDefinition.Type.STRING,
    )
    AttributeDefinitionFactory(
        application=application,
        entity=AttributeDefinition.Entity.COUPON,
        name="weight",
        type=AttributeDefinition.Type.NUMBER,
    )


GOOD_FILE = (
    '"value","expirydate","startdate","recipientintegrationid","limitval","attributes",'
    '"discountlimit"\n'
    'COUP1,2018-07-01T04:00:00Z,2018-05-01T04:00:00Z,cust123,1,"{""category"":\n'
    '""10_off""}",2.4\n'
    "coup2,,,,0,,\n"
    "\n"
    'COUP3,2030-01-01T00:00:00+02:00,,,5,"{""weight"": 1.25}",100\n'
)


@pytest.mark.django_db
def test_a_good_file_is_imported_in_the_application_case() -> None:
    application = ApplicationFactory(case_sensitivity=CaseSensitivity.INSENSITIVE_UPPERCASE)
    define_coupon_attributes(application)
    campaign = CampaignFactory(application=application)

    result = coupons_import_csv(campaign=campaign, rows=io.StringIO(GOOD_FILE, newline=""))

    assert result.ok
    assert result.imported == 3
    coupons = {c.value: c for c in Coupon.objects.filter(batch_id=result.batch_id)}
    assert sorted(coupons) == ["COUP1", "COUP2", "COUP3"]
    first, second, third = coupons["COUP1"], coupons["COUP2"], coupons["COUP3"]
    assert (first.start_date, first.expiry_date) == (
        datetime(2018, 5, 1, 4, tzinfo=UTC),
        datetime(2018, 7, 1, 4, tzinfo=UTC),
    )
    assert (first.recipient_integration_id, first.usage_limit) == ("cust123", 1)
    assert (first.discount_limit, first.attributes) == (Decimal("2.4"), {"category": "10_off"})
    assert (second.usage_limit, second.discount_limit, second.attributes) == (0, 0, {})
    assert third.expiry_date == datetime(2029, 12, 31, 22, tzinfo=UTC)
    assert third.attributes == {"weight": "1.25"}
    batch = coupon_batch_get(application=application, batch_id=result.batch_id)
    assert (batch.source, batch.status, batch.created_count) == ("imported", "done", 3)


@pytest.mark.django_db
def test_a_file_with_any_wrong_row_imports_nothing_and_says_where_each_problem_is() -> None:
    application = ApplicationFactory()
    define_coupon_attributes(application)
    campaign = CampaignFactory(application=application)
    CouponFactory(campaign=campaign, value="TAKEN")
    lines = [
        "value,expirydate,startdate,limitval,discountlimit,attributes",
        "GOOD1,,,,,",  # line 2
        "BADDATE,tomorrow,,,,",  # 3
        "BADLIMIT,,,-1,,",  # 4
        'BADATTR,,,,,"{""colour"": ""red""}"',  # 5
        "GOOD1,,,,,",  # 6: repeats line 2
        "TAKEN,,,,,",  # 7
        "BADMONEY,,,,1.2345678,",  # 8
        "BACKWARDS,2025-01-01T00:00:00Z,2025-02-01T00:00:00Z,,,",  # 9
        'BADTYPE,,,,,"{""weight"": ""heavy""}"',  # 10
        "SHORT,,",  # 11
        "AB,,,,,",  # 12
    ]

    result = coupons_import_csv(campaign=campaign, rows=[line + "\n" for line in lines])

    assert not result.ok
    assert result.imported == 0
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "expirydate"),
        (4, "limitval"),
        (5, "attributes"),
        (6, "value"),
        (7, "value"),
        (8, "discountlimit"),
        (9, "expirydate"),
        (10, "attributes"),
        (11, ""),
        (12, "value"),
    ]
    assert "already on line 2" in result.errors[3].message
    assert "'colour' is not a custom attribute of coupons" in result.errors[2].message
    assert str(result.errors[0]).startswith("line 3, column expirydate:")
    assert list(Coupon.objects.values_list("value", flat=True)) == ["TAKEN"]
    assert not CouponBatch.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(1, "")]),
        ("expirydate\n2025-01-01T00:00:00Z\n", [(1, "value")]),
        ("value,colour\nABC,red\n", [(1, "colour")]),
        ("value\n", [(2, "")]),
    ],
)
def test_a_file_whose_header_is_wrong_imports_nothing(
    text: str, expected: list[tuple[int, str]]
) -> None:
    result = coupons_import_csv(campaign=CampaignFactory(), rows=io.StringIO(text))

    assert [(e.line, e.column) for e in result.errors] == expected
    assert not Coupon.objects.exists()


@pytest.mark.django_db
def test_an_export_streams_and_imports_again_into_another_campaign() -> None:
    source = CampaignFactory()
    define_coupon_attributes(source.application)
    coupons_import_csv(campaign=source, rows=io.StringIO(GOOD_FILE, newline=""))
    coupon_batch_create(campaign=source, count=300, coupon_pattern="EXP-######", usage_limit=4)
    CouponFactory(campaign=CampaignFactory(application=source.application), value="ELSEWHERE")

    lines = coupons_export_csv(application=source.application, campaign=source)

    assert isinstance(lines, types.GeneratorType)
    with CaptureQueriesContext(connection) as queries:
        header = next(lines)
        rows = list(lines)
    assert len(queries) == 2  # the coupon attributes' types, and one cursor read in chunks
    assert header.startswith("id,created,campaignid,value,expirydate,startdate,attributes,")
    assert len(rows) == 303

    target = CampaignFactory()
    define_coupon_attributes(target.application)
    result = coupons_import_csv(campaign=target, rows=io.StringIO(header + "".join(rows)))

    assert result.ok, result.errors
    assert result.imported == 303
    fields = (
        "value",
        "usage_limit",
        "discount_limit",
        "start_date",
        "expiry_date",
        "recipient_integration_id",
        "attributes",
    )
    exported = Coupon.objects.filter(campaign=source).values_list(*fields)
    imported = Coupon.objects.filter(campaign=target).values_list(*fields)
    assert sorted(imported) == sorted(exported)


@pytest.mark.django_db
def test_an_export_of_the_whole_application_has_every_campaign() -> None:
    application = ApplicationFactory()
    for campaign in CampaignFactory.create_batch(2, application=application):
        CouponFactory(campaign=campaign)
    CouponFactory()  # another application's

    lines = list(coupons_export_csv(application=application))

    assert len(lines) == 3
