"""A real aiosmtpd server in the test process, with faults injected per message."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# A fault applies to the next message: an SMTP reply code at DATA ("421", "451", "550"),
# "rcpt550" (recipient refused), "drop" (connection closed after the data, before any reply),
# "dropmail" (connection closed at MAIL FROM: before DATA) or "droprset" (closed at RSET, the
# reused connection's first command for the next message).
REPLIES = {
    "421": "421 4.3.2 Service shutting down",
    "451": "451 4.3.0 Try again later",
    "550": "550 5.7.1 Message rejected",
}


@dataclass
class RecordingHandler:
    """Keeps every accepted message; consumes one queued fault per message."""

    faults: deque[str] = field(default_factory=deque)
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # time.time() of each message
    peers: list[Any] = field(default_factory=list)  # the client's address of each message

    async def handle_RSET(self, server, session, envelope):
        if self.faults and self.faults[0] == "droprset":
            self.faults.popleft()
            server.transport.abort()
        return "250 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.faults and self.faults[0] == "dropmail":
            self.faults.popleft()
            server.transport.abort()
            return "250 OK"  # never reaches the client
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.faults and self.faults[0] == "rcpt550":
            self.faults.popleft()
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        fault = self.faults.popleft() if self.faults else None
        if fault == "drop":
            server.transport.abort()
            return "250 OK"  # never reaches the client: the connection is gone
        if fault:
            return REPLIES[fault]
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.received_at.append(time.time())
        self.peers.append(session.peer)
        return "250 Message accepted"


class HoldingHandler(RecordingHandler):
    """Records messages; while `hold` is set, the reply to DATA waits: the message has arrived
    but the sender is stuck mid-send, not knowing it (the "outcome unknown" case)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()
        self.waiting = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            reply = await super().handle_DATA(server, session, envelope)
            held = self.hold.is_set()
            self.waiting += held
        while held and self.hold.is_set():
            await asyncio.sleep(0.01)
        return reply

    def received(self) -> Counter[str]:
        with self.lock:
            return Counter(str(msg["Message-ID"]) for msg in self.messages)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server(handler: RecordingHandler, **smtp_kwargs: Any) -> Iterator[int]:
    """Run aiosmtpd on 127.0.0.1:<free port> for the block; yields the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def password_authenticator(username: str, password: str) -> Any:
    """An aiosmtpd authenticator accepting exactly one LOGIN/PLAIN username and password."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == username.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    return authenticate


def self_signed_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a certificate on 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert_path, key_path = _write_pair(cert_pem, key_pem)
    try:
        server.load_cert_chain(cert_path, key_path)
    finally:
        os.unlink(cert_path)
        os.unlink(key_path)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


def _write_pair(cert_pem: bytes, key_pem: bytes) -> tuple[str, str]:
    import tempfile

    paths = []
    for data, suffix in ((cert_pem, ".crt"), (key_pem, ".key")):
        with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
            handle.write(data)
            paths.append(handle.name)
    return paths[0], paths[1]
