"""What a job returns to the run recorder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class JobResult:
    """Items processed and a small dict of named counts kept in the run record."""

    items_processed: int = 0
    details: dict[str, Any] = field(default_factory=dict)
