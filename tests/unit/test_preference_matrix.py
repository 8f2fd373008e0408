"""The preference matrix: what each mode gets (level by mode), and when (quiet hours)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from encore_backend.domain.manager_prefs import Pref, delivery_time, in_quiet

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)  # 14:30 in London (GMT), a Tuesday
LONDON = "Europe/London"
MODES = ("standard", "immediate", "digest", "weekly", "none")
# (kind, level) → the modes that get it at once (no quiet hours).
MATRIX = {
    ("alert", "critical"): {"standard", "immediate", "digest"},
    ("alert", None): {"standard", "immediate", "digest"},  # callers before preferences
    ("alert", "high"): {"immediate"},
    ("alert", "medium"): set(),
    ("alert", "low"): set(),
    ("escalation", None): {"standard", "immediate"},
    ("report", "daily"): {"standard", "immediate"},
    ("report", "weekly"): {"standard", "immediate", "digest", "weekly"},
    ("digest", None): {"digest"},
}


def pref(mode: str, quiet: tuple[int, int] | None = None) -> Pref | None:
    if mode == "standard":
        return None
    start, end = quiet or (None, None)
    return Pref(mode=mode, digest_hour=7, quiet_start_hour=start, quiet_end_hour=end)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("kind", "level"), list(MATRIX))
def test_matrix_without_quiet_hours(mode: str, kind: str, level: str | None) -> None:
    expected = NOW if mode in MATRIX[(kind, level)] else None
    assert delivery_time(pref(mode), kind=kind, level=level, now=NOW, tz=LONDON) == expected


def at(hour: int, minute: int = 0, day: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# (quiet hours, now, tz, when a deferrable email goes)
QUIET_CASES = [
    ((22, 7), at(14, 30), LONDON, at(14, 30)),  # outside: at once
    ((22, 7), at(23, 15), LONDON, at(7, 0, day=11)),  # wrapped, before midnight: tomorrow 07:00
    ((22, 7), at(3, 0), LONDON, at(7, 0)),  # wrapped, after midnight: this morning
    ((22, 7), at(7, 0), LONDON, at(7, 0)),  # the end hour is not quiet
    ((22, 7), at(22, 0), LONDON, at(7, 0, day=11)),  # the start hour is
    ((12, 15), at(14, 59), LONDON, at(15, 0)),  # same-day window
    ((12, 15), at(15, 0), LONDON, at(15, 0)),
    ((9, 9), at(9, 30), LONDON, at(9, 30)),  # start == end: no quiet hours
    # Los Angeles (UTC-7 in PDT on 10 March): 06:30 UTC = 23:30 local; quiet until 08:00 local.
    ((22, 8), at(6, 30), "America/Los_Angeles", at(15, 0)),
    # DST day, London 29 March 2026: 01:00 GMT jumps to 02:00 BST. 00:30 local (00:30 UTC) in
    # quiet hours 23-08 ends at 08:00 BST = 07:00 UTC.
    ((23, 8), at(0, 30, day=29), LONDON, at(7, 0, day=29)),
    # An end hour the clocks skip (01:00 local on that day) maps to the jump: 01:00 UTC.
    ((23, 1), at(0, 30, day=29), LONDON, at(1, 0, day=29)),
    # Autumn, 25 October 2026: 01:00-02:00 BST happens twice; ending at 02:00 local = 02:00 GMT.
    ((22, 2), at(23, 30, day=24, month=10), LONDON, at(2, 0, day=25, month=10)),
]


@pytest.mark.parametrize(("quiet", "now", "tz", "expected"), QUIET_CASES)
def test_quiet_hours_defer_all_but_critical(
    quiet: tuple[int, int], now: datetime, tz: str, expected: datetime
) -> None:
    immediate = pref("immediate", quiet)
    assert delivery_time(immediate, kind="alert", level="critical", now=now, tz=tz) == now
    assert delivery_time(immediate, kind="alert", level="high", now=now, tz=tz) == expected
    assert delivery_time(immediate, kind="escalation", level=None, now=now, tz=tz) == expected
    assert delivery_time(immediate, kind="report", level="daily", now=now, tz=tz) == expected
    digest = pref("digest", quiet)
    assert delivery_time(digest, kind="alert", level="critical", now=now, tz=tz) == now
    assert delivery_time(digest, kind="digest", level=None, now=now, tz=tz) == expected
    assert delivery_time(digest, kind="report", level="weekly", now=now, tz=tz) == expected
    assert delivery_time(digest, kind="alert", level="high", now=now, tz=tz) is None
    weekly = pref("weekly", quiet)
    assert delivery_time(weekly, kind="report", level="weekly", now=now, tz=tz) == expected
    assert delivery_time(weekly, kind="alert", level="critical", now=now, tz=tz) is None


def test_wrap_around_membership() -> None:
    assert [h for h in range(24) if in_quiet(h, (22, 7))] == [0, 1, 2, 3, 4, 5, 6, 22, 23]
    assert [h for h in range(24) if in_quiet(h, (12, 15))] == [12, 13, 14]
