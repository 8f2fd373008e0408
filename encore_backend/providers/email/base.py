"""The email port: hand over one finished MIME message, learn under which id it went."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Protocol

# CRLF as on the wire, and long header values (the signed List-Unsubscribe link) kept whole:
# the default 78-column fold turns a long URL into RFC 2047 words no client reads as a link.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as sent: what the outbox stores and SES receives (a PreparedMessage's kept
    bytes, else flattened now)."""
    return getattr(message, "wire", None) or message.as_bytes(policy=WIRE_POLICY)


@dataclass(frozen=True)
class SendResult:
    """message_id is the Message-ID header; provider_message_id the backend's own id (SES)."""

    message_id: str
    backend: str
    provider_message_id: str | None = None


class SendSession(Protocol):
    """Sends messages on what the session holds open (an SMTP connection); same errors."""

    def send(self, message: EmailMessage) -> SendResult: ...


class EmailSender(Protocol):
    """Sends a message; raises TransientProviderError (retry) or PermanentProviderError.
    `session()` is for many messages in a row: `with sender.session() as s: s.send(m)`."""

    backend: str

    def send(self, message: EmailMessage) -> SendResult: ...

    def session(self) -> AbstractContextManager[SendSession]: ...


class StatelessSessions:
    """For adapters that hold nothing open between messages: the session is the sender."""

    def session(self) -> AbstractContextManager[SendSession]:
        return nullcontext(self)  # type: ignore[arg-type]


def ensure_message_id(message: EmailMessage) -> str:
    """The message's Message-ID, adding one (on the From domain) when it has none."""
    if message["Message-ID"]:
        return str(message["Message-ID"]).strip()
    domain = sender_domain(str(message["From"] or ""))
    message["Message-ID"] = make_msgid(domain=domain)
    return str(message["Message-ID"])


def sender_domain(address: str, default: str = "encore.local") -> str:
    """The domain of an address ("Encore <no-reply@x.org>" → "x.org")."""
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or default
