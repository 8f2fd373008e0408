"""Structured JSON logs: one object per line, carrying job_id and run_id inside a job run.

The run recorder publishes the run it is executing in `runner.current_run`; every line logged
in that context (by the runner, the job, the services it calls) is tagged with its ids.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from encore_backend.scheduler.runner import current_run

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of msg
}
RUN_FIELDS = ("job_id", "run_id")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: ts, level, logger, msg, run ids, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        run = current_run.get() or {}
        for name in RUN_FIELDS:
            value = getattr(record, name, None) or run.get(name)
            if value is not None:
                doc[name] = value
        doc.update(_extras(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v
        for k, v in vars(record).items()
        if k not in _STANDARD and k not in RUN_FIELDS and not k.startswith("_")
    }


def use_json_logs(level: int = logging.INFO) -> None:
    """Log JSON lines to stderr from the root logger (uvicorn's loggers propagate to it)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
        uv.setLevel(logging.NOTSET)  # follow the root's level (an earlier uvicorn.Config set one)
