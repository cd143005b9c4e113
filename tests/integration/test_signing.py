"""Signed requests: ``Content-Signature: signer=…; timestamp=…; signature=…``.

Given a request signed with the application's secret, when the server verifies it, then it
accepts it once, within five minutes of its timestamp, with either of two active secrets, and
refuses everything else with a ``SignatureError`` that says why.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import shutil
import subprocess
import threading
import typing
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from hypothesis import given
from hypothesis import strategies as st

from integration import signing
from integration.signing import (
    DEFAULT_WINDOW_SECONDS,
    REPLAY_MARGIN_SECONDS,
    CacheReplayGuard,
    ContentSignature,
    MemoryReplayGuard,
    ReplayGuard,
    SignatureError,
    SignatureErrorCode,
    canonical_string,
    parse_content_signature,
    sign,
    signature_header,
    verify,
)

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "integration.md"

SECRET = "s3cr3t-signing-key"
NEW_SECRET = "n3w-s3cr3t-after-rotation"
SIGNER = 42
NOW = 1_700_000_000
METHOD = "PUT"
PATH = "/v2/customer_sessions/session-123"
BODY = b'{"customerSession":{"profileId":"p1","cartItems":[]}}'
# The signature of the request above, computed once (and checked with `openssl dgst`): a change
# to the canonical string breaks every integration, so it must break this test first.
SIGNATURE = "0d6c1fe6090a61e2fea7a32a924f22e625ded45c80b11d5bcdff2da43bb33acd"


def signed(
    *,
    secret: str = SECRET,
    signer: int | str = SIGNER,
    method: str = METHOD,
    path: str = PATH,
    timestamp: int = NOW,
    body: bytes = BODY,
) -> str:
    """The Content-Signature header of a request, the defaults being the pinned one."""
    return signature_header(
        secret=secret, signer=signer, method=method, path=path, timestamp=timestamp, body=body
    )


def check(
    header: str | None,
    *,
    secrets: typing.Sequence[str] = (SECRET,),
    method: str = METHOD,
    path: str = PATH,
    body: bytes = BODY,
    now: float = NOW,
    seen: ReplayGuard | None = None,
) -> int | str:
    """What the server does with a request: verify, with a fresh replay guard unless given."""
    return verify(
        header=header,
        secrets=secrets,
        method=method,
        path=path,
        body=body,
        now=now,
        seen=seen if seen is not None else MemoryReplayGuard(),
    )


def refusal(call: Callable[[], object]) -> SignatureErrorCode:
    """The code of the SignatureError that ``call`` raises."""
    with pytest.raises(SignatureError) as caught:
        call()
    return caught.value.code


# ---------------------------------------------------------------------------------------------
# Known answers


def test_canonical_string() -> None:
    assert canonical_string(signer=SIGNER, timestamp=NOW, method="put", path=PATH, body=BODY) == (
        b"42\n1700000000\nPUT\n/v2/customer_sessions/session-123\n" + BODY
    )


@pytest.mark.parametrize(
    ("secret", "signer", "method", "path", "timestamp", "body", "expected"),
    [
        (
            SECRET,
            SIGNER,
            METHOD,
            PATH,
            NOW,
            BODY,
            SIGNATURE,
        ),
        (
            SECRET,
            42,
            "GET",
            "/v1/customer_profiles/p1/inventory?referrals=true",
            1_700_000_300,
            b"",
            "306776a72fe1bb9f19eafc4e5a9905ca9dd64380fc4db67dc06aed217305c9d9",
        ),
        (
            "another secret, ünïcode",
            7,
            "POST",
            "/v2/events",
            1_234_567_890,
            '{"type":"café"}\n'.encode(),
            "7dc8564c8f8bf56601cd662e5564d027fac45ac65b721f72e7ee0fc45f2e1951",
        ),
    ],
)
def test_known_signatures(
    secret: str, signer: int, method: str, path: str, timestamp: int, body: bytes, expected: str
) -> None:
    assert (
        sign(secret=secret, signer=signer, method=method, path=path, timestamp=timestamp, body=body)
        == expected
    )


def test_the_signature_is_a_plain_hmac_sha256_of_the_canonical_string() -> None:
    message = f"{SIGNER}\n{NOW}\n{METHOD}\n{PATH}\n".encode() + BODY

    assert hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest() == SIGNATURE


def test_signature_header() -> None:
    assert signed() == f"signer=42; timestamp=1700000000; signature={SIGNATURE}"


def test_a_string_signer_that_reads_as_the_number_signs_the_same() -> None:
    assert sign(secret=SECRET, signer="42", method=METHOD, path=PATH, timestamp=NOW, body=BODY) == (
        SIGNATURE
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"method": "PO ST"},
        {"method": ""},
        {"path": "/v2/a\nb"},
        {"path": "v2/no-leading-slash"},
        {"path": "/v2/with space"},
        {"path": "/v2/ünicode"},
        {"signer": "a\nb"},
        {"signer": ""},
        {"timestamp": -1},
        {"timestamp": True},
        {"secret": ""},
    ],
)
def test_sign_refuses_what_cannot_be_written_unambiguously(changes: dict[str, object]) -> None:
    arguments: dict[str, typing.Any] = {
        "secret": SECRET,
        "signer": SIGNER,
        "method": METHOD,
        "path": PATH,
        "timestamp": NOW,
        "body": BODY,
        **changes,
    }
    with pytest.raises(ValueError):
        sign(**arguments)


# ---------------------------------------------------------------------------------------------
# Parsing the header


@pytest.mark.parametrize(
    "header",
    [
        f"signer=42; timestamp=1700000000; signature={SIGNATURE}",
        f"signer=42;timestamp=1700000000;signature={SIGNATURE}",
        f"  signature = {SIGNATURE} ;\ttimestamp=1700000000 ;signer= 42  ",
        f"timestamp=1700000000; signature={SIGNATURE.upper()}; signer=42",
        f"Signer=42; TIMESTAMP=1700000000; Signature={SIGNATURE}",
    ],
)
def test_parameters_in_any_order_case_and_spacing(header: str) -> None:
    assert parse_content_signature(header) == ContentSignature(
        signer=42, timestamp=NOW, signature=SIGNATURE
    )


def test_a_signer_that_is_not_a_number_is_kept_as_text() -> None:
    parsed = parse_content_signature(f"signer=shop-eu.1; timestamp=1; signature={SIGNATURE}")

    assert parsed.signer == "shop-eu.1"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_header"),
        ("", "missing_header"),
        (" \t ", "missing_header"),
        ("garbage", "malformed"),
        (f"signer=42; timestamp=1700000000; signature={SIGNATURE};", "malformed"),
        (f"signer=42;; timestamp=1700000000; signature={SIGNATURE}", "malformed"),
        (f"signer=42, timestamp=1700000000, signature={SIGNATURE}", "malformed"),
        (f'signer="42"; timestamp=1700000000; signature={SIGNATURE}', "malformed"),
        (f"signer=; timestamp=1700000000; signature={SIGNATURE}", "malformed"),
        (f"signer 42; timestamp=1700000000; signature={SIGNATURE}", "malformed"),
        (f"signer=4 2; timestamp=1700000000; signature={SIGNATURE}", "malformed"),
        (f"signer=42; timestamp=1700000000; signature={SIGNATURE}\n", "malformed"),
        (f"signer=42\u00a0; timestamp=1700000000; signature={SIGNATURE}", "malformed"),
        (f"signer=42; timestamp=1700000000; signature={SIGNATURE}; x" + "y" * 1100, "malformed"),
        (
            f"signer=42; timestamp=1700000000; signature={SIGNATURE}; alg=sha256",
            "unknown_parameter",
        ),
        (
            f"signer=42; timestamp=1700000000; signature={SIGNATURE}; signer=43",
            "duplicate_parameter",
        ),
        (f"signer=42; timestamp=1; timestamp=2; signature={SIGNATURE}", "duplicate_parameter"),
        (f"timestamp=1700000000; signature={SIGNATURE}", "missing_signer"),
        # Talon.One's legacy header: a body-only HMAC-MD5, replayable.
        ("signer=42; signature=9e107d9d372bb6826bd81d3542a419d6", "missing_timestamp"),
        ("signer=42; timestamp=1700000000", "missing_signature"),
        (f"signer=042; timestamp=1700000000; signature={SIGNATURE}", "bad_signer"),
        (f"signer=-42; timestamp=1700000000; signature={SIGNATURE}", "bad_signer"),
        (f"signer=1234567890123; timestamp=1700000000; signature={SIGNATURE}", "bad_signer"),
        (f"signer={'a' * 65}; timestamp=1700000000; signature={SIGNATURE}", "bad_signer"),
        (f"signer=42; timestamp=1700000000.5; signature={SIGNATURE}", "bad_timestamp"),
        (f"signer=42; timestamp=-1; signature={SIGNATURE}", "bad_timestamp"),
        (f"signer=42; timestamp=2023-11-14T22:13:20Z; signature={SIGNATURE}", "bad_timestamp"),
        (f"signer=42; timestamp={'9' * 13}; signature={SIGNATURE}", "bad_timestamp"),
        (f"signer=42; timestamp={'9' * 5000}; signature={SIGNATURE}", "malformed"),
        (
            "signer=42; timestamp=1700000000; signature=9e107d9d372bb6826bd81d3542a419d6",
            "bad_signature_format",
        ),
        (f"signer=42; timestamp=1700000000; signature={SIGNATURE}0", "bad_signature_format"),
        (f"signer=42; timestamp=1700000000; signature={SIGNATURE[:-1]}g", "bad_signature_format"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(header: str | None, code: str) -> None:
    assert refusal(lambda: parse_content_signature(header)) == code


@pytest.mark.parametrize(
    "digits", ["\u0661\u0667\u0660\u0660", "1_700_000_000", "\uff11\uff17\uff10\uff10"]
)
def test_only_ascii_digits_make_a_timestamp(digits: str) -> None:
    # Arabic-Indic and full-width digits, and underscores: int() reads them all, so a lax
    # parser would give one request several spellings.
    code = refusal(lambda: parse_content_signature(f"signer=1; timestamp={digits}; signature=0"))

    assert code in {"malformed", "bad_timestamp"}


@given(st.text())
def test_any_text_parses_or_raises_signature_error(header: str) -> None:
    code = None
    try:
        parse_content_signature(header)
    except SignatureError as error:
        code = error.code

    assert code is None or code in typing.get_args(SignatureErrorCode)


# Headers that look nearly right: real names, cases and separators around arbitrary values.
_NAME = st.sampled_from(["signer", "timestamp", "signature", "Signer", "SIGNATURE", "x", ""])
_VALUE = st.one_of(
    st.sampled_from(["42", "0", "007", str(NOW), SIGNATURE, SIGNATURE.upper(), "", "-1"]),
    st.text(max_size=70),
    st.from_regex(r"[0-9a-fA-F]{60,68}", fullmatch=True),
)
_SPACE = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0"])
_PART = st.builds(
    lambda before, name, around, value, after: f"{before}{name}{around}={around}{value}{after}",
    _SPACE,
    _NAME,
    _SPACE,
    _VALUE,
    _SPACE,
)
_NEAR_MISS = st.lists(_PART, max_size=5).map(";".join)


@given(_NEAR_MISS)
def test_near_miss_headers_parse_or_raise_signature_error(header: str) -> None:
    try:
        parsed = parse_content_signature(header)
    except SignatureError:
        return
    assert re.fullmatch(r"[0-9a-f]{64}", parsed.signature)


@given(_NEAR_MISS, st.text(max_size=30), st.binary(max_size=30))
def test_verify_raises_only_signature_error(header: str, path: str, body: bytes) -> None:
    code = None
    try:
        check(header, path=path, body=body)
    except SignatureError as error:
        code = error.code

    assert code != "replayed"


@given(
    signer=st.integers(min_value=0, max_value=10**12 - 1),
    timestamp=st.integers(min_value=0, max_value=10**12 - 1),
    signature=st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True),
    order=st.permutations(["signer", "timestamp", "signature"]),
    spaces=st.lists(st.sampled_from(["", " ", "\t", " \t "]), min_size=6, max_size=6),
)
def test_any_well_formed_header_round_trips(
    signer: int, timestamp: int, signature: str, order: list[str], spaces: list[str]
) -> None:
    values = {"signer": signer, "timestamp": timestamp, "signature": signature}
    header = ";".join(
        f"{spaces[2 * index]}{name}={values[name]}{spaces[2 * index + 1]}"
        for index, name in enumerate(order)
    )

    assert parse_content_signature(header) == ContentSignature(
        signer=signer, timestamp=timestamp, signature=signature.lower()
    )


# ---------------------------------------------------------------------------------------------
# Verifying a request


def test_a_signed_request_is_accepted_and_names_its_signer() -> None:
    assert check(signed()) == SIGNER


def test_the_header_may_be_written_differently_from_how_it_was_signed() -> None:
    header = f"signature = {SIGNATURE.upper()} ; signer=42;timestamp=1700000000"

    assert check(header) == SIGNER


def test_the_method_is_not_case_sensitive() -> None:
    assert check(signed(method="put"), method="PUT") == SIGNER


def test_a_request_without_a_body_is_signed_over_nothing() -> None:
    header = signed(method="DELETE", path="/v1/coupon_reservations/c1", body=b"")

    assert check(header, method="DELETE", path="/v1/coupon_reservations/c1", body=b"") == SIGNER


@pytest.mark.parametrize(
    "request_changes",
    [
        {"body": BODY + b" "},
        {"body": BODY.replace(b"p1", b"p2")},
        {"body": b""},
        {"method": "POST"},
        {"path": "/v2/customer_sessions/session-124"},
        {"path": PATH + "?dry=true"},
        {"path": PATH + "/"},
    ],
)
def test_a_tampered_request_is_refused(request_changes: dict[str, typing.Any]) -> None:
    assert refusal(lambda: check(signed(), **request_changes)) == "bad_signature"


def test_a_tampered_timestamp_is_refused() -> None:
    header = signed().replace("timestamp=1700000000", "timestamp=1700000001")

    assert refusal(lambda: check(header)) == "bad_signature"


def test_a_signature_made_for_one_application_is_refused_for_another() -> None:
    # Even when the two applications share a secret, the signer is part of what is signed.
    header = signed().replace("signer=42", "signer=43")

    assert refusal(lambda: check(header)) == "bad_signature"


def test_a_signature_with_another_secret_is_refused() -> None:
    assert refusal(lambda: check(signed(secret="somebody-else's"))) == "bad_signature"


def test_a_tampered_signature_is_refused() -> None:
    last = SIGNATURE[-1]
    header = signed().replace(SIGNATURE, SIGNATURE[:-1] + ("0" if last != "0" else "1"))

    assert refusal(lambda: check(header)) == "bad_signature"


def test_talon_ones_legacy_header_is_refused() -> None:
    legacy = hmac.new(bytes.fromhex("0123456789abcdef"), BODY, hashlib.md5).hexdigest()

    assert refusal(lambda: check(f"signer=42; signature={legacy}")) == "missing_timestamp"


@pytest.mark.parametrize("path", ["/v2/a\nb", "/v2/é", "no-slash", ""])
def test_a_request_that_cannot_be_written_canonically_is_refused(path: str) -> None:
    assert refusal(lambda: check(signed(), path=path)) == "unsignable_request"


# The window: five minutes either way, for clocks that disagree.


@pytest.mark.parametrize(
    "age", [0, 1, -1, DEFAULT_WINDOW_SECONDS, -DEFAULT_WINDOW_SECONDS, 299.5, -299.5]
)
def test_within_the_window_is_accepted(age: float) -> None:
    assert check(signed(), now=NOW + age) == SIGNER


@pytest.mark.parametrize("age", [DEFAULT_WINDOW_SECONDS + 0.5, DEFAULT_WINDOW_SECONDS + 1, 86_400])
def test_too_old_is_refused(age: float) -> None:
    assert refusal(lambda: check(signed(), now=NOW + age)) == "stale_timestamp"


@pytest.mark.parametrize(
    "ahead", [DEFAULT_WINDOW_SECONDS + 0.5, DEFAULT_WINDOW_SECONDS + 1, 86_400]
)
def test_too_far_in_the_future_is_refused(ahead: float) -> None:
    assert refusal(lambda: check(signed(), now=NOW - ahead)) == "future_timestamp"


def test_the_window_can_be_narrowed() -> None:
    guard = MemoryReplayGuard()
    arguments: dict[str, typing.Any] = {
        "header": signed(),
        "secrets": [SECRET],
        "method": METHOD,
        "path": PATH,
        "body": BODY,
        "seen": guard,
        "window_seconds": 30,
    }

    assert refusal(lambda: verify(**arguments, now=NOW + 31)) == "stale_timestamp"
    assert verify(**arguments, now=NOW + 30) == SIGNER


def test_the_window_is_checked_before_the_signature() -> None:
    # An old request with a wrong signature: refused as stale, without computing any HMAC.
    assert refusal(lambda: check(signed(secret="wrong"), now=NOW + 3600)) == "stale_timestamp"


# Replays.


def test_a_replayed_request_is_refused() -> None:
    guard = MemoryReplayGuard()
    check(signed(), seen=guard)

    assert refusal(lambda: check(signed(), seen=guard)) == "replayed"
    # However it is spelt.
    respelt = f"signature={SIGNATURE.upper()};signer=42;timestamp=1700000000"
    assert refusal(lambda: check(respelt, seen=guard, now=NOW + 10)) == "replayed"


def test_a_different_request_after_it_is_accepted() -> None:
    guard = MemoryReplayGuard()
    check(signed(), seen=guard)

    other_body = b'{"customerSession":{"profileId":"p1","cartItems":[{"sku":"a"}]}}'
    assert check(signed(body=other_body), body=other_body, seen=guard) == SIGNER
    assert check(signed(timestamp=NOW + 1), seen=guard, now=NOW + 1) == SIGNER


def test_the_same_request_signed_again_later_is_accepted() -> None:
    guard = MemoryReplayGuard()
    check(signed(), seen=guard)

    assert check(signed(timestamp=NOW + 2), seen=guard, now=NOW + 2) == SIGNER


def test_a_refused_request_does_not_use_up_the_signature() -> None:
    guard = MemoryReplayGuard()

    assert refusal(lambda: check(signed(), body=b"forged", seen=guard)) == "bad_signature"
    assert refusal(lambda: check(signed(), secrets=[NEW_SECRET], seen=guard)) == "bad_signature"
    assert check(signed(), seen=guard) == SIGNER
    assert len(guard) == 1


class RecordingGuard:
    """A replay guard that says yes and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        self.calls.append((key, ttl_seconds))
        return True


