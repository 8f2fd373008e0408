"""The stats of SPEC §5 against a brute-force oracle, on random venues, zones and data.

Given venues in random IANA zones (DST ones, half- and quarter-hour offsets, zones whose
midnight is skipped or repeated), feedback spread over the 40 days before a random `now` (many
right at local midnights, week and month starts, the 30-day edge and DST changes) and replies in
every status, the sent ones sent through the queue store at random times, and some feedback
escalated by the response deadline; when the stats_aggregator's service refreshes the snapshots
at `now`, expect every §5 field (and `overdue_responses`: escalated, no reply sent, a customer
with an address) of every
venue to equal what plain Python computes from the SPEC text: each instant's local date in the
venue's zone decides "today", "this week" (Monday start) and "this month"; the trailing 30 days
are [now - 30 days, now]; empty windows give null.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from factories import make_customer, make_feedback, make_venue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, update
from support.databases import backend_of
from support.hypothesis_db import clear_tables

from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock
from encore_backend.services.stats_service import refresh_snapshots
from encore_backend.storage.sql import models as m

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",  # DST moves the clock by 30 minutes
    "Pacific/Chatham",  # +12:45 / +13:45, changes at 02:45
    "America/Santiago",  # midnight is skipped in spring and repeated in autumn
    "America/Havana",  # the same, in the north
    "Asia/Kathmandu",  # +05:45
    "Pacific/Kiritimati",  # +14
    "Pacific/Pago_Pago",  # -11
    "America/St_Johns",  # -03:30 with DST
]
FIRST, LAST = datetime(2025, 9, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)
PENDING = ("generated", "pending_approval", "approved", "auto_approved")
REPLY_STATES = [None, *PENDING, "rejected", "failed", "cancelled", "sent", "sent", "sent"]
TRAILING = timedelta(days=30)
US = timedelta(microseconds=1)
MAX_EXAMPLES = {"sqlite": 150, "mariadb": 60, "postgresql": 60}


@dataclass
class Feedback:
    rating: int
    created_at: datetime
    reply: str | None  # reply status, None = no reply
    sent_at: datetime | None = None
    escalated: bool = False  # response_sla escalated it (feedback.escalated_at set)
    reachable: bool = True  # from a customer with an address (a reply can be sent)


@dataclass
class Scenario:
    now: datetime
    venues: dict[str, str]  # venue_id → zone
    feedback: dict[str, list[Feedback]] = field(default_factory=dict)


# --- the oracle --------------------------------------------------------------------------------


def oracle(zone_name: str, rows: list[Feedback], now: datetime) -> dict[str, Any]:
    """SPEC §5 in plain Python: classify each instant by its local date in the venue's zone."""
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())

    def local(t: datetime) -> date:
        return t.astimezone(zone).date()

    seen = [f for f in rows if f.created_at <= now]
    recent = [f for f in seen if now - TRAILING <= f.created_at]
    answered = [f for f in recent if f.sent_at is not None and f.sent_at <= now]
    hours = [(f.sent_at - f.created_at).total_seconds() / 3600 for f in answered if f.sent_at]
    n = len(recent)
    return {
        "feedback_today": sum(local(f.created_at) == today for f in seen),
        "feedback_this_week": sum(monday <= local(f.created_at) <= today for f in seen),
        "feedback_this_month": sum(
            local(f.created_at).replace(day=1) == today.replace(day=1) for f in seen
        ),
        "pending_responses": sum(f.reply in PENDING for f in rows),
        "sent_today": sum(
            f.sent_at is not None and f.sent_at <= now and local(f.sent_at) == today for f in rows
        ),
        "average_rating": sum(f.rating for f in recent) / n if n else None,
        "response_rate": len(answered) / n if n else None,
        "avg_response_time_hours": sum(hours) / len(hours) if hours else None,
        "csat": sum(f.rating >= 4 for f in recent) / n if n else None,
        "overdue_responses": sum(f.escalated and f.reply != "sent" and f.reachable for f in rows),
    }


