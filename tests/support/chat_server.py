"""A real HTTP server in a thread speaking the OpenAI chat-completions protocol, scripted."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedReply:
    status: int = 200
    content: str | None = "Thank you for your feedback."
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a body sent as-is instead of a completion
    delay: float = 0.0  # seconds to stall before answering (client timeouts)


@dataclass
class ChatScript:
    """Replies handed out in order (the last one repeats); every request body is kept.

    With `api_key` set, a request without `Authorization: Bearer <api_key>` gets a 401 that
    echoes the key it was given (as careless servers do) and consumes no scripted reply."""

    replies: deque[ScriptedReply] = field(default_factory=lambda: deque([ScriptedReply()]))
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    api_key: str | None = None

    def refusal(self, authorization: str | None) -> ScriptedReply | None:
        """The 401 for a wrong or missing key, None when the key is accepted (or not checked)."""
        if self.api_key is None or authorization == f"Bearer {self.api_key}":
            return None
        given = (authorization or "").removeprefix("Bearer ")
        message = f"Incorrect API key provided: {given}"
        body = {"error": {"message": message, "type": "invalid_request_error"}}
        return ScriptedReply(status=401, raw=json.dumps(body).encode())

    def next_reply(self) -> ScriptedReply:
        with self.lock:
            return self.replies.popleft() if len(self.replies) > 1 else self.replies[0]

    def script(self, *replies: ScriptedReply) -> None:
        with self.lock:
            self.replies = deque(replies)


def completion(content: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _handler(script: ChatScript) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            payload = json.loads(body or b"{}")
            with script.lock:
                script.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": payload}
                )
            reply = script.refusal(self.headers.get("Authorization")) or script.next_reply()
            if reply.delay:
                time.sleep(reply.delay)
            if reply.raw is not None:
                data = reply.raw
            elif reply.status == 200:
                data = json.dumps(
                    completion(reply.content or "", payload.get("model", ""))
                ).encode()
            else:
                data = json.dumps({"error": {"message": f"scripted {reply.status}"}}).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # the client may have given up (timeout tests)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def chat_server(script: ChatScript) -> Iterator[str]:
    """Serve on 127.0.0.1:<free port>; yields the base URL (…/v1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
