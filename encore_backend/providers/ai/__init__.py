"""AI reply providers: the `ReplyProvider` port, its adapters, the prompt and the draft checks."""

from encore_backend.providers.ai.base import (
    Draft,
    ReplyProvider,
    ReplyRequest,
    first_name_from,
    rating_band,
)
from encore_backend.providers.ai.checks import (
    DraftRejected,
    check_draft,
    compensation_terms,
    needs_approval,
)
from encore_backend.providers.ai.factory import build_reply_provider
from encore_backend.providers.ai.template import TemplateReplyProvider, detect_topics

__all__ = [
    "Draft",
    "DraftRejected",
    "ReplyProvider",
    "ReplyRequest",
    "TemplateReplyProvider",
    "build_reply_provider",
    "check_draft",
    "compensation_terms",
    "detect_topics",
    "first_name_from",
    "needs_approval",
    "rating_band",
]
