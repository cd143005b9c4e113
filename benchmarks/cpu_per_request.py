"""CPU per ``PUT /v2/customer_sessions/{id}``, in process: the worker's and PostgreSQL's.

``session_update.py`` measures throughput under load, which follows the CPU each request costs
but also everything else the machine does. This script measures that CPU directly, one request
at a time, so that two versions of the code can be compared within a few percent on a machine
that is not quiet: it runs the same update as ``session_update.py`` (same database, workload
and body) through Django's WSGI handler in this process, and reads this process's CPU time and
that of its PostgreSQL backend (``/proc/<pid>/stat``) around each batch. With ``--bare``, the
bare view's instead.

The access log (``integration.access_log``) is measured apart: its background writer is off
here, and after each batch its entries are written (``flush``) in this thread, on the same
connection, and that CPU (Python and PostgreSQL) is reported per request as ``access log``.
A server's writer does the same work in a thread of the worker, on a connection of its own.

Run: ``.venv/bin/python -m benchmarks.cpu_per_request [--setup] [--bare] [--requests 1000]
[--batches 3] [--profile N]``. ``--setup`` (re)creates ``talonone_bench`` and seeds it as
``session_update.py`` does (it is needed once, and again after ``session_update.py``, which
drops the database); the key is kept in ``var/bench-key.json``. ``--profile N`` runs N requests
under cProfile instead, timed in CPU time, and prints the top functions."""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import session_update as su

SEED_FILE = Path(__file__).resolve().parent.parent / "var" / "bench-key.json"
SLOTS = 50
"""Session ids the requests rotate over (each an update after the warm-up)."""


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user and system) used so far by the process ``pid``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _profile(run: Callable[[int], None], count: int, dump: str | None = None) -> None:
    """Run ``count`` requests under cProfile, timed in this process's CPU time (waiting for
    PostgreSQL costs nothing here); print the functions by own and by total time, and write
    the statistics to ``dump`` (for ``pstats`` or snakeviz) if given."""
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(run, count)
    if dump:
        profiler.dump_stats(dump)
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", action="store_true", help="recreate and seed the database")
    parser.add_argument("--bare", action="store_true", help="measure the bare view")
    parser.add_argument("--requests", type=int, default=1000, help="requests per batch")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--pg", default=su.PG_SERVER, help="PostgreSQL server URL, no database")
    parser.add_argument("--redis-url", default=su.REDIS_URL)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="instead of measuring, run N requests under cProfile and print the top functions",
    )
    parser.add_argument("--profile-out", metavar="FILE", help="with --profile: save the stats")
    parser.add_argument(
        "--warm-only",
        metavar="BUILT",
        type=int,
        help="build BUILT requests, then send --requests of them and measure nothing "
        "(benchmarks.instructions counts this under Valgrind)",
    )
    args = parser.parse_args(argv)

    env = su.environment(args)
    workload = su.make_workload()
    profiles = [su.profile_id(0, slot) for slot in range(SLOTS)]
    bodies = [su.cart_body(workload, profile) for profile in profiles]
    if args.setup:
        su.recreate_database(args.pg)
        su.migrate(env)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from integration import access_log

    # Written by hand after each batch, so that its cost is measured apart (see the module).
    settings.ACCESS_LOG_WRITER = False

    if args.setup:
        seeded = su.seed(workload, profiles)
        SEED_FILE.write_text(json.dumps({"key": seeded.raw_key, "app": seeded.application_id}))
    seed = json.loads(SEED_FILE.read_text())
    if args.bare:
        os.environ["BENCH_APPLICATION_ID"] = str(seed["app"])
        settings.ROOT_URLCONF = "benchmarks.bare"
    runner = su.InProcess(seed["key"])

    def environ(index: int) -> dict[str, object]:
        path = f"/v2/customer_sessions/bench-0-{index % SLOTS}"
        return runner.environ(path, bodies[index % SLOTS])

    def run(count: int) -> None:
        for index in range(count):
            status, answer = runner.call(environ(index))
            if status != 200:
                raise SystemExit(f"status {status}: {answer[:500]!r}")

    run(2 * SLOTS)  # warm: compiled rules, cached application, every session created
    access_log.flush()
    if args.warm_only is not None:
        built = [environ(index) for index in range(args.warm_only)]
        for request in built[: args.requests]:
            status, answer = runner.call(request)
            if status != 200:
                raise SystemExit(f"status {status}: {answer[:500]!r}")
        access_log.flush()
        return 0
    if args.profile:
        _profile(run, args.profile, args.profile_out)
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    started = time.process_time()
    for index in range(args.requests):
        environ(index)
    building = (time.process_time() - started) / args.requests  # the harness's own cost
    name = "bare" if args.bare else "app"
    for _ in range(args.batches):
        cpu, backend, wall = time.process_time(), _backend_cpu(pid), time.perf_counter()
        run(args.requests)
        cpu = (time.process_time() - cpu) / args.requests - building
        backend = (_backend_cpu(pid) - backend) / args.requests
        wall = (time.perf_counter() - wall) / args.requests
        log_cpu, log_backend = time.process_time(), _backend_cpu(pid)
        logged = access_log.flush()
        log_cpu = (time.process_time() - log_cpu) / args.requests
        log_backend = (_backend_cpu(pid) - log_backend) / args.requests
        print(
            f"{name}: worker {1000 * cpu:.2f} ms, PostgreSQL {1000 * backend:.2f} ms "
            f"of CPU per request ({1000 * wall:.2f} ms wall); access log "
            f"({logged} entries) {1000 * log_cpu:.3f} + {1000 * log_backend:.3f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