# Allowed distance from the exact value: 2 decimals for the rating (SPEC), 4 for the shares,
# and for hours 2 decimals plus the whole seconds the response time is kept in.
TOLERANCE = {
    "average_rating": 0.005,
    "response_rate": 0.00005,
    "csat": 0.00005,
    "avg_response_time_hours": 0.005 + 1 / 3600,
}


def assert_matches(stats: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for name, want in expected.items():
        got = stats.get(name)
        if name not in TOLERANCE or want is None:
            assert got == want, (where, name, got, want)
            continue
        assert isinstance(got, int | float) and got == got, (where, name, got, want)  # not NaN
        assert abs(got - want) <= TOLERANCE[name] + 1e-9, (where, name, got, want)
    rating = stats["average_rating"]
    assert rating is None or round(rating, 2) == rating, (where, "2 decimals", rating)


# --- generated scenarios -----------------------------------------------------------------------


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """The instants (to the second) where the zone's UTC offset changes in [FIRST, LAST]."""
    zone, found = ZoneInfo(zone_name), []
    day = FIRST
    while day < LAST:
        lo, hi = day, day + timedelta(days=1)
        if lo.astimezone(zone).utcoffset() != hi.astimezone(zone).utcoffset():
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                same = mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset()
                lo, hi = (mid, hi) if same else (lo, mid)
            found.append(hi.replace(microsecond=0))
        day += timedelta(days=1)
    return tuple(found)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """About the first instant of a local day (exactness does not matter: data lands near it)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def edges(zone_name: str, now: datetime) -> list[datetime]:
    """Instants where a window of `now` starts, and DST changes, over the 40 days before it."""
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=k) for k in range(3)]
    days += [today - timedelta(days=today.weekday() + 7 * k) for k in range(2)]
    days += [today.replace(day=1), (today.replace(day=1) - timedelta(days=1)).replace(day=1)]
    near = [t for t in transitions(zone_name) if now - timedelta(days=41) <= t <= now]
    return [*(local_midnight(d, zone) for d in days), now - TRAILING, now, *near]


jitter = st.one_of(
    st.just(timedelta(0)),
    st.sampled_from([-US, US]),
    st.integers(-3600, 3600).map(lambda s: timedelta(seconds=s)),
    st.timedeltas(min_value=timedelta(hours=-30), max_value=timedelta(hours=30)),
)


@st.composite
def instants(draw: st.DrawFn, zone: str, now: datetime, earliest: datetime) -> datetime:
    """An instant in [earliest, now]: anywhere, or next to an edge of `zone`'s windows."""
    if draw(st.booleans()):
        span = max(int((now - earliest).total_seconds()), 0)
        t = now - timedelta(
            seconds=draw(st.integers(0, span)), microseconds=draw(st.integers(0, 999_999))
        )
    else:
        t = draw(st.sampled_from(edges(zone, now))) + draw(jitter)
    return min(max(t, earliest), now)


@st.composite
def nows(draw: st.DrawFn, zone: str) -> datetime:
    """`now`: any instant, or next to a local midnight, a Monday, a month start or a DST change."""
    base = draw(st.datetimes(min_value=datetime(2025, 11, 1), max_value=datetime(2027, 1, 31)))
    base = base.replace(tzinfo=UTC)
    local = base.astimezone(ZoneInfo(zone)).date()
    near = [
        base,
        local_midnight(local, ZoneInfo(zone)),
        local_midnight(local - timedelta(days=local.weekday()), ZoneInfo(zone)),
        local_midnight(local.replace(day=1), ZoneInfo(zone)),
        *[t for t in transitions(zone) if abs(t - base) < timedelta(days=200)][:2],
    ]
    return draw(st.sampled_from(near)) + draw(jitter)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zones = draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=4, unique=True))
    now = draw(nows(zones[0]))
    scenario = Scenario(now=now, venues={f"v{i}": z for i, z in enumerate(zones)})
    for venue_id, zone in scenario.venues.items():
        rows = []
        for _ in range(draw(st.integers(0, 10))):
            created = draw(instants(zone, now, now - timedelta(days=40)))
            reply = draw(st.sampled_from(REPLY_STATES))
            sent = draw(instants(zone, now, created)) if reply == "sent" else None
            escalated, reachable = draw(st.booleans()), draw(st.booleans())
            rating = draw(st.integers(1, 5))
            rows.append(Feedback(rating, created, reply, sent, escalated, reachable))
        scenario.feedback[venue_id] = rows
    return scenario


