"""Email backends: the `EmailSender` port, its adapters, message building and unsubscribe links."""

from encore_backend.providers.email.base import EmailSender, SendResult, ensure_message_id
from encore_backend.providers.email.escalation_message import build_escalation_message
from encore_backend.providers.email.factory import build_email_sender
from encore_backend.providers.email.manager_messages import (
    build_alert_message,
    build_digest_message,
    build_report_message,
)
from encore_backend.providers.email.message import (
    InlineImage,
    build_html_message,
    build_reply_message,
    render_template,
)
from encore_backend.providers.email.unsubscribe import (
    ManagerUnsubscribeClaim,
    UnsubscribeClaim,
    make_manager_unsubscribe_token,
    make_unsubscribe_token,
    manager_unsubscribe_url,
    unsubscribe_url,
    verify_manager_unsubscribe_token,
    verify_unsubscribe_token,
)

__all__ = [
    "EmailSender",
    "InlineImage",
    "ManagerUnsubscribeClaim",
    "SendResult",
    "UnsubscribeClaim",
    "build_alert_message",
    "build_digest_message",
    "build_email_sender",
    "build_escalation_message",
    "build_html_message",
    "build_reply_message",
    "build_report_message",
    "ensure_message_id",
    "make_manager_unsubscribe_token",
    "make_unsubscribe_token",
    "manager_unsubscribe_url",
    "render_template",
    "unsubscribe_url",
    "verify_manager_unsubscribe_token",
    "verify_unsubscribe_token",
]
