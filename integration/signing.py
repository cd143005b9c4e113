"""Signed Integration API requests: the ``Content-Signature`` header.

Talon.One's legacy header is ``Content-Signature: signer=<applicationId>; signature=<hex>``, an
HMAC over the raw body alone, so a captured request can be sent again, to any endpoint, forever.
Ours keeps the header and its two parameters and adds a third, ``timestamp`` (Unix seconds)::

    Content-Signature: signer=42; timestamp=1700000000; signature=<64 hex digits>

The signature is HMAC-SHA256, keyed with the UTF-8 bytes of the application's signing secret,
over the *canonical string*: the signer, the timestamp, the HTTP method in upper case and the
request target (path and query string, as sent), each followed by a line feed, then the raw
body bytes::

    b"42\\n1700000000\\nPUT\\n/v2/customer_sessions/s1\\n" + body

Line feeds separate the fields because none of the first four can contain one (a request target
cannot, and ``canonical_string`` refuses one that does), so no two requests share a canonical
string; dots, a common choice elsewhere, appear in paths. Putting the signer, method and path
in the signed text means a signature is good for one application and one endpoint only.

``verify`` accepts a signature when its timestamp is within five minutes of the server's clock
(either way, for clock skew), when it matches any of the application's active secrets (two
during a rotation), and the first time only: a ``ReplayGuard`` remembers each signature until
it could no longer pass the window check. Signatures are compared with ``hmac.compare_digest``,
against every secret, so the time taken says nothing about which secret or how much matched.

Every failure is a ``SignatureError`` with a stable ``code``. The module is pure: it imports
nothing from Django; ``CacheReplayGuard`` is handed a cache object by its caller.

A caller (the Integration API's authentication) reads the header, looks up the secrets of the
signer it names, then verifies::

    parsed = parse_content_signature(header)          # SignatureError if malformed
    secrets = active_signing_secrets(parsed.signer)   # the caller's own lookup
    signer = verify(header=header, secrets=secrets, method=request.method,
                    path=request.get_full_path(), body=request.body, now=time.time(),
                    seen=CacheReplayGuard(cache))
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

#: The request header that carries the signature.
SIGNATURE_HEADER = "Content-Signature"

#: How far a request's timestamp may be from the server's clock, in either direction.
DEFAULT_WINDOW_SECONDS = 300

#: Extra time a used signature is remembered beyond the end of its window, to cover servers
#: whose clocks disagree by up to this much.
REPLAY_MARGIN_SECONDS = 60

#: The longest header ``parse_content_signature`` reads; ours are under 150 characters.
MAX_HEADER_LENGTH = 1024

#: Characters of a signature: the hex form of an HMAC-SHA256.
SIGNATURE_LENGTH = 64

#: The most digits an application id may have.
MAX_APPLICATION_ID_DIGITS = 12

#: The longest signer that is not an application id.
MAX_SIGNER_LENGTH = 64

#: The most digits a timestamp may have (Unix seconds need 10 until the year 2286).
MAX_TIMESTAMP_DIGITS = 12

SignatureErrorCode = Literal[
    "missing_header",
    "malformed",
    "unknown_parameter",
    "duplicate_parameter",
    "missing_signer",
    "missing_timestamp",
    "missing_signature",
    "bad_signer",
    "bad_timestamp",
    "bad_signature_format",
    "stale_timestamp",
    "future_timestamp",
    "unsignable_request",
    "bad_signature",
    "replayed",
]


class SignatureError(Exception):
    """A request's signature is missing, malformed, wrong, outside its window or replayed.

    ``code`` is one of ``SignatureErrorCode``, stable for callers and clients; ``message`` is a
    sentence for the integrator and never contains a secret or an expected signature.
    """

    def __init__(self, code: SignatureErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: SignatureErrorCode = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class ContentSignature:
    """A parsed ``Content-Signature`` header.

    ``signer`` is the application id, an ``int`` when it is a decimal number (as Talon.One's
    are) and otherwise the text as sent. ``signature`` is in lower case.
    """

    signer: int | str
    timestamp: int
    signature: str


# The pieces of the header, all ASCII-only: `re`'s \s and \d and `str.isdigit` would accept
# Unicode spaces and digits that `int()` then reads, a door to two spellings of one header.
_OWS = " \t"
_PARAMETER = re.compile(r"([A-Za-z]+)[ \t]*=[ \t]*([A-Za-z0-9._:\-]+)")
_APPLICATION_ID = re.compile(r"0|[1-9][0-9]*")
_SIGNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")
_TIMESTAMP = re.compile(r"[0-9]+")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]+")
_METHOD = re.compile(r"[A-Z]+")
# An HTTP/1.1 request target in origin form: visible ASCII, no spaces, starting with "/".
_REQUEST_TARGET = re.compile(r"/[!-~]*")

_PARAMETER_NAMES = ("signer", "timestamp", "signature")


def parse_content_signature(header: str | None) -> ContentSignature:
    """Read ``signer=…; timestamp=…; signature=…`` (any order, spaces tolerated).

    Parameter names are case-insensitive; each must appear exactly once, and no other may. A
    legacy header without a timestamp is refused (``missing_timestamp``): it could be replayed.
    """
    if header is None or not header.strip(_OWS):
        raise SignatureError("missing_header", f"The {SIGNATURE_HEADER} header is missing.")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError(
            "malformed", f"The {SIGNATURE_HEADER} header is over {MAX_HEADER_LENGTH} characters."
        )
    values: dict[str, str] = {}
    for part in header.split(";"):
        match = _PARAMETER.fullmatch(part.strip(_OWS))
        if match is None:
            raise SignatureError(
                "malformed",
                f"The {SIGNATURE_HEADER} header must be `name=value` pairs separated by "
                f"semicolons, as in `signer=<applicationId>; timestamp=<unix seconds>; "
                f"signature=<hex>`.",
            )
        name, value = match.group(1).lower(), match.group(2)
        if name not in _PARAMETER_NAMES:
            raise SignatureError(
                "unknown_parameter",
                f"Unknown {SIGNATURE_HEADER} parameter {match.group(1)!r}: expected signer, "
                f"timestamp and signature.",
            )
        if name in values:
            raise SignatureError(
                "duplicate_parameter", f"The {SIGNATURE_HEADER} parameter {name} appears twice."
            )
        values[name] = value
    return ContentSignature(
        signer=_parse_signer(values.get("signer")),
        timestamp=_parse_timestamp(values.get("timestamp")),
        signature=_parse_signature(values.get("signature")),
    )


def _parse_signer(value: str | None) -> int | str:
    if value is None:
        raise SignatureError("missing_signer", "The signer (the application id) is missing.")
    if _APPLICATION_ID.fullmatch(value) and len(value) <= MAX_APPLICATION_ID_DIGITS:
        return int(value)
    if len(value) > MAX_SIGNER_LENGTH or not _SIGNER_NAME.fullmatch(value) or value.isdigit():
        # A number with leading zeros is refused rather than read: the signed text would then
        # differ from the signer we would report ("007" against 7).
        raise SignatureError(
            "bad_signer", "The signer must be the application id, a number without leading zeros."
        )
    return value


def _parse_timestamp(value: str | None) -> int:
    if value is None:
        raise SignatureError(
            "missing_timestamp",
            "The timestamp is missing: sign `timestamp=<unix seconds>` along with the body. "
            "Signatures over the body alone are not accepted, since they can be replayed.",
        )
    if not _TIMESTAMP.fullmatch(value) or len(value) > MAX_TIMESTAMP_DIGITS:
        raise SignatureError("bad_timestamp", "The timestamp must be a whole number of seconds.")
    return int(value)


def _parse_signature(value: str | None) -> str:
    if value is None:
        raise SignatureError("missing_signature", "The signature is missing.")
    if len(value) != SIGNATURE_LENGTH or not _HEX_SIGNATURE.fullmatch(value):
        raise SignatureError(
            "bad_signature_format",
            f"The signature must be the {SIGNATURE_LENGTH} hex digits of an HMAC-SHA256.",
        )
    return value.lower()


def canonical_string(
    *, signer: int | str, timestamp: int, method: str, path: str, body: bytes
) -> bytes:
    """The bytes that are signed: ``f"{signer}\\n{timestamp}\\n{METHOD}\\n{path}\\n"`` + body.

    ``method`` is upper-cased. ``path`` is the request target as sent: the path and, if there
    is one, ``?`` and the query string (``/v2/customer_sessions/s1?dry=true``), without scheme
    or host. Raises ``ValueError`` for a method, path or signer that cannot be written
    unambiguously (one containing a line feed, say).
    """
    method = method.upper()
    if not _METHOD.fullmatch(method):
        raise ValueError(f"not an HTTP method: {method!r}")
    if not _REQUEST_TARGET.fullmatch(path):
        raise ValueError(f"not a request target (visible ASCII starting with '/'): {path!r}")
    signer_text = str(signer)
    if not (isinstance(signer, int) or _SIGNER_NAME.fullmatch(signer_text)):
        raise ValueError(f"not a signer: {signer!r}")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError(f"not a Unix timestamp in whole seconds: {timestamp!r}")
    return f"{signer_text}\n{timestamp}\n{method}\n{path}\n".encode("ascii") + bytes(body)


def sign(
    *, secret: str, signer: int | str, method: str, path: str, timestamp: int, body: bytes
) -> str:
    """The signature of a request: the hex HMAC-SHA256 of its canonical string under ``secret``."""
    if not secret:
        raise ValueError("an empty secret signs nothing")
    message = canonical_string(
        signer=signer, timestamp=timestamp, method=method, path=path, body=body
    )
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(
    *, secret: str, signer: int | str, method: str, path: str, timestamp: int, body: bytes
) -> str:
    """A complete ``Content-Signature`` header value for a request (for clients and tests)."""
    signature = sign(
        secret=secret, signer=signer, method=method, path=path, timestamp=timestamp, body=body
    )
    return f"signer={signer}; timestamp={timestamp}; signature={signature}"


class ReplayGuard(Protocol):
    """Remembers what has been used: ``first_use`` is true once per key within its TTL.

    The check and the record must be one atomic step, or two copies of a request arriving
    together could both pass.
    """

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        """Record ``key`` for ``ttl_seconds``; whether it was unrecorded until now."""
        ...


def verify(
    *,
    header: str | None,
    secrets: Sequence[str],
    method: str,
    path: str,
    body: bytes,
    now: float,
    seen: ReplayGuard,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> int | str:
    """Check a signed request and return its signer (the application id), or raise.

    ``secrets`` are the signer's active signing secrets (two during a rotation; empty ones are
    ignored), ``now`` is the server's clock in Unix seconds, ``seen`` records signatures that
    have been accepted. The checks run cheapest first: the header's shape, the timestamp's
    window, the signature, and only then the replay guard, so that requests that fail to
    authenticate cannot fill it or burn a genuine signature.
    """
    if isinstance(secrets, str):
        # A string is a sequence of strings: each character would become a one-letter secret.
        raise TypeError("secrets must be a sequence of secrets, not one string")
    parsed = parse_content_signature(header)
    if parsed.timestamp < now - window_seconds:
        raise SignatureError(
            "stale_timestamp",
            f"The signature's timestamp is more than {window_seconds} seconds old: sign each "
            f"request when it is sent, and keep the client's clock set (NTP).",
        )
    if parsed.timestamp > now + window_seconds:
        raise SignatureError(
            "future_timestamp",
            f"The signature's timestamp is more than {window_seconds} seconds ahead of the "
            f"server's clock: check the client's clock (NTP).",
        )
    try:
        message = canonical_string(
            signer=parsed.signer, timestamp=parsed.timestamp, method=method, path=path, body=body
        )
    except ValueError as error:
        raise SignatureError(
            "unsignable_request", f"This request cannot be signed: {error}"
        ) from error
    provided = parsed.signature.encode()
    # Compare with every secret, not stopping at the first match.
    matches = [
        hmac.compare_digest(
            hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode(), provided
        )
        for secret in secrets
        if secret
    ]
    if not any(matches):
        raise SignatureError(
            "bad_signature",
            "The signature does not match this request: sign the timestamp, method, path and "
            "exact body bytes that are sent, with the application's signing secret.",
        )
    # Remember the signature until no server could accept it any more: the end of its window,
    # plus a margin for servers whose clocks disagree.
    ttl_seconds = math.ceil(parsed.timestamp + window_seconds - now) + REPLAY_MARGIN_SECONDS
    if not seen.first_use(replay_key(parsed), ttl_seconds):
        raise SignatureError(
            "replayed",
            "This signed request has been received before. Sign every request, retries "
            "included, afresh; identical requests need different timestamps.",
        )
    return parsed.signer


def replay_key(parsed: ContentSignature) -> str:
    """What the replay guard remembers for a signature: its signer and the signature itself."""
    return f"integration:content-signature:{parsed.signer}:{parsed.signature}"


class _AddingCache(Protocol):
    """The one method of Django's cache API that ``CacheReplayGuard`` uses."""

    def add(self, key: str, value: int, timeout: int, /) -> bool: ...


