"""Integration API keys: ``Authorization: ApiKey-v1 <key>``.

An application's API key is 32 random bytes written as 64 lowercase hex digits, the shape of the
keys in Talon.One's SDK examples. The raw key is shown to the administrator who creates it, once;
what is stored is its SHA-256 (``key_hash``) and, for telling keys apart in lists and logs, its
first eight characters (``key_prefix``).

A fast, unsalted hash is the right tool here, unlike for passwords: a key carries 256 bits of
randomness, so there is nothing to guess and nothing a slow hash or a salt would protect.

The module is pure: it imports nothing from Django, and the caller looks keys up and decides what
a match means (expiry, application).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

#: The scheme of the ``Authorization`` header, compared case-insensitively.
AUTHORIZATION_SCHEME = "ApiKey-v1"

#: Random bytes in a generated key; the key is their hex form, twice as many characters.
API_KEY_BYTES = 32

#: Characters of the key kept in clear to identify it (in the admin, in logs).
API_KEY_PREFIX_LENGTH = 8

#: The longest key ``parse_authorization`` accepts: generous, since keys we issue are 64
#: characters, but bounded so that a hostile header costs nothing to refuse.
MAX_API_KEY_LENGTH = 256

# RFC 9110's token68 alphabet: what may follow an auth scheme without quoting.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True, slots=True)
class GeneratedApiKey:
    """A new key: ``raw`` is for the administrator's eyes once; store ``prefix`` and ``hashed``.

    ``raw`` is left out of the ``repr`` so that the key does not end up in a log or a traceback.
    """

    raw: str = field(repr=False)
    prefix: str
    hashed: str


def generate_api_key() -> GeneratedApiKey:
    """A fresh random API key with its display prefix and storage hash."""
    raw = secrets.token_hex(API_KEY_BYTES)
    return GeneratedApiKey(raw=raw, prefix=key_prefix(raw), hashed=key_hash(raw))


def key_prefix(raw: str) -> str:
    """The part of a key shown in clear: its first eight characters."""
    return raw[:API_KEY_PREFIX_LENGTH]


def key_hash(raw: str) -> str:
    """What is stored for a key: the SHA-256 of its UTF-8 bytes, as 64 hex digits."""
    return hashlib.sha256(raw.encode()).hexdigest()


def key_matches(raw: str, stored_hash: str) -> bool:
    """Whether ``raw`` is the key whose hash is ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(key_hash(raw).encode(), stored_hash.encode())


def parse_authorization(header: str | None) -> str | None:
    """The key in an ``Authorization: ApiKey-v1 <key>`` header, or ``None``.

    The scheme is case-insensitive; it and the key are separated by exactly one space, and the
    key is a single token68 (no spaces, no quotes, no commas). Anything else (another scheme,
    no key, two keys, stray whitespace, an over-long key) gives ``None``: the caller answers
    401 without looking anything up.
    """
    if not header:
        return None
    scheme, space, key = header.partition(" ")
    if not space or scheme.lower() != AUTHORIZATION_SCHEME.lower():
        return None
    if len(key) > MAX_API_KEY_LENGTH or not _TOKEN68.fullmatch(key):
        return None
    return key
