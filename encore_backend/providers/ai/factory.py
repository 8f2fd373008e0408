"""Choose the reply provider from settings (the one place that knows every adapter)."""

from __future__ import annotations

from typing import Any

from encore_backend.config import Settings
from encore_backend.providers.ai.base import ReplyProvider

AI_PROVIDERS = ("template", "bedrock", "openai")


def build_reply_provider(settings: Settings, **overrides: Any) -> ReplyProvider:
    """AI_PROVIDER → adapter; overrides: provider=, client= (boto3/httpx), constructor args."""
    kind = overrides.pop("provider", None) or settings.ai_provider
    if kind == "template":
        from encore_backend.providers.ai.template import TemplateReplyProvider

        return TemplateReplyProvider()
    if kind == "openai":
        from encore_backend.providers.ai.openai_compat import OpenAICompatReplyProvider

        args = {
            "base_url": settings.openai_base_url,
            "model": settings.openai_model,
            "api_key": settings.openai_api_key,
        }
        return OpenAICompatReplyProvider(**{**args, **overrides})
    if kind == "bedrock":
        from encore_backend.providers.ai.bedrock import BedrockReplyProvider

        args = {"model_id": settings.bedrock_model_id, "region": settings.aws_region}
        return BedrockReplyProvider(**{**args, **overrides})
    raise ValueError(f"AI_PROVIDER: expected one of {', '.join(AI_PROVIDERS)} (got {kind!r})")
