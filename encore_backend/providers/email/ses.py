"""Amazon SES v2 delivery of the raw MIME message, with an optional configuration set.

Once the request is sent SES may have taken the message: a read timeout or a connection closed
before the answer is "outcome unknown", never retried. botocore's own retries are off for the
same reason (they would resend after a read timeout); transient failures before the hand-over
are retried by the email service's policy.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

from encore_backend.providers.email.base import (
    SendResult,
    StatelessSessions,
    ensure_message_id,
    wire_bytes,
)
from encore_backend.providers.errors import (
    OutcomeUnknownError,
    PermanentProviderError,
    ProviderConfigError,
    ProviderError,
    aws_error,
)

EMAIL_PROVIDER = "email provider"
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServiceErrorException",
    }
)
# Codes that refuse our account, credentials or set-up: every message would fail alike.
CONFIG_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AccountSuspendedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "MailFromDomainNotVerifiedException",
        "MissingAuthenticationToken",
        "SendingPausedException",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)

# SES: "Email address is not verified. The following identities failed the check …: <address>";
# moto: "Did not have authority to send from email <address>".
UNVERIFIED_PHRASES = ("not verified", "did not have authority")


class SesEmailSender(StatelessSessions):
    """sesv2 send_email(Content.Raw); throttling → transient, rejected → permanent, refused
    credentials or an unverified sender → ProviderConfigError, no answer → OutcomeUnknownError."""

    backend = "ses"

    def __init__(
        self,
        *,
        client: Any = None,
        region: str = "us-east-1",
        configuration_set: str | None = None,
        endpoint_url: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.client = client or make_client(
            region, endpoint_url, connect_timeout=connect_timeout, read_timeout=read_timeout
        )
        self.configuration_set = configuration_set

    def send(self, message: EmailMessage) -> SendResult:
        message_id = ensure_message_id(message)
        args: dict[str, Any] = {"Content": {"Raw": {"Data": wire_bytes(message)}}}
        if self.configuration_set:
            args["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**args)
        except Exception as exc:
            raise classify_ses_error(exc, message) from exc
        return SendResult(
            message_id=message_id,
            backend=self.backend,
            provider_message_id=response.get("MessageId"),
        )


def classify_ses_error(exc: Exception, message: EmailMessage) -> ProviderError:
    """Hand-over failures are unknown; refused set-up is a config error; else aws_error."""
    from botocore.exceptions import (
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ProviderConfigError(f"ses: {exc}", provider=EMAIL_PROVIDER)
    if isinstance(exc, HTTPClientError) and not isinstance(exc, ConnectionError):
        # read timeout, connection closed: the request went out, the answer did not come back
        reason = f"ses: no answer after the message was handed over: {type(exc).__name__}: {exc}"
        return OutcomeUnknownError(reason)
    error = aws_error(exc, service="ses", transient_codes=TRANSIENT_CODES)
    if isinstance(error, PermanentProviderError) and _refuses_setup(exc, message):
        return ProviderConfigError(error.reason, provider=EMAIL_PROVIDER)
    return error


def _refuses_setup(exc: Exception, message: EmailMessage) -> bool:
    """Refused credentials or access, or the sender (not a recipient) not verified."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code, text = str(error.get("Code", "")), str(error.get("Message", "")).lower()
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in CONFIG_CODES or status in (401, 403):
        return True
    unverified = any(phrase in text for phrase in UNVERIFIED_PHRASES)
    return code == "MessageRejected" and unverified and _names_sender(text, message)


def _names_sender(text: str, message: EmailMessage) -> bool:
    """The rejection names our From address, or no recipient (SES sandbox rejections of an
    unverified recipient name the recipient: that one item fails, the others may go)."""
    sender = parseaddr(str(message["From"] or ""))[1].lower()
    fields = [str(v) for v in message.get_all("To", []) + message.get_all("Cc", [])]
    recipients = {addr.lower() for _, addr in getaddresses(fields) if addr}
    return (bool(sender) and sender in text) or not any(r in text for r in recipients)


def make_client(
    region: str,
    endpoint_url: str | None = None,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
) -> Any:
    """An sesv2 client with timeouts and no botocore retries (a retry after a read timeout
    could send the message twice)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    session = boto3.session.Session()  # its own: credentials are resolved afresh, not cached
    return session.client("sesv2", region_name=region, endpoint_url=endpoint_url, config=config)
