"""The Celery application of the fleet: broker, queues, acknowledgement and RedBeat settings.

One module-level app (tasks register on it at import); `configure` points it at the settings'
broker before a worker, beat or API process uses it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from celery import Celery
from kombu import Queue

from encore_backend.config import Settings

# Queues: ticks are short and must not wait behind a batch of 1,000 emails.
TICKS, SENDS, DRAFTS = "encore.ticks", "encore.sends", "encore.drafts"
QUEUES = (TICKS, SENDS, DRAFTS)
# A dead beat's lock lapses after LOCK_TIMEOUT; a standby retries every MAX_INTERVAL, so it
# fires the next ticks within LOCK_TIMEOUT + MAX_INTERVAL (SPEC §3: 30 s). RedBeat's default
# lock timeout is 5 times beat_max_interval (25 minutes with Celery's defaults).
BEAT_MAX_INTERVAL = timedelta(seconds=5)
BEAT_LOCK_TIMEOUT = timedelta(seconds=20)
KEY_PREFIX = "encore:"  # every Redis key of ours and RedBeat's starts with this
# An unacknowledged task of a killed worker comes back after this (Redis transport).
VISIBILITY_TIMEOUT = timedelta(minutes=10)
RESULT_TTL = timedelta(hours=1)

app = Celery("encore", include=["encore_backend.fleet.tasks"])


def configure(settings: Settings) -> Celery:
    """Point the app at the settings' Redis; returns the app (idempotent)."""
    url = settings.celery_broker_url
    if getattr(app, "encore_settings", None) is not None and app.conf.broker_url != url:
        forget_broker(app)
    app.conf.update(
        broker_url=url,
        result_backend=url,
        result_expires=int(RESULT_TTL.total_seconds()),
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT.total_seconds()},
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        # A task is acknowledged when it finished, so a worker killed mid-task leaves it to
        # another; every task is idempotent through the database's claims.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=TICKS,
        task_queues=[Queue(name) for name in QUEUES],
        task_routes={
            "encore.send_emails": {"queue": SENDS},
            "encore.draft_replies": {"queue": DRAFTS},
        },
        worker_send_task_events=False,
        beat_max_loop_interval=int(BEAT_MAX_INTERVAL.total_seconds()),
        beat_scheduler="encore_backend.fleet.beat:EncoreBeatScheduler",
        redbeat_redis_url=url,
        redbeat_redis_options={"socket_timeout": 10, "socket_connect_timeout": 5},
        redbeat_key_prefix=f"{KEY_PREFIX}redbeat:",
        redbeat_lock_timeout=int(BEAT_LOCK_TIMEOUT.total_seconds()),
    )
    app.encore_settings = settings  # type: ignore[attr-defined]
    return app


def forget_broker(celery: Celery) -> None:
    """Drop what the app keeps for the Redis it used before: its connection and producer pools,
    result backend and RedBeat client are made once, so without this a process pointed at a
    second Redis (a test on its own database) would go on using the first."""
    celery._pool = None  # kombu keeps one pool per URL: pointed back, the app finds it again
    celery.__dict__.pop("amqp", None)  # holds the producer pool
    celery._backend_cache = None
    celery._local = threading.local()  # the per-thread result backends
    for name in ("redbeat_conf", "redbeat_redis"):
        celery.__dict__.pop(name, None)
