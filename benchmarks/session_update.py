"""``PUT /v2/customer_sessions/{id}`` under gunicorn on PostgreSQL, against a bare Django view.

Setup
-----
A dedicated PostgreSQL database (``talonone_bench``, dropped and recreated on every run,
migrated with ``manage.py migrate``) holds one application with an API key, a ``Country``
profile attribute and 100 running campaigns: ``benchmarks/engine.py``'s workload, one rule each,
``(Session.Total > X and Profile.Attributes.Country = C) or (exists Item in Session.CartItems
with Item.Category = K and Item.Quantity >= 2)``, firing ``setDiscount`` of 10 % of the total.
Profiles are seeded with ``Country = "CA"``. Two gunicorn servers run on 127.0.0.1, each with
``--workers 2`` sync workers (the machine has 2 cores), ``DEBUG`` off, a secret key, and
``REDIS_URL`` set (the cache, hence the signatures' replay guard, is Redis):

- **app**: ``talonone.wsgi``, the real endpoint;
- **bare**: the same project and middleware with ``benchmarks.bare`` as the URLconf: a plain
  Django view that parses the same body and, in one transaction, upserts the session row and
  replaces its items in hand-written SQL (3 statements and the commit). It is the floor.

PostgreSQL keeps its durability settings (``fsync``, ``synchronous_commit``; the run prints
them and times a one-row commit on the same database).

Load
----
``--concurrency`` client threads (default 4) in this process, each with its own
``http.client`` connection, send ``PUT /v2/customer_sessions/<id>`` back to back (a closed
loop: a thread sends its next request when the previous one is answered) with the same
10-item cart (about 1.5 KB; ``engine.py``'s cart, with product names and weights),
``Authorization: ApiKey-v1 …`` and ``responseContent: [customerSession, customerProfile]``.
gunicorn's sync workers close the connection after each answer, so a client reconnects for
every request, as any client of a sync worker does. Each client thread rotates over its own
``--sessions`` session ids (default 50, each with its own profile), so after the warm-up every
request updates an existing session: locks it, replaces its 10 items and evaluates the 100
campaigns; ``--sessions 0`` creates a new session with every request instead.

Every answer is checked: a status other than 200, or effects other than the expected ones
(which campaigns, in which order, with which discount to the cent) or the wrong session total,
count as errors. The expected effects come from ``engine.py``'s hand-written function and the
capping rule (a discount never exceeds what is left of the total), and one in-process request
is checked against them before the load starts. The bare view's answers must carry the
session's total.

To make the two servers' figures comparable in spite of the machine's drifting speed, each gets
``--seconds`` of measurement split into ``--rounds`` segments (default 4 of 5 s) run in ABBA
order (app, bare, bare, app, app, bare, bare, app), each after a warm-up (``--warmup`` seconds
before a server's first segment, 1 s before the others). Reported: requests/s, latency
p50/p90/p99/max from send to the answer read (connection included), errors, and the CPU each
party used per request, read from ``/proc``: the client threads, the gunicorn workers,
PostgreSQL, and "other" (other processes, the kernel's own work, time stolen by the hypervisor):
a segment with much "other" ran beside something else. The client's ceiling is measured too:
the same client, with the same checks, against a stub server in another process that answers
the app's canned response at once.

Targets (from the issue): the app's throughput at least 70 % of the bare view's, and its p99 at
most 50 ms at concurrency 4.

Profile
-------
After the load, with the servers stopped, the same request runs in this process through
Django's WSGI handler (middleware, URL resolution, DRF, the view, the response), on session ids
that exist (the update path): ``--profile-requests`` requests plain, then the same number with
timers around the parts, then under ``cProfile``. The timers split each request into
authentication, body parsing (JSON, then validation), the attribute schema, the session
service's own Python (the ORM included), evaluation (the compiled rules lookup, the binding,
the rules, the discounts), rendering, the commit, and what remains (Django, DRF, middleware).
Each SQL statement is counted and timed with ``connection.execute_wrapper`` and charged to
the part that issued it (its time runs from the ORM handing the statement to psycopg until
psycopg returns: psycopg's own Python, adapting parameters and reading the result, and the
round trip; building the statement is the ORM's, in its caller's Python time). The commit and
the connection's per-request health check (``CONN_HEALTH_CHECKS``, a ``SELECT 1`` outside the
cursor wrappers) are timed apart. The bare view gets the plain and the timed runs too.
``cProfile`` (app only) gives the top functions by own time, and own time by package.

Run: ``.venv/bin/python -m benchmarks.session_update [--seconds 20] [--concurrency 4] [--json]``
(a little under 2 minutes with the defaults). ``--keep-db`` leaves the database for inspection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import http.client
import json
import math
import multiprocessing
import os
import pstats
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from benchmarks.common import machine
from benchmarks.engine import (
    CENT,
    DISCOUNT_RATE,
    PROFILE_COUNTRY,
    SEED,
    Campaign,
    handwritten_engine,
    make_binding,
    make_campaigns,
    talang_rule,
    to_json_data,
)

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "talonone_bench"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/14"
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 10.0
RESPONSE_CONTENT = ["customerSession", "customerProfile"]

TARGET_THROUGHPUT_RATIO = 0.70
TARGET_P99_MS = 50.0

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Check = Callable[[int, bytes], str | None]
"""A response's status and body → ``None`` if it is right, else what is wrong."""


# ---------------------------------------------------------------------------------------------
# The workload


@dataclass(frozen=True)
class Workload:
    campaigns: list[Campaign]
    binding: dict[str, Any]
    total: Decimal
    expected: list[tuple[int, Decimal]]
    """The effects the endpoint must answer: (campaign index, discount), in order."""
    fired: int


