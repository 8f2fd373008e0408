"""A bare alert detector for the reliability tests, in the DynamoDB profile.

Builds the container from the environment (ENCORE_DATABASE_URL) switched to DynamoDB at the
given endpoint and table prefix (the configuration still refuses ENCORE_DERIVED_STORE=dynamodb
from the environment, so the settings are copied), prints "ready", waits for the go file, then
scans every unscanned feedback at NOW in batches of BATCH. It calls the alert service directly,
not through the job runner, whose lease would let only one detector run: here the detectors
really race. Prints what it did.
Usage: python alert_proc.py GO_FILE NOW BATCH ENDPOINT PREFIX
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from encore_backend.bootstrap import build
from encore_backend.clock import ManualClock
from encore_backend.config import load_settings
from encore_backend.services.alert_service import detect


def main(go_file: Path, now: datetime, batch: int, endpoint: str, prefix: str) -> None:
    settings = load_settings().model_copy(
        update={
            "encore_derived_store": "dynamodb",
            "dynamodb_endpoint_url": endpoint,
            "encore_dynamodb_table_prefix": prefix,
        }
    )
    ctx = build(settings, clock=ManualClock(now))
    print("ready", flush=True)
    while not go_file.exists():
        time.sleep(0.005)
    report = detect(ctx, now=now, batch_size=batch)
    print(
        f"scanned={report.scanned} alerts={len(report.alerts)} "
        f"deliveries={len(report.delivery_ids)}",
        flush=True,
    )


if __name__ == "__main__":
    go, now, batch, endpoint, prefix = sys.argv[1:6]
    main(Path(go), datetime.fromisoformat(now), int(batch), endpoint, prefix)
