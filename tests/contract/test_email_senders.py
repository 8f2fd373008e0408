"""EmailSender contract, run against every backend: outbox, SMTP (aiosmtpd) and SES (moto)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from support.moto_server import FAKE_CREDENTIALS, moto_server, sent_raw_messages
from support.raw_smtp_server import DROP, STALL, RawSmtpServer
from support.scripted_http_server import CLOSE, ScriptedHttpServer, throttled
from support.smtp_server import (
    RecordingHandler,
    free_port,
    password_authenticator,
    self_signed_tls,
    smtp_server,
)

from encore_backend.config import Settings
from encore_backend.providers.email import EmailSender, build_email_sender, build_reply_message
from encore_backend.providers.email.base import wire_bytes
from encore_backend.providers.email.outbox import OutboxEmailSender
from encore_backend.providers.email.ses import SesEmailSender
from encore_backend.providers.email.smtp import SmtpEmailSender
from encore_backend.providers.errors import (
    OutcomeUnknownError,
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
)

NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=2)
FROM = "Encore <no-reply@encore.example>"
WHEN = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CHECKED_HEADERS = (
    "Subject", "From", "To", "Reply-To", "Date", "Message-ID", "List-Unsubscribe",
    "List-Unsubscribe-Post",
)  # fmt: skip


def reply(n: int = 1, **overrides: object) -> EmailMessage:
    args = {
        "subject": f"Thank you from Café Nord #{n}",
        "body": f"Hi Zoë,\n\nThank you for visiting (message {n}).\n\nThe Café Nord team",
        "to": "zoe@example.com",
        "to_name": "Zoë Martin",
        "from_addr": FROM,
        "reply_to": "manager@cafenord.example",
        "venue_name": "Café Nord",
        "unsubscribe_url": "https://encore.example/unsubscribe/abc.def",
        "date": WHEN,
        "comment": "Great <b>soup</b> & bread",
    }
    return build_reply_message(**{**args, **overrides})  # type: ignore[arg-type]


@dataclass
class Backend:
    """A sender plus a way to read back what it delivered (as parsed messages, oldest first)."""

    sender: EmailSender
    read_back: Callable[[], list[EmailMessage]]


def _parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def smtp_handler() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        yield handler, port


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        client = boto3.client("sesv2", endpoint_url=url, **FAKE_CREDENTIALS)
        client.create_email_identity(EmailIdentity="no-reply@encore.example")
        yield url


def outbox_backend(request: pytest.FixtureRequest) -> Backend:
    directory = request.getfixturevalue("tmp_path") / "outbox"

    def read_back() -> list[EmailMessage]:
        return [_parse(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]

    return Backend(OutboxEmailSender(directory), read_back)


def smtp_backend(request: pytest.FixtureRequest) -> Backend:
    handler, port = request.getfixturevalue("smtp_handler")
    handler.messages.clear()
    handler.faults.clear()
    sender = SmtpEmailSender(host="127.0.0.1", port=port, timeout=5)
    return Backend(sender, lambda: list(handler.messages))


def ses_backend(request: pytest.FixtureRequest) -> Backend:
    url = request.getfixturevalue("moto_url")
    client = boto3.client("sesv2", endpoint_url=url, **FAKE_CREDENTIALS)
    already = len(sent_raw_messages(url))

    def read_back() -> list[EmailMessage]:
        return [_parse(m["raw_data"].encode()) for m in sent_raw_messages(url)[already:]]

    return Backend(SesEmailSender(client=client), read_back)


BACKENDS = {"outbox": outbox_backend, "smtp": smtp_backend, "ses": ses_backend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param](request)


def test_a_sent_message_reads_back_with_the_same_headers_and_parts(backend: Backend) -> None:
    message = reply()
    result = backend.sender.send(message)
    [got] = backend.read_back()
    for name in CHECKED_HEADERS:
        assert " ".join(str(got[name]).split()) == " ".join(str(message[name]).split()), name
    assert result.message_id == message["Message-ID"] == got["Message-ID"]
    assert result.backend == backend.sender.backend
    assert [p.get_content_type() for p in got.iter_parts()] == ["text/plain", "text/html"]
    for kind in ("plain", "html"):
        sent_body = message.get_body((kind,)).get_content()
        assert got.get_body((kind,)).get_content().replace("\r\n", "\n") == sent_body
    assert "Great &lt;b&gt;soup&lt;/b&gt; &amp; bread" in got.get_body(("html",)).get_content()


def test_each_message_is_delivered_once(backend: Backend) -> None:
    ids = [backend.sender.send(reply(n)).message_id for n in range(3)]
    got = backend.read_back()
    assert sorted(m["Message-ID"] for m in got) == sorted(ids)
    assert len(set(ids)) == 3
    assert sorted(m["Subject"] for m in got) == [f"Thank you from Café Nord #{n}" for n in range(3)]


def test_a_message_without_message_id_gets_one(backend: Backend) -> None:
    message = reply()
    del message["Message-ID"]
    result = backend.sender.send(message)
    [got] = backend.read_back()
    assert result.message_id.endswith("@encore.example>")
    assert got["Message-ID"] == result.message_id


# --- SMTP: faults injected by the server; after each, a normal send still gets through ---


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("421", TransientProviderError),
        ("451", TransientProviderError),
        ("550", PermanentProviderError),
        ("rcpt550", PermanentProviderError),
    ],
)
def test_smtp_faults_are_classified_and_nothing_is_lost(
    smtp_handler: tuple[RecordingHandler, int], fault: str, error: type[Exception]
) -> None:
    handler, port = smtp_handler
    handler.messages.clear()
    handler.faults.clear()
    handler.faults.append(fault)
    sender = SmtpEmailSender(host="127.0.0.1", port=port, timeout=5)
    message = reply()
    with pytest.raises(error) as caught:
        sender.send(message)
    if fault[0:3].isdigit():
        assert fault in caught.value.reason
    assert handler.messages == []
    sender.send(message)  # the caller's retry of the very same message
    assert [m["Message-ID"] for m in handler.messages] == [message["Message-ID"]]


def test_smtp_connection_refused_is_transient() -> None:
    port = free_port()  # nothing listens there now
    with pytest.raises(TransientProviderError, match="Refused"):
        SmtpEmailSender(host="127.0.0.1", port=port, timeout=2).send(reply())


def test_smtp_a_server_that_never_answers_times_out_transiently() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        sender = SmtpEmailSender(host="127.0.0.1", port=port, timeout=0.5)
        with pytest.raises(TransientProviderError):
            sender.send(reply())


def test_smtp_starttls_and_auth() -> None:
    server_tls, client_tls = self_signed_tls()
    handler = RecordingHandler()
    auth = password_authenticator("encore", "pa55")
    options = {"tls_context": server_tls, "require_starttls": True, "authenticator": auth}
    with smtp_server(handler, auth_required=True, **options) as port:
        good = SmtpEmailSender(
            host="127.0.0.1", port=port, timeout=5, starttls=True,
            username="encore", password="pa55", ssl_context=client_tls,
        )  # fmt: skip
        good.send(reply())
        assert len(handler.messages) == 1
        bad = SmtpEmailSender(
            host="127.0.0.1", port=port, timeout=5, starttls=True,
            username="encore", password="wrong", ssl_context=client_tls,
        )  # fmt: skip
        with pytest.raises(ProviderConfigError, match="535") as refused:
            bad.send(reply())
        assert refused.value.provider == "email provider" and "pa55" not in str(refused.value)
        untrusted = SmtpEmailSender(host="127.0.0.1", port=port, timeout=5, starttls=True)
        with pytest.raises(ProviderConfigError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.send(reply())
        plain = SmtpEmailSender(host="127.0.0.1", port=port, timeout=5)
        with pytest.raises(ProviderConfigError, match="530"):
            plain.send(reply())
    assert len(handler.messages) == 1


# --- SMTP hand-over: a raw server failing at one step; only failures before the final `.` retry ---


def raw_sender(server: RawSmtpServer) -> SmtpEmailSender:
    return SmtpEmailSender(host="127.0.0.1", port=server.port, timeout=0.5)


@pytest.mark.parametrize(
    ("step", "action", "copies"),
    [
        ("MAIL", "451 4.3.0 Try again later", []),
        ("RCPT", "452 4.2.2 Mailbox full for now", []),
        ("DATA", "451 4.3.0 Not now", []),
        ("MAIL", DROP, []),
        ("RCPT", DROP, []),
        ("DATA", DROP, []),
        ("DATA", STALL, []),
        ("DOT", "451 4.3.0 Queue full", ["refused"]),
    ],
)
def test_smtp_failures_before_the_hand_over_are_transient(
    step: str, action: str, copies: list[str]
) -> None:
    with RawSmtpServer().fail(step, action) as server:
        message = reply()
        with pytest.raises(TransientProviderError):
            raw_sender(server).send(message)
        assert server.copies(message["Message-ID"]) == copies
        raw_sender(server).send(message)  # safe to retry: the server never took it
        assert server.copies(message["Message-ID"]) == [*copies, "accepted"]


@pytest.mark.parametrize(("action", "copy"), [(DROP, "dropped"), (STALL, "stalled")])
def test_smtp_no_reply_after_the_final_dot_is_outcome_unknown(action: str, copy: str) -> None:
    with RawSmtpServer().fail("DOT", action) as server:
        message = reply()
        with pytest.raises(OutcomeUnknownError, match="handed over") as caught:
            raw_sender(server).send(message)
        assert not isinstance(caught.value, TransientProviderError)
        assert server.copies(message["Message-ID"]) == [copy]


def test_smtp_a_drop_after_the_final_dot_on_aiosmtpd_is_outcome_unknown(
    smtp_handler: tuple[RecordingHandler, int],
) -> None:
    handler, port = smtp_handler
    handler.faults.clear()
    handler.faults.append("drop")
    with pytest.raises(OutcomeUnknownError):
        SmtpEmailSender(host="127.0.0.1", port=port, timeout=5).send(reply())


@pytest.mark.parametrize("step", ["MAIL", "RCPT"])
def test_smtp_auth_required_is_a_configuration_error(step: str) -> None:
    refusing = RawSmtpServer().fail(step, "530 5.7.0 Authentication required")
    with refusing as server, pytest.raises(ProviderConfigError, match="530") as caught:
        raw_sender(server).send(reply())
    assert str(caught.value).startswith("email provider: SMTP ")
    assert "530 5.7.0 Authentication required" in str(caught.value)


@pytest.mark.parametrize("action", ["421 4.4.2 Closing", DROP])
def test_smtp_a_failing_quit_after_acceptance_is_still_a_success(action: str) -> None:
    """The 250 to the data settled it: a refused or dropped QUIT must not cause a resend."""
    with RawSmtpServer().fail("QUIT", action) as server:
        result = raw_sender(server).send(reply())
        assert server.accepted() == [result.message_id]


# --- SES: real moto server for delivery and rejection; Stubber for throttling shapes ---


def test_ses_unverified_sender_is_a_configuration_error(moto_url: str) -> None:
    client = boto3.client("sesv2", endpoint_url=moto_url, config=NO_RETRIES, **FAKE_CREDENTIALS)
    with pytest.raises(ProviderConfigError, match="MessageRejected") as caught:
        SesEmailSender(client=client).send(reply(from_addr="someone@unverified.example"))
    assert str(caught.value).startswith("email provider: ses MessageRejected")


def test_ses_unreachable_endpoint_is_transient() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = boto3.client("sesv2", endpoint_url=url, config=NO_RETRIES, **FAKE_CREDENTIALS)
    with pytest.raises(TransientProviderError, match="EndpointConnectionError"):
        SesEmailSender(client=client).send(reply())


def stubbed_ses(configuration_set: str | None = None) -> tuple[SesEmailSender, Stubber]:
    client = boto3.client("sesv2", **FAKE_CREDENTIALS)
    return SesEmailSender(client=client, configuration_set=configuration_set), Stubber(client)


def test_ses_sends_raw_mime_with_the_configuration_set() -> None:
    sender, stub = stubbed_ses("encore-replies")
    message = reply()
    expected = {
        "Content": {"Raw": {"Data": wire_bytes(message)}},
        "ConfigurationSetName": "encore-replies",
    }
    stub.add_response("send_email", {"MessageId": "ses-123"}, expected)
    with stub:
        result = sender.send(message)
    stub.assert_no_pending_responses()
    assert (result.provider_message_id, result.backend) == ("ses-123", "ses")


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("TooManyRequestsException", 429, TransientProviderError),
        ("Throttling", 400, TransientProviderError),
        ("ServiceUnavailable", 503, TransientProviderError),
        ("MessageRejected", 400, PermanentProviderError),
        ("MailFromDomainNotVerifiedException", 400, PermanentProviderError),
        ("BadRequestException", 400, PermanentProviderError),
        ("AccessDeniedException", 403, ProviderConfigError),
        ("UnrecognizedClientException", 403, ProviderConfigError),
    ],
)
def test_ses_errors_are_classified(code: str, status: int, error: type[Exception]) -> None:
    sender, stub = stubbed_ses()
    stub.add_client_error("send_email", service_error_code=code, http_status_code=status)
    with stub, pytest.raises(error, match=code):
        sender.send(reply())


def test_ses_an_unverified_recipient_fails_only_its_own_item() -> None:
    """SES sandbox: the rejection names the recipient, not our sender: not a set-up error."""
    sender, stub = stubbed_ses()
    text = "Email address is not verified. The following identities failed: zoe@example.com"
    stub.add_client_error("send_email", service_error_code="MessageRejected", service_message=text)
    with stub, pytest.raises(PermanentProviderError) as caught:
        sender.send(reply())
    assert not isinstance(caught.value, ProviderConfigError)


# --- SES hand-over: a real local endpoint that takes the request and never answers ---


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials from the environment, as a deployment would pass them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@pytest.mark.parametrize("step", [STALL, CLOSE])
def test_ses_no_answer_after_the_request_is_outcome_unknown(aws_env: None, step: str) -> None:
    with ScriptedHttpServer(script=[step]) as endpoint:
        sender = SesEmailSender(endpoint_url=endpoint.url, read_timeout=0.5, connect_timeout=1)
        with pytest.raises(OutcomeUnknownError, match="handed over"):
            sender.send(reply())
        assert len(endpoint.requests) == 1  # botocore did not resend it either


def test_ses_throttling_is_transient_and_not_resent_by_botocore(aws_env: None) -> None:
    with ScriptedHttpServer(script=[throttled()]) as endpoint:
        sender = SesEmailSender(endpoint_url=endpoint.url, read_timeout=2)
        with pytest.raises(TransientProviderError, match="TooManyRequestsException"):
            sender.send(reply())
        assert len(endpoint.requests) == 1
        assert sender.send(reply()).provider_message_id == "scripted-1"


def test_ses_missing_credentials_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with ScriptedHttpServer() as endpoint:
        sender = SesEmailSender(endpoint_url=endpoint.url, read_timeout=2)
        with pytest.raises(ProviderConfigError, match="credentials") as caught:
            sender.send(reply())
        assert endpoint.requests == [] and caught.value.provider == "email provider"


def test_ses_refused_credentials_are_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")  # moto checks keys from the start
    with moto_server() as url:
        client = boto3.client("sesv2", endpoint_url=url, config=NO_RETRIES, **FAKE_CREDENTIALS)
        with pytest.raises(ProviderConfigError) as caught:
            SesEmailSender(client=client).send(reply())
    assert caught.value.provider == "email provider"
    assert "InvalidClientTokenId" in str(caught.value) or "403" in str(caught.value)


# --- outbox specifics and the factory ---


def test_outbox_writes_whole_files_named_by_time_and_id(tmp_path: Path) -> None:
    sender = OutboxEmailSender(tmp_path / "out")
    message = reply(message_id="<reply-7@encore.example>")
    threads = [threading.Thread(target=sender.send, args=(reply(n),)) for n in range(5)]
    for thread in threads:
        thread.start()
    sender.send(message)
    for thread in threads:
        thread.join()
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(names) == 6 and not [n for n in names if not n.endswith(".eml")]
    assert "20260310T120000Z_reply-7@encore.example.eml" in names
    raw = (tmp_path / "out" / "20260310T120000Z_reply-7@encore.example.eml").read_bytes()
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


def test_the_factory_builds_each_backend(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, encore_outbox_dir=str(tmp_path), smtp_port=2525)  # type: ignore[call-arg]
    assert isinstance(build_email_sender(settings), OutboxEmailSender)
    smtp = build_email_sender(settings, backend="smtp", timeout=3)
    assert isinstance(smtp, SmtpEmailSender) and (smtp.port, smtp.timeout) == (2525, 3)
    client = boto3.client("sesv2", **FAKE_CREDENTIALS)
    ses = build_email_sender(settings, backend="ses", client=client, configuration_set="cs")
    assert isinstance(ses, SesEmailSender) and ses.configuration_set == "cs"
    with pytest.raises(ValueError, match="EMAIL_BACKEND"):
        build_email_sender(settings, backend="pigeon")


def test_a_long_unsubscribe_link_arrives_in_clear(backend: Backend) -> None:
    """A real signed link is longer than a header line: it must not become RFC 2047 words."""
    url = "https://encore.example/unsubscribe/" + "x" * 40 + "." + "y" * 86
    backend.sender.send(reply(unsubscribe_url=url))
    [got] = backend.read_back()
    raw = dict(got.raw_items())["List-Unsubscribe"]
    assert "=?" not in raw
    assert f"<{url}>" in " ".join(raw.split())


def test_a_session_delivers_each_of_many_messages_once(backend: Backend) -> None:
    messages = [reply(n) for n in range(4)]
    with backend.sender.session() as session:
        results = [session.send(message) for message in messages]
    got = backend.read_back()
    assert sorted(m["Message-ID"] for m in got) == sorted(m["Message-ID"] for m in messages)
    assert [r.message_id for r in results] == [m["Message-ID"] for m in messages]
    assert {r.backend for r in results} == {backend.sender.backend}


def fresh_smtp(
    smtp_handler: tuple[RecordingHandler, int],
) -> tuple[RecordingHandler, SmtpEmailSender]:
    """The module's server with nothing recorded or queued, and a sender to it."""
    handler, port = smtp_handler
    handler.messages.clear()
    handler.peers.clear()
    handler.faults.clear()
    return handler, SmtpEmailSender(host="127.0.0.1", port=port, timeout=5)


