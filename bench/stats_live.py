"""The dashboard figures of one venue computed live from feedback: what snapshots replace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, and_, case, func, select

from encore_backend.domain.enums import PENDING_REPLY_STATUSES
from encore_backend.domain.stats_windows import StatsWindows
from encore_backend.services.stats_service import stats_from_counts
from encore_backend.storage.sql import models as m


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def live_figures(engine: Engine, venue_id: str, w: StatsWindows) -> dict[str, Any]:
    """The same figures as a snapshot, by the best live queries our indexes allow (3 queries)."""
    f, r = m.feedback.c, m.ai_responses.c
    trailing = f.created_at >= w.trailing_start
    replied = and_(trailing, f.response_seconds.is_not(None))
    feedback = select(
        _count_if(f.created_at >= w.today_start).label("feedback_today"),
        _count_if(f.created_at >= w.week_start).label("feedback_this_week"),
        _count_if(f.created_at >= w.month_start).label("feedback_this_month"),
        *(_count_if(and_(trailing, f.rating == k)).label(f"rating_{k}") for k in range(1, 6)),
        _count_if(replied).label("responded_30d"),
        func.sum(case((replied, f.response_seconds), else_=0)).label("response_seconds_30d"),
    ).where(f.venue_id == venue_id, f.created_at >= w.scan_start, f.created_at <= w.now)
    pending = select(func.count()).where(
        r.venue_id == venue_id, r.status.in_([s.value for s in PENDING_REPLY_STATUSES])
    )
    sent = select(func.count()).where(
        r.venue_id == venue_id, r.sent_at >= w.today_start, r.sent_at <= w.now
    )
    with engine.connect() as conn:
        counts = {k: int(v or 0) for k, v in conn.execute(feedback).one()._mapping.items()}
        counts["pending_responses"] = int(conn.execute(pending).scalar_one())
        counts["sent_today"] = int(conn.execute(sent).scalar_one())
    return stats_from_counts(counts)
