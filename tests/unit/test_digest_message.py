"""The digest email: counts, listed alerts and unanswered feedback, all escaped in the HTML, and
the manager's unsubscribe link; manager unsubscribe tokens are not customer tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from encore_backend.providers.email import (
    build_digest_message,
    make_manager_unsubscribe_token,
    make_unsubscribe_token,
    verify_manager_unsubscribe_token,
    verify_unsubscribe_token,
)

CONTENT = {
    "period": {"timezone": "Europe/London", "date": "2026-03-10"},
    "alert_counts": {"critical": 1, "high": 2, "medium": 0, "low": 0, "info": 0},
    "alerts": [{"level": "critical", "title": "<b>Food</b> poisoning"}],
    "feedback": 7,
    "replies": 4,
    "unanswered_count": 1,
    "unanswered": [{"rating": 1, "customer_name": "Dana", "comment": "<script>x</script>"}],
}


def test_the_digest_shows_its_figures_escaped() -> None:
    message = build_digest_message(
        to="ana@venue.example",
        from_addr="encore@example.com",
        venue_name="The Blue Door",
        content=CONTENT,
        dashboard_url="http://x/venues/v1",
        date=datetime(2026, 3, 10, 7, 5, tzinfo=UTC),
        unsubscribe_url="http://x/unsubscribe/manager/abc",
    )
    assert message["Subject"] == "Daily digest for The Blue Door: 2026-03-10"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Feedback received: 7" in text and "- High: 2" in text
    assert "[CRITICAL] <b>Food</b> poisoning" in text
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "http://x/unsubscribe/manager/abc" in text and "http://x/unsubscribe/manager/abc" in html


def test_manager_and_customer_tokens_do_not_cross() -> None:
    manager = make_manager_unsubscribe_token(venue_id="v1", email="Ana@V.example", secret="k")
    customer = make_unsubscribe_token(customer_id=1, email="ana@v.example", secret="k")
    claim = verify_manager_unsubscribe_token(manager, secret="k")
    assert claim is not None and (claim.venue_id, claim.email) == ("v1", "ana@v.example")
    assert verify_manager_unsubscribe_token(customer, secret="k") is None
    assert verify_unsubscribe_token(manager, secret="k") is None
    assert verify_manager_unsubscribe_token(manager, secret="other") is None
