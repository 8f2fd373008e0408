"""Pause, resume and one job's description: the same for every engine, since the controls are
rows in the database that each engine reads (the embedded leader applies them to its store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.registry import get_spec
from encore_backend.scheduler.runner import current_owner

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


class JobControls:
    """Mixed into an engine's control; the engine lists its jobs (`jobs`)."""

    ctx: Container

    def jobs(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def job(self, job_id: str) -> dict[str, Any]:
        return next(job for job in self.jobs() if job["id"] == job_id)

    def pause(self, job_id: str) -> dict[str, Any]:
        """Pause `job_id` for every process and every restart."""
        return self._set_paused(job_id, True)

    def resume(self, job_id: str) -> dict[str, Any]:
        return self._set_paused(job_id, False)

    def _set_paused(self, job_id: str, paused: bool) -> dict[str, Any]:
        get_spec(self.ctx, job_id)
        now = self.ctx.clock.now()
        self.ctx.job_controls.set_paused(job_id=job_id, paused=paused, now=now, by=current_owner())
        self._apply()
        return self.job(job_id)

    def _apply(self) -> None:
        """Bring this engine in line with the controls at once (default: nothing to do)."""
