"""A real SMTP server on loopback for tests (aiosmtpd), and an in-memory sender.

    with SmtpTestServer() as server:             # plain SMTP on 127.0.0.1, a free port
        sender = SmtpSender.from_url(server.url)
        ...
        assert len(server.messages) == 1          # parsed email.message.EmailMessage objects

Options: ``username``/``password`` (AUTH PLAIN/LOGIN, accepted without TLS for the test),
``starttls=True`` or ``implicit_tls=True`` with a self-signed certificate made at test time
(``server.client_context()`` trusts it), and a ``ScriptedHandler`` that answers 451 (or any
code) to RCPT or DATA a given number of times before accepting. ``port=`` starts a server on a
port chosen earlier, to test "server down, then up".

Pytest fixtures: ``smtp_server`` (plain, no auth) and ``tls_files`` (certificate + key paths).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import logging
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.net import free_port
from zoomguard.notify.smtp import SendResult

HOST = "127.0.0.1"
# aiosmtpd would otherwise call socket.getfqdn(), which can stall on a machine without DNS.
SERVER_NAME = "smtp.test"


class _DropLoginDataNotice(logging.Filter):
    # aiosmtpd 1.4 logs a deprecation notice about its own Session.login_data on every
    # successful AUTH; it is about aiosmtpd's internals, not about anything under test.
    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_AIOSMTPD_LOG = logging.getLogger("mail.log")
if not any(isinstance(f, _DropLoginDataNotice) for f in _AIOSMTPD_LOG.filters):
    _AIOSMTPD_LOG.addFilter(_DropLoginDataNotice())


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class ScriptedHandler:
    """Records what the server accepted; refuses RCPT or DATA the first N times if asked."""

    refuse_rcpt: int = 0
    refuse_data: int = 0
    refuse_code: str = "451 4.3.0 Try again later"
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self._lock:
            if self.refuse_rcpt > 0:
                self.refuse_rcpt -= 1
                self.refused.append(f"RCPT {address}")
                return self.refuse_code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.refuse_data > 0:
                self.refuse_data -= 1
                self.refused.append("DATA")
                return self.refuse_code
            content = envelope.original_content or envelope.content
            assert isinstance(content, bytes)
            self.received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    raw=content,
                )
            )
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def make_self_signed(directory: Path, host: str = HOST) -> TlsFiles:
    """A P-256 certificate for ``host`` (an IP address SAN), valid for a day; fast to make."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
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
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(cert=directory / "smtp-cert.pem", key=directory / "smtp-key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """A client context that trusts only the test certificate, with full verification."""
    return ssl.create_default_context(cafile=str(files.cert))


class SmtpTestServer:
    def __init__(
        self,
        handler: ScriptedHandler | None = None,
        *,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: TlsFiles | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
    ) -> None:
        if (starttls or implicit_tls) and tls is None:
            raise ValueError("STARTTLS and implicit TLS need tls=TlsFiles(...)")
        self.handler = handler or ScriptedHandler()
        self.port = port or free_port()
        self.username = username
        self.password = password
        self.tls = tls
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.logins: list[str] = []
        self._controller: Controller | None = None

    # Server side ------------------------------------------------------------------------------

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    def _server_context(self) -> ssl.SSLContext:
        assert self.tls is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
        return context

    def start(self) -> SmtpTestServer:
        kwargs: dict[str, Any] = {"server_hostname": SERVER_NAME, "ready_timeout": 5.0}
        if self.username is not None:
            kwargs["authenticator"] = self._authenticate
            # With STARTTLS, AUTH is offered and required only after the upgrade. aiosmtpd does
            # not count implicit TLS as TLS (and warns when AUTH is required without TLS), so
            # elsewhere AUTH is offered but not required.
            kwargs["auth_require_tls"] = self.starttls
            kwargs["auth_required"] = self.starttls
        if self.starttls:
            kwargs["tls_context"] = self._server_context()
            kwargs["require_starttls"] = True
        if self.implicit_tls:
            kwargs["ssl_context"] = self._server_context()
        self._controller = Controller(self.handler, hostname=HOST, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Client side ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp+starttls" if self.starttls else "smtp"
        user = ""
        if self.username is not None:
            user = quote(self.username, safe="")
            if self.password is not None:
                user += ":" + quote(self.password, safe="")
            user += "@"
        return f"{scheme}://{user}{HOST}:{self.port}?timeout=5"

    def client_context(self) -> ssl.SSLContext:
        assert self.tls is not None
        return client_context(self.tls)

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.handler.received]


@dataclass
class MemorySender:
    """A ``zoomguard.notify.Sender`` that keeps messages in a list; ``fail`` scripts failures."""

    from_addr: str = "zoomguard@example.org"
    description: str = "memory"
    fail: list[Exception] = field(default_factory=list)
    sent: list[EmailMessage] = field(default_factory=list)

    def send(self, message: EmailMessage) -> SendResult:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append(message)
        return SendResult()
