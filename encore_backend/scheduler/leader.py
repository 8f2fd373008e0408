"""Leader election on a database lease: one process fires ticks, the others stand by.

APScheduler 3 does not support several schedulers on one job store, so only the holder of the
`scheduler` lease runs one. Every process runs an elector thread: the leader renews its lease
every RENEW_EVERY; a standby tries to take it and wins once it has expired (the leader died), so
ticks resume within LEASE_TTL + RENEW_EVERY of a crash. A leader that cannot renew before its
lease runs out steps down. The `(job_id, fire_time)` claim stays the safety net for the moments
two processes might both believe they lead (a stalled leader resuming).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from encore_backend.scheduler.runner import current_owner

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.scheduler.leader")
LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=10)
RENEW_EVERY = timedelta(seconds=2)


class LeaderElector:
    """Keeps trying to hold the scheduler lease; calls `on_elected` / `on_deposed` on changes.

    `on_renewed` runs after every successful renewal on the leader (pause reconciliation).
    """

    def __init__(
        self,
        ctx: Container,
        *,
        on_elected: Callable[[datetime], None],
        on_deposed: Callable[[], None],
        on_renewed: Callable[[], None] = lambda: None,
    ) -> None:
        self.ctx = ctx
        # host:pid names the process for operators; the suffix tells apart two electors in one
        # process (tests), which must not share a lease.
        self.holder = f"{current_owner()}/{uuid.uuid4().hex[:6]}"
        self._on_elected, self._on_deposed, self._on_renewed = on_elected, on_deposed, on_renewed
        self._leading_until: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler-elector", daemon=True)

    @property
    def is_leader(self) -> bool:
        return self._leading_until is not None

    def start(self) -> None:
        self.step()  # decide at once, so a lone process leads from its first second
        self._thread.start()

    def stop(self) -> None:
        """Stop electing (the role is kept until `release`)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def release(self) -> None:
        """Hand the lease back (a clean shutdown), so a standby takes over at its next round."""
        if not self.is_leader:
            return
        self._leading_until = None
        try:
            self.ctx.leases.release(name=LEASE_NAME, holder=self.holder, now=self.ctx.clock.now())
        except Exception:
            log.exception("could not release the scheduler lease")

    def step(self) -> None:
        """One election round: renew or take the lease, and act on a change of role."""
        now = self.ctx.clock.now()
        expires_at = now + LEASE_TTL
        try:
            held = self.ctx.leases.acquire(
                name=LEASE_NAME, holder=self.holder, now=now, expires_at=expires_at
            )
        except Exception as exc:
            log.warning("scheduler lease unreachable: %s", exc)
            held = None
        if held:
            if not self.is_leader and not self._take_office(now):
                return
            self._leading_until = expires_at
            self._on_renewed()
        elif self.is_leader and (held is False or self._lease_lapsed(now)):
            log.warning("lost the scheduler lease holder=%s", self.holder)
            self._depose()

    def _take_office(self, now: datetime) -> bool:
        """Start leading; on failure keep the lease and try again next round."""
        log.info("elected scheduler leader holder=%s", self.holder)
        try:
            self._on_elected(now)
        except Exception:
            log.exception("could not start leading; retrying")
            return False
        return True

    def _lease_lapsed(self, now: datetime) -> bool:
        return self._leading_until is not None and now >= self._leading_until

    def _depose(self) -> None:
        self._leading_until = None
        self._on_deposed()

    def _loop(self) -> None:
        while not self._stop.wait(RENEW_EVERY.total_seconds()):
            try:
                self.step()
            except Exception:  # the elector must outlive any single failure
                log.exception("scheduler election round failed")
