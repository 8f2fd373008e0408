"""Manager emails: the report (figures, changes, chart, issues, alerts) and the alert notice."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from encore_backend.providers.email import build_alert_message, build_report_message
from encore_backend.providers.email.base import wire_bytes
from encore_backend.providers.email.png_chart import rating_bars_png

WHEN = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
NASTY = '<script>alert(1)</script> & "quotes"'
DASHBOARD = "https://encore.example/venues/7/dashboard"
CONTENT: dict[str, Any] = {
    "total_feedback": 12,
    "responses_sent": 9,
    "avg_response_time_hours": 3.25,
    "critical_alerts": 1,
    "csat": 0.6667,
    "average_rating": 3.92,
    "critical_alert_list": [{"alert_id": "a-1", "feedback_id": 42, "title": "Possible poisoning"}],
    "rating_distribution": {"1": 1, "2": 0, "3": 2, "4": 4, "5": 5},
    "top_issues": [
        {"topic": "food quality", "mentions": 4, "feedback_ids": [99, 42, 7]},
        {"topic": "other", "mentions": 1, "feedback_ids": [5]},
    ],
    "previous": {
        "total_feedback": 9,
        "responses_sent": 9,
        "avg_response_time_hours": None,
        "critical_alerts": 2,
        "csat": 0.7167,
        "average_rating": 3.8,
    },
    "change": {
        "total_feedback": 3,
        "responses_sent": 0,
        "avg_response_time_hours": None,
        "critical_alerts": -1,
        "csat": -0.05,
        "average_rating": 0.12,
    },
    "period": {"timezone": "Europe/London", "first_day": "2026-03-09", "last_day": "2026-03-09"},
}
EMPTY_FIGURES: dict[str, Any] = {
    "total_feedback": 0,
    "responses_sent": 0,
    "avg_response_time_hours": None,
    "critical_alerts": 0,
    "csat": None,
    "average_rating": None,
}
EMPTY: dict[str, Any] = {  # an empty period after another empty one
    **EMPTY_FIGURES,
    "csat": float("nan"),  # never stored, but must not leak into the email either
    "critical_alert_list": [],
    "rating_distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    "top_issues": [],
    "previous": EMPTY_FIGURES,
    "change": {key: None if value is None else 0 for key, value in EMPTY_FIGURES.items()},
}


def report(**overrides: Any) -> EmailMessage:
    args: dict[str, Any] = {
        "to": "manager@cafenord.example",
        "from_addr": "Encore <reports@encore.example>",
        "venue_name": "Café Nord",
        "kind": "daily",
        "first_day": "2026-03-09",
        "last_day": "2026-03-09",
        "content": CONTENT,
        "comments": {42: NASTY, 7: "Soup was cold"},
        "dashboard_url": DASHBOARD,
        "date": WHEN,
    }
    return parsed(build_report_message(**{**args, **overrides}))


def alert(**overrides: Any) -> EmailMessage:
    args: dict[str, Any] = {
        "to": "manager@cafenord.example",
        "from_addr": "Encore <alerts@encore.example>",
        "venue_name": "Café Nord",
        "level": "critical",
        "title": "Critical: food poisoning mention",
        "description": "Rating 1/5.\n\nReasons: food poisoning mention (critical).",
        "reasons": [
            {"rule": "critical_keyword", "level": "critical", "keyword": "food poisoning"},
            {"rule": "rating", "level": "high", "detail": "rating 1 of 5"},
            {"rule": "brand_new_rule", "level": "medium", "extra": [1, 2]},
        ],
        "detected_at": datetime(2026, 3, 10, 13, 0, tzinfo=UTC),
        "rating": 1,
        "comment": NASTY,
        "customer_name": "Anna <Smith>",
        "dashboard_url": DASHBOARD,
        "date": WHEN,
    }
    return parsed(build_alert_message(**{**args, **overrides}))


def parsed(message: EmailMessage) -> EmailMessage:
    """What a mail client reads: the bytes parsed back."""
    raw = message.as_bytes()
    for flat in (raw, wire_bytes(message)):  # as built, and as the outbox stores it
        assert all(len(line) <= 998 for line in flat.split(b"\n")), "a line over 998 bytes"
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def image_part(message: EmailMessage) -> EmailMessage:
    images = [part for part in message.walk() if part.get_content_maintype() == "image"]
    assert len(images) == 1
    return images[0]  # type: ignore[return-value]


def test_report_subjects_daily_and_weekly() -> None:
    assert report()["Subject"] == "Daily report for Café Nord: 2026-03-09"
    weekly = report(kind="weekly", last_day="2026-03-15")
    assert weekly["Subject"] == "Weekly report for Café Nord: 2026-03-09 to 2026-03-15"
    assert "9 March 2026 to 15 March 2026" in text_of(weekly)
    assert "Monday 9 March 2026" in html_of(report())
    with pytest.raises(ValueError):
        report(kind="monthly")


def test_report_has_text_html_and_the_chart_and_no_unsubscribe() -> None:
    message = report()
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.walk()]
    assert kinds == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    assert message["List-Unsubscribe"] is None
    assert message["To"] == "manager@cafenord.example"


def test_report_figures_and_formatting_in_both_parts() -> None:
    message = report()
    for body in (text_of(message), html_of(message)):
        for shown in ("12", "3.2 h", "67%", "3.92", "was 72%", "was 3.80", "Europe/London"):
            assert shown in body
        assert "Food quality" in body and "4 mentions" in body and "1 mention" in body
        assert "Possible poisoning" in body
        assert DASHBOARD in body
    assert "Satisfied (4-5 stars):  67%" in text_of(message)
    assert "Open the dashboard</a>" in html_of(message)


def test_report_changes_show_arrows_signs_new_and_nothing() -> None:
    message = report()
    text, html = text_of(message), html_of(message)
    for body in (text, html):
        assert "▲ +3" in body  # total feedback
        assert "▼ -1" in body  # critical alerts
        assert "▼ -5 pts" in body  # CSAT, percentage points
        assert "▲ +0.12" in body  # average rating
        assert "no change" in body  # replies sent
    reply_time = next(line for line in text.splitlines() if line.startswith("Average reply"))
    assert reply_time.split()[-1] == "new"  # no previous figure: new, not an arrow
    total = next(line for line in text.splitlines() if line.startswith("Critical alerts:"))
    assert "▲" not in total and "▼ -1" in total


def test_report_colours_fewer_alerts_as_good_and_lower_csat_as_bad() -> None:
    html = html_of(report())
    assert 'color:#2e7d32;">▼ -1' in html
    assert 'color:#c62828;">▼ -5 pts' in html


def test_empty_period_says_no_data_never_none_or_nan() -> None:
    message = report(content=EMPTY, comments={})
    kinds = [part.get_content_type() for part in message.walk()]
    assert "image/png" not in kinds  # nothing to draw
    for body in (text_of(message), html_of(message)):
        assert "None" not in body.replace("None in this period", "")
        assert "nan" not in body.lower()
        assert "no data" in body
        assert "▲" not in body and "▼" not in body and "new" not in body
        assert body.count("no change") == 3  # the counts; the shares have nothing to compare
    assert "No ratings in this period." in html_of(message)
    assert "  1 star:  0\n" in text_of(message)


def test_missing_pieces_of_the_document_do_not_break_the_report() -> None:
    message = report(content={"total_feedback": 3}, comments={})
    text = text_of(message)
    assert "Feedback received:      3" in text
    assert text.count("no data") == 5
    assert "None" not in html_of(message).replace("None in this period", "")


def test_comments_are_escaped_in_html_and_verbatim_in_text() -> None:
    message = report()
    html, text = html_of(message), text_of(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    assert f"> {NASTY}" in text
    assert "Soup was cold" not in text  # one example per issue: the first known comment


def test_unknown_feedback_ids_simply_have_no_quote() -> None:
    message = report(comments={12345: "unrelated"})
    assert "unrelated" not in text_of(message)
    assert "> " not in text_of(message)


def test_long_comment_is_cut_and_every_line_fits_the_wire() -> None:
    long_comment = "word " * 2000
    message = report(comments={42: long_comment})
    assert "…" in text_of(message)
    assert len(max(text_of(message).splitlines(), key=len)) < 400


def test_chart_cid_in_html_matches_the_image_part() -> None:
    message = report()
    image = image_part(message)
    assert image["Content-ID"] == "<ratings-chart@encore>"
    html = html_of(message)
    assert 'src="cid:ratings-chart@encore"' in html
    assert 'alt="Ratings chart: 1 star: 1, 2 star: 0, 3 star: 2, 4 star: 4, 5 star: 5"' in html
    width, height, _ = decode_png(image.get_content())
    assert (width, height) == (600, 240)
    assert 'width="300" height="120"' in html


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered RGB rows of an 8-bit truecolour, filter-0 PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = {}, 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert 0 < width <= 2000 and 0 < height <= 2000 and (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + width * 3
    assert len(raw) == height * stride
    rows = [raw[y * stride : (y + 1) * stride] for y in range(height)]
    assert all(row[0] == 0 for row in rows)
    return width, height, [row[1:] for row in rows]


def bar_pixels(png: bytes) -> list[int]:
    """Non-white pixels in each fifth of the image (1★ .. 5★)."""
    width, _, rows = decode_png(png)
    slot = width // 5
    counts = [0] * 5
    for row in rows:
        for x in range(width):
            if row[3 * x : 3 * x + 3] != b"\xff\xff\xff":
                counts[min(x // slot, 4)] += 1
    return counts


def test_png_bars_grow_with_the_counts() -> None:
    one, zero, two, four, five = bar_pixels(rating_bars_png(CONTENT["rating_distribution"]))
    assert five > four > two > one > zero
    assert five > 2 * two  # proportional, not just ordered
    assert bar_pixels(image_part(report()).get_content()) == [one, zero, two, four, five]


def test_png_tolerates_missing_and_odd_counts() -> None:
    counts = bar_pixels(rating_bars_png({"5": 3, "4": None, "2": -1}))  # type: ignore[dict-item]
    assert counts[4] > counts[0] == counts[1] == counts[2] == counts[3]


def test_alert_subject_parts_and_no_unsubscribe() -> None:
    message = alert()
    assert message["Subject"] == "Critical alert at Café Nord: Critical: food poisoning mention"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert message["List-Unsubscribe"] is None


def test_alert_lists_reasons_when_rating_customer_and_link() -> None:
    message = alert()
    text, html = text_of(message), html_of(message)
    assert '- Critical keyword: mentions "food poisoning" (critical)' in text
    assert "- Low rating: rating 1 of 5 (high)" in text
    assert "- Brand new rule (medium)" in text
    assert '<li style="margin:0 0 4px;">Low rating: rating 1 of 5 (high)</li>' in html
    assert "Critical keyword: mentions &#34;food poisoning&#34; (critical)" in html
    for body in (text, html):
        assert "2026-03-10 13:00 UTC" in body
        assert "1 of 5" in body
        assert DASHBOARD in body
    assert "Customer: Anna <Smith>" in text and "Anna &lt;Smith&gt;" in html


def test_alert_comment_is_escaped_in_html_and_verbatim_in_text() -> None:
    message = alert()
    html = html_of(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    assert f"> {NASTY}" in text_of(message)


def test_alert_without_rating_customer_or_comment_and_local_detection_time() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 7, 1, 14, 30, tzinfo=ZoneInfo("Europe/London"))  # BST, UTC+1
    message = alert(rating=None, customer_name=None, comment=None, detected_at=local)
    text, html = text_of(message), html_of(message)
    assert "2026-07-01 13:30 UTC" in text
    assert "Rating:" not in text and "Customer:" not in text and "wrote" not in text
    assert "None" not in text and "None" not in html


def test_long_alert_comment_and_title_fit_the_wire() -> None:
    message = alert(title="Critical: " + "x" * 400, comment="y" * 5000)
    assert "y" * 5000 in text_of(message)
    assert "y" * 5000 in html_of(message)
