"""Amazon SES v2 delivery of the raw MIME message, with an optional configuration set."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from encore_backend.providers.email.base import SendResult, ensure_message_id, wire_bytes
from encore_backend.providers.errors import aws_error

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


class SesEmailSender:
    """sesv2 send_email(Content.Raw); throttling → transient, rejected/unverified → permanent."""

    backend = "ses"

    def __init__(
        self,
        *,
        client: Any = None,
        region: str = "us-east-1",
        configuration_set: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.client = client or make_client(region, endpoint_url)
        self.configuration_set = configuration_set

    def send(self, message: EmailMessage) -> SendResult:
        message_id = ensure_message_id(message)
        args: dict[str, Any] = {"Content": {"Raw": {"Data": wire_bytes(message)}}}
        if self.configuration_set:
            args["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**args)
        except Exception as exc:
            raise aws_error(exc, service="ses", transient_codes=TRANSIENT_CODES) from exc
        return SendResult(
            message_id=message_id,
            backend=self.backend,
            provider_message_id=response.get("MessageId"),
        )


def make_client(region: str, endpoint_url: str | None = None) -> Any:
    """An sesv2 client with timeouts; botocore retries once, the job's backoff does the rest."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 2}
    )
    return boto3.client("sesv2", region_name=region, endpoint_url=endpoint_url, config=config)
