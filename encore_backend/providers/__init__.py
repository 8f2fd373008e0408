"""Adapters to the outside world: AI reply providers (`ai`) and email backends (`email`)."""

from encore_backend.providers.errors import (
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)

__all__ = ["PermanentProviderError", "ProviderError", "TransientProviderError"]