@pytest.mark.parametrize("fault", ["550", "451", "rcpt550"])
def test_an_smtp_session_goes_on_after_a_refused_message(
    smtp_handler: tuple[RecordingHandler, int], fault: str
) -> None:
    """A refused message fails alone (classified as a single send is); the next ones go."""
    handler, sender = fresh_smtp(smtp_handler)
    with sender.session() as session:
        session.send(reply(0))
        handler.faults.append(fault)
        with pytest.raises(TransientProviderError if fault == "451" else PermanentProviderError):
            session.send(reply(1))
        session.send(reply(2))
    got = [m["Subject"] for m in handler.messages]
    assert got == ["Thank you from Café Nord #0", "Thank you from Café Nord #2"]


def test_an_smtp_session_uses_one_connection_and_one_login() -> None:
    handler = RecordingHandler()
    server_tls, client_tls = self_signed_tls()
    auth = password_authenticator("encore", "s3cret")
    with smtp_server(
        handler, tls_context=server_tls, require_starttls=True, authenticator=auth
    ) as port:
        sender = SmtpEmailSender(
            host="127.0.0.1", port=port, username="encore", password="s3cret",
            starttls=True, ssl_context=client_tls, timeout=5,
        )  # fmt: skip
        with sender.session() as session:
            for n in range(5):
                session.send(reply(n))
            assert session.connections == 1  # type: ignore[attr-defined]
    assert len(handler.messages) == 5
    assert len(set(handler.peers)) == 1  # every message on the same client port


