"""HTTP load for bench/ingest_http.py: keep-alive clients posting feedback, and a poller that
times how long an alarming feedback's alert takes to become readable after its 201."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

ALARM_EVERY = 10  # one post in ten says "food poisoning" (a critical keyword)
POLL_SECONDS = 0.02


@dataclass
class Posted:
    """What the clients saw: request latencies, and when each alarming post got its 201."""

    latencies: list[float] = field(default_factory=list)
    alarms: dict[int, float] = field(default_factory=dict)  # feedback_id -> monotonic 201 time
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def body(venue_id: str, n: int, alarm: bool) -> bytes:
    comment = "I got food poisoning after the fish" if alarm else "A lovely evening, thank you"
    return json.dumps(
        {
            "venue_id": venue_id,
            "rating": 3 if alarm else 5,
            "comment": comment,
            "customer": {"email": f"guest{n % 500}@example.com", "name": "Guest"},
        }
    ).encode()


class Client:
    """One keep-alive connection posting feedback."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, payload: bytes) -> tuple[int, dict[str, Any]]:
        self.conn.request("POST", "/api/feedback", body=payload, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())

    def get(self, path: str) -> dict[str, Any]:
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {data[:200]!r}")
        return json.loads(data)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.conn.close()


def post_one(client: Client, venue_id: str, n: int, posted: Posted) -> None:
    alarm = n % ALARM_EVERY == 0
    started = time.monotonic()
    code, answer = client.post(body(venue_id, n, alarm))
    done = time.monotonic()
    with posted.lock:
        if code != 201:
            posted.errors += 1
            return
        posted.latencies.append(done - started)
        if alarm:
            posted.alarms[int(answer["feedback_id"])] = done


def load(port: int, token: str, venue_id: str, *, clients: int, seconds: float) -> Posted:
    """`clients` threads post for `seconds`; numbering keeps one in ten alarming overall."""
    posted = Posted()
    counter = iter(range(10**9))
    counter_lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        client = Client(port, token)
        try:
            while time.monotonic() < stop:
                with counter_lock:
                    n = next(counter)
                post_one(client, venue_id, n, posted)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return posted


class AlertPoller:
    """Polls the venue's alert list; records when each feedback's alert was first seen."""

    def __init__(self, port: int, token: str, venue_id: str) -> None:
        self.client = Client(port, token)
        self.path = f"/api/venues/{venue_id}/alerts?limit=50"
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> AlertPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for alert in self.client.get(self.path)["alerts"]:
                self.seen.setdefault(int(alert["feedback_id"]), now)
            self._stop.wait(POLL_SECONDS)

    def wait_for(self, feedback_ids: list[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not set(feedback_ids) <= self.seen.keys():
            time.sleep(0.05)


def alert_delays(alarms: dict[int, float], seen: dict[int, float]) -> dict[str, Any]:
    """Milliseconds from 201 to first sight; `missing` alerts never seen."""
    delays = [max(0.0, seen[i] - t) * 1000 for i, t in alarms.items() if i in seen]
    return {**summary_ms(delays), "missing": len(alarms) - len(delays)}


def summary_ms(values_ms: list[float]) -> dict[str, Any]:
    if not values_ms:
        return {"count": 0, "p50_ms": None, "p99_ms": None}
    ordered = sorted(values_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
    }
