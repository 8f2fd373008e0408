"""The scheduler control of this profile: what the API, console and `encore jobs` act on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from encore_backend.scheduler.scheduler import EngineScheduler

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container
    from encore_backend.fleet.control import FleetScheduler


class RunQueued(Exception):
    """A run-now the workers did not finish within the wait (API: 202 with the task id)."""

    def __init__(self, job_id: str, task_id: str) -> None:
        super().__init__(f"{job_id} was queued as task {task_id}; its run record will follow")
        self.job_id, self.task_id = job_id, task_id


SchedulerControl = Union[EngineScheduler, "FleetScheduler"]


def scheduler_control(ctx: Container) -> SchedulerControl:
    """The embedded scheduler (not started), or the Celery fleet's view."""
    if ctx.settings.encore_executor == "celery":
        from encore_backend.fleet.control import FleetScheduler

        return FleetScheduler(ctx)
    return EngineScheduler(ctx)
