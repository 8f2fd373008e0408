"""The send benchmark's SMTP server: aiosmtpd in the bench process, a fixed latency per message
(a provider's), every accepted message counted with its arrival time and queue id."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.support.smtp_server import smtp_server

QUEUE_ID = re.compile(rb"^X-Encore-Queue-Id: *(\S+)", re.MULTILINE)


@dataclass
class SlowHandler:
    """Accepts every message after `delay` seconds (connections are served concurrently)."""

    delay: float
    arrivals: list[float] = field(default_factory=list)  # perf_counter() at each acceptance
    queue_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(self.delay)
        found = QUEUE_ID.search(envelope.content)
        with self.lock:
            self.arrivals.append(time.perf_counter())
            self.queue_ids.append(found.group(1).decode() if found else "?")
        return "250 Message accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def reset(self) -> None:
        with self.lock:
            self.arrivals.clear()
            self.queue_ids.clear()


@contextmanager
def slow_smtp(delay: float) -> Iterator[tuple[int, SlowHandler]]:
    """(port, handler) of a server on 127.0.0.1 for the block."""
    handler = SlowHandler(delay)
    with smtp_server(handler) as port:
        yield port, handler
