"""What a pipeline run must have produced, counted in the database and the outbox directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from bench.pipeline_data import Planned
from encore_backend.storage.sql import models as m


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _by_status(conn: Connection, table: Any) -> dict[str, int]:
    rows = conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
    return {str(status): int(n) for status, n in rows}


def observed(conn: Connection, outbox: Path, *, sleeps: int) -> dict[str, Any]:
    """The run's footprint: rows per table and status, .eml files, pauses taken."""
    f, a = m.feedback.c, m.alerts.c
    replies, queue = _by_status(conn, m.ai_responses), _by_status(conn, m.email_queue)
    return {
        "feedback": _count(conn, m.feedback),
        "unscanned": _count(conn, m.feedback, f.alert_scanned_at.is_(None)),
        "alerts": _count(conn, m.alerts),
        "critical_alerts": _count(conn, m.alerts, a.level == "critical"),
        "replies": sum(replies.values()),
        "replies_by_status": replies,
        "queue_by_status": queue,
        "eml_files": sum(1 for _ in outbox.glob("*.eml")),
        "sleeps": sleeps,
    }


def expected(plan: list[Planned], *, paced: bool = False) -> dict[str, int]:
    """What the plan implies: critical ones wait, the rest are sent or (no address) cancelled;
    each critical alert (all the plan's feedback is hours old) also emails the venue's one
    manager through the same queue."""
    critical = sum(p.critical for p in plan)
    sendable = sum(p.has_email and not p.critical for p in plan)
    return {
        "feedback": len(plan),
        "unscanned": 0,
        "critical_alerts": critical,
        "replies": len(plan),
        "replies_pending_approval": critical,
        "replies_sent": sendable,
        "queue_sent": sendable + critical,
        "eml_files": sendable + critical,
        "queue_cancelled": len(plan) - critical - sendable,
        "queue_pending": 0,
        "queue_failed": 0,
        **({} if paced else {"sleeps": 0}),  # a limit below the backlog pauses (virtually)
    }


def flat(seen: dict[str, Any]) -> dict[str, int]:
    """`observed` with the status maps spread into replies_<status> / queue_<status> keys."""
    out = {k: v for k, v in seen.items() if not isinstance(v, dict)}
    for status, n in seen["replies_by_status"].items():
        out[f"replies_{status}"] = n
    for status, n in seen["queue_by_status"].items():
        out[f"queue_{status}"] = n
    return out


def mismatches(seen: dict[str, Any], plan: list[Planned], *, paced: bool = False) -> list[str]:
    """Every expectation the run missed (empty when the numbers are real)."""
    got = flat(seen)
    wrong = [
        f"{key}: expected {want}, got {got.get(key, 0)}"
        for key, want in expected(plan, paced=paced).items()
        if got.get(key, 0) != want
    ]
    low = sum(p.args["rating"] <= 2 for p in plan)
    if got["alerts"] < low:
        wrong.append(f"alerts: expected at least {low} (ratings <= 2), got {got['alerts']}")
    return wrong
