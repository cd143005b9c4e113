"""Integration API keys: generated once, stored hashed, read from ``Authorization: ApiKey-v1``."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration.keys import (
    MAX_API_KEY_LENGTH,
    generate_api_key,
    key_hash,
    key_matches,
    key_prefix,
    parse_authorization,
)

KNOWN_KEY = "0123456789abcdef" * 4
KNOWN_HASH = "a8ae6e6ee929abea3afcfc5258c8ccd6f85273e0d4626d26c7279f3250f77c8e"


# ---------------------------------------------------------------------------------------------
# Generating and storing keys


def test_a_generated_key_is_64_hex_digits_like_talon_ones() -> None:
    key = generate_api_key()

    assert re.fullmatch(r"[0-9a-f]{64}", key.raw)


def test_a_generated_key_comes_with_its_prefix_and_hash() -> None:
    key = generate_api_key()

    assert key.prefix == key.raw[:8]
    assert key.hashed == hashlib.sha256(key.raw.encode()).hexdigest()


def test_generated_keys_differ() -> None:
    assert len({generate_api_key().raw for _ in range(100)}) == 100


def test_the_raw_key_stays_out_of_the_repr() -> None:
    key = generate_api_key()

    assert key.raw not in repr(key)
    assert key.prefix in repr(key)


def test_known_hash_and_prefix() -> None:
    assert key_hash(KNOWN_KEY) == KNOWN_HASH
    assert key_prefix(KNOWN_KEY) == "01234567"


def test_key_matches_its_own_hash() -> None:
    key = generate_api_key()

    assert key_matches(key.raw, key.hashed)
    assert key_matches(KNOWN_KEY, KNOWN_HASH)


@pytest.mark.parametrize(
    "raw",
    [
        "0123456789abcdef" * 3 + "0123456789abcdee",  # one digit off
        ("0123456789abcdef" * 4).upper(),  # hex is not case-folded: the key is the text
        "0123456789abcdef" * 4 + "0",
        "",
        KNOWN_HASH,  # the hash is not the key
    ],
)
def test_key_does_not_match_another_keys_hash(raw: str) -> None:
    assert not key_matches(raw, KNOWN_HASH)


def test_key_does_not_match_a_damaged_hash() -> None:
    assert not key_matches(KNOWN_KEY, KNOWN_HASH[:-1])
    assert not key_matches(KNOWN_KEY, "")
    assert not key_matches(KNOWN_KEY, "é" * 64)


# ---------------------------------------------------------------------------------------------
# The Authorization header


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (f"ApiKey-v1 {KNOWN_KEY}", KNOWN_KEY),
        (f"apikey-v1 {KNOWN_KEY}", KNOWN_KEY),
        (f"APIKEY-V1 {KNOWN_KEY}", KNOWN_KEY),
        ("ApiKey-v1 short", "short"),
        ("ApiKey-v1 dG9rZW42OA==", "dG9rZW42OA=="),
    ],
)
def test_parse_authorization_reads_the_key(header: str, key: str) -> None:
    assert parse_authorization(header) == key


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        " ",
        "ApiKey-v1",
        "ApiKey-v1 ",
        f"ApiKey-v1  {KNOWN_KEY}",  # two spaces
        f"ApiKey-v1\t{KNOWN_KEY}",
        f" ApiKey-v1 {KNOWN_KEY}",
        f"ApiKey-v1 {KNOWN_KEY} ",
        f"ApiKey-v1 {KNOWN_KEY}\n",
        f"ApiKey-v1 {KNOWN_KEY} {KNOWN_KEY}",
        f"ApiKey-v1 {KNOWN_KEY},{KNOWN_KEY}",
        f'ApiKey-v1 "{KNOWN_KEY}"',
        f"ApiKey-v1 key={KNOWN_KEY}",
        f"ApiKey-v2 {KNOWN_KEY}",
        f"ApiKey {KNOWN_KEY}",
        f"Bearer {KNOWN_KEY}",
        f"ManagementKey-v1 {KNOWN_KEY}",
        f"ApiKey-v1:{KNOWN_KEY}",
        KNOWN_KEY,
        "ApiKey-v1 ключ",
        "ApiKey-v1 " + "a" * (MAX_API_KEY_LENGTH + 1),
    ],
)
def test_parse_authorization_refuses_anything_else(header: str | None) -> None:
    assert parse_authorization(header) is None


def test_parse_authorization_takes_a_key_of_the_longest_length() -> None:
    key = "a" * MAX_API_KEY_LENGTH

    assert parse_authorization(f"ApiKey-v1 {key}") == key


@given(st.text())
def test_parse_authorization_never_raises_and_returns_one_bare_token(header: str) -> None:
    key = parse_authorization(header)

    if key is not None:
        assert header.endswith(" " + key)
        assert key
        assert not any(character.isspace() for character in key)


@given(st.from_regex(r"[A-Za-z0-9\-._~+/]{1,64}={0,2}", fullmatch=True))
def test_parse_authorization_reads_any_token68(candidate: str) -> None:
    assert parse_authorization(f"ApiKey-v1 {candidate}") == candidate
