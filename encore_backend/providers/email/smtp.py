"""SMTP delivery (smtplib) with timeouts, optional STARTTLS and AUTH, and classified failures.

A session keeps one connection for a run's messages (one connect, EHLO, STARTTLS and AUTH), with
`RSET` before each reused send. A connection found dropped before the hand-over is opened again
and that message tried once more on it: nothing of it was delivered.

The send is split at the hand-over: once the final `.` of DATA is written the server may have
taken the message, so a lost connection or a timeout while waiting for its reply is "outcome
unknown" (never retried); before that (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, the reply to
DATA itself) nothing was delivered and a transient failure is safe to retry.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

from encore_backend.providers.email.base import SendResult, ensure_message_id, wire_bytes
from encore_backend.providers.errors import (
    OutcomeUnknownError,
    PermanentProviderError,
    ProviderConfigError,
    ProviderError,
    TransientProviderError,
)

EMAIL_PROVIDER = "email provider"
# Replies that say our credentials or TLS set-up are refused: every message would fail alike.
AUTH_CODES = frozenset({530, 534, 535, 538})


class HandOverSMTP(smtplib.SMTP):
    """smtplib.SMTP that notes when the end of DATA (the final `.`) has been written."""

    handed_over = False

    def send(self, s: Any) -> None:
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.handed_over = True


class SmtpEmailSender:
    """Messages over SMTP, in sessions: 4xx, disconnects, timeouts before the hand-over → transient;
    5xx → permanent; refused credentials or TLS → ProviderConfigError; no reply after the
    hand-over → OutcomeUnknownError."""

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
        """One message on a connection of its own."""
        with self.session() as session:
            return session.send(message)

    @contextmanager
    def session(self) -> Iterator[SmtpSession]:
        """A connection reused for every message sent through it, closed (QUIT) at the end."""
        session = SmtpSession(self)
        try:
            yield session
        finally:
            session.close()

    def connect(self) -> HandOverSMTP:
        """A new connection, greeted, TLS and AUTH done: any failure here concerns no message."""
        try:
            smtp = HandOverSMTP(self.host, self.port, timeout=self.timeout)
        except (smtplib.SMTPException, OSError) as exc:
            raise classify_smtp_error(exc, setup=True) from exc
        try:
            smtp.ehlo_or_helo_if_needed()
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            close_quietly(smtp)
            raise classify_smtp_error(exc, setup=True) from exc
        return smtp


class SmtpSession:
    """One connection for many messages. A message's failure before the hand-over on a reused
    connection that turns out dropped (idle timeout, server restart) reconnects and tries that
    message once more; any other failure closes the connection (the next message opens a new
    one) and is raised classified, the outcome-unknown rule unchanged."""

    def __init__(self, sender: SmtpEmailSender) -> None:
        self.sender = sender
        self.smtp: HandOverSMTP | None = None
        self.connections = 0  # opened so far (tests, benchmarks)

    def send(self, message: EmailMessage) -> SendResult:
        message_id = ensure_message_id(message)
        envelope = smtp_envelope(message)
        data = wire_bytes(message)
        tries = 2 if self.smtp is not None else 1  # a reused connection may have been dropped
        for left in range(tries - 1, -1, -1):
            try:
                self._transfer(envelope, data)
                break
            except _Dropped as dropped:
                if not left:  # a fresh connection dropped too: that failure is final
                    raise dropped.error from dropped.__cause__
        return SendResult(message_id=message_id, backend=self.sender.backend)

    def _transfer(self, envelope: tuple[str, list[str]], data: bytes) -> None:
        smtp = self._ready()
        try:
            _transfer(smtp, envelope, data)
        except _Dropped:
            self.close()
            raise
        except ProviderError:
            self.close()  # the connection's state is unknown after a failure: start afresh
            raise

    def _ready(self) -> HandOverSMTP:
        """The open connection after RSET, or a new one (RSET failing means it was dropped)."""
        if self.smtp is not None:
            try:
                self.smtp.rset()
                self.smtp.handed_over = False
                return self.smtp
            except (smtplib.SMTPException, OSError):
                self.close()
        self.smtp = self.sender.connect()
        self.connections += 1
        return self.smtp

    def close(self) -> None:
        if self.smtp is not None:
            close_quietly(self.smtp)
            self.smtp = None


class _Dropped(Exception):
    """The connection went away before the hand-over (carries the classified error)."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(error.reason)
        self.error = error


def _transfer(smtp: HandOverSMTP, envelope: tuple[str, list[str]], data: bytes) -> None:
    """MAIL, RCPT, DATA; a failure after the hand-over that is not a clean refusal is unknown."""
    try:
        smtp.sendmail(envelope[0], envelope[1], data)
    except (smtplib.SMTPException, OSError) as exc:
        if smtp.handed_over and not _refused_after_data(exc):
            reason = f"SMTP no reply after the message was handed over: {exc}"
            raise OutcomeUnknownError(reason) from exc
        error = classify_smtp_error(exc)
        if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
            raise _Dropped(error) from exc
        raise error from exc


def smtp_envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """MAIL FROM and RCPT TO as smtplib's send_message takes them (Sender, else From; To, Cc,
    Bcc). Bcc is never set on our messages: one would be refused, not sent in the headers."""
    if message["Bcc"] or message["Resent-Bcc"]:
        raise PermanentProviderError("SMTP: a message with Bcc headers is not supported")
    sender = str(message["Sender"] or message["From"] or "")
    fields = [str(v) for name in ("To", "Cc") for v in message.get_all(name, [])]
    recipients = [addr for _, addr in getaddresses(fields) if addr]
    return parseaddr(sender)[1], recipients


def _refused_after_data(exc: Exception) -> bool:
    """A 4xx/5xx reply to the end of DATA: the server said it did not take the message."""
    return isinstance(exc, smtplib.SMTPDataError) and 400 <= exc.smtp_code < 600


def close_quietly(smtp: smtplib.SMTP) -> None:
    """QUIT if the connection still stands; a failing QUIT changes nothing about the message."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def classify_smtp_error(exc: Exception, *, setup: bool = False) -> ProviderError:
    """4xx replies and broken connections may pass; 5xx never will; refused credentials, TLS
    trust or a permanent refusal while setting up the session are configuration errors."""
    error = _classify(exc)
    if isinstance(error, PermanentProviderError) and (setup or _is_config(exc)):
        return ProviderConfigError(error.reason, provider=EMAIL_PROVIDER)
    return error


def _is_config(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return True
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):  # some servers ask for AUTH at RCPT
        return any(code in AUTH_CODES for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code in AUTH_CODES


def _classify(exc: Exception) -> ProviderError:
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