@pytest.mark.parametrize("age", [-DEFAULT_WINDOW_SECONDS, -10, 0, 0.5, 10, DEFAULT_WINDOW_SECONDS])
def test_a_signature_is_remembered_until_its_window_has_closed(age: float) -> None:
    guard = RecordingGuard()
    check(signed(), now=NOW + age, seen=guard)

    [(key, ttl_seconds)] = guard.calls
    assert key == f"integration:content-signature:42:{SIGNATURE}"
    # Still refused as a replay for as long as the window check would let it through.
    assert NOW + age + ttl_seconds >= NOW + DEFAULT_WINDOW_SECONDS + REPLAY_MARGIN_SECONDS
    assert ttl_seconds <= 2 * DEFAULT_WINDOW_SECONDS + REPLAY_MARGIN_SECONDS + 1


# Rotation: two secrets at once.


def test_during_rotation_either_secret_verifies() -> None:
    secrets = [SECRET, NEW_SECRET]

    assert check(signed(secret=SECRET), secrets=secrets) == SIGNER
    assert check(signed(secret=NEW_SECRET), secrets=secrets) == SIGNER
    assert check(signed(secret=NEW_SECRET), secrets=list(reversed(secrets))) == SIGNER


def test_a_retired_secret_no_longer_verifies() -> None:
    assert refusal(lambda: check(signed(secret=SECRET), secrets=[NEW_SECRET])) == "bad_signature"


