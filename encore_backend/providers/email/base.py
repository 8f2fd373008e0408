"""The email port: hand over one finished MIME message, learn under which id it went."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Protocol


@dataclass(frozen=True)
class SendResult:
    """message_id is the Message-ID header; provider_message_id the backend's own id (SES)."""

    message_id: str
    backend: str
    provider_message_id: str | None = None


class EmailSender(Protocol):
    """Sends a message; raises TransientProviderError (retry) or PermanentProviderError."""

    backend: str

    def send(self, message: EmailMessage) -> SendResult: ...


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
