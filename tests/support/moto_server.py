"""moto's standalone server as a real subprocess on 127.0.0.1 (SES, read back over HTTP)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.smtp_server import free_port

ATOMIC_SERVER = Path(__file__).with_name("moto_atomic.py")  # moto, one request at a time
FAKE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}


@contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """Start moto's server (moto_atomic), wait until it answers; yields its URL, stops it after."""
    port = free_port()
    command = [sys.executable, str(ATOMIC_SERVER), "127.0.0.1", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            httpx.get(f"{url}/moto-api/data.json", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer on {url} within {timeout}s")


def sent_raw_messages(url: str) -> list[dict]:
    """Every raw message moto's SES backend has accepted (source, destinations, raw_data)."""
    data = httpx.get(f"{url}/moto-api/data.json", timeout=30.0).json()
    return list(data.get("ses", {}).get("RawMessage", []))
