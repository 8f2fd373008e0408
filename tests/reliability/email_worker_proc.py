"""A bare email-sender worker process for the reliability tests.

Builds the container from the environment (ENCORE_DATABASE_URL, EMAIL_BACKEND, SMTP_PORT, …) and
runs the `email_sender` job in a loop until the stop file exists; prints what it sent at the end
(and, in the DynamoDB profile, the DynamoDB requests it made per operation).
Usage: python email_worker_proc.py STOP_FILE LEASE_SECONDS [dynamodb]
The `dynamodb` argument switches the derived stores to DynamoDB (DYNAMODB_ENDPOINT_URL,
ENCORE_DYNAMODB_TABLE_PREFIX from the environment): the configuration still refuses that
profile, so it is set here as the tests' fixtures do.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from encore_backend.bootstrap import build
from encore_backend.config import load_settings
from encore_backend.scheduler.jobs import email_sender


def main(stop_file: Path, lease_seconds: float, derived: str) -> None:
    settings = load_settings()
    if derived == "dynamodb":
        settings = settings.model_copy(update={"encore_derived_store": "dynamodb"})
    ctx = build(settings)
    totals = {"sent": 0, "failed": 0, "outcome_unknown": 0}
    while not stop_file.exists():
        result = email_sender.run(ctx, ctx.clock.now(), lease_seconds=lease_seconds, max_seconds=30)
        for key in totals:
            totals[key] += int(result.details[key])
        if result.items_processed == 0 and not result.details["outcome_unknown"]:
            time.sleep(0.1)
    print(" ".join(f"{k}={v}" for k, v in totals.items()), flush=True)
    dynamo = getattr(ctx.email_queue, "dynamo", None)
    if dynamo is not None:
        print(" ".join(f"dynamo.{k}={v}" for k, v in sorted(dynamo.requests.items())), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "sql")
