"""Running test work under real concurrency: threads released together, each with its own
database connection (PostgreSQL; SQLite serialises writers, so races cannot happen there)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="real concurrent transactions need PostgreSQL"
)

RUNS = 3
"""How many times a race runs in every test run: one that passes once may fail the next."""

_T = TypeVar("_T")


def race(test: _T) -> _T:
    """Marks a test of real concurrency: PostgreSQL only, and run ``RUNS`` times (the
    ``race`` marker; ``tests/conftest.py`` repeats it)."""
    return postgresql_only(pytest.mark.race(test))  # type: ignore[no-any-return]


MAX_CONNECTIONS = 40
"""How many of a test's threads hold a database connection at once: PostgreSQL's default
``max_connections`` is 100, shared with whatever else runs on the machine."""

T = TypeVar("T")


def all_at_once(work: Callable[[int], T], count: int) -> list[T]:
    """Run ``work(0)`` … ``work(count - 1)`` in ``count`` threads released together, at most
    ``MAX_CONNECTIONS`` of them holding a connection at a time; the results, in any order.
    An exception in any thread fails the test."""
    go = threading.Event()
    seats = threading.BoundedSemaphore(MAX_CONNECTIONS)
    results: list[T] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        go.wait()
        with seats:
            try:
                results.append(work(index))
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
