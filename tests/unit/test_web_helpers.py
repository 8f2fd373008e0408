"""Pure pieces of the dashboards: local-day trend folding, SVG charts, display formats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from encore_backend.web import format as fmt
from encore_backend.web.charts import Point, bar_chart, line_chart, nice_max
from encore_backend.web.trends import fold_days

NEW_YORK = ZoneInfo("America/New_York")


def hour(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_hours_fold_into_local_days_across_a_dst_change() -> None:
    # 2026-03-08 is the spring-forward day in New York: local midnight is 05:00 UTC before it,
    # 04:00 UTC after it.
    hours = [
        (hour("2026-03-08T04:00"), 2, 9),  # 23:00 on the 7th, local
        (hour("2026-03-08T05:00"), 1, 5),  # 00:00 on the 8th
        (hour("2026-03-09T03:00"), 3, 6),  # 23:00 on the 8th (EDT)
        (hour("2026-03-09T04:00"), 4, 4),  # 00:00 on the 9th
        (hour("2026-03-01T00:00"), 9, 9),  # before the first day: dropped
    ]
    days = fold_days(hours, zone=NEW_YORK, first=date(2026, 3, 7), days=3)
    assert [(d.day.day, d.feedback, d.average_rating) for d in days] == [
        (7, 2, 4.5),
        (8, 4, 2.75),
        (9, 4, 1.0),
    ]


def test_a_day_without_feedback_has_no_average() -> None:
    (day,) = fold_days([], zone=UTC, first=date(2026, 3, 1), days=1)
    assert (day.feedback, day.average_rating) == (0, None)


def test_axis_tops_are_round() -> None:
    assert [nice_max(v) for v in (0, 0.4, 1, 3, 7, 12, 51)] == [1, 1, 1, 5, 10, 20, 100]


def test_charts_escape_their_text_and_break_lines_at_gaps() -> None:
    points = [Point("<b>1</b>", 3, "a <script>"), Point("2", None, "none"), Point("3", 4, "x")]
    bars = str(bar_chart("c1", points, title="T & co", desc="D"))
    assert "<script>" not in bars and "&lt;script&gt;" in bars and "T &amp; co" in bars
    assert bars.count('class="bar"') == 3
    line = str(line_chart("c2", points, title="T", desc="D", low=1, high=5))
    assert line.count("<circle") == 2
    assert "<polyline" not in line  # two single points, no segment of two


def test_relative_times() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert fmt.ago(now - timedelta(seconds=20), now) == "just now"
    assert fmt.ago(now - timedelta(minutes=1, seconds=5), now) == "1 minute ago"
    assert fmt.ago(now - timedelta(minutes=17), now) == "17 minutes ago"
    assert fmt.ago(now - timedelta(hours=3), now) == "3 hours ago"
    assert fmt.ago(now + timedelta(minutes=5), now) == "in 5 minutes"
    assert fmt.ago(None, now) == "never"


def test_next_run_says_when_no_scheduler_fired_it() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert fmt.next_run(now + timedelta(minutes=3), now) == "in 3 minutes"
    assert fmt.next_run(now - timedelta(seconds=20), now) == "now"
    assert fmt.next_run(now - timedelta(hours=2), now) == "overdue by 2 hours"
    assert fmt.next_run(None, now) == "—"


def test_empty_figures_show_a_dash() -> None:
    assert [fmt.rating(None), fmt.percent(None), fmt.hours(None)] == ["—"] * 3
    assert (fmt.rating(4.256), fmt.percent(0.834), fmt.duration_ms(2400)) == (
        "4.26",
        "83%",
        "2.4 s",
    )
