"""Fixtures of the Management API's tests."""

from __future__ import annotations

import pytest
from pytest_django import Settings


@pytest.fixture(autouse=True)
def _no_key_rate_limit(settings: Settings) -> None:
    """No per-key rate limit, except where a test sets one: the counts live in the cache
    (Redis), which outlives a test and is shared by parallel test processes, whose keys have
    the same ids."""
    settings.MANAGEMENT_KEY_RATE_PER_MINUTE = 10**9
