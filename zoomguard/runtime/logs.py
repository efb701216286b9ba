"""Logging for the service processes: structured lines, and never a secret.

``configure_logging(settings)`` installs one handler on the root logger that writes either
``key=value`` text (``ZOOMGUARD_LOG_FORMAT=text``, the default: easy to read and to grep) or one
JSON object per line (``ZOOMGUARD_LOG_FORMAT=json``, for log shippers). Fields passed with
``log.info(..., extra={"account": 3})`` become keys of their own.

Every record goes through ``SecretFilter`` first, which masks anything that looks like a bearer
token, a JWT, a Fernet ciphertext, a password in a URL, a ``token=``/``secret=``/``passcode=``
value, and the literal secrets of the running configuration (client secrets, webhook secret,
secret key, SMTP password). The modules already avoid logging secrets; this is the net under
them, for a message nobody thought about (an exception text quoting a request, say).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from zoomguard.config import Settings
from zoomguard.masking import LOG_MASK, SECRET_WORD, scrub_log_text

# Secrets shorter than this are not replaced literally: a 3-character "secret" would mask half
# of every line. Real client secrets, tokens and keys are far longer.
MIN_LITERAL_SECRET_LENGTH = 6


_SECRET_KEY = re.compile(SECRET_WORD, re.IGNORECASE)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()) | {
    "message",
    "asctime",
    "taskName",
}


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """The literal secrets of a configuration, longest first (so no prefix masks a longer one)."""
    found: set[str] = set()
    for value in (
        settings.zoom_client_secret,
        settings.zoom_oauth_client_secret,
        settings.zoom_webhook_secret_token,
        settings.metrics_token,
    ):
        if value:
            found.add(value)
    if settings.secret_key:
        # Several comma-separated keys are allowed (rotation); each is a secret on its own.
        found.update(part.strip() for part in settings.secret_key.split(",") if part.strip())
    # Passwords inside the SMTP and database URLs are left to the URL pattern: replacing them
    # everywhere would also mask ordinary words when the password is one (say "zoomguard").
    usable = (s for s in found if len(s) >= MIN_LITERAL_SECRET_LENGTH)
    return tuple(sorted(usable, key=len, reverse=True))


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message, its ``extra`` strings and its exception text.

    The record is rewritten in place (message formatted, ``args`` dropped), so every handler
    after this filter, and every formatter, sees only the masked text.
    """

    def __init__(self, literals: Iterable[str] = ()) -> None:
        super().__init__()
        self.literals = tuple(literals)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = scrub_log_text(message, self.literals)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = scrub_log_text(record.exc_text, self.literals)
            # The formatted text replaces the live exception: its objects may hold secrets.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub_log_text(record.stack_info, self.literals)
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD_ATTRIBUTES:
                continue
            if _SECRET_KEY.search(key) and value is not None:
                setattr(record, key, LOG_MASK)
            elif isinstance(value, str):
                setattr(record, key, scrub_log_text(value, self.literals))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
    }


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


_BARE_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")


def _kv_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text and _BARE_VALUE.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=info logger=zoomguard.runtime.worker msg="..." key=value``: a line a record.

    A traceback follows on the same line as ``exc="..."`` (newlines escaped), so one record
    stays one line for grep and for line-based log shippers.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(_extras(record))
        exc = _exception_text(self, record)
        if exc:
            fields["exc"] = exc
        return " ".join(f"{key}={_kv_value(value)}" for key, value in fields.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the ``extra`` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        document.update(_extras(record))
        exc = _exception_text(self, record)
        if exc:
            document["exc"] = exc
        return json.dumps(document, default=str, ensure_ascii=False)


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_text:
        return record.exc_text
    if record.exc_info:
        return formatter.formatException(record.exc_info)
    return None


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return KeyValueFormatter()
    raise ValueError(f"log format must be text or json, got {log_format!r}")


# Libraries whose INFO lines repeat what zoomguard's own lines say better (APScheduler logs
# "Running job ..." twice a minute per job; the jobs log their own outcome).
_QUIET_LOGGERS = {"apscheduler": logging.WARNING}


class ServiceLogHandler(logging.StreamHandler[TextIO]):
    """The handler ``configure_logging`` installs (a class of its own so a second call finds it)."""


def configure_logging(
    settings: Settings, *, stream: TextIO | None = None, default_level: str = "INFO"
) -> logging.Handler:
    """Route every log record through ``SecretFilter`` to ``stream`` (stderr by default).

    Replaces the handler a previous call installed (calling it twice does not double lines)
    and leaves other handlers alone. Returns the handler.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, ServiceLogHandler):
            root.removeHandler(existing)
            existing.close()
    handler = ServiceLogHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(make_formatter(settings.log_format))
    handler.addFilter(SecretFilter(secrets_of(settings)))
    root.addHandler(handler)
    level = logging.getLevelName((settings.log_level or default_level).upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    for name, quiet_level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
    return handler
