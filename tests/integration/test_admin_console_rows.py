"""The admin console's venue rows: every venue with its time zone and newest snapshot, read in
two narrow queries (the 1,000-venue console read whole venue rows before)."""

from __future__ import annotations

from datetime import UTC, datetime

from factories import make_venue

from encore_backend.bootstrap import Container
from encore_backend.scheduler.jobs import stats_aggregator
from encore_backend.web.admin_view import venue_rows

NOW = datetime(2026, 3, 11, 12, tzinfo=UTC)


def test_venue_rows_carry_time_zones_and_newest_snapshots(ctx: Container) -> None:
    make_venue(ctx.engine, "v-paris", now=NOW, timezone="Europe/Paris")
    stats_aggregator.run(ctx, NOW)
    make_venue(ctx.engine, "v-tokyo", now=NOW, timezone="Asia/Tokyo")  # after the run

    assert ctx.venues.timezones() == {"v-paris": "Europe/Paris", "v-tokyo": "Asia/Tokyo"}
    rows, _totals = venue_rows(ctx)
    by_id = {row["venue_id"]: row for row in rows}
    assert [row["venue_id"] for row in rows] == ["v-paris", "v-tokyo"]
    assert by_id["v-paris"]["timezone"] == "Europe/Paris"
    assert by_id["v-paris"]["stats"] is not None
    assert by_id["v-tokyo"] == {
        "venue_id": "v-tokyo",
        "name": by_id["v-tokyo"]["name"],
        "computed_at": None,
        "stats": None,
        "timezone": "Asia/Tokyo",
    }