class CacheReplayGuard:
    """A replay guard on a Django cache (``django.core.cache.caches["default"]``).

    ``cache.add`` sets a key only if it is absent and says whether it did: ``SET NX EX`` on
    Redis, a locked check-and-set on the local-memory cache, so concurrent requests with one
    signature see exactly one success. Share the cache between all web processes (Redis) for
    the guard to hold across them.
    """

    def __init__(self, cache: _AddingCache) -> None:
        self.cache = cache

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        """Add ``key`` with a timeout of ``ttl_seconds``; whether it was absent."""
        # A timeout of 0 would mean "expire at once" and None "never": keep it positive.
        return bool(self.cache.add(key, 1, max(1, ttl_seconds)))


class MemoryReplayGuard:
    """A replay guard in this process's memory: for tests and a single-process server.

    Thread-safe. Expired keys are dropped as later keys arrive, oldest expiry first, so memory
    holds only what is still within its TTL.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._expiries: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        """Record ``key`` for ``ttl_seconds``; whether it was unrecorded (or expired) until now."""
        with self._lock:
            now = self._clock()
            self._drop_expired(now)
            if key in self._expiries:
                return False
            expires_at = now + max(1, ttl_seconds)
            self._expiries[key] = expires_at
            heapq.heappush(self._queue, (expires_at, key))
            return True

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired(self._clock())
            return len(self._expiries)

    def _drop_expired(self, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            expires_at, key = heapq.heappop(self._queue)
            if self._expiries.get(key) == expires_at:
                del self._expiries[key]
