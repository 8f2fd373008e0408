"""The default backend: one RFC 5322 .eml file per message in ENCORE_OUTBOX_DIR."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from encore_backend.clock import Clock, SystemClock, as_utc
from encore_backend.providers.email.base import (
    SendResult,
    StatelessSessions,
    ensure_message_id,
    wire_bytes,
)
from encore_backend.providers.errors import PermanentProviderError, TransientProviderError


class OutboxEmailSender(StatelessSessions):
    """Writes `<UTC time>_<message id>.eml` atomically (temp file, fsync, rename)."""

    backend = "outbox"

    def __init__(self, directory: str | os.PathLike[str], *, clock: Clock | None = None) -> None:
        self.directory = Path(directory)
        self.clock = clock or SystemClock()

    def send(self, message: EmailMessage) -> SendResult:
        message_id = ensure_message_id(message)
        data = wire_bytes(message)  # CRLF line ends, as on the wire
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self.directory / self.file_name(message, message_id), data)
        except PermissionError as exc:
            raise PermanentProviderError(f"outbox: {exc}") from exc
        except OSError as exc:  # disk full, I/O error: may clear up
            raise TransientProviderError(f"outbox: {exc}") from exc
        return SendResult(message_id=message_id, backend=self.backend)

    def file_name(self, message: EmailMessage, message_id: str) -> str:
        """Sortable by the message's Date (the clock if it has none), unique by its id."""
        when = _message_date(message) or self.clock.now()
        safe_id = re.sub(r"[^A-Za-z0-9._@-]+", "_", message_id.strip("<>"))[:150]
        return f"{as_utc(when):%Y%m%dT%H%M%SZ}_{safe_id}.eml"


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the whole file or none of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _message_date(message: EmailMessage) -> datetime | None:
    try:
        return parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        return None
