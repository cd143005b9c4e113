"""Generating a million coupon codes for one campaign on PostgreSQL.

Setup
-----
A dedicated PostgreSQL database (``talonone_bench_coupons``, dropped and recreated on every
run, migrated with ``manage.py migrate``) holds one application (case-insensitive, stored upper
case, Talon.One's default) and one campaign. PostgreSQL keeps its durability settings (the run
prints them).

Work
----
``campaigns.services.coupon_batches.coupon_codes_generate`` in this process, as the Celery task
runs it but without a worker: ``--count`` codes (default 1,000,000) of ``--pattern`` (default
``SUMMER-####-####`` over ``[A-Z0-9]``: 36⁸, about 2.8e12 codes) in chunks of ``--chunk-size``
(default 10,000), one transaction and one ``INSERT … SELECT … FROM unnest(…) ON CONFLICT DO
NOTHING`` per chunk, into the ``campaigns_coupon`` table with its unique index on
``(application_id, value)``, its ``batch_id`` index and its check constraints. Timed:

- the codes alone: ``coupon_codes_random`` for the same count in memory (``secrets`` bytes,
  the pattern, the case normalisation, de-duplication), no database;
- the whole generation, wall clock, and the CPU of this process (the rest is PostgreSQL's, and
  waiting on it);
- a top-up of ``--count // 10`` more codes into the full table (the index is now large).

Then it checks the table: as many rows as codes asked for, all distinct, all of the pattern.

Run: ``.venv/bin/python -m benchmarks.coupon_generation [--count 1000000] [--json]``
(about 30 s for the default count on a 2-core machine). ``--keep-db`` leaves the database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import machine

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "talonone_bench_coupons"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
DEFAULT_PATTERN = "SUMMER-####-####"


def recreate_database(server: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        name = sql.Identifier(DB_NAME)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(server: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        name = sql.Identifier(DB_NAME)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def postgres_settings() -> dict[str, str]:
    from django.db import connection

    shown = {}
    with connection.cursor() as cursor:
        for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers"):
            cursor.execute(f"SHOW {name}")
            shown[name] = cursor.fetchone()[0]
    return shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="codes to generate")
    parser.add_argument("--chunk-size", type=int, default=None, help="codes per transaction")
    parser.add_argument("--pattern", default=DEFAULT_PATTERN)
    parser.add_argument("--pg", default=PG_SERVER, help="PostgreSQL server URL, no database")
    parser.add_argument("--keep-db", action="store_true", help="leave the database when done")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be positive")

    def progress(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    os.environ.update(
        {
            "DATABASE_URL": f"{args.pg}/{DB_NAME}",
            "DJANGO_SETTINGS_MODULE": "talonone.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "benchmark-only",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    progress(f"recreating database {DB_NAME} and migrating")
    recreate_database(args.pg)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=REPO,
            check=True,
        )
        import django

        django.setup()
        from django.db import connection

        from campaigns.models import Coupon
        from campaigns.models.applications import CaseSensitivity
        from campaigns.services.coupon_batches import (
            CHUNK_SIZE,
            coupon_code_format,
            coupon_codes_generate,
            coupon_codes_random,
        )
        from tests.factories import ApplicationFactory, CampaignFactory

        chunk_size = args.chunk_size or CHUNK_SIZE
        application = ApplicationFactory(
            name="Benchmark", case_sensitivity=CaseSensitivity.INSENSITIVE_UPPERCASE
        )
        campaign = CampaignFactory(application=application, name="Coupons")
        code_format = coupon_code_format(application=application, coupon_pattern=args.pattern)
        pg = postgres_settings()

        progress(f"drawing {args.count:,} codes in memory")
        start = time.perf_counter()
        drawn = coupon_codes_random(code_format, args.count)
        memory_seconds = time.perf_counter() - start
        del drawn

        progress(f"generating {args.count:,} codes, {chunk_size:,} per transaction")
        cpu_start, start = time.process_time(), time.perf_counter()
        created = coupon_codes_generate(
            campaign=campaign,
            count=args.count,
            code_format=code_format,
            batch_id="bench",
            chunk_size=chunk_size,
        )
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start

        top_up = max(args.count // 10, 1)
        progress(f"topping up {top_up:,} codes into the full table")
        start = time.perf_counter()
        coupon_codes_generate(
            campaign=campaign,
            count=top_up,
            code_format=code_format,
            batch_id="bench-top-up",
            chunk_size=chunk_size,
        )
        top_up_seconds = time.perf_counter() - start

        progress("checking the table")
        rows = Coupon.objects.filter(batch_id="bench").count()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT value), pg_total_relation_size('campaigns_coupon') "
                "FROM campaigns_coupon"
            )
            distinct, table_bytes = cursor.fetchone()
        sample = list(Coupon.objects.values_list("value", flat=True)[:1000])
        shape = re.compile(
            re.escape(args.pattern).replace("\\#", "[A-Z0-9]").replace("#", "[A-Z0-9]")
        )
        well_formed = all(shape.fullmatch(value) for value in sample)
        connection.close()
    finally:
        if not args.keep_db:
            with contextlib.suppress(Exception):  # Django may not be set up yet
                from django.db import connections

                connections.close_all()
            drop_database(args.pg)

    ok = created == rows == args.count and distinct == args.count + top_up and well_formed
    data: dict[str, Any] = {
        "benchmark": "benchmarks/coupon_generation.py",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine("django", "psycopg"),
        "command": " ".join(
            [os.path.basename(sys.executable), "-m", "benchmarks.coupon_generation", *sys.argv[1:]]
        ),
        "postgres": pg,
        "settings": {"count": args.count, "chunk_size": chunk_size, "pattern": args.pattern},
        "results": {
            "codes_in_memory_per_second": args.count / memory_seconds,
            "codes_in_memory_seconds": memory_seconds,
            "generation_seconds": seconds,
            "codes_per_second": args.count / seconds,
            "process_cpu_seconds": cpu_seconds,
            "process_cpu_share": cpu_seconds / seconds,
            "top_up_count": top_up,
            "top_up_seconds": top_up_seconds,
            "top_up_codes_per_second": top_up / top_up_seconds,
            "table_mb": table_bytes / 2**20,
        },
        "checks": {
            "created": created,
            "rows": rows,
            "distinct_in_table": distinct,
            "well_formed_sample": well_formed,
            "ok": ok,
        },
    }
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print_report(data)
    return 0 if ok else 1


def print_report(data: dict[str, Any]) -> None:
    m, r, c, s = data["machine"], data["results"], data["checks"], data["settings"]
    print(f"Coupon generation, {data['date']}")
    print(
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, "
        f"{m['implementation']} {m['python']}; Django {m['django']}, psycopg {m['psycopg']}"
    )
    pg = data["postgres"]
    print(
        f"PostgreSQL {pg['server_version']}: synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, shared_buffers={pg['shared_buffers']}"
    )
    print(f"Command: {data['command']}")
    print(f"Pattern {s['pattern']!r}, {s['count']:,} codes, {s['chunk_size']:,} per transaction")
    print()
    print(
        f"  codes in memory only   {r['codes_in_memory_per_second']:>12,.0f} codes/s"
        f"  ({r['codes_in_memory_seconds']:.2f} s)"
    )
    print(
        f"  generated and inserted {r['codes_per_second']:>12,.0f} codes/s"
        f"  ({r['generation_seconds']:.1f} s; this process's CPU {r['process_cpu_seconds']:.1f} s,"
        f" {r['process_cpu_share']:.0%})"
    )
    print(
        f"  top-up of {r['top_up_count']:,} into the full table"
        f" {r['top_up_codes_per_second']:>8,.0f} codes/s ({r['top_up_seconds']:.1f} s)"
    )
    print(f"  table and indexes      {r['table_mb']:>12,.0f} MB")
    print()
    print(
        f"Checks: {c['rows']:,} rows in the batch, {c['distinct_in_table']:,} distinct codes in"
        f" the table, sample well formed: {c['well_formed_sample']}"
        f" -> {'ok' if c['ok'] else 'FAILED'}"
    )


if __name__ == "__main__":
    sys.exit(main())
