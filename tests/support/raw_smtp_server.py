"""A raw SMTP server on a socket in the test process that fails exactly where a test says.

Every step (MAIL, RCPT, DATA, and DOT: the reply to the end of the data) may answer a reply
code, drop the connection without a word, or stall without answering until the client gives up.
Every message body received in full is recorded with what became of it, so a test can count how
many copies of a Message-ID reached the server and how many the server accepted.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser

STEPS = ("MAIL", "RCPT", "DATA", "DOT", "QUIT")
DROP, STALL = "drop", "stall"
EHLO_REPLY = b"250-raw.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
OK_REPLIES = {
    "MAIL": b"250 2.1.0 OK\r\n",
    "RCPT": b"250 2.1.5 OK\r\n",
    "DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    "DOT": b"250 2.0.0 Queued\r\n",
    "QUIT": b"221 2.0.0 Bye\r\n",
}
Decide = Callable[[str], str | None]  # step → None (go on), "451 …", DROP or STALL


@dataclass(frozen=True)
class Received:
    """A message body received in full, and what the server did then: accepted (250),
    refused (a reply code), dropped (closed without a reply) or stalled (never answered)."""

    message_id: str
    outcome: str
    data: bytes


class RawSmtpServer:
    """Serves on 127.0.0.1:<port> in threads; faults come from `decide` or the scripted queue."""

    def __init__(self, decide: Decide | None = None) -> None:
        self.decide = decide
        self.scripted: dict[str, deque[str]] = defaultdict(deque)
        self.received: list[Received] = []
        self.commands: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])

    def fail(self, step: str, *actions: str) -> RawSmtpServer:
        """Queue actions for the next times `step` is reached (then it answers normally)."""
        assert step in STEPS, step
        self.scripted[step].extend(actions)
        return self

    def start(self) -> RawSmtpServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RawSmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def copies(self, message_id: str) -> list[str]:
        """Outcomes of every full copy of `message_id` that reached the server."""
        with self._lock:
            return [r.outcome for r in self.received if r.message_id == message_id]

    def accepted(self) -> list[str]:
        with self._lock:
            return [r.message_id for r in self.received if r.outcome == "accepted"]

    def action(self, step: str) -> str | None:
        with self._lock:
            self.commands.append(step)
            if self.scripted[step]:
                return self.scripted[step].popleft()
            return self.decide(step) if self.decide else None

    def record(self, data: bytes, outcome: str) -> None:
        headers = BytesHeaderParser().parsebytes(data)
        with self._lock:
            self.received.append(Received(str(headers["Message-ID"]), outcome, data))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: RawSmtpServer


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.wfile.write(b"220 raw.test ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line[:4].decode("ascii", "replace").upper()
            if not self._command(verb):
                return

    def _command(self, verb: str) -> bool:
        """Answer one command; False when the connection is to end."""
        if verb in ("EHLO", "HELO"):
            self.wfile.write(EHLO_REPLY if verb == "EHLO" else b"250 raw.test\r\n")
        elif verb in ("MAIL", "RCPT"):
            return self._step(verb)[0]
        elif verb == "DATA":
            return self._data()
        elif verb == "QUIT":
            self._act("QUIT", self.server.owner.action("QUIT"))
            return False
        else:  # RSET, NOOP, anything else
            self.wfile.write(b"250 OK\r\n")
        return True

    def _data(self) -> bool:
        alive, accepted = self._step("DATA")
        if not (alive and accepted):
            return alive
        data = self._read_data()
        if data is None:
            return False
        action = self.server.owner.action("DOT")
        outcome = {None: "accepted", DROP: "dropped", STALL: "stalled"}.get(action, "refused")
        self.server.owner.record(data, outcome)
        return self._act("DOT", action)

    def _step(self, step: str) -> tuple[bool, bool]:
        """(connection still open, step accepted) after acting on the step's fault, if any."""
        action = self.server.owner.action(step)
        return self._act(step, action), action is None

    def _act(self, step: str, action: str | None) -> bool:
        if action is None:
            self.wfile.write(OK_REPLIES[step])
            return True
        if action == DROP:
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        if action == STALL:
            self._stall()
            return False
        self.wfile.write(action.encode() + b"\r\n")
        return not action.startswith("421")  # 421: the server closes the connection

    def _read_data(self) -> bytes | None:
        """The message up to the lone `.` line (dot-unstuffed); None if the client left."""
        lines: list[bytes] = []
        while line := self.rfile.readline():
            if line == b".\r\n":
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)
        return None

    def _stall(self) -> None:
        """Say nothing until the client gives up (closes) or the server stops."""
        self.connection.settimeout(0.1)
        while not self.server.owner._stopping.is_set():
            try:
                if not self.connection.recv(4096):
                    return
            except TimeoutError:
                continue
            except OSError:
                return
