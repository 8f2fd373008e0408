"""A bare email-sender worker process for the reliability tests.

Builds the container from the environment (ENCORE_DATABASE_URL, EMAIL_BACKEND, SMTP_PORT, …) and
runs the `email_sender` job in a loop until the stop file exists; prints what it sent at the end.
Usage: python email_worker_proc.py STOP_FILE LEASE_SECONDS
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from encore_backend.bootstrap import build
from encore_backend.config import load_settings
from encore_backend.scheduler.jobs import email_sender


def main(stop_file: Path, lease_seconds: float) -> None:
    ctx = build(load_settings())
    totals = {"sent": 0, "failed": 0, "outcome_unknown": 0}
    while not stop_file.exists():
        result = email_sender.run(ctx, ctx.clock.now(), lease_seconds=lease_seconds, max_seconds=30)
        for key in totals:
            totals[key] += int(result.details[key])
        if result.items_processed == 0 and not result.details["outcome_unknown"]:
            time.sleep(0.1)
    print(" ".join(f"{k}={v}" for k, v in totals.items()), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
