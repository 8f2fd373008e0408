"""daily_report / weekly_report on every database: one report per venue and period at the local
report hour across DST changes, no duplicates from reruns or a second process, catch-up after an
outage, and figures checked against a plain-Python oracle over random feedback."""

from __future__ import annotations

import random
import threading
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from factories import make_feedback, make_venue
from sqlalchemy import Engine, insert, select

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.demo_text import ALERT_COMMENTS, COMMENTS, SHOWCASE
from encore_backend.domain.topics import OTHER, issue_topics
from encore_backend.scheduler.jobs import daily_report, weekly_report
from encore_backend.services.report_service import produce_reports
from encore_backend.storage.sql import models as m

ZONES = {
    "ny": "America/New_York",
    "ldn": "Europe/London",
    "syd": "Australia/Sydney",
    "kol": "Asia/Kolkata",
}
CREATED = datetime(2026, 2, 1, tzinfo=UTC)


def reports(engine: Engine, kind: str = "daily") -> list[dict[str, Any]]:
    query = select(m.reports).where(m.reports.c.kind == kind).order_by(m.reports.c.period_start)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def local_day(row: dict[str, Any], zone: str) -> date:
    return row["period_start"].astimezone(ZoneInfo(zone)).date()


def venues(engine: Engine, zones: dict[str, str] = ZONES) -> None:
    for venue_id, zone in zones.items():
        make_venue(engine, venue_id, now=CREATED, timezone=zone)


def latest_day(tick: datetime, zone: str) -> date:
    """The newest local day whose report is due at `tick` (06:00 local the day after)."""
    local = tick.astimezone(ZoneInfo(zone))
    return local.date() - timedelta(days=1 if local.hour >= 6 else 2)


def test_each_venue_gets_one_daily_report_at_six_local_across_both_dst_changes(
    ctx: Container, engine: Engine
) -> None:
    """Hourly ticks (minute 5) from 1 March to 10 April 2026: US, EU and AU DST changes."""
    venues(engine)
    start = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
    ticks = [start + timedelta(hours=h) for h in range(40 * 24)]
    for tick in ticks:
        daily_report.run(ctx, tick)
    rows = reports(engine)
    for venue_id, zone in ZONES.items():
        mine = [r for r in rows if r["venue_id"] == venue_id]
        days = [local_day(r, zone) for r in mine]
        assert len(days) == len(set(days))  # one report per local day
        assert all((b - a).days == 1 for a, b in pairwise(days))  # no gaps
        assert all(a["period_end"] == b["period_start"] for a, b in pairwise(mine))
        for row in mine:  # bounded by local midnights, whatever the day's length
            begin, end = (row[k].astimezone(ZoneInfo(zone)) for k in ("period_start", "period_end"))
            assert begin.time() == end.time() == time(0)
            assert end.date() == begin.date() + timedelta(days=1)
        for row in mine:
            if row["generated_at"] == start:
                continue  # the first tick's catch-up of the week before
            local = row["generated_at"].astimezone(ZoneInfo(zone))
            # Produced at the first tick at or after 06:00 local the day after the period.
            assert local.date() == local_day(row, zone) + timedelta(days=1)
            assert (local.hour, local.minute) in ((6, 5), (6, 35)), (venue_id, local)
        assert days[-1] == latest_day(ticks[-1], zone)
        assert days[0] == latest_day(start, zone) - timedelta(days=6)  # a week caught up at once


def test_a_report_hour_in_the_spring_gap_and_the_repeated_autumn_hour_give_one_report(
    ctx: Container, engine: Engine
) -> None:
    make_venue(engine, "ny", now=CREATED, timezone="America/New_York")
    gap = ctx.settings.model_copy(update={"scheduler_daily_report_hour": 2})
    ctx.settings = gap
    start = datetime(2026, 3, 7, 0, 5, tzinfo=UTC)  # 2026-03-08 02:00 does not exist in NY
    for h in range(3 * 24):
        daily_report.run(ctx, start + timedelta(hours=h))
    ctx.settings = gap.model_copy(update={"scheduler_daily_report_hour": 1})
    start = datetime(2026, 10, 30, 0, 5, tzinfo=UTC)  # 2026-11-01 01:00 happens twice in NY
    for h in range(3 * 24):
        daily_report.run(ctx, start + timedelta(hours=h))
    made = {local_day(r, "America/New_York"): r["generated_at"] for r in reports(engine)}
    # 8 March: the first tick after 01:59 EST is 03:05 EDT (07:05Z).
    assert made[date(2026, 3, 7)] == datetime(2026, 3, 8, 7, 5, tzinfo=UTC)
    # 1 November: the first 01:05 (EDT, 05:05Z) produces it; the second (EST, 06:05Z) adds none.
    assert made[date(2026, 10, 31)] == datetime(2026, 11, 1, 5, 5, tzinfo=UTC)
    assert len(made) == len(reports(engine))


