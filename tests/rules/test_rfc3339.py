"""Times written as RFC 3339 (``rules.values.format_rfc3339``), against the definition it was
first written as."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from rules.values import format_rfc3339


def reference(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset()
    if not offset:
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


zones = st.one_of(
    st.none(),
    st.just(UTC),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
)


@given(st.datetimes(timezones=zones))
def test_a_time_is_written_as_its_definition_says(moment: datetime) -> None:
    assert format_rfc3339(moment) == reference(moment)


def test_examples() -> None:
    assert format_rfc3339(datetime(5, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)) == (
        "0005-01-02T03:04:05.12Z"
    )
    assert format_rfc3339(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    offset = timezone(-timedelta(hours=5, minutes=30))
    assert format_rfc3339(datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=offset)) == (
        "2026-01-02T03:04:05.000001-05:30"
    )
