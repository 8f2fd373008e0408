"""Fixtures of the email tests: one real aiosmtpd server per module, and a ctx sending to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reply_support import use_manual_sleep
from support.smtp_server import RecordingHandler, smtp_server

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        yield handler, port


@pytest.fixture
def handler(
    ctx: Container, clock: ManualClock, smtp: tuple[RecordingHandler, int]
) -> RecordingHandler:
    """ctx sends through the SMTP server (sleeps move the manual clock); its record and faults
    start empty."""
    recording, port = smtp
    recording.faults.clear()
    recording.messages.clear()
    recording.envelopes.clear()
    ctx.settings = ctx.settings.model_copy(
        update={"email_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
    )
    use_manual_sleep(ctx, clock)
    return recording
