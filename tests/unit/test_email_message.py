"""Reply emails: text + escaped HTML, the envelope headers, and signed unsubscribe links."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from encore_backend.providers.email import (
    InlineImage,
    build_html_message,
    build_reply_message,
    make_unsubscribe_token,
    unsubscribe_url,
    verify_unsubscribe_token,
)

SECRET = "s3cret-for-tests"
WHEN = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
COMMENT = 'The <script>alert("x")</script> soup & bread were <b>cold</b>'


def reply(**overrides: object) -> EmailMessage:
    token = make_unsubscribe_token(customer_id=42, email="anna@example.com", secret=SECRET)
    args = {
        "subject": "About your visit to Café Nord",
        "body": "Hi Anna,\n\nThank you for your feedback.\nWe are sorry.\n\nThe Café Nord team",
        "to": "anna@example.com",
        "to_name": "Anna Smith",
        "from_addr": "Encore <no-reply@encore.example>",
        "reply_to": ["manager@cafenord.example", "owner@cafenord.example"],
        "venue_name": "Café Nord",
        "unsubscribe_url": unsubscribe_url("https://encore.example/", token),
        "date": WHEN,
        "comment": COMMENT,
    }
    return build_reply_message(**{**args, **overrides})  # type: ignore[arg-type]


def parsed(message: EmailMessage) -> EmailMessage:
    """What a mail client reads: the bytes on the wire parsed back."""
    return message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.default)


def test_reply_is_multipart_text_and_html() -> None:
    message = parsed(reply())
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Thank you for your feedback." in text and "Thank you for your feedback." in html
    assert "We are sorry." in text and "<br>We are sorry." in html


def test_html_escapes_the_customer_comment_text_keeps_it_verbatim() -> None:
    message = parsed(reply())
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<script>" not in html and "<b>cold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "soup &amp; bread" in html
    assert f"> {COMMENT}" in text


def test_the_headers_are_all_there() -> None:
    message = parsed(reply())
    assert message["From"] == "Encore <no-reply@encore.example>"
    assert message["To"] == "Anna Smith <anna@example.com>"
    assert message["Reply-To"] == "manager@cafenord.example, owner@cafenord.example"
    assert message["Subject"] == "About your visit to Café Nord"
    assert message["Date"] == "Tue, 10 Mar 2026 12:00:00 +0000"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(
        "@encore.example>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_list_unsubscribe_has_a_signed_https_link_and_a_mailto() -> None:
    header = " ".join(parsed(reply())["List-Unsubscribe"].split())
    link, mailto = (part.strip(" <>") for part in header.split(","))
    assert link.startswith("https://encore.example/unsubscribe/")
    assert mailto == "mailto:no-reply@encore.example?subject=unsubscribe"
    claim = verify_unsubscribe_token(link.rsplit("/", 1)[1], secret=SECRET)
    assert claim is not None and (claim.customer_id, claim.email) == ("42", "anna@example.com")


def test_explicit_message_id_mailto_and_extra_headers_are_kept() -> None:
    message = reply(
        message_id="<reply-7@encore.example>",
        unsubscribe_mailto="unsubscribe@encore.example",
        headers={"X-Encore-Response-Id": "7"},
    )
    assert message["Message-ID"] == "<reply-7@encore.example>"
    assert "mailto:unsubscribe@encore.example?subject=unsubscribe" in message["List-Unsubscribe"]
    assert message["X-Encore-Response-Id"] == "7"


def test_header_injection_is_impossible() -> None:
    message = parsed(reply(subject="Hello\r\nBcc: victim@example.com"))
    assert message["Bcc"] is None and message["Subject"] == "Hello Bcc: victim@example.com"
    with pytest.raises(ValueError):
        reply(to="anna@example.com\r\nBcc: victim@example.com", to_name=None)


def test_generic_html_message_with_an_inline_image() -> None:
    png = b"\x89PNG\r\n\x1a\nfake-image-bytes"
    message = parsed(
        build_html_message(
            subject="Daily report",
            to="manager@cafenord.example",
            from_addr="Encore <no-reply@encore.example>",
            text="Report attached inline.",
            html='<p>Chart:</p><img src="cid:chart-1@encore">',
            date=WHEN,
            inline_image=InlineImage(cid="chart-1@encore", data=png),
        )
    )
    assert message.get_content_type() == "multipart/alternative"
    related = list(message.iter_parts())[1]
    assert related.get_content_type() == "multipart/related"
    html_part, image = list(related.iter_parts())
    assert 'src="cid:chart-1@encore"' in html_part.get_content()
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<chart-1@encore>"
    assert image.get_content() == png


def test_a_token_verifies_only_untouched_and_with_its_secret() -> None:
    token = make_unsubscribe_token(customer_id="c-9", email=" Anna@Example.COM ", secret=SECRET)
    assert all(c.isalnum() or c in "-_." for c in token)
    claim = verify_unsubscribe_token(token, secret=SECRET)
    assert claim is not None and claim.email == "anna@example.com"
    assert verify_unsubscribe_token(token, secret="another-secret") is None
    payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert verify_unsubscribe_token(f"{payload}.{flipped}", secret=SECRET) is None
    other = make_unsubscribe_token(customer_id="c-10", email="bob@example.com", secret=SECRET)
    assert verify_unsubscribe_token(f"{other.split('.')[0]}.{signature}", secret=SECRET) is None
    for garbage in ("", ".", "abc", "abc.", ".abc", "a.b.c", "é.é", token + "x"):
        assert verify_unsubscribe_token(garbage, secret=SECRET) is None


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        make_unsubscribe_token(customer_id=1, email="a@example.com", secret="")


def test_unsubscribe_url_joins_cleanly() -> None:
    assert (
        unsubscribe_url("http://127.0.0.1:8000/", "t.k") == "http://127.0.0.1:8000/unsubscribe/t.k"
    )
