"""Drafts through Amazon Bedrock's Converse API (boto3 `bedrock-runtime`)."""

from __future__ import annotations

import re
from typing import Any

from encore_backend.providers.ai.base import AI_SIDE, Draft, ReplyRequest
from encore_backend.providers.ai.checks import check_draft
from encore_backend.providers.ai.prompt import finish_reply, system_prompt, user_prompt
from encore_backend.providers.errors import (
    PermanentProviderError,
    ProviderConfigError,
    ProviderError,
    aws_error,
)

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "InternalServerException",
        "TooManyRequestsException",
    }
)


# Credentials or access refused, model unknown: every draft would fail alike.
CONFIG_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ResourceNotFoundException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
    }
)
# A ValidationException about the model id (not about one request's content) is configuration:
# "The provided model identifier is invalid.", "Invocation of model ID … with on-demand
# throughput isn't supported."
UNKNOWN_MODEL = re.compile(r"model identifier|\bmodel id\b|on-demand throughput", re.I)


class BedrockReplyProvider:
    """Converse with BEDROCK_MODEL_ID: throttling/timeouts → transient, denied credentials or an
    unknown model → config, other validation → permanent."""

    name = "bedrock"

    def __init__(
        self, *, model_id: str, client: Any = None, region: str = "us-east-1", max_tokens: int = 400
    ) -> None:
        self.model_id = model_id
        self.client = client or make_client(region)
        self.max_tokens = max_tokens

    def draft(self, request: ReplyRequest) -> Draft:
        try:
            response = self.client.converse(
                modelId=self.model_id,
                system=[{"text": system_prompt(request)}],
                messages=[{"role": "user", "content": [{"text": user_prompt(request)}]}],
                inferenceConfig={"maxTokens": self.max_tokens, "temperature": 0.4},
            )
        except Exception as exc:
            raise bedrock_error(exc) from exc
        subject, body = finish_reply(output_text(response), request)
        draft = Draft(subject=subject, body=body, provider=self.name, model=self.model_id)
        return check_draft(draft)


def bedrock_error(exc: Exception) -> ProviderError:
    """Classify a boto3 failure: missing credentials, denied access or an unknown model →
    ProviderConfigError; the rest as aws_error does (throttling/5xx/network → transient)."""
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ProviderConfigError(f"bedrock: {exc}", provider=AI_SIDE)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        unknown_model = code == "ValidationException" and UNKNOWN_MODEL.search(message)
        if code in CONFIG_CODES or unknown_model:
            return ProviderConfigError(f"bedrock {code}: {message}".strip(), provider=AI_SIDE)
    return aws_error(exc, service="bedrock", transient_codes=TRANSIENT_CODES)


def output_text(response: dict[str, Any]) -> str:
    """The text blocks of output.message.content joined, or a permanent error."""
    try:
        blocks = response["output"]["message"]["content"]
    except (KeyError, TypeError) as exc:
        raise PermanentProviderError("bedrock: response has no output message") from exc
    return "".join(block.get("text", "") for block in blocks)


def make_client(region: str) -> Any:
    """A bedrock-runtime client with timeouts; botocore retries once, the job retries the rest."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5, read_timeout=60, retries={"mode": "standard", "total_max_attempts": 2}
    )
    return boto3.client("bedrock-runtime", region_name=region, config=config)
