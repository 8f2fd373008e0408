"""Any text through the ingest API on every database: stored as sent, one alert as §7 says.

Given a venue with generated keyword settings and feedback posted to POST /api/feedback with any
unicode comment the API accepts (control and bidi characters, emoji, punctuation only, up to the
5,000-character limit), any rating 1-5 and any customer tier and spend, when the alert check runs
right after ingestion (SPEC §7), expect a 201, the comment stored unchanged, the detector's run
recorded `success`, and at most one alert: the one the pure rules give for the stored row.
Two inputs that were server errors (a NUL in a comment on PostgreSQL, a lone surrogate in the
JSON) are 422s naming the field: tests at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from factories import make_venue
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from support.databases import backend_of
from support.hypothesis_db import clear_tables

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.domain.alert_rules import ALERT_RULE_IDS, FeedbackFacts, assess, venue_rules
from encore_backend.domain.alert_vocabulary import DEFAULT_TERMS
from encore_backend.domain.enums import AlertLevel
from encore_backend.storage.sql import models as m

ADMIN = {"Authorization": "Bearer test-admin-token"}
MAX_EXAMPLES = {"sqlite": 100, "mariadb": 40, "postgresql": 40}
LEVELS = [level.value for level in AlertLevel]
KEYWORDS = sorted({t.keyword for t in DEFAULT_TERMS})
SPECIAL = (
    "\t\n\r\x01\x1b\x7f\x85\u200b\u200d\u200e\u200f\u202e\u2066\ufeff\U0001f92e\U0001f600"
    "\u05dc\u05d0 \u0627\u0644 .,!?'\u2019\u2026"
)
# NUL is left out here: see test_a_nul_character_in_a_comment_is_never_a_server_error.
no_nul = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
comments = st.one_of(
    st.text(no_nul, max_size=300),
    st.text(st.sampled_from(SPECIAL), max_size=200),
    st.lists(st.one_of(st.sampled_from(KEYWORDS), st.sampled_from(["not", "no", ".", "and"]))).map(
        " ".join
    ),
    st.builds(
        lambda s, n: (s * n)[:5000], st.text(no_nul, min_size=1, max_size=30), st.integers(1, 5000)
    ),
)
customers = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"email": st.just(None)},
        optional={
            "tier": st.one_of(
                st.sampled_from(["gold", "VIP", "silver"]), st.text(no_nul, max_size=32)
            ),
            "lifetime_value": st.decimals(min_value=0, max_value=10**6, places=2).map(str),
            "name": st.text(no_nul, min_size=1, max_size=50).filter(str.strip),
        },
    ),
)
venue_keywords = st.dictionaries(
    st.sampled_from(LEVELS),
    st.lists(st.text(no_nul, min_size=1, max_size=15), max_size=3),
    max_size=2,
)


@pytest.fixture
def api(ctx: Container) -> Iterator[TestClient]:
    """The app on the test's container; a server error is a 500 response, not an exception."""
    with TestClient(create_app(ctx, start_scheduler=False), raise_server_exceptions=False) as c:
        yield c


def stored(engine: Engine, feedback_id: int) -> dict[str, Any]:
    """The feedback row with its customer, its alerts and the detector's run statuses."""
    with engine.connect() as conn:
        f = conn.execute(select(m.feedback).where(m.feedback.c.feedback_id == feedback_id)).one()
        c = conn.execute(
            select(m.customers).where(m.customers.c.customer_id == f.customer_id)
        ).first()
        alerts = conn.execute(select(m.alerts).where(m.alerts.c.feedback_id == feedback_id)).all()
        runs = conn.execute(
            select(m.job_runs.c.status).where(m.job_runs.c.job_id == "alert_detector")
        ).scalars()
        return {
            "row": f._mapping,
            "customer": c._mapping if c else None,
            "alerts": [a._mapping for a in alerts],
            "runs": list(runs),
        }


def test_any_comment_through_the_api_is_stored_and_alerted_as_the_rules_say(
    ctx: Container, engine: Engine, api: TestClient
) -> None:
    @settings(
        max_examples=MAX_EXAMPLES.get(backend_of(engine), 15),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        comment=comments,
        rating=st.integers(1, 5),
        customer=customers,
        keywords=venue_keywords,
        disabled=st.lists(st.sampled_from(ALERT_RULE_IDS), max_size=2, unique=True),
    )
    def check(
        comment: str,
        rating: int,
        customer: dict[str, Any] | None,
        keywords: dict[str, list[str]],
        disabled: list[str],
    ) -> None:
        clear_tables(engine)
        settings_ = {"alert_keywords": keywords, "alert_rules_disabled": disabled}
        make_venue(engine, "a", now=ctx.clock.now(), settings=settings_)
        body: dict[str, Any] = {"venue_id": "a", "rating": rating, "comment": comment}
        if customer is not None:
            body["customer"] = {**customer, "email": f"g{uuid.uuid4().hex[:10]}@example.com"}

        response = api.post("/api/feedback", json=body, headers=ADMIN)

        assert response.status_code == 201, response.text[:500]
        assert response.json()["comment"] == comment
        found = stored(engine, response.json()["feedback_id"])
        row, cust = found["row"], found["customer"]
        assert row["comment"] == comment
        assert found["runs"] == ["success"]
        assert row["alert_scanned_at"] is not None
        facts = FeedbackFacts(
            rating=row["rating"],
            comment=row["comment"],
            created_at=row["created_at"],
            lifetime_value=cust["lifetime_value"] if cust else None,
            tier=cust["tier"] if cust else None,
        )
        rules = venue_rules(
            min_spend=ctx.settings.high_value_customer_min_spend,
            alert_keywords=keywords,
            alert_rules_disabled=disabled,
        )
        draft = assess(facts, rules)
        assert len(found["alerts"]) == (1 if draft else 0)
        if draft:
            [alert] = found["alerts"]
            assert alert["level"] == draft.level
            assert alert["reasons"] == draft.reasons
            rank = {lv: AlertLevel(lv).rank for lv in LEVELS}
            assert rank[alert["level"]] == max(rank[r["level"]] for r in alert["reasons"])

    check()


def test_a_nul_character_in_a_comment_is_never_a_server_error(
    request: pytest.FixtureRequest, ctx: Container, engine: Engine, api: TestClient
) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    body = {"venue_id": "a", "rating": 1, "comment": "I was sick \x00 twice"}

    response = api.post("/api/feedback", json=body, headers=ADMIN)

    assert response.status_code == 422, response.status_code
    assert "comment" in response.json()["detail"][0]["loc"]


def test_a_lone_surrogate_in_the_json_is_a_422_not_a_server_error(
    ctx: Container, engine: Engine, api: TestClient
) -> None:
    make_venue(engine, "a", now=ctx.clock.now())
    body = b'{"venue_id": "a", "rating": 4, "comment": "x \\ud800 sick"}'

    response = api.post(
        "/api/feedback", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.status_code
