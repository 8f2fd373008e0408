"""A real local HTTP server for provider endpoints (SES here) that answers as scripted.

Each request is read in full, then answered by the next scripted step: a (status, JSON body,
headers) reply, STALL (say nothing until the client's read timeout makes it leave) or CLOSE (close
the connection without an answer). After the script it answers `default`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STALL, CLOSE = "stall", "close"
Step = str | tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class ScriptedHttpServer:
    """Serves on 127.0.0.1 in a thread; `requests` holds every request body read."""

    script: list[Step] = field(default_factory=list)
    default: Step = (200, {"MessageId": "scripted-1"}, {})
    requests: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ScriptedHttpServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: bytes) -> Step:
        with self._lock:
            self.requests.append(body)
            return self.script.pop(0) if self.script else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                step = owner._next(body)
                self.close_connection = True
                if step == STALL:
                    self._stall()
                elif step == CLOSE:
                    self.connection.close()
                else:
                    self._answer(*step)  # type: ignore[misc]

            def _answer(
                self, status: int, payload: dict[str, Any], headers: dict[str, str]
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stall(self) -> None:
                self.connection.settimeout(0.1)
                while not owner._stopping.is_set():
                    try:
                        if not self.connection.recv(4096):
                            return
                    except TimeoutError:
                        continue
                    except OSError:
                        return

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def throttled(message: str = "Maximum sending rate exceeded.") -> Step:
    """An SES v2 429 TooManyRequestsException reply."""
    return (429, {"message": message}, {"x-amzn-ErrorType": "TooManyRequestsException"})