def test_reruns_and_a_concurrent_second_process_add_no_report(
    ctx: Container, engine: Engine
) -> None:
    venues(engine)
    now = datetime(2026, 3, 16, 23, 5, tzinfo=UTC)  # Monday: weekly reports due too
    barrier = threading.Barrier(2)
    created: list[int] = []

    def one_process() -> None:
        barrier.wait()
        created.append(len(produce_reports(ctx, kind="daily", now=now).created))

    threads = [threading.Thread(target=one_process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    rows = reports(engine)
    assert sum(created) == len(rows) == 4 * 7
    assert daily_report.run(ctx, now).items_processed == 0
    assert weekly_report.run(ctx, now).items_processed == 4 * 4
    assert weekly_report.run(ctx, now + timedelta(hours=1)).items_processed == 0
    assert len(reports(engine, "weekly")) == 16


def test_reports_missed_during_a_three_day_outage_are_produced_on_return(
    ctx: Container, engine: Engine
) -> None:
    venues(engine, {"ldn": "Europe/London"})
    before = datetime(2026, 3, 12, 6, 5, tzinfo=UTC)  # Thursday 06:05 GMT
    daily_report.run(ctx, before)
    weekly_report.run(ctx, before)
    last = max(local_day(r, "Europe/London") for r in reports(engine))
    assert last == date(2026, 3, 11)
    back = before + timedelta(days=3, hours=2)  # down from Thursday to Sunday 08:05
    result = daily_report.run(ctx, back)
    assert result.items_processed == 3
    days = [local_day(r, "Europe/London") for r in reports(engine)]
    assert days[-3:] == [date(2026, 3, 12), date(2026, 3, 13), date(2026, 3, 14)]
    # Down over a Monday: last week's report arrives on return.
    later = datetime(2026, 3, 17, 9, 5, tzinfo=UTC)
    assert weekly_report.run(ctx, later).items_processed == 1
    assert reports(engine, "weekly")[-1]["period_start"] == datetime(2026, 3, 9, tzinfo=UTC)


def test_a_venue_created_today_gets_yesterdays_report_and_no_backlog(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    make_venue(engine, "new", now=datetime(2026, 3, 10, 9, tzinfo=UTC))
    assert daily_report.run(ctx, datetime(2026, 3, 10, 12, 5, tzinfo=UTC)).items_processed == 1


# --- figures against a plain-Python oracle ------------------------------------------------------

POOL = [c for cs in COMMENTS.values() for c in cs] + list(ALERT_COMMENTS)
POOL += [c for _, c, _ in SHOWCASE]


def utc_of(day: date, venue_id: str) -> datetime:
    """The UTC instant of local midnight starting `day` at the venue."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(ZONES[venue_id])).astimezone(UTC)


def plant(engine: Engine, rng: random.Random, start: datetime, hours: int) -> list[dict[str, Any]]:
    """Random feedback (some exactly on local midnights), replies and alerts; the facts planted."""
    planted = []
    instants = [
        (rng.choice(["ny", "kol"]), start + timedelta(minutes=rng.randrange(hours * 60)))
        for _ in range(160)
    ]
    # On and just before local midnights, the first one the start of the earliest span read.
    for day in (8, 9):
        ny, kol = utc_of(date(2026, 3, day), "ny"), utc_of(date(2026, 3, day), "kol")
        instants += [("ny", ny), ("ny", ny - timedelta(microseconds=1)), ("kol", kol)]
    for venue_id, when in instants:
        rating = rng.choice([1, 2, 3, 4, 5, 5])
        comment = rng.choice(POOL)
        fid = make_feedback(engine, venue_id, created_at=when, rating=rating, comment=comment)
        fact: dict[str, Any] = {"id": fid, "venue_id": venue_id, "at": when, "rating": rating}
        fact |= {"comment": comment, "sent_at": None, "level": None}
        if rng.random() < 0.5:
            fact["sent_at"] = when + timedelta(minutes=rng.randrange(1, 3000))
            _reply(engine, fact)
        if rng.random() < 0.3:
            fact["level"] = rng.choice(["critical", "high"])
            _alert(engine, fact)
        planted.append(fact)
    return planted


def _reply(engine: Engine, fact: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(m.ai_responses).values(
                response_id=str(uuid.uuid4()),
                feedback_id=fact["id"],
                venue_id=fact["venue_id"],
                subject="Thank you",
                body="Thanks for your feedback.",
                status="sent",
                provider="template",
                created_at=fact["at"],
                sent_at=fact["sent_at"],
            )
        )


def _alert(engine: Engine, fact: dict[str, Any]) -> None:
    fact["alert_id"] = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(m.alerts).values(
                alert_id=fact["alert_id"],
                venue_id=fact["venue_id"],
                feedback_id=fact["id"],
                level=fact["level"],
                title=f"{fact['level']} alert {fact['id']}",
                description="planted",
                reasons=[],
                detected_at=fact["at"],
                is_read=False,
            )
        )


def in_days(when: datetime | None, zone: str, first: date, last: date) -> bool:
    return when is not None and first <= when.astimezone(ZoneInfo(zone)).date() <= last


def oracle(facts: list[dict[str, Any]], zone: str, first: date, last: date) -> dict[str, Any]:
    """The report figures by plain counting over local dates."""
    fb = [f for f in facts if in_days(f["at"], zone, first, last)]
    sent = [f for f in facts if in_days(f["sent_at"], zone, first, last)]
    ratings = [f["rating"] for f in fb]
    hours = [(f["sent_at"] - f["at"]).total_seconds() / 3600 for f in sent]
    crit = [f for f in fb if f["level"] == "critical"]
    return {
        "total_feedback": len(fb),
        "responses_sent": len(sent),
        "avg_response_time_hours": round(sum(hours) / len(hours), 2) if hours else None,
        "critical_alerts": len(crit),
        "csat": round(sum(r >= 4 for r in ratings) / len(ratings), 4) if ratings else None,
        "average_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "rating_distribution": {str(s): ratings.count(s) for s in range(1, 6)},
        "alert_ids": sorted(f["alert_id"] for f in crit),
        "issues": issue_counts(fb),
    }


def issue_counts(fb: list[dict[str, Any]]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for f in fb:
        for topic in issue_topics(f["comment"], f["rating"]):
            found[topic].append(f["id"])
    return dict(found)


def check(report: dict[str, Any], expected: dict[str, Any], previous: dict[str, Any]) -> None:
    content = report["content"]
    for name in ("total_feedback", "responses_sent", "avg_response_time_hours", "csat"):
        assert content[name] == expected[name], name
        assert content["previous"][name] == previous[name], name
    assert content["average_rating"] == expected["average_rating"]
    assert content["critical_alerts"] == expected["critical_alerts"]
    assert content["rating_distribution"] == expected["rating_distribution"]
    assert sorted(a["alert_id"] for a in content["critical_alert_list"]) == expected["alert_ids"]
    issues = {i["topic"]: i for i in content["top_issues"]}
    assert {t: i["mentions"] for t, i in issues.items()} == {
        t: len(ids) for t, ids in expected["issues"].items()
    }
    for topic, issue in issues.items():
        assert set(issue["feedback_ids"]) <= set(expected["issues"][topic])
    names = [i["topic"] for i in content["top_issues"]]
    assert OTHER not in names[:-1]
    delta = content["change"]["total_feedback"]
    assert delta == expected["total_feedback"] - previous["total_feedback"]


@pytest.mark.parametrize("seed", [7])
def test_report_figures_match_a_plain_python_oracle(
    ctx: Container, engine: Engine, seed: int
) -> None:
    venues(engine, {"ny": "America/New_York", "kol": "Asia/Kolkata"})
    rng = random.Random(seed)
    facts = plant(engine, rng, datetime(2026, 3, 1, tzinfo=UTC), hours=16 * 24)
    now = datetime(2026, 3, 16, 12, 5, tzinfo=UTC)  # Monday
    daily_report.run(ctx, now)
    weekly_report.run(ctx, now)
    checked = 0
    for kind, length in (("daily", 1), ("weekly", 7)):
        for report in reports(engine, kind):
            zone = ZONES[report["venue_id"]]
            mine = [f for f in facts if f["venue_id"] == report["venue_id"]]
            first = local_day(report, zone)
            last = first + timedelta(days=length - 1)
            before = oracle(mine, zone, first - timedelta(days=length), first - timedelta(days=1))
            check(report, oracle(mine, zone, first, last), before)
            checked += 1
    assert checked == 2 * 7 + 2 * 4  # two venues: a week of days, four weeks
