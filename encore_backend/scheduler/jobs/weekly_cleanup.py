"""Job `weekly_cleanup`: archive old alerts, purge, trim, thin, roll up months, remove orphans.

`encore run-job weekly_cleanup --dry-run` passes dry_run=True: the run record then holds the
counts each step would change, and nothing is changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.scheduler.result import JobResult
from encore_backend.services.cleanup_service import run_cleanup

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container


def run(ctx: Container, now: datetime, **params: Any) -> JobResult:
    """One cleanup pass at `now`; params: dry_run."""
    dry_run = bool(params.get("dry_run", False))
    done = run_cleanup(ctx, now=now, dry_run=dry_run)
    return JobResult(items_processed=sum(done.values()), details={"dry_run": dry_run, **done})