def test_with_no_active_secret_nothing_verifies() -> None:
    assert refusal(lambda: check(signed(), secrets=[])) == "bad_signature"


def test_an_empty_secret_never_verifies() -> None:
    message = canonical_string(signer=SIGNER, timestamp=NOW, method=METHOD, path=PATH, body=BODY)
    keyless = hmac.new(b"", message, hashlib.sha256).hexdigest()
    header = f"signer=42; timestamp={NOW}; signature={keyless}"

    assert refusal(lambda: check(header, secrets=[""])) == "bad_signature"


def test_one_string_is_not_taken_for_a_list_of_one_letter_secrets() -> None:
    with pytest.raises(TypeError):
        check(signed(), secrets=SECRET)


@pytest.mark.parametrize("signed_with", [SECRET, NEW_SECRET, "neither"])
def test_every_active_secret_is_compared_whichever_matches(
    monkeypatch: pytest.MonkeyPatch, signed_with: str
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    compare_digest = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", counting)
    try:
        check(signed(secret=signed_with), secrets=[SECRET, NEW_SECRET])
    except SignatureError:
        assert signed_with == "neither"

    # Both secrets, whichever matched (or none), so the time taken tells nothing.
    assert len(compared) == 2


# ---------------------------------------------------------------------------------------------
# Replay guards


def test_memory_guard_says_yes_once_per_key() -> None:
    guard = MemoryReplayGuard()

    assert guard.first_use("a", 60)
    assert not guard.first_use("a", 60)
    assert guard.first_use("b", 60)


def test_memory_guard_forgets_a_key_when_it_expires() -> None:
    clock = [1000.0]
    guard = MemoryReplayGuard(clock=lambda: clock[0])
    guard.first_use("short", 10)
    guard.first_use("long", 100)

    clock[0] += 9.9
    assert not guard.first_use("short", 10)
    clock[0] += 0.1
    assert len(guard) == 1
    assert guard.first_use("short", 10)
    assert not guard.first_use("long", 100)
    clock[0] += 200
    assert len(guard) == 0


def test_memory_guard_keeps_a_key_renewed_after_expiry_for_its_new_ttl() -> None:
    clock = [0.0]
    guard = MemoryReplayGuard(clock=lambda: clock[0])
    guard.first_use("k", 10)
    clock[0] = 10
    guard.first_use("k", 100)  # expired, so used afresh with a longer TTL
    guard.first_use("other", 1)  # sweeps the old entry for "k" from the queue

    clock[0] = 50
    assert not guard.first_use("k", 100)


def test_memory_guard_never_takes_a_ttl_below_one_second() -> None:
    clock = [0.0]
    guard = MemoryReplayGuard(clock=lambda: clock[0])

    assert guard.first_use("k", 0)
    assert not guard.first_use("k", 0)


def race(guard: ReplayGuard, contenders: int = 20) -> list[bool]:
    """``contenders`` threads released at once to use one key; what each was told."""
    key = f"race-{uuid.uuid4()}"
    start = threading.Barrier(contenders)
    results: list[bool] = []
    lock = threading.Lock()

    def contend() -> None:
        start.wait()
        outcome = guard.first_use(key, 60)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_memory_guard_lets_exactly_one_of_twenty_racing_threads_through() -> None:
    results = race(MemoryReplayGuard())

    assert sorted(results) == [False] * 19 + [True]


def test_cache_guard_on_the_local_memory_cache() -> None:
    guard = CacheReplayGuard(LocMemCache(f"integration-{uuid.uuid4()}", {}))

    assert guard.first_use("a", 60)
    assert not guard.first_use("a", 60)
    assert sorted(race(guard)) == [False] * 19 + [True]


def test_cache_guard_passes_a_positive_timeout() -> None:
    timeouts: list[int] = []

    class Cache:
        def add(self, key: str, value: int, timeout: int, /) -> bool:
            timeouts.append(timeout)
            return True

    CacheReplayGuard(Cache()).first_use("k", 0)

    assert timeouts == [1]


redis_only = pytest.mark.skipif(
    settings.CACHES["default"]["BACKEND"] != "django.core.cache.backends.redis.RedisCache",
    reason="the default cache is Redis only when REDIS_URL is set",
)


@pytest.fixture
def redis_guard() -> CacheReplayGuard:
    return CacheReplayGuard(caches["default"])


@redis_only
def test_cache_guard_on_redis(redis_guard: CacheReplayGuard) -> None:
    key = f"test-{uuid.uuid4()}"

    assert redis_guard.first_use(key, 60)
    assert not redis_guard.first_use(key, 60)
    assert redis_guard.first_use(f"{key}-other", 60)


@redis_only
def test_cache_guard_on_redis_sets_the_ttl(redis_guard: CacheReplayGuard) -> None:
    key = f"test-{uuid.uuid4()}"
    redis_guard.first_use(key, 123)

    # Django's cache API does not read TTLs: ask Redis itself.
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    remaining = client.ttl(caches["default"].make_key(key))
    assert 120 <= remaining <= 123


@redis_only
def test_on_redis_exactly_one_of_twenty_racing_threads_wins(redis_guard: CacheReplayGuard) -> None:
    results = race(redis_guard)

    assert sorted(results) == [False] * 19 + [True]


@redis_only
def test_on_redis_a_signed_request_sent_twenty_times_at_once_is_accepted_once(
    redis_guard: CacheReplayGuard,
) -> None:
    # A fresh request each run, so that reruns against the same Redis do not see each other.
    body = f'{{"run": "{uuid.uuid4()}"}}'.encode()
    header = signed(body=body)
    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def send() -> None:
        start.wait()
        try:
            check(header, body=body, seen=redis_guard)
            outcome = "accepted"
        except SignatureError as error:
            outcome = error.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["accepted"] + ["replayed"] * 19


# ---------------------------------------------------------------------------------------------
# docs/integration.md tells the truth


def code_blocks(language: str) -> list[str]:
    """The code blocks of the authentication section of the integration guide."""
    text = DOCUMENT.read_text()
    section = text[text.index("## Authentication") :]
    following = section.find("\n## ", 1)
    section = section if following < 0 else section[:following]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


INTEGRATOR = {
    "APPLICATION_ID": "42",
    "API_KEY": "0123456789abcdef" * 4,
    "SIGNING_SECRET": SECRET,
    "BASE_URL": "https://promotions.example.com",
}


def test_the_documented_worked_example() -> None:
    [example] = [block for block in code_blocks("text") if "signing secret" in block]
    fields = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in example.splitlines())

    assert fields["signature"] == sign(
        secret=fields["signing secret"],
        signer=int(fields["signer"]),
        method=fields["method"],
        path=fields["path"],
        timestamp=int(fields["timestamp"]),
        body=fields["body"].encode(),
    )
    assert fields["signature"] in DOCUMENT.read_text().split("Content-Signature: ", 1)[1]


