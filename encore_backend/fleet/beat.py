"""`encore beat`'s scheduler: RedBeat (schedule and lock in Redis) with the registry's schedules
and the tick's fire time in each message.

RedBeat stores a schedule as a plain interval; entries are rebuilt from the registry when
loaded, so the fire times stay on the registry's grid whichever beat holds the lock. The beat
holding the lock also writes who it is (`leader_key`), which `/health/scheduler` reads.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime
from typing import Any

from celery import Celery
from redbeat import RedBeatScheduler
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatSchedulerEntry, get_redis
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.lock import Lock

from encore_backend.clock import Clock, SystemClock, iso_z
from encore_backend.config import Settings
from encore_backend.fleet.app import BEAT_LOCK_TIMEOUT, KEY_PREFIX
from encore_backend.fleet.schedule import RegistrySchedule
from encore_backend.scheduler.registry import REGISTRY, JobSpec, as_registry

log = logging.getLogger("encore.fleet.beat")
TICK_TASK = "encore.tick"
LEADER_KEY = f"{KEY_PREFIX}beat:leader"
CLOCK_ATTR = "encore_clock"  # app attribute: the Clock beat reads (tests inject one)


def beat_clock(app: Celery) -> Clock:
    return getattr(app, CLOCK_ATTR, None) or SystemClock()


def registry_entries(app: Celery) -> dict[str, dict[str, Any]]:
    """The beat schedule: one entry per registry job, named by its id. `last_run_at` is kept
    only by an entry new to Redis (RedBeat keeps a stored entry's own)."""
    now = beat_clock(app).now()
    entries = {}
    for spec in REGISTRY:
        schedule = _schedule_for(app, spec)
        entries[spec.id] = {
            "task": TICK_TASK,
            "schedule": schedule,
            "args": (spec.id,),
            "last_run_at": schedule.started(now),
        }
    return entries


class RegistryEntry(RedBeatSchedulerEntry):  # type: ignore[misc]
    """A RedBeat entry whose schedule comes from the registry, not from Redis's JSON."""

    @classmethod
    def from_key(cls, key: str, app: Celery | None = None) -> RegistryEntry:
        entry: RegistryEntry = super().from_key(key, app=app)
        spec = as_registry(REGISTRY).get(entry.name)
        if spec is not None and app is not None:
            entry.schedule = _schedule_for(app, spec)
        return entry


def _schedule_for(app: Celery, spec: JobSpec) -> RegistrySchedule:
    settings: Settings = app.encore_settings  # type: ignore[attr-defined]
    return RegistrySchedule(spec, settings, nowfun=beat_clock(app).now)


class EncoreBeatScheduler(RedBeatScheduler):  # type: ignore[misc]
    """RedBeat, fed by the registry; each tick message carries its fire time."""

    Entry = RegistryEntry
    lock: Lock | None = None

    def setup_schedule(self) -> None:
        self.app.redbeat_conf.schedule = registry_entries(self.app)
        super().setup_schedule()

    def apply_async(
        self, entry: RegistryEntry, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        schedule = entry.schedule
        if isinstance(schedule, RegistrySchedule):
            fire_time = schedule.fire_time(schedule.now())
            entry.kwargs = {**(entry.kwargs or {}), "fire_time": iso_z(fire_time)}
        return super().apply_async(entry, producer=producer, advance=advance, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """RedBeat's tick, made to outlive Redis: an outage or a lock lost with a restarted
        Redis (it may keep nothing) is logged and retried, never fatal; the lock is taken
        back when free, and the entries a wiped Redis lost are stored again."""
        try:
            if not self._hold_lock():
                return float(self.max_interval)  # another beat fires the ticks
            if get_redis(self.app).zcard(self.app.redbeat_conf.schedule_key) < len(REGISTRY):
                log.warning("beat: schedule entries missing in Redis; storing them again")
                self.setup_schedule()
            remaining: float = super().tick(*args, **kwargs)
            announce_leader(self.app, since=self._since())
            return remaining
        except (RedisError, LockError) as exc:
            log.warning("beat: Redis unavailable or lock lost (%s); retrying", exc)
            return float(self.max_interval)

    def _hold_lock(self) -> bool:
        """Extend our lock, or try (without waiting) to take it when we have none."""
        if self.lock is not None:
            try:
                self.lock.extend(int(self.lock_timeout))
                return True
            except LockNotOwnedError:
                log.warning("beat: lost the schedule lock")
                self.lock = None
                self.__dict__.pop("_leading_since", None)
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        if not lock.acquire(blocking=False):
            return False
        log.info("beat: acquired the schedule lock")
        self.lock = lock
        return True

    def _since(self) -> datetime:
        if not hasattr(self, "_leading_since"):
            self._leading_since = beat_clock(self.app).now()
        return self._leading_since

    def close(self) -> None:
        try:
            if self.lock is not None and self.lock.owned():
                get_redis(self.app).delete(LEADER_KEY)
            super().close()
        except RedisError as exc:  # the lock lapses by itself
            log.warning("beat: could not release the lock (%s)", exc)


def beat_holder() -> str:
    return f"beat@{socket.gethostname()}:{os.getpid()}"


def announce_leader(app: Celery, *, since: datetime) -> None:
    """Say in Redis which beat fires ticks; it lapses with the lock."""
    body = json.dumps({"holder": beat_holder(), "since": iso_z(since)})
    get_redis(app).set(LEADER_KEY, body, px=int(BEAT_LOCK_TIMEOUT.total_seconds() * 1000))
