"""A bare report worker for the reliability tests.

Builds the container from the environment (ENCORE_DATABASE_URL), prints "ready", waits for the go
file, then produces the daily and weekly reports due at NOW (the clock is injected so racing
workers agree on the due periods). It calls the report service directly, not through the job
runner, whose lease would let only one worker run: here the workers really race on the
database's unique keys. Prints what it created.
Usage: python report_proc.py GO_FILE NOW LOOKBACK_DAYS
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from encore_backend.bootstrap import build
from encore_backend.clock import ManualClock
from encore_backend.config import load_settings
from encore_backend.services.report_service import produce_reports


def main(go_file: Path, now: datetime, lookback: int) -> None:
    ctx = build(load_settings(), clock=ManualClock(now))
    print("ready", flush=True)
    while not go_file.exists():
        time.sleep(0.005)
    daily = produce_reports(ctx, kind="daily", now=now, lookback=lookback)
    weekly = produce_reports(ctx, kind="weekly", now=now, lookback=lookback)
    print(f"daily={len(daily.created)} weekly={len(weekly.created)}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), int(sys.argv[3]))