def test_the_documented_canonical_string() -> None:
    assert "<signer>\\n<timestamp>\\n<METHOD>\\n<path>\\n<body>" in DOCUMENT.read_text()


def test_every_error_code_is_documented() -> None:
    text = DOCUMENT.read_text()

    for code in typing.get_args(SignatureErrorCode):
        assert f"| `{code}`" in text


def test_the_python_example_sends_a_request_the_server_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [source] = code_blocks("python")
    sent: list[urllib.request.Request] = []

    def urlopen(request: urllib.request.Request) -> io.BytesIO:
        sent.append(request)
        return io.BytesIO(b'{"effects": []}')

    for name, value in INTEGRATOR.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("time.time", lambda: NOW + 0.75)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)

    exec(compile(source, "docs/integration.md", "exec"), {})

    [request] = sent
    url = urllib.parse.urlsplit(request.full_url)
    headers = dict(request.header_items())
    assert headers["Authorization"] == f"ApiKey-v1 {INTEGRATOR['API_KEY']}"
    body = request.data
    assert isinstance(body, bytes)
    assert (
        check(
            headers["Content-signature"],
            method=request.get_method(),
            path=url.path + (f"?{url.query}" if url.query else ""),
            body=body,
        )
        == SIGNER
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_the_shell_example_sends_a_request_the_server_accepts() -> None:
    [script] = code_blocks("sh")
    # Stand-ins for a fixed clock and for curl, which prints its arguments one per line.
    stubs = "date() { echo 1700000000; }\ncurl() { printf '%s\\n' \"$@\"; }\n"

    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", stubs + script],
        env={**os.environ, **INTEGRATOR},
        capture_output=True,
        text=True,
        check=True,
    )

    arguments = completed.stdout.splitlines()
    headers = dict(
        arguments[index + 1].split(": ", 1)
        for index, argument in enumerate(arguments)
        if argument == "-H"
    )
    body = arguments[arguments.index("--data-binary") + 1].encode()
    method = arguments[arguments.index("-X") + 1]
    url = urllib.parse.urlsplit(arguments[arguments.index("-X") + 2])
    assert headers["Authorization"] == f"ApiKey-v1 {INTEGRATOR['API_KEY']}"
    parsed = parse_content_signature(headers["Content-Signature"])
    assert parsed.signature == sign(
        secret=SECRET, signer=SIGNER, method=method, path=url.path, timestamp=NOW, body=body
    )
    assert check(headers["Content-Signature"], method=method, path=url.path, body=body) == SIGNER
