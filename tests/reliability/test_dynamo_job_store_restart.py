"""The restart guarantee on the DynamoDB job store, with real processes: kill -9 a scheduler,
stay down for several ticks, start it again: the schedule and the pause are intact and the
missed ticks give exactly one catch-up run."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.dynamo import CREDENTIAL_ENV
from support.dynamo_jobs import jobs_table

from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.jobstore import DynamoJobStore

pytestmark = pytest.mark.slow
SCRIPT = str(Path(__file__).with_name("dynamo_sched_proc.py"))
TICK = timedelta(seconds=1)


class Lines:
    """The lines the scheduler processes appended to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def words(self, kind: str) -> list[list[str]]:
        text = self.path.read_text() if self.path.exists() else ""
        return [line.split()[1:] for line in text.splitlines() if line.startswith(f"{kind} ")]

    def fired(self, pid: int, job_id: str = "beat") -> list[datetime]:
        return sorted(
            datetime.fromisoformat(when)
            for job, when, by in self.words("fired")
            if job == job_id and by == str(pid)
        )

    def ran(self, pid: int) -> int:
        return sum(1 for job, by in self.words("ran") if job == "beat" and by == str(pid))

    def started(self, pid: int) -> datetime:
        return next(
            datetime.fromisoformat(at) for at, by in self.words("started") if by == str(pid)
        )


@pytest.fixture
def table(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Dynamo:
    return jobs_table(moto_url, monkeypatch)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(what)


def test_kill_9_restart_keeps_schedule_and_pause_and_runs_one_catch_up(
    moto_url: str, table: Dynamo, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    out = tmp_path / "runs.txt"
    lines = Lines(out)
    env = {**os.environ, **CREDENTIAL_ENV}
    command = [sys.executable, SCRIPT, moto_url, table.prefix, str(out)]

    def start(name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("ab")
        proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
        procs.append(proc)
        return proc

    first = start("first")
    wait_until(lambda: len(lines.fired(first.pid)) >= 3, 30, "the first process fired no ticks")
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = lines.fired(first.pid)
    store = DynamoJobStore(table)
    beat, held = store.lookup_job("beat"), store.lookup_job("held")
    assert beat is not None and beat.trigger.interval == TICK  # the schedule survived kill -9
    assert held is not None and held.next_run_time is None  # and so did the pause
    time.sleep(4.5)  # down for four ticks or more

    second = start("second")
    wait_until(lambda: len(lines.fired(second.pid)) >= 3, 30, "the restart fired no ticks")
    second.terminate()
    second.wait()
    after = lines.fired(second.pid)
    catch_up = [fire for fire in after if fire < lines.started(second.pid)]
    assert len(catch_up) == 1, (before, after)  # ONE run for all the missed ticks
    assert catch_up[0] - before[-1] >= 4 * TICK  # ... which were not replayed one by one
    assert all(b - a == TICK for a, b in itertools.pairwise(after)), after
    assert (catch_up[0] - before[0]) % TICK == timedelta(0)  # on the stored grid
    assert lines.ran(second.pid) == len(after)  # every fire ran the job once
    assert lines.fired(first.pid, "held") == lines.fired(second.pid, "held") == []
    held = store.lookup_job("held")
    assert held is not None and held.next_run_time is None  # still paused after the restart
