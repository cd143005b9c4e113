"""Fixtures of the Integration API's tests. Each module defines the ``application`` it needs."""

from __future__ import annotations

import pytest

from campaigns.models import Application
from tests.factories import api_key_headers


@pytest.fixture
def auth(application: Application) -> dict[str, str]:
    """Headers authenticating as ``application`` with a new API key."""
    return api_key_headers(application)
