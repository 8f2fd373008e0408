"""The reference for bench/ingest_http.py: a bare FastAPI endpoint that validates the same body
(FeedbackCreate) and inserts one SQLite row, served by uvicorn like `encore serve`. Measured in
the same minute as the real server, it turns noisy absolute numbers on a shared machine into a
ratio. Run as `uvicorn bench.ingest_bare:app`; the database file is $INGEST_BARE_DB."""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

from fastapi import FastAPI, status

from encore_backend.api.schemas.feedback import FeedbackCreate

DB_ENV = "INGEST_BARE_DB"
app = FastAPI()
_local = threading.local()


def _connection() -> sqlite3.Connection:
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(os.environ[DB_ENV], timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, venue_id TEXT, "
            "rating INTEGER, comment TEXT)"
        )
        _local.conn = conn
    return conn


@app.post("/api/feedback", status_code=status.HTTP_201_CREATED)
def post_feedback(body: FeedbackCreate) -> dict[str, Any]:
    cursor = _connection().execute(
        "INSERT INTO feedback (venue_id, rating, comment) VALUES (?, ?, ?)",
        (body.venue_id, body.rating, body.comment),
    )
    return {"feedback_id": cursor.lastrowid}