# --- writing a scenario through the stores ---------------------------------------------------


def write(ctx: Container, scenario: Scenario) -> None:
    """Venues and feedback as another system writes them; replies in their status, the sent
    ones marked sent by the queue store at their send time (as the email sender does)."""
    for venue_id, zone in scenario.venues.items():
        make_venue(ctx.engine, venue_id, now=FIRST, timezone=zone)
        for row in scenario.feedback[venue_id]:
            guest = make_customer(ctx.engine, now=FIRST) if row.reachable else None
            fid = make_feedback(
                ctx.engine,
                venue_id,
                created_at=row.created_at,
                rating=row.rating,
                customer_id=guest,
            )
            if row.escalated:
                escalate(ctx.engine, fid, row.created_at + timedelta(hours=24))
            if row.reply is not None:
                add_reply(ctx, venue_id, fid, row)


def escalate(engine: Engine, feedback_id: int, at: datetime) -> None:
    """Escalated as response_sla does: escalated_at set, answered or not later."""
    with engine.begin() as conn:
        conn.execute(
            update(m.feedback)
            .where(m.feedback.c.feedback_id == feedback_id)
            .values(escalated_at=at)
        )


def add_reply(ctx: Container, venue_id: str, feedback_id: int, row: Feedback) -> None:
    response_id, queue_id = str(uuid.uuid4()), str(uuid.uuid4())
    sent = row.reply == "sent"
    with ctx.engine.begin() as conn:
        conn.execute(
            insert(m.ai_responses).values(
                response_id=response_id,
                feedback_id=feedback_id,
                venue_id=venue_id,
                subject="Thank you",
                body="Thank you for your visit.",
                status="approved" if sent else row.reply,
                provider="template",
                created_at=row.created_at,
            )
        )
        if sent:
            conn.execute(
                insert(m.email_queue).values(
                    **sending_item(queue_id, response_id, feedback_id, venue_id, row)
                )
            )
    if sent:
        item = ctx.email_queue.send_context(queue_id)
        assert item is not None and row.sent_at is not None
        won = ctx.email_queue.mark_sent(
            item, claim="oracle", now=row.sent_at, backend="outbox", provider_message_id=None
        )
        assert won


def sending_item(
    queue_id: str, response_id: str, feedback_id: int, venue_id: str, row: Feedback
) -> dict[str, Any]:
    """A queue item claimed by "oracle", about to be marked sent."""
    assert row.sent_at is not None
    return {
        "queue_id": queue_id,
        "kind": "reply",
        "feedback_id": feedback_id,
        "response_id": response_id,
        "venue_id": venue_id,
        "customer_email": "guest@example.com",
        "scheduled_send_time": row.sent_at,
        "status": "sending",
        "created_at": row.created_at,
        "attempts": 0,
        "claimed_by": "oracle",
        "lease_expires_at": row.sent_at + timedelta(minutes=5),
        "message_id": f"<{queue_id}@encore.local>",
    }


# --- the property --------------------------------------------------------------------------------


def test_stats_equal_the_oracle_on_random_zones_and_data(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    examples = MAX_EXAMPLES.get(backend_of(engine), 15)

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(scenarios())
    def check(scenario: Scenario) -> None:
        clear_tables(engine)
        fresh = build(ctx.settings, clock=clock, engine=engine)
        write(fresh, scenario)

        refresh_snapshots(store=fresh.stats, now=scenario.now)

        for venue_id, zone in scenario.venues.items():
            snapshot = fresh.stats.latest(venue_id)
            assert snapshot is not None and snapshot["computed_at"] == scenario.now
            expected = oracle(zone, scenario.feedback[venue_id], scenario.now)
            where = f"{venue_id} {zone} now={scenario.now.isoformat()}"
            assert_matches(snapshot["stats"], expected, where)

    check()
