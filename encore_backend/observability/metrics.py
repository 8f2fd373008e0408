"""Prometheus metrics: run counters of this process, and gauges read from the database.

Counters (runs, failures, durations, items) count what this process ran, as Prometheus expects
of each scraped process. Gauges (last run per job, time since each job's last success, queue
depth, alerts, webhook and provider failures) are read from the shared database at scrape time,
so every node reports the same truth. On the Celery profile the fleet's task counters, queue
depths, workers and beat lock come from Redis (fleet/metrics.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from encore_backend.clock import as_utc
from encore_backend.domain.enums import ALERT_LEVEL_ORDER, EmailKind, QueueStatus, RunStatus
from encore_backend.scheduler import runner
from encore_backend.scheduler.registry import registry_for
from encore_backend.storage.errors import StorageError

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.metrics")

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
QUEUE_STATUSES = tuple(s.value for s in QueueStatus)
QUEUE_KINDS = tuple(k.value for k in EmailKind)
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class RunMetrics:
    """The run counters of this process (fed by the run recorder's observer hook)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.runs = Counter(
            "encore_job_runs",
            "Job runs recorded by this process",
            ["job_id", "trigger", "status"],
            registry=registry,
        )
        self.failures = Counter(
            "encore_job_failures", "Job runs that failed", ["job_id"], registry=registry
        )
        self.duration = Histogram(
            "encore_job_duration_seconds",
            "Duration of finished job runs",
            ["job_id"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.items = Counter(
            "encore_job_items_processed",
            "Items processed by job runs",
            ["job_id"],
            registry=registry,
        )

    def observe(self, record: Mapping[str, Any]) -> None:
        """Count one run record (finished, skipped or missed)."""
        job_id = record["job_id"]
        self.runs.labels(job_id, record["trigger"], record["status"]).inc()
        if record["status"] == RunStatus.FAILED:
            self.failures.labels(job_id).inc()
        if record.get("duration_ms") is not None:
            self.duration.labels(job_id).observe(record["duration_ms"] / 1000)
        self.items.labels(job_id).inc(int(record.get("items_processed") or 0))


@cache
def run_metrics() -> RunMetrics:
    """This process's run metrics, created once and hooked into the run recorder."""
    metrics = RunMetrics(CollectorRegistry(auto_describe=True))
    runner.run_observers.append(metrics.observe)
    return metrics


class StoreCollector(Collector):
    """Gauges computed from the database on every scrape; a failing query drops its family."""

    def __init__(self, ctx: Container) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        families: tuple[Callable[[], Iterable[Metric]], ...] = (
            self._last_runs,
            self._since_success,
            self._queue,
            self._alerts,
            self._webhooks,
            self._replies,
        )
        for family in families:
            try:
                yield from list(family())
            except StorageError:
                log.warning("metrics family %s failed", family.__name__, exc_info=True)

    def _last_runs(self) -> Iterator[Metric]:
        names = ("started_timestamp_seconds", "duration_seconds", "items", "success")
        gauges = {
            n: GaugeMetricFamily(
                f"encore_job_last_run_{n}", f"Newest run of each job: {n}", labels=["job_id"]
            )
            for n in names
        }
        for job_id in registry_for(self.ctx):
            last = self.ctx.job_runs.latest(job_id=job_id)
            if last is None:
                continue
            if last["started_at"] is not None:
                started = last["started_at"].timestamp()
                gauges["started_timestamp_seconds"].add_metric([job_id], started)
            gauges["duration_seconds"].add_metric([job_id], (last["duration_ms"] or 0) / 1000)
            gauges["items"].add_metric([job_id], last["items_processed"] or 0)
            gauges["success"].add_metric([job_id], float(last["status"] == RunStatus.SUCCESS))
        yield from gauges.values()

    def _since_success(self) -> Iterator[Metric]:
        """Seconds since each job's newest successful run finished, on the container's clock
        (a job that never succeeded has no sample: alert on its absence, or on last_run)."""
        family = GaugeMetricFamily(
            "encore_job_seconds_since_success",
            "Seconds since each job's newest successful run (not a dry run) finished",
            labels=["job_id"],
        )
        now = self.ctx.clock.now()
        for job_id in registry_for(self.ctx):
            run = self.ctx.job_runs.latest_success(job_id=job_id)
            if run is not None:
                done = as_utc(run["finished_at"])
                family.add_metric([job_id], max((now - done).total_seconds(), 0.0))
        yield family

    def _queue(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "encore_email_queue_items",
            "Email queue items by kind (reply, report, alert) and status",
            labels=["kind", "status"],
        )
        counts = self.ctx.email_queue.count_by_kind_and_status()
        always = {(kind, status) for kind in QUEUE_KINDS for status in QUEUE_STATUSES}
        for kind, status in sorted(always | set(counts)):
            family.add_metric([kind, status], counts.get((kind, status), 0))
        yield family

    def _alerts(self) -> Iterator[Metric]:
        yield by_label(
            "encore_alerts",
            "Alerts (not archived) by level",
            "level",
            self.ctx.alerts.count_by_level(),
            [level.value for level in ALERT_LEVEL_ORDER],
        )

    def _webhooks(self) -> Iterator[Metric]:
        yield by_label(
            "encore_webhook_deliveries",
            "Webhook deliveries by status (failed: gave up)",
            "status",
            self.ctx.webhooks.count_by_status(),
            DELIVERY_STATUSES,
        )

    def _replies(self) -> Iterator[Metric]:
        yield by_label(
            "encore_ai_replies",
            "AI replies by status (failed: provider errors)",
            "status",
            self.ctx.ops_counts.replies_by_status(),
            (),
        )


def by_label(
    name: str, doc: str, label: str, counts: Mapping[str, int], always: Iterable[str]
) -> GaugeMetricFamily:
    """One gauge family with a sample per label value; `always` values appear even at 0."""
    family = GaugeMetricFamily(name, doc, labels=[label])
    for value in sorted({*always, *counts}):
        family.add_metric([value], counts.get(value, 0))
    return family


def render(ctx: Container) -> bytes:
    """The Prometheus text exposition: this process's counters, then the database gauges, and
    on the Celery profile the fleet's families read from Redis."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(StoreCollector(ctx))
    if ctx.settings.encore_executor == "celery":
        from encore_backend.fleet.metrics import FleetCollector

        scrape.register(FleetCollector(ctx.settings))
    return generate_latest(run_metrics().registry) + generate_latest(scrape)
