"""The fleet's part of the API's /metrics (ENCORE_EXECUTOR=celery): what every worker counted in
Redis, queue depths, live workers and the beat lock, so one scrape of the API covers the fleet."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from encore_backend.config import Settings
from encore_backend.fleet import tasks
from encore_backend.fleet.app import configure
from encore_backend.fleet.status import REDIS_ERRORS, TASK_STATES, FleetStatus

log = logging.getLogger("encore.fleet.metrics")
# Each task and state is exposed from the start at 0, so rates and ratios have both sides.
TASKS = (tasks.tick.name, tasks.run_now.name, tasks.send_emails.name)


class FleetCollector(Collector):
    """The fleet's families, read on every scrape; Redis unreachable drops them (a warning,
    never a failed scrape: the database families still answer)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        status = FleetStatus(configure(self.settings))
        try:
            families = self._read(status)
        except REDIS_ERRORS:
            log.warning("fleet metrics dropped: Redis did not answer", exc_info=True)
            return
        finally:
            status.close()
        yield from families

    def _read(self, status: FleetStatus) -> list[Metric]:
        """Every family, or an error before any is yielded (Redis answers all or none)."""
        leader = GaugeMetricFamily(
            "encore_fleet_beat_leader", "1 when a beat holds the schedule lock, else 0"
        )
        leader.add_metric([], float(status.leader() is not None))
        depth = GaugeMetricFamily(
            "encore_fleet_queue_depth", "Messages waiting in each fleet queue", labels=["queue"]
        )
        for queue, waiting in status.queue_depths().items():
            depth.add_metric([queue], waiting)
        counted = CounterMetricFamily(
            "encore_fleet_tasks",
            "Tasks finished by every worker of the fleet, by task and state",
            labels=["task", "state"],
        )
        counts = status.task_counts()
        always = {(task, state) for task in TASKS for state in TASK_STATES}
        for task, state in sorted(always | set(counts)):
            counted.add_metric([task, state], counts.get((task, state), 0))
        workers = GaugeMetricFamily(
            "encore_fleet_workers", "Workers answering a ping (within a second)"
        )
        workers.add_metric([], len(status.workers()))
        return [leader, depth, counted, workers]