@pytest.mark.parametrize("fault", ["dropmail", "droprset"])
def test_an_smtp_session_reopens_a_dropped_connection_and_sends_that_message_once(
    smtp_handler: tuple[RecordingHandler, int], fault: str
) -> None:
    """The server drops the reused connection before DATA (at MAIL, or at the RSET): nothing
    of that message was delivered, so it goes again on a new connection, exactly once."""
    handler, sender = fresh_smtp(smtp_handler)
    messages = [reply(n) for n in range(4)]
    with sender.session() as session:
        session.send(messages[0])
        session.send(messages[1])
        handler.faults.append(fault)  # mid-run: the next message finds the connection gone
        session.send(messages[2])
        session.send(messages[3])
        assert session.connections == 2  # type: ignore[attr-defined]
    got = [m["Message-ID"] for m in handler.messages]
    assert got == [m["Message-ID"] for m in messages]  # each once, in order
    assert len(set(handler.peers[:2])) == 1 and len(set(handler.peers[2:])) == 1
    assert handler.peers[1] != handler.peers[2]


def test_an_smtp_session_never_resends_after_the_hand_over(
    smtp_handler: tuple[RecordingHandler, int],
) -> None:
    """A drop after the final dot is outcome unknown, even on a reused connection; the
    session opens a new connection for the next message."""
    handler, sender = fresh_smtp(smtp_handler)
    with sender.session() as session:
        session.send(reply(0))
        handler.faults.append("drop")
        with pytest.raises(OutcomeUnknownError):
            session.send(reply(1))
        session.send(reply(2))
        assert session.connections == 2  # type: ignore[attr-defined]
    got = [m["Subject"] for m in handler.messages]
    assert got == ["Thank you from Café Nord #0", "Thank you from Café Nord #2"]
