"""Provider failures split by what the caller should do: retry later, or give up now."""

from __future__ import annotations

from collections.abc import Collection


class ProviderError(Exception):
    """A provider call failed; `reason` is the one-line text to keep in the record."""

    transient = False

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class TransientProviderError(ProviderError):
    """Throttling, 5xx, timeouts, dropped connections: retry with backoff (honour retry_after)."""

    transient = True


class PermanentProviderError(ProviderError):
    """Rejected input, bad credentials, refused address: retrying cannot help, fail at once."""


def aws_error(exc: Exception, *, service: str, transient_codes: Collection[str]) -> ProviderError:
    """Classify a botocore exception: throttling/5xx/network → transient, the rest permanent."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ConnectionError | HTTPClientError):
        return TransientProviderError(f"{service}: {type(exc).__name__}: {exc}")
    if not isinstance(exc, ClientError):
        return PermanentProviderError(f"{service}: {type(exc).__name__}: {exc}")
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    reason = f"{service} {code}: {error.get('Message', '')}".strip()
    if code in transient_codes or status == 429 or status >= 500:
        return TransientProviderError(reason)
    return PermanentProviderError(reason)


class ProviderConfigError(PermanentProviderError):
    """The provider refuses our configuration or credentials (401/403, unverified sender, unknown
    model, no credentials). Every item would fail alike, so a job stops at the first one, marks
    no item, and the run is recorded failed with this reason; the backlog waits for the fix.

    `provider` names the side for operators: "AI provider", "email provider".
    """

    def __init__(self, reason: str, *, provider: str) -> None:
        super().__init__(reason)
        self.provider = provider

    def __str__(self) -> str:
        return f"{self.provider}: {self.reason}"


class OutcomeUnknownError(PermanentProviderError):
    """The message was handed over (SMTP: the final `.` of DATA written; SES: the request sent)
    and no answer came back: it may have gone out. Resending could deliver it twice, so the item
    is parked `failed` "outcome unknown" for an operator to requeue, never retried automatically.
    """
