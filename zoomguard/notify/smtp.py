"""Sending one message by SMTP with the standard library's smtplib.

``ZOOMGUARD_SMTP_URL`` says how to reach the mail server:

- ``smtp://host[:port]``             plain SMTP (port 25), no encryption
- ``smtp+starttls://host[:port]``    SMTP upgraded with STARTTLS (port 587); TLS is required
- ``smtps://host[:port]``            SMTP over TLS from the first byte (port 465)

each optionally with ``user:password@`` (URL-encoded; login happens only when a user is given),
and the query parameters ``timeout`` (seconds, default 30) and ``helo`` (the name zoomguard gives
in EHLO). A sender either delivers a message (the server said 250 to DATA) or raises
``DeliveryError``; it never logs the password.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from zoomguard.errors import ConfigError, DeliveryError

Security = Literal["plain", "starttls", "ssl"]

SMTP_URL_VARIABLE = "ZOOMGUARD_SMTP_URL"
DEFAULT_TIMEOUT_SECONDS = 30.0

_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("ssl", 465),
    "smtp+ssl": ("ssl", 465),
}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Security = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    helo: str | None = None

    @property
    def display(self) -> str:
        """The server as an operator may see it in logs and reports: never the password."""
        scheme = {"plain": "smtp", "starttls": "smtp+starttls", "ssl": "smtps"}[self.security]
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def _config_error(message: str) -> ConfigError:
    return ConfigError(f"{SMTP_URL_VARIABLE} {message}")


def parse_smtp_url(url: str) -> SmtpConfig:
    """Parses ``ZOOMGUARD_SMTP_URL``; a malformed URL is a ``ConfigError`` naming the variable.

    Error messages describe the problem without repeating the URL, which may carry a password.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port_text = parts.port
    except ValueError:
        raise _config_error(
            "is not a valid URL (expected e.g. smtp+starttls://user:password@host:587)"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise _config_error(
            f"must start with one of {', '.join(s + '://' for s in _SCHEMES)}; "
            f"got scheme {scheme or '(none)'!r}"
        )
    security, default_port = _SCHEMES[scheme]
    host = parts.hostname
    if not host:
        raise _config_error("has no host name (expected e.g. smtp+starttls://mail.example.org)")
    if parts.path not in ("", "/"):
        raise _config_error("must not have a path after the host and port")
    port = port_text if port_text is not None else default_port
    if port == 0:
        raise _config_error("has port 0")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise _config_error("has a password but no user name")
    timeout = DEFAULT_TIMEOUT_SECONDS
    helo: str | None = None
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        value = values[-1]
        if key == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                raise _config_error(f"has timeout={value!r}, which is not a number") from None
            if timeout <= 0:
                raise _config_error("has a timeout that is not greater than 0")
        elif key == "helo":
            helo = value or None
        else:
            raise _config_error(f"has an unknown parameter {key!r} (known: timeout, helo)")
    return SmtpConfig(
        host=host,
        port=port,
        security=security,
        username=username,
        password=password,
        timeout=timeout,
        helo=helo,
    )


@dataclass(frozen=True)
class SendResult:
    """What the server said: it accepted the message, perhaps refusing some recipients."""

    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


class Sender(Protocol):
    """Delivers one message or raises ``DeliveryError``. SMTP in production; fakes in tests."""

    def send(self, message: EmailMessage) -> SendResult: ...

    @property
    def from_addr(self) -> str:
        """The From address of the messages it sends (ZOOMGUARD_ALERT_FROM)."""
        ...

    @property
    def description(self) -> str:
        """Where messages go, for logs: never a password."""
        ...


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class SmtpSender:
    """Opens one connection per message: alerts are few, and a fresh connection never inherits
    a half-broken session from an earlier failure."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        from_addr: str = "zoomguard@localhost",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self._from_addr = from_addr
        self._ssl_context = ssl_context

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        from_addr: str = "zoomguard@localhost",
        ssl_context: ssl.SSLContext | None = None,
    ) -> SmtpSender:
        return cls(parse_smtp_url(url), from_addr=from_addr, ssl_context=ssl_context)

    @property
    def from_addr(self) -> str:
        return self._from_addr

    @property
    def description(self) -> str:
        return self.config.display

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "ssl":
            return smtplib.SMTP_SSL(
                c.host, c.port, local_hostname=c.helo, timeout=c.timeout, context=self._context()
            )
        return smtplib.SMTP(c.host, c.port, local_hostname=c.helo, timeout=c.timeout)

    def _open(self) -> smtplib.SMTP:
        c = self.config
        try:
            client = self._connect()
        except smtplib.SMTPConnectError as exc:
            raise DeliveryError(
                f"{c.display} refused the connection: {exc.smtp_code} {_text(exc.smtp_error)}",
                code=exc.smtp_code,
                connection=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot reach {c.display}: {type(exc).__name__}: {exc}", connection=True
            ) from None
        try:
            client.ehlo()
            if c.security == "starttls":
                client.starttls(context=self._context())
                client.ehlo()
            if c.username:
                client.login(c.username, c.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _close(client)
            # Never the password: only the user name and the server's answer.
            raise DeliveryError(
                f"{c.display} rejected the login of {c.username!r}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}",
                code=exc.smtp_code,
                connection=True,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            _close(client)
            raise DeliveryError(f"{c.display}: {exc}", connection=True) from None
        except smtplib.SMTPResponseException as exc:
            _close(client)
            raise DeliveryError(
                f"{c.display} refused the session: {exc.smtp_code} {_text(exc.smtp_error)}",
                code=exc.smtp_code,
                connection=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            _close(client)
            raise DeliveryError(
                f"{c.display} session failed: {type(exc).__name__}: {exc}", connection=True
            ) from None
        return client

    def send(self, message: EmailMessage) -> SendResult:
        client = self._open()
        try:
            refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {addr: (code, _text(msg)) for addr, (code, msg) in exc.recipients.items()}
            raise DeliveryError(
                "every recipient was refused: "
                + "; ".join(f"{a} ({code} {m})" for a, (code, m) in codes.items()),
                code=min(code for code, _ in codes.values()),
            ) from None
        except smtplib.SMTPResponseException as exc:
            # SMTPSenderRefused, SMTPDataError: the server did not say 250 to DATA.
            raise DeliveryError(
                f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            # Disconnected or timed out before the server's answer to DATA: not delivered as far
            # as we can know; the stable Message-ID lets a receiving system drop a duplicate.
            raise DeliveryError(f"{type(exc).__name__}: {exc}", connection=True) from None
        finally:
            _close(client)
        return SendResult(
            refused={addr: (code, _text(msg)) for addr, (code, msg) in refused.items()}
        )


def _close(client: smtplib.SMTP) -> None:
    # The message's fate is already decided by the time we say QUIT; a failing QUIT changes
    # nothing, so it must not turn a delivered message into a retried one.
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        with contextlib.suppress(OSError):
            client.close()
