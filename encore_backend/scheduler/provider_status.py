"""Jobs stopped by a provider that refuses our configuration, and since when (health, console).

A run that raised ProviderConfigError is recorded failed with details {"provider_error": …}.
The problem started with the oldest run of the unbroken streak of such failures, so an operator
reads "AI provider rejects the key since 10:42", not just "the last run failed".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from encore_backend.clock import iso_z
from encore_backend.domain.enums import RunStatus

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

STREAK_LOOKBACK = 200  # runs read per job to find where a streak began


def provider_errors(ctx: Container, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per job whose newest run was stopped by a provider configuration error."""
    found = []
    for job in jobs:
        last = job.get("last_run")
        if last and _is_provider_failure(last):
            since = _streak_start(ctx, job["id"])
            found.append(
                {
                    "job_id": job["id"],
                    "provider": last["details"]["provider_error"],
                    "error": last["error"],
                    "since": since,
                }
            )
    return found


def _is_provider_failure(run: dict[str, Any]) -> bool:
    details = run.get("details") or {}
    return run.get("status") == RunStatus.FAILED and bool(details.get("provider_error"))


def _streak_start(ctx: Container, job_id: str) -> str | None:
    since = None
    for run in ctx.job_runs.list_runs(job_id=job_id, limit=STREAK_LOOKBACK):
        if run["status"] in (RunStatus.SKIPPED, RunStatus.MISSED, RunStatus.RUNNING):
            continue
        if not _is_provider_failure(run):
            break
        since = run["started_at"]
    return iso_z(since)


def stopped_reason(problem: dict[str, Any]) -> str:
    """One line for an operator: "ai_generator is stopped since 10:42 UTC: AI provider: 401 …"."""
    since = (problem["since"] or "")[11:16]
    when = f" since {since} UTC" if since else ""
    return f"{problem['job_id']} is stopped{when}: {problem['error']}"
