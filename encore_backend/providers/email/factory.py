"""Choose the email backend from settings (the one place that knows every adapter)."""

from __future__ import annotations

import os
from typing import Any

from encore_backend.config import Settings
from encore_backend.providers.email.base import EmailSender

EMAIL_BACKENDS = ("outbox", "smtp", "ses")


def build_email_sender(settings: Settings, **overrides: Any) -> EmailSender:
    """EMAIL_BACKEND → adapter; overrides: backend=, client= (boto3), constructor args."""
    kind = overrides.pop("backend", None) or settings.email_backend
    if kind == "outbox":
        from encore_backend.providers.email.outbox import OutboxEmailSender

        directory = overrides.pop("directory", settings.encore_outbox_dir)
        return OutboxEmailSender(directory, **overrides)
    if kind == "smtp":
        from encore_backend.providers.email.smtp import SmtpEmailSender

        args = {
            "host": settings.smtp_host,
            "port": settings.smtp_port,
            "username": settings.smtp_username,
            "password": settings.smtp_password,
            "starttls": settings.smtp_starttls,
        }
        return SmtpEmailSender(**{**args, **overrides})
    if kind == "ses":
        from encore_backend.providers.email.ses import SesEmailSender

        config_set = getattr(settings, "ses_configuration_set", None)
        args = {
            "region": settings.aws_region,
            "configuration_set": config_set or os.environ.get("SES_CONFIGURATION_SET") or None,
        }
        return SesEmailSender(**{**args, **overrides})
    raise ValueError(f"EMAIL_BACKEND: expected one of {', '.join(EMAIL_BACKENDS)} (got {kind!r})")
