"""A real HTTP server in a thread speaking the Bedrock runtime Converse API (moto has no
Converse): access keys it knows, keys it denies, the model ids it serves, scripted failures."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.config import Config

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
GOOD_KEY, DENIED_KEY = "AKIAGOODKEY", "AKIADENIEDKEY"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/")
_CONVERSE = re.compile(r"^/model/(.+)/converse$")


@dataclass
class BedrockScript:
    """What the server accepts; `failures` (status, code, message) answer first, in order."""

    models: set[str] = field(default_factory=lambda: {MODEL_ID})
    keys: set[str] = field(default_factory=lambda: {GOOD_KEY})
    denied_keys: set[str] = field(default_factory=lambda: {DENIED_KEY})
    failures: deque[tuple[int, str, str]] = field(default_factory=deque)
    text: str = "Hi Anna,\n\nThank you for your feedback.\n\nThe team"
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str, model: str) -> tuple[int, str | None, dict[str, Any]]:
        """(status, error code or None, JSON body) for one Converse call."""
        if key in self.denied_keys:
            arn = "arn:aws:iam::123456789012:user/encore"
            message = f"User: {arn} is not authorized to perform: bedrock:InvokeModel"
            return 403, "AccessDeniedException", {"message": message}
        if key not in self.keys:
            message = "The security token included in the request is invalid."
            return 403, "UnrecognizedClientException", {"message": message}
        if model not in self.models:
            return (
                400,
                "ValidationException",
                {"message": "The provided model identifier is invalid."},
            )
        with self.lock:
            failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            status, code, message = failure
            return status, code, {"message": message}
        return 200, None, converse_response(self.text)


def converse_response(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 50, "outputTokens": 30, "totalTokens": 80},
        "metrics": {"latencyMs": 120},
    }


def _handler(script: BedrockScript) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            match = _CONVERSE.match(self.path)
            credential = _CREDENTIAL.search(self.headers.get("Authorization", ""))
            key = credential.group(1) if credential else ""
            model = unquote(match.group(1)) if match else ""
            with script.lock:
                script.requests.append({"path": self.path, "key": key, "json": json.loads(body)})
            if match is None:
                status, code, doc = 404, "UnknownOperationException", {"message": self.path}
            else:
                status, code, doc = script.answer(key, model)
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if code:
                self.send_header("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def bedrock_server(script: BedrockScript) -> Iterator[str]:
    """Serve on 127.0.0.1:<free port>; yields the endpoint URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def bedrock_client(url: str, key: str = GOOD_KEY) -> Any:
    """A bedrock-runtime client on the local server (botocore's own retries off)."""
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key="local-secret",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
