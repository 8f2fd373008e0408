"""SMTP delivery (smtplib) with timeouts, optional STARTTLS and AUTH, and classified failures."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from encore_backend.providers.email.base import SendResult, ensure_message_id, on_wire
from encore_backend.providers.errors import (
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)


class SmtpEmailSender:
    """One connection per message: 4xx, disconnects, timeouts → transient; 5xx → permanent."""

    backend = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls = starttls
        self.timeout = timeout
        self.ssl_context = ssl_context

    def send(self, message: EmailMessage) -> SendResult:
        message_id = ensure_message_id(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(on_wire(message))
        except (smtplib.SMTPException, OSError) as exc:
            raise classify_smtp_error(exc) from exc
        return SendResult(message_id=message_id, backend=self.backend)


def classify_smtp_error(exc: Exception) -> ProviderError:
    """4xx replies and broken connections may pass; 5xx, bad auth and TLS trust never will."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
        kind = (
            TransientProviderError if all(400 <= c < 500 for c in codes) else PermanentProviderError
        )
        return kind(f"SMTP recipients refused: {detail}")
    if isinstance(exc, smtplib.SMTPResponseException):
        reason = f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:
            return TransientProviderError(reason)
        return PermanentProviderError(reason)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientProviderError(f"SMTP disconnected: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError):
        return PermanentProviderError(f"SMTP {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):  # refused, reset, timed out, unreachable
        return TransientProviderError(f"SMTP {type(exc).__name__}: {exc}")
    return PermanentProviderError(f"SMTP {type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