def make_workload() -> Workload:
    import random

    rng = random.Random(SEED)
    campaigns = make_campaigns(rng)
    binding = make_binding(rng)
    hand = handwritten_engine(campaigns, binding, with_effect=True)
    fired = hand.run(binding)
    total = binding["Session"]["Total"]
    # The campaigns are evaluated in the order they were created; each discount is rounded half
    # up to the cent and never more than what is left of the total (campaigns.evaluation).
    remaining = total
    expected = []
    for index in sorted(fired):
        wanted = (total * DISCOUNT_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
        value = min(wanted, remaining)
        if value <= 0:
            continue
        remaining -= value
        expected.append((index, value))
    return Workload(campaigns, binding, total, expected, len(fired))


def cart_body(workload: Workload, profile_id: str) -> bytes:
    """The request body: the workload's cart, compact JSON as an SDK sends it."""
    items = []
    for item in workload.binding["Session"]["CartItems"]:
        items.append(
            {
                "sku": item["SKU"],
                "name": item["Name"],
                "category": item["Category"],
                "product": {"name": f"{item['Category'].title()} collection {item['SKU'][-3:]}"},
                "quantity": int(item["Quantity"]),
                "price": float(item["Price"]),
                "weight": 350 + 25 * len(items),
            }
        )
    body = {
        "customerSession": {"profileId": profile_id, "state": "open", "cartItems": items},
        "responseContent": RESPONSE_CONTENT,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def profile_id(worker: int, slot: int) -> str:
    return f"bench-customer-{worker}-{slot}"


# ---------------------------------------------------------------------------------------------
# Database, seed and servers


def environment(args: argparse.Namespace) -> dict[str, str]:
    """The environment of this process's Django and of the servers (set here too)."""
    values = {
        "DATABASE_URL": f"{args.pg}/{DB_NAME}",
        "REDIS_URL": args.redis_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "talonone.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    os.environ.update(values)
    return dict(os.environ)


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


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
    )


@dataclass(frozen=True)
class Seeded:
    application_id: int
    raw_key: str
    campaign_ids: list[int]
    """Campaign pks by workload index."""
    ruleset_ids: dict[int, int]


def seed(workload: Workload, profiles: list[str]) -> Seeded:
    from django.utils import timezone

    from campaigns.models import AttributeDefinition, CustomerProfile
    from campaigns.services.keys import integration_key_create
    from campaigns.services.rulesets import ruleset_create
    from tests.factories import ApplicationFactory, CampaignFactory

    application = ApplicationFactory(name="Benchmark", currency="EUR", timezone="UTC")
    AttributeDefinition.objects.create(
        application=application,
        entity=AttributeDefinition.Entity.CUSTOMER_PROFILE,
        name="Country",
        title="Country",
        type=AttributeDefinition.Type.STRING,
    )
    _, raw_key = integration_key_create(
        application=application, name="benchmark", expires_at=timezone.now() + timedelta(days=1)
    )
    campaign_ids = []
    ruleset_ids = {}
    for campaign in workload.campaigns:
        made = CampaignFactory(application=application, name=campaign.name)
        rule = to_json_data(talang_rule(campaign, with_effect=True))
        ruleset = ruleset_create(campaign=made, rules=[rule], activate=True)
        campaign_ids.append(made.pk)
        ruleset_ids[made.pk] = ruleset.pk
    CustomerProfile.objects.bulk_create(
        CustomerProfile(
            application=application,
            integration_id=profile,
            attributes={"Country": PROFILE_COUNTRY},
        )
        for profile in profiles
    )
    return Seeded(application.pk, raw_key, campaign_ids, ruleset_ids)


def postgres_settings(server: str) -> dict[str, Any]:
    """Durability settings, and the time of a one-row insert's commit in the bench database."""
    import psycopg

    raw = psycopg.connect(f"{server}/{DB_NAME}")
    shown: dict[str, Any] = {}
    for name in ("synchronous_commit", "fsync", "wal_sync_method", "full_page_writes"):
        shown[name] = raw.execute(f"SHOW {name}").fetchone()[0]
    shown["version"] = raw.execute("SELECT version()").fetchone()[0].split(" on ")[0]
    raw.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (n integer)")
    raw.commit()
    commits = []
    for n in range(200):
        raw.execute("INSERT INTO bench_commit_probe VALUES (%s)", [n])
        start = time.perf_counter()
        raw.commit()
        commits.append(time.perf_counter() - start)
    raw.execute("DROP TABLE bench_commit_probe")
    raw.commit()
    raw.close()
    commits.sort()
    shown["commit_ms_p50"] = commits[len(commits) // 2] * 1e3
    shown["commit_ms_p99"] = percentile(commits, 0.99) * 1e3
    return shown


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Any

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def log_tail(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]


def start_server(name: str, env: dict[str, str], workers: int) -> Server:
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Server.stop
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "talonone.wsgi",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"{HOST}:{port}",
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    return Server(name, port, process, log)


def wait_ready(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            connection = http.client.HTTPConnection(HOST, server.port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the {server.name} server did not start:\n{server.log_tail()}")


# ---------------------------------------------------------------------------------------------
# CPU accounting from /proc


def cpu_snapshot() -> tuple[float, dict[int, tuple[str, int, float]]]:
    """The machine's busy CPU seconds, and each process's (name, parent, CPU seconds)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    busy = (sum(values) - values[3] - values[4]) / CLOCK_TICKS  # minus idle and iowait
    processes = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue
        end = text.rfind(")")
        rest = text[end + 2 :].split()
        ticks = int(rest[11]) + int(rest[12])
        processes[int(entry.name)] = (text[text.find("(") + 1 : end], int(rest[1]), ticks)
    return busy, {
        pid: (name, parent, t / CLOCK_TICKS) for pid, (name, parent, t) in processes.items()
    }


def cpu_by_party(
    before: tuple[float, dict[int, tuple[str, int, float]]],
    after: tuple[float, dict[int, tuple[str, int, float]]],
    server_pid: int | None,
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU seconds between two snapshots: client, server, postgres, redis, other; and the
    other processes that used the most (those alive at the second snapshot), by name."""
    parties: dict[str, float] = defaultdict(float)
    others: Counter[str] = Counter()
    me = os.getpid()
    for pid, (name, parent, seconds) in after[1].items():
        used = seconds - (before[1][pid][2] if pid in before[1] else 0.0)
        if pid == me:
            party = "client"
        elif server_pid is not None and (pid == server_pid or parent == server_pid):
            party = "server"
        elif name.startswith("postgres"):
            party = "postgres"
        elif name.startswith("redis"):
            party = "redis"
        else:
            if used > 0:
                others[name] += used
            continue
        parties[party] += used
    parties["machine"] = after[0] - before[0]
    parties["other"] = parties["machine"] - sum(
        parties[p] for p in ("client", "server", "postgres", "redis")
    )
    return dict(parties), dict(others.most_common(3))


# ---------------------------------------------------------------------------------------------
# The load generator


@dataclass
class Requests:
    """What each client thread sends: ``(path, body)`` for its n-th request."""

    bodies: list[list[bytes]]
    sessions: int
    tag: str = ""

    def for_worker(self, worker: int) -> Iterator[tuple[str, bytes]]:
        bodies = self.bodies[worker]
        n = 0
        while True:
            slot = n % len(bodies)
            if self.sessions:
                session = f"bench-{worker}-{n % self.sessions}"
            else:
                session = f"bench-{self.tag}-{worker}-{n}"
            yield f"/v2/customer_sessions/{session}", bodies[slot]
            n += 1


@dataclass
class Segment:
    target: str
    wall: float
    latencies: list[float]
    errors: Counter[str]
    cpu: dict[str, float] = field(default_factory=dict)
    others: dict[str, float] = field(default_factory=dict)
    """The other processes that used the most CPU seconds, by name."""

    @property
    def requests(self) -> int:
        return len(self.latencies)


def drive(
    port: int,
    requests: Requests,
    headers: dict[str, str],
    check: Check,
    seconds: float,
    concurrency: int,
    target: str,
    server_pid: int | None,
) -> Segment:
    """``concurrency`` threads sending requests back to back for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[Counter[str]] = [Counter() for _ in range(concurrency)]
    start_line = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def client(worker: int) -> None:
        mine, wrong = latencies[worker], errors[worker]
        stream = requests.for_worker(worker)
        connection: http.client.HTTPConnection | None = None
        start_line.wait()
        clock = time.perf_counter
        while clock() < deadline[0]:
            path, body = next(stream)
            status, data, problem = 0, b"", None
            started = clock()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
                connection.request("PUT", path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                problem = f"{type(error).__name__}: {error}"[:120]
                if connection is not None:
                    connection.close()
                connection = None
            mine.append(clock() - started)
            if problem is None:
                problem = check(status, data)
            if problem is not None:
                wrong[problem] += 1
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu_before = cpu_snapshot()
    started = time.perf_counter()
    deadline[0] = started + seconds
    start_line.wait()
    for thread in threads:
        thread.join(seconds + 3 * REQUEST_TIMEOUT)
    wall = time.perf_counter() - started
    cpu, others = cpu_by_party(cpu_before, cpu_snapshot(), server_pid)
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("a client thread did not stop")
    merged: Counter[str] = Counter()
    for counter in errors:
        merged.update(counter)
    return Segment(target, wall, [x for part in latencies for x in part], merged, cpu, others)


def app_check(workload: Workload, seeded: Seeded) -> Check:
    expected = [
        (seeded.campaign_ids[index], "setDiscount", workload.campaigns[index].name, value)
        for index, value in workload.expected
    ]
    total = workload.total

    def check(status: int, data: bytes) -> str | None:
        if status != 200:
            return f"status {status}"
        try:
            body = json.loads(data, parse_float=Decimal)
            got = [
                (e["campaignId"], e["effectType"], e["props"]["name"], e["props"]["value"])
                for e in body["effects"]
            ]
            session_total = body["customerSession"]["total"]
        except (ValueError, KeyError, TypeError):
            return "malformed answer"
        if got != expected:
            return "unexpected effects"
        if session_total != total:
            return "wrong session total"
        return None

    return check


def bare_check(workload: Workload) -> Check:
    total = workload.total

    def check(status: int, data: bytes) -> str | None:
        if status != 200:
            return f"status {status}"
        try:
            session = json.loads(data)["customerSession"]
        except (ValueError, KeyError, TypeError):
            return "malformed answer"
        if Decimal(session["total"]) != total or session["cartItems"] != 10:
            return "wrong session"
        return None

    return check


def stub_server(listener: socket.socket, answer: bytes) -> None:
    """Answer every request at once with ``answer``, then close (as a sync worker does)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, sock=listener, backlog=128)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def client_ceiling(
    requests: Requests,
    headers: dict[str, str],
    check: Check,
    body: bytes,
    seconds: float,
    concurrency: int,
) -> Segment:
    """The same client, with the same checks, against a server that costs next to nothing."""
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    process = multiprocessing.get_context("fork").Process(
        target=stub_server, args=(listener, answer), daemon=True
    )
    process.start()
    listener.close()
    try:
        return drive(port, requests, headers, check, seconds, concurrency, "stub", process.pid)
    finally:
        process.terminate()
        process.join(5)


# ---------------------------------------------------------------------------------------------
# In-process runs and the profile


class InProcess:
    """Requests through Django's WSGI handler in this process, as gunicorn calls it."""

    def __init__(self, raw_key: str) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.test import RequestFactory

        self.handler = WSGIHandler()
        self.factory = RequestFactory()
        self.headers = {"HTTP_AUTHORIZATION": f"ApiKey-v1 {raw_key}", "HTTP_HOST": HOST}

    def environ(self, path: str, body: bytes) -> dict[str, Any]:
        request = self.factory.generic(
            "PUT", path, data=body, content_type="application/json", **self.headers
        )
        return request.environ

    def call(self, environ: dict[str, Any]) -> tuple[int, bytes]:
        status: list[str] = []

        def start_response(line: str, headers: Any, exc_info: Any = None) -> None:
            status.append(line)

        response = self.handler(environ, start_response)
        try:
            content = b"".join(response)
        finally:
            response.close()  # sends request_finished, as a WSGI server does
        return int(status[0].split(" ", 1)[0]), content


class Timers:
    """Inclusive timers around functions, turned into exclusive time per part with a stack;
    SQL statements are charged to the part that issued them."""

    def __init__(self) -> None:
        self.own: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.sql_time: dict[str, float] = defaultdict(float)
        self.sql_count: dict[str, int] = defaultdict(int)
        self.statements: dict[str, list[float]] = defaultdict(list)
        self.stack: list[list[Any]] = []
        self.patches: list[tuple[Any, str, Any, bool]] = []

    def enter(self, part: str) -> None:
        self.stack.append([part, 0.0, time.perf_counter()])

    def leave(self) -> float:
        part, children, started = self.stack.pop()
        elapsed = time.perf_counter() - started
        self.own[part] += elapsed - children
        self.calls[part] += 1
        if self.stack:
            self.stack[-1][1] += elapsed
        return elapsed

    def parent(self) -> str:
        return self.stack[-1][0] if self.stack else "outside a request"

    def wrap(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.enter(part)
            try:
                return function(*args, **kwargs)
            finally:
                self.leave()

        return timed

    def patch(self, owner: Any, name: str, part: str) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        self.patches.append((owner, name, original, name in vars(owner)))
        setattr(owner, name, self.wrap(part, original))

    def unpatch(self) -> None:
        for owner, name, original, had in reversed(self.patches):
            if had:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self.patches.clear()

    def sql(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        parent = self.parent()
        self.enter("SQL")
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = self.leave()
            self.sql_time[parent] += elapsed
            self.sql_count[parent] += 1
            self.statements[statement_label(sql)].append(elapsed)


def statement_label(sql: str) -> str:
    text = " ".join(sql.split())
    verb = text.split(" ", 1)[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    table = re.search(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', text, re.IGNORECASE)
    label = f"{verb} {table.group(1)}" if table else verb
    if " FOR UPDATE" in text.upper():
        label += " FOR UPDATE"
    return label


APP_PARTS: list[tuple[str, str, str]] = [
    # (module or module:class, attribute, part)
    ("integration.authentication:ApiKeyAuthentication", "authenticate", "auth (API key)"),
    # A PUT with a key alone: the key is checked by the statement that locks the session.
    ("integration.sessions", "integration_key_session_lock", "auth and session lock"),
    ("integration.views:DecimalJSONParser", "parse", "parse: JSON"),
    ("integration.sessions", "parse_session_update", "parse: validate"),
    ("integration.sessions", "attribute_schema_get", "attribute schema"),
    ("integration.sessions", "customer_session_update", "session service (ORM, logic)"),
    ("campaigns.services.sessions", "compiled_campaigns_get", "evaluation: compiled rules"),
    ("campaigns.services.sessions", "session_binding", "evaluation: binding"),
    ("campaigns.services.sessions", "_item_data", "evaluation: binding"),
    ("campaigns.services.sessions", "_session_fields", "evaluation: binding"),
    ("campaigns.services.sessions", "profile_binding", "evaluation: binding"),
    ("rules.engine:CompiledRulesets", "evaluate", "evaluation: rules"),
    ("campaigns.services.sessions", "apply_discounts", "evaluation: discounts"),
    ("integration.sessions", "rendered_effects", "render"),
    ("integration.sessions", "written_effects", "render"),
    ("integration.sessions", "customer_session_json", "render"),
    ("integration.sessions", "customer_profile_json", "render"),
    ("integration.sessions", "session_view", "render"),
    ("integration.sessions", "profile_view", "render"),
    ("integration.sessions", "render_rule_failure", "render"),
    ("integration.sessions", "render_session_update_response", "render"),
    ("integration.sessions", "json_response", "render"),
]
BARE_PARTS: list[tuple[str, str, str]] = [
    ("benchmarks.bare", "parse_items", "parse: validate"),
    ("benchmarks.bare", "upsert", "session write"),
]
FRAMEWORK = "Django, DRF, middleware (the rest)"
COMMIT = "commit"
HEALTH_CHECK = "connection health check"


def resolve(where: str) -> Any:
    import importlib

    module_name, _, class_name = where.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name) if class_name else module


@dataclass
class ProfileRun:
    requests: int
    plain_ms: list[float]
    timers: Timers | None = None
    instrumented_ms: list[float] = field(default_factory=list)
    cprofile: pstats.Stats | None = None


def profile(
    runner: InProcess,
    requests: list[tuple[str, bytes]],
    parts: list[tuple[str, str, str]],
    check: Check,
    count: int,
    with_cprofile: bool,
) -> ProfileRun:
    from django.db import connections

    connection = connections["default"]
    environs = [runner.environ(*requests[i % len(requests)]) for i in range(3 * count + 30)]
    supply = iter(environs)

    def one() -> float:
        environ = next(supply)
        started = time.perf_counter()
        status, content = runner.call(environ)
        elapsed = time.perf_counter() - started
        problem = check(status, content)
        if problem is not None:
            raise AssertionError(f"in-process request failed: {problem}: {content[:500]!r}")
        return elapsed * 1e3

    for _ in range(30):  # warm-up: the compiled rules, the connection
        one()
    run = ProfileRun(count, [one() for _ in range(count)])

    timers = Timers()
    for where, name, part in parts:
        timers.patch(resolve(where), name, part)
    connection.ensure_connection()
    timers.patch(connection, "_commit", COMMIT)
    timers.patch(connection, "is_usable", HEALTH_CHECK)
    try:
        with connection.execute_wrapper(timers.sql):
            for _ in range(count):
                timers.enter(FRAMEWORK)
                environ = next(supply)
                status, content = runner.call(environ)
                run.instrumented_ms.append(timers.leave() * 1e3)
                if check(status, content) is not None:
                    raise AssertionError(f"instrumented request failed: {content[:500]!r}")
    finally:
        timers.unpatch()
    run.timers = timers

    if with_cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(count):
            status, content = runner.call(next(supply))
        profiler.disable()
        run.cprofile = pstats.Stats(profiler)
    return run


def breakdown(run: ProfileRun) -> list[dict[str, Any]]:
    """Per-request milliseconds of each part: own Python time, SQL it issued, and the total."""
    timers = run.timers
    assert timers is not None
    n = run.requests
    order = [FRAMEWORK]
    order += list(dict.fromkeys(part for _, _, part in APP_PARTS + BARE_PARTS))
    order += [HEALTH_CHECK, COMMIT]
    rows = []
    for part in order:
        if part not in timers.calls and part not in timers.sql_count:
            continue
        own = timers.own.get(part, 0.0)
        sql = timers.sql_time.get(part, 0.0)
        queries = timers.sql_count.get(part, 0)
        if part in (COMMIT, HEALTH_CHECK):  # database round trips outside the cursor wrappers
            own, sql, queries = 0.0, own, timers.calls[part]
        rows.append(
            {
                "part": part,
                "python_ms": own * 1e3 / n,
                "sql_ms": sql * 1e3 / n,
                "queries": queries / n,
                "total_ms": (own + sql) * 1e3 / n,
                "calls": timers.calls.get(part, 0) / n,
            }
        )
    whole = sum(row["total_ms"] for row in rows)
    for row in rows:
        row["share"] = row["total_ms"] / whole if whole else 0.0
    return rows


def statements(run: ProfileRun) -> list[dict[str, Any]]:
    timers = run.timers
    assert timers is not None
    rows = [
        {
            "statement": label,
            "per_request": len(times) / run.requests,
            "ms_mean": statistics.fmean(times) * 1e3,
            "ms_per_request": sum(times) * 1e3 / run.requests,
        }
        for label, times in timers.statements.items()
    ]
    return sorted(rows, key=lambda row: -row["ms_per_request"])


def area_of(filename: str, function: str) -> str:
    if filename == "~":
        return "psycopg (C)" if "psycopg" in function else "builtins (C)"
    if filename.startswith("<rules"):
        return "ours: compiled rulesets"
    if filename.startswith("<"):
        return "generated (dataclasses)"
    for marker, area in (
        ("/django/", "django"),
        ("/rest_framework/", "DRF"),
        ("/psycopg", "psycopg (waiting for PostgreSQL included)"),
        ("/site-packages/", "other packages"),
        ("/json/", "json"),
        ("/decimal", "decimal"),
    ):
        if marker in filename:
            return area
    try:
        relative = Path(filename).resolve().relative_to(REPO)
    except ValueError:
        return "stdlib"
    return "ours: " + relative.parts[0]


HEADLINES: list[tuple[str, tuple[str, ...]]] = [
    ("auth (Python)", ("auth (API key)",)),
    ("parsing (JSON, validation)", ("parse: JSON", "parse: validate")),
    (
        "evaluation (compiled rules, binding, rules, discounts)",
        (
            "evaluation: compiled rules",
            "evaluation: binding",
            "evaluation: rules",
            "evaluation: discounts",
        ),
    ),
    ("rendering", ("render",)),
    ("ORM and service logic (Python)", ("session service (ORM, logic)", "attribute schema")),
    ("session write (Python)", ("session write",)),
    ("Django, DRF, middleware", (FRAMEWORK,)),
]


def headlines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The breakdown in the issue's terms: Python by part, then SQL, then the commit."""
    by_part = {row["part"]: row for row in rows}
    whole = sum(row["total_ms"] for row in rows)
    out = []
    for name, parts in HEADLINES:
        present = [by_part[p] for p in parts if p in by_part]
        if present:
            out.append({"part": name, "ms": sum(r["python_ms"] for r in present)})
    database = [r for r in rows if r["part"] != COMMIT]
    queries = sum(r["queries"] for r in database)
    out.append(
        {"part": f"SQL ({queries:.0f} statements)", "ms": sum(r["sql_ms"] for r in database)}
    )
    if COMMIT in by_part:
        out.append({"part": "commit", "ms": by_part[COMMIT]["sql_ms"]})
    for row in out:
        row["share"] = row["ms"] / whole if whole else 0.0
    return out


def cprofile_summary(stats: pstats.Stats, requests: int, top: int) -> dict[str, Any]:
    raw: dict[Any, Any] = stats.stats
    functions = []
    areas: dict[str, float] = defaultdict(float)
    for (filename, line, function), (_, calls, own, cumulative, _) in raw.items():
        areas[area_of(filename, function)] += own
        where = function if filename == "~" else f"{_short(filename)}:{line}({function})"
        functions.append((own, cumulative, calls, where))
    functions.sort(reverse=True)
    total = sum(areas.values())
    return {
        "ms_per_request": total * 1e3 / requests,
        "top_own_time": [
            {
                "function": where,
                "own_ms": own * 1e3 / requests,
                "cumulative_ms": cumulative * 1e3 / requests,
                "calls": calls / requests,
            }
            for own, cumulative, calls, where in functions[:top]
        ],
        "by_area": [
            {"area": area, "own_ms": seconds * 1e3 / requests, "share": seconds / total}
            for area, seconds in sorted(areas.items(), key=lambda item: -item[1])
        ],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    try:
        return str(Path(filename).resolve().relative_to(REPO))
    except ValueError:
        return filename


# ---------------------------------------------------------------------------------------------
# Report


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    return values[max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))]


def summarise(segments: list[Segment]) -> dict[str, Any]:
    latencies = sorted(x for s in segments for x in s.latencies)
    wall = sum(s.wall for s in segments)
    errors: Counter[str] = Counter()
    cpu: dict[str, float] = defaultdict(float)
    for segment in segments:
        errors.update(segment.errors)
        for party, seconds in segment.cpu.items():
            cpu[party] += seconds
    n = len(latencies)
    return {
        "requests": n,
        "seconds": wall,
        "requests_per_second": (n - sum(errors.values())) / wall if wall else 0.0,
        "segments": [
            {
                "requests_per_second": s.requests / s.wall,
                "p99_ms": percentile(sorted(s.latencies), 0.99) * 1e3 if s.latencies else 0.0,
                "other_cpu_share": s.cpu.get("other", 0.0) / (s.wall * (os.cpu_count() or 1)),
                "other_processes": s.others,
                "server_cpu_ms": s.cpu.get("server", 0.0) * 1e3 / max(1, s.requests),
                "postgres_cpu_ms": s.cpu.get("postgres", 0.0) * 1e3 / max(1, s.requests),
            }
            for s in segments
        ],
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "latency_ms": {
            "p50": percentile(latencies, 0.50) * 1e3,
            "p90": percentile(latencies, 0.90) * 1e3,
            "p99": percentile(latencies, 0.99) * 1e3,
            "max": latencies[-1] * 1e3,
            "mean": statistics.fmean(latencies) * 1e3,
        }
        if latencies
        else {},
        "cpu_ms_per_request": {party: seconds * 1e3 / n for party, seconds in cpu.items()}
        if n
        else {},
        "cpu_busy_share": cpu["machine"] / (wall * (os.cpu_count() or 1)) if wall else 0.0,
    }


def print_report(data: dict[str, Any]) -> None:
    info = data["machine"]
    pg = data["postgres"]
    work = data["workload"]
    settings = data["settings"]
    print(f"date:     {data['date']}")
    print(f"machine:  {info['cpu']}, {info['cores']} cores, {info['platform']}")
    print(
        f"software: CPython {info['python']}, Django {info['django']}, DRF "
        f"{info['djangorestframework']}, gunicorn {info['gunicorn']}, psycopg {info['psycopg']}, "
        f"{pg['version']}"
    )
    print(
        f"postgres: synchronous_commit={pg['synchronous_commit']} fsync={pg['fsync']} "
        f"wal_sync_method={pg['wal_sync_method']}; a one-row insert's commit: "
        f"p50 {pg['commit_ms_p50']:.2f} ms, p99 {pg['commit_ms_p99']:.2f} ms"
    )
    print(
        f"workload: {work['campaigns']} running campaigns, {work['cart_items']}-item cart "
        f"({work['body_bytes']} B body), {work['campaigns_fired']} campaigns fire, "
        f"{work['effects']} discounts apply; answer {work['answer_bytes']} B"
    )
    sessions = settings["sessions"]
    print(
        f"load:     {settings['concurrency']} client threads x {settings['seconds']} s per server "
        f"in {settings['rounds']} rounds (ABBA), {settings['warmup']} s warm-up; gunicorn "
        f"{settings['workers']} sync workers; "
        + (f"{sessions} session ids per thread (updates)" if sessions else "a new session each")
    )
    print()
    header = (
        f"{'server':<6} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'requests':>9} {'errors':>7}   CPU ms/request: server, postgres, client, other"
    )
    print(header)
    print("-" * len(header))
    for name in ("app", "bare", "stub"):
        row = data["results"].get(name)
        if row is None:
            continue
        lat, cpu = row["latency_ms"], row["cpu_ms_per_request"]
        print(
            f"{name:<6} {row['requests_per_second']:>8.1f} {lat['p50']:>8.2f} {lat['p90']:>8.2f} "
            f"{lat['p99']:>8.2f} {lat['max']:>8.2f} {row['requests']:>9} {row['errors']:>7}   "
            f"{cpu.get('server', 0):.2f}, {cpu.get('postgres', 0):.2f}, "
            f"{cpu.get('client', 0):.2f}, {cpu.get('other', 0):.2f} "
            f"(machine busy {row['cpu_busy_share']:.0%})"
        )
    for name in ("app", "bare"):
        row = data["results"][name]
        parts = [
            f"{seg['requests_per_second']:.0f} req/s, p99 {seg['p99_ms']:.0f} ms, "
            f"CPU {seg['server_cpu_ms']:.1f}+{seg['postgres_cpu_ms']:.1f} ms, "
            f"other {seg['other_cpu_share']:.0%}"
            + (
                f" ({', '.join(seg['other_processes'])})"
                if seg["other_cpu_share"] >= 0.05 and seg["other_processes"]
                else ""
            )
            for seg in row["segments"]
        ]
        print(f"  {name} by segment (CPU: server+postgres per request):")
        print("    " + "\n    ".join(parts), end="")
        print(f"; errors {row['error_kinds']}" if row["errors"] else "")
    print("  stub: the client against a server that answers at once (the client's ceiling)")
    targets = data["targets"]

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    print()
    print(
        f"target: app throughput >= {TARGET_THROUGHPUT_RATIO:.0%} of bare: "
        f"{targets['throughput_ratio']:.0%}, {verdict(targets['throughput_met'])}"
    )
    print(
        f"target: app p99 <= {TARGET_P99_MS:.0f} ms at concurrency {settings['concurrency']}: "
        f"{targets['p99_ms']:.1f} ms, {verdict(targets['p99_met'])}"
    )
    print(
        f"client: {targets['client_cpu_ms']:.2f} ms CPU per request; ceiling "
        f"{targets['client_ceiling']:.0f} req/s, {targets['client_headroom']:.1f}x the app's rate"
    )

    prof = data["profile"]
    print()
    print(
        f"profile (in process, {prof['requests']} requests each; the update path): app "
        f"{prof['app_ms_median']:.2f} ms per request (median; mean {prof['app_ms_mean']:.2f}, "
        f"instrumented {prof['app_instrumented_ms_mean']:.2f}), bare "
        f"{prof['bare_ms_median']:.2f} ms (mean {prof['bare_ms_mean']:.2f})"
    )
    header = (
        f"{'part':<38} {'Python ms':>9} {'SQL ms':>7} {'queries':>7} {'total ms':>8} {'share':>6}"
    )
    for name in ("app", "bare"):
        print()
        print(f"{name}: where a request's time goes (timers; SQL charged to the part issuing it)")
        print(header)
        print("-" * len(header))
        for row in prof[f"{name}_breakdown"]:
            print(
                f"{row['part']:<38} {row['python_ms']:>9.3f} {row['sql_ms']:>7.3f} "
                f"{row['queries']:>7.1f} {row['total_ms']:>8.3f} {row['share']:>6.1%}"
            )
        total_ms = sum(r["total_ms"] for r in prof[f"{name}_breakdown"])
        queries = sum(r["queries"] for r in prof[f"{name}_breakdown"])
        print(f"{'total':<38} {'':>9} {'':>7} {queries:>7.1f} {total_ms:>8.3f}")
        print("in the issue's terms:")
        for row in prof[f"{name}_headlines"]:
            print(f"  {row['part']:<56} {row['ms']:>7.3f} ms {row['share']:>6.1%}")
    print()
    print("app: SQL statements per request")
    for row in prof["app_statements"]:
        print(
            f"  {row['statement']:<58} {row['per_request']:>4.1f} x {row['ms_mean']:.3f} ms"
            f" = {row['ms_per_request']:.3f} ms"
        )
    summary = prof.get("app_cprofile")
    if summary:
        print()
        print(
            f"app under cProfile: {summary['ms_per_request']:.2f} ms per request; own time by area"
        )
        for row in summary["by_area"][:12]:
            print(f"  {row['area']:<34} {row['own_ms']:>7.3f} ms {row['share']:>6.1%}")
        print("top functions by own time (ms per request)")
        for row in summary["top_own_time"]:
            print(
                f"  {row['own_ms']:>7.3f} own {row['cumulative_ms']:>7.3f} cum "
                f"{row['calls']:>6.1f} calls  {row['function'][:90]}"
            )


# ---------------------------------------------------------------------------------------------
# Main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per server")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up before a first segment")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--rounds", type=int, default=4, help="segments per server (ABBA order)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per server")
    parser.add_argument(
        "--sessions", type=int, default=50, help="session ids per client thread; 0: always new"
    )
    parser.add_argument("--profile-requests", type=int, default=300, help="in-process requests")
    parser.add_argument("--top", type=int, default=20, help="functions listed from cProfile")
    parser.add_argument("--pg", default=PG_SERVER, help="PostgreSQL server URL, no database")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--keep-db", action="store_true", help="leave the database when done")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("--concurrency, --seconds and --rounds must be positive")

    def progress(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    workload = make_workload()
    slots = args.sessions or 50
    profiles = [profile_id(w, s) for w in range(args.concurrency) for s in range(slots)]
    bodies = [
        [cart_body(workload, profile_id(w, s)) for s in range(slots)]
        for w in range(args.concurrency)
    ]

    env = environment(args)
    progress(f"recreating database {DB_NAME} and migrating")
    recreate_database(args.pg)
    servers: list[Server] = []
    try:
        migrate(env)
        import django

        django.setup()
        from django.db import connections

        progress("seeding 100 campaigns")
        seeded = seed(workload, profiles)
        pg = postgres_settings(args.pg)
        headers = {
            "Authorization": f"ApiKey-v1 {seeded.raw_key}",
            "Content-Type": "application/json",
        }
        check_app = app_check(workload, seeded)
        check_bare = bare_check(workload)

        # The gate: one request in process must answer the expected effects.
        runner = InProcess(seeded.raw_key)
        status, answer = runner.call(
            runner.environ("/v2/customer_sessions/bench-0-0", bodies[0][0])
        )
        problem = check_app(status, answer)
        if problem is not None:
            print(f"the endpoint's answer is not the expected one: {problem}", file=sys.stderr)
            print(answer[:2000].decode(errors="replace"), file=sys.stderr)
            return 1
        connections.close_all()

        progress("starting the servers")
        bare_env = dict(
            env,
            DJANGO_SETTINGS_MODULE="benchmarks.bare_settings",
            BENCH_APPLICATION_ID=str(seeded.application_id),
        )
        app = start_server("app", env, args.workers)
        servers.append(app)
        bare = start_server("bare", bare_env, args.workers)
        servers.append(bare)
        wait_ready(app)
        wait_ready(bare)

        progress("measuring the client's ceiling against a stub server")
        stub = client_ceiling(
            Requests(bodies, args.sessions, "stub"),
            headers,
            check_app,
            answer,
            min(3.0, args.seconds),
            args.concurrency,
        )

        targets = {"app": (app, check_app), "bare": (bare, check_bare)}
        segments: dict[str, list[Segment]] = {"app": [], "bare": []}
        warmups: dict[str, Counter[str]] = {"app": Counter(), "bare": Counter()}
        warmed: set[str] = set()
        order = []
        for round_ in range(args.rounds):
            order += ["app", "bare"] if round_ % 2 == 0 else ["bare", "app"]
        for number, name in enumerate(order):
            server, check = targets[name]
            warmup = args.warmup if name not in warmed else min(1.0, args.warmup)
            warmed.add(name)
            requests = Requests(bodies, args.sessions, f"{name}{number}")
            progress(f"{name}: warm-up {warmup:g} s, then {args.seconds / args.rounds:g} s")
            if warmup > 0:
                warm = drive(
                    server.port, requests, headers, check, warmup, args.concurrency, name, None
                )
                warmups[name].update(warm.errors)
            requests.tag += "m"
            segments[name].append(
                drive(
                    server.port,
                    requests,
                    headers,
                    check,
                    args.seconds / args.rounds,
                    args.concurrency,
                    name,
                    server.process.pid,
                )
            )
        for server in servers:
            server.stop()
        servers.clear()

        progress(f"profiling {args.profile_requests} requests in process")
        updates = [(f"/v2/customer_sessions/bench-0-{s}", bodies[0][s]) for s in range(slots)]
        app_run = profile(runner, updates, APP_PARTS, check_app, args.profile_requests, True)
        from django.test.utils import override_settings

        os.environ["BENCH_APPLICATION_ID"] = str(seeded.application_id)
        with override_settings(ROOT_URLCONF="benchmarks.bare"):
            bare_run = profile(
                InProcess(seeded.raw_key),
                updates,
                BARE_PARTS,
                check_bare,
                args.profile_requests,
                False,
            )
        connections.close_all()
    finally:
        for server in servers:
            server.stop()
        if not args.keep_db:
            with contextlib.suppress(Exception):  # Django may not be set up yet
                from django.db import connections as open_connections

                open_connections.close_all()
            drop_database(args.pg)

    results = {name: summarise(parts) for name, parts in segments.items()}
    results["stub"] = summarise([stub])
    app_row, bare_row = results["app"], results["bare"]
    ratio = app_row["requests_per_second"] / bare_row["requests_per_second"]
    client_cpu = app_row["cpu_ms_per_request"].get("client", 0.0)
    data: dict[str, Any] = {
        "benchmark": "benchmarks/session_update.py",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine("django", "djangorestframework", "gunicorn", "psycopg"),
        "command": " ".join(
            [os.path.basename(sys.executable), "-m", "benchmarks.session_update", *sys.argv[1:]]
        ),
        "settings": {
            "seconds": args.seconds,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "workers": args.workers,
            "sessions": args.sessions,
            "profile_requests": args.profile_requests,
        },
        "postgres": pg,
        "workload": {
            "campaigns": len(workload.campaigns),
            "cart_items": len(workload.binding["Session"]["CartItems"]),
            "campaigns_fired": workload.fired,
            "effects": len(workload.expected),
            "session_total": str(workload.total),
            "body_bytes": len(bodies[0][0]),
            "answer_bytes": len(answer),
        },
        "warmup_errors": {name: dict(counter) for name, counter in warmups.items()},
        "results": results,
        "targets": {
            "throughput_ratio": ratio,
            "throughput_target": TARGET_THROUGHPUT_RATIO,
            "throughput_met": ratio >= TARGET_THROUGHPUT_RATIO,
            "p99_ms": app_row["latency_ms"]["p99"],
            "p99_target_ms": TARGET_P99_MS,
            "p99_met": app_row["latency_ms"]["p99"] <= TARGET_P99_MS,
            "client_cpu_ms": client_cpu,
            "client_ceiling": results["stub"]["requests_per_second"],
            "client_headroom": results["stub"]["requests_per_second"]
            / app_row["requests_per_second"],
        },
        "profile": {
            "requests": args.profile_requests,
            "app_ms_median": statistics.median(app_run.plain_ms),
            "app_ms_mean": statistics.fmean(app_run.plain_ms),
            "app_instrumented_ms_mean": statistics.fmean(app_run.instrumented_ms),
            "bare_ms_median": statistics.median(bare_run.plain_ms),
            "bare_ms_mean": statistics.fmean(bare_run.plain_ms),
            "app_breakdown": breakdown(app_run),
            "bare_breakdown": breakdown(bare_run),
            "app_headlines": headlines(breakdown(app_run)),
            "bare_headlines": headlines(breakdown(bare_run)),
            "app_statements": statements(app_run),
            "bare_statements": statements(bare_run),
            "app_cprofile": cprofile_summary(app_run.cprofile, args.profile_requests, args.top)
            if app_run.cprofile
            else None,
        },
    }
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print_report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
