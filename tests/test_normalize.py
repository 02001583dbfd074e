"""Times from every shape platforms use, to UTC; ``now`` passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.normalize import content_key, parse_time

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20 10:00:00", datetime(2026, 11, 20, 2, 0, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 19, 16, 0, tzinfo=UTC)),
        ("Sun Apr 22 09:08:06 +0800 2018", datetime(2018, 4, 22, 1, 8, 6, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 03:00:00 GMT", datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),
        ("2026-11-23T03:00:00Z", datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),
        (1763866800, datetime(2025, 11, 23, 3, 0, tzinfo=UTC)),
        (1763866800000, datetime(2025, 11, 23, 3, 0, tzinfo=UTC)),
        ("1763866800", datetime(2025, 11, 23, 3, 0, tzinfo=UTC)),
        ("刚刚", NOW),
        ("5分钟前", NOW - timedelta(minutes=5)),
        ("3小时前", NOW - timedelta(hours=3)),
        ("昨天 12:30", datetime(2026, 11, 22, 4, 30, tzinfo=UTC)),
        ("今天 08:00", datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),
        ("04-24", datetime(2026, 4, 23, 16, 0, tzinfo=UTC)),
        ("12-30", datetime(2025, 12, 29, 16, 0, tzinfo=UTC)),
        (datetime(2026, 1, 1, 8, 0), datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_time(value: object, expected: datetime) -> None:
    assert parse_time(value, NOW, CST) == expected


@pytest.mark.parametrize("value", [None, "", "not a time", "13-45", "昨天"])
def test_unparseable_times_are_none(value: object) -> None:
    assert parse_time(value, NOW, CST) is None


def test_content_key_is_stable_and_distinguishes() -> None:
    assert content_key("a", "t", "x") == content_key("a", "t", " x ")
    assert content_key("a", "t", "x") != content_key("b", "t", "x")
