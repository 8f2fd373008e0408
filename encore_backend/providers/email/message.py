"""Build the MIME messages we send: customer replies (text + HTML) and generic HTML mail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from encore_backend.clock import as_utc
from encore_backend.providers.email.base import sender_domain
from encore_backend.providers.email.mime import fast_message

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows as <img src="cid:{cid}"> (e.g. a report chart)."""

    cid: str
    data: bytes
    subtype: str = "png"


@cache
def template_env() -> Environment:
    """Jinja2 over our templates: autoescape on for HTML (and anything not *.txt)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"),
            disabled_extensions=("txt", "txt.j2"),
            default=True,
        ),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_template(name: str, **context: object) -> str:
    """Render one of providers/email/templates/ (HTML ones escape every value)."""
    return template_env().get_template(name).render(**context)


def templated_message(template: str, context: Mapping[str, Any], **envelope: Any) -> EmailMessage:
    """`<template>.txt.j2` and `<template>.html.j2` rendered with `context` (which holds the
    subject) as one message; `envelope`: build_html_message's to, from_addr, date, …"""
    return build_html_message(
        subject=context["subject"],
        text=render_template(f"{template}.txt.j2", **context),
        html=render_template(f"{template}.html.j2", **context),
        **envelope,
    )


def build_html_message(
    *,
    subject: str,
    to: str,
    from_addr: str,
    text: str,
    html: str,
    date: datetime,
    reply_to: str | Sequence[str] | None = None,
    message_id: str | None = None,
    inline_image: InlineImage | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """multipart/alternative (text, HTML [+ related inline image]) with the envelope headers.
    Without an image (every reply) the fast builder of mime.py makes it, headers encoded once."""
    if inline_image is None:
        return fast_message(
            _header_list(subject, from_addr, to, reply_to, date, message_id, headers), text, html
        )
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = from_addr
    message["To"] = to
    if reply_to:
        message["Reply-To"] = reply_to if isinstance(reply_to, str) else ", ".join(reply_to)
    message["Date"] = format_datetime(as_utc(date))
    message["Message-ID"] = message_id or make_msgid(domain=sender_domain(from_addr))
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text, cte=_cte(text))
    message.add_alternative(html, subtype="html", cte=_cte(html))
    if inline_image is not None:
        html_part = message.get_body(("html",))
        assert html_part is not None  # just added above
        html_part.add_related(
            inline_image.data,
            maintype="image",
            subtype=inline_image.subtype,
            cid=f"<{inline_image.cid}>",
        )
    return message


def _header_list(
    subject: str,
    from_addr: str,
    to: str,
    reply_to: str | Sequence[str] | None,
    date: datetime,
    message_id: str | None,
    headers: Mapping[str, str] | None,
) -> list[tuple[str, str]]:
    found = [("Subject", " ".join(subject.split())), ("From", from_addr), ("To", to)]
    if reply_to:
        found.append(("Reply-To", reply_to if isinstance(reply_to, str) else ", ".join(reply_to)))
    found.append(("Date", format_datetime(as_utc(date))))
    found.append(("Message-ID", message_id or make_msgid(domain=sender_domain(from_addr))))
    return found + list((headers or {}).items())


def build_reply_message(
    *,
    subject: str,
    body: str,
    to: str,
    from_addr: str,
    venue_name: str,
    unsubscribe_url: str,
    date: datetime,
    reply_to: str | Sequence[str] | None = None,
    to_name: str | None = None,
    comment: str | None = None,
    unsubscribe_mailto: str | None = None,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A customer reply: text + escaped HTML, Reply-To the venue, one-click List-Unsubscribe."""
    context = {
        "subject": subject,
        "body": body.strip(),
        "paragraphs": paragraphs(body),
        "comment": (comment or "").strip(),
        "venue_name": venue_name,
        "unsubscribe_url": unsubscribe_url,
    }
    mailto = unsubscribe_mailto or parseaddr(from_addr)[1]
    list_headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <mailto:{mailto}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        **(headers or {}),
    }
    return templated_message(
        "reply",
        context,
        to=formataddr((to_name, to)) if to_name else to,
        from_addr=from_addr,
        date=date,
        reply_to=reply_to,
        message_id=message_id,
        headers=list_headers,
    )


def paragraphs(text: str) -> list[list[str]]:
    """Blank-line separated paragraphs, each a list of its lines (the HTML joins them with <br>)."""
    blocks = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n")]
    return [block.splitlines() for block in blocks if block]


def _cte(text: str) -> str | None:
    """Readable quoted-printable for non-ASCII text (not base64), the default otherwise."""
    return None if text.isascii() else "quoted-printable"
