"""Drafts through any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from encore_backend.providers.ai.base import AI_SIDE, Draft, ReplyRequest
from encore_backend.providers.ai.checks import check_draft
from encore_backend.providers.ai.prompt import chat_messages, finish_reply
from encore_backend.providers.errors import (
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
)

TRANSIENT_STATUSES = frozenset({408, 425, 429})
# Key refused, no access, unknown model or wrong base URL: every draft would fail alike.
CONFIG_STATUSES = frozenset({401, 403, 404})
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class OpenAICompatReplyProvider:
    """POST {base_url}/chat/completions; 429/5xx/network → transient, 401/403/404 → config,
    other 4xx → permanent."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        client: httpx.Client | None = None,
        temperature: float = 0.4,
        max_tokens: int = 400,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.client = client or httpx.Client(timeout=DEFAULT_TIMEOUT)
        self.temperature = temperature
        self.max_tokens = max_tokens

    def draft(self, request: ReplyRequest) -> Draft:
        payload = {
            "model": self.model,
            "messages": chat_messages(request),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = self.client.post(self.url, json=payload, headers=headers)
        except httpx.TransportError as exc:  # timeouts, refused and dropped connections
            raise TransientProviderError(f"openai: {type(exc).__name__}: {exc}") from exc
        raise_for_status(response, secret=self.api_key)
        subject, body = finish_reply(message_text(response), request)
        model = str(_json(response).get("model") or self.model)
        return check_draft(Draft(subject=subject, body=body, provider=self.name, model=model))

    def close(self) -> None:
        self.client.close()


def raise_for_status(response: httpx.Response, *, secret: str | None = None) -> None:
    """Map an HTTP error status to a provider error; 2xx passes. The reason keeps the server's
    message with the API key blanked out (some servers echo the key they refuse)."""
    status = response.status_code
    if status < 400:
        return
    reason = f"openai HTTP {status}: {redact(response.text, secret)[:300]}"
    if status in TRANSIENT_STATUSES or status >= 500:
        raise TransientProviderError(reason, retry_after=retry_after(response))
    if status in CONFIG_STATUSES:
        raise ProviderConfigError(reason, provider=AI_SIDE)
    raise PermanentProviderError(reason)


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by "***"."""
    return text.replace(secret, "***") if secret else text


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), None if absent or bad."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        date = parsedate_to_datetime(response.headers.get("date", value))
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - date).total_seconds())


def message_text(response: httpx.Response) -> str:
    """choices[0].message.content, or a permanent error naming what is malformed."""
    try:
        content = _json(response)["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise PermanentProviderError(f"openai: malformed response: {response.text[:200]}") from exc
    if not isinstance(content, str):
        raise PermanentProviderError("openai: response content is not text")
    return content


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise PermanentProviderError(f"openai: not JSON: {response.text[:200]}") from exc
    return data if isinstance(data, dict) else {}
