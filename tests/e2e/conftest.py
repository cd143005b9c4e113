"""Fixtures of the end-to-end tests: the Talon.One JavaScript SDK, installed by ``npm ci``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SDK_DIR = Path(__file__).parent / "sdk"


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` executable; fails (never skips) without it, saying how to get it."""
    path = shutil.which("node")
    if path is None:
        pytest.fail("Node.js is not installed: bin/test installs it (apt-get install nodejs npm)")
    return path


@pytest.fixture(scope="session")
def sdk_dir() -> Path:
    """``tests/e2e/sdk`` with its node packages installed (the official ``talon_one`` SDK)."""
    if not (SDK_DIR / "node_modules" / "talon_one" / "package.json").is_file():
        pytest.fail(
            f"The SDK's node packages are not installed: run `npm ci` in {SDK_DIR} "
            f"(bin/test does it whenever package-lock.json changes)"
        )
    return SDK_DIR
