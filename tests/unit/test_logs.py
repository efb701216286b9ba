"""Structured logs (key=value text or JSON lines) that never carry a token, secret or passcode."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from zoomguard.config import Settings
from zoomguard.masking import LOG_MASK as MASK
from zoomguard.masking import scrub_log_text as scrub
from zoomguard.runtime.logs import ServiceLogHandler, configure_logging, secrets_of

CLIENT_SECRET = "s2sClientSecretValue123"
WEBHOOK_SECRET = "webhookSecretTokenXYZ"
JWT = "eyJhbGciOiJIUzUxMiJ9.eyJhdWQiOiJ6b29tIiwidWlkIjoiYWJjIn0.c2lnbmF0dXJlLXBhcnQtaGVyZQ"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    apscheduler_level = logging.getLogger("apscheduler").level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(apscheduler_level)


def settings(**overrides: object) -> Settings:
    base = Settings(
        zoom_account_id="acct",
        zoom_client_id="client",
        zoom_client_secret=CLIENT_SECRET,
        zoom_webhook_secret_token=WEBHOOK_SECRET,
        secret_key="first rotation passphrase,second rotation passphrase",
    )
    return base.with_overrides(**overrides)


def capture(log_format: str = "text", **overrides: object) -> tuple[io.StringIO, logging.Logger]:
    stream = io.StringIO()
    configure_logging(settings(log_format=log_format, **overrides), stream=stream)
    return stream, logging.getLogger("zoomguard.test")


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_are_key_value_with_extra_fields() -> None:
    stream, log = capture("text")
    log.info("sweep of account %s done", 3, extra={"account": 3, "outcome": "completed"})
    line = stream.getvalue().strip()
    assert "\n" not in line
    fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part and '"' not in part)
    assert fields["level"] == "info"
    assert fields["logger"] == "zoomguard.test"
    assert fields["account"] == "3"
    assert fields["outcome"] == "completed"
    assert fields["ts"].endswith("Z")
    assert 'msg="sweep of account 3 done"' in line


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_parse_and_carry_extra_fields_and_tracebacks() -> None:
    stream, log = capture("json")
    log.warning("first", extra={"sweep": 12})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("second")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "first"
    assert first["level"] == "warning"
    assert first["sweep"] == 12
    assert "exc" not in first
    assert second["level"] == "error"
    assert "RuntimeError: boom" in second["exc"]


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_token_secret_or_passcode_reaches_the_log(log_format: str) -> None:
    stream, log = capture(log_format)
    log.info("calling Zoom with headers %s", {"Authorization": f"Bearer {JWT}"})
    log.info("token response %s", json.dumps({"access_token": "abc123def456", "expires_in": 3599}))
    log.info("join link https://zoom.us/j/85746065432?pwd=Pa55c0deValue&uname=x")
    log.info("client_secret=%s and passcode=%s", CLIENT_SECRET, "778899")
    log.info("webhook secret is %s", WEBHOOK_SECRET)
    log.info("stored ciphertext gAAAAABmYWtlLWZlcm5ldC10b2tlbi12YWx1ZS0xMjM0NTY3ODk")
    log.info("smtp at smtp://officer:MailPassw0rd@mail.example.org:587")
    log.info("second key in use: second rotation passphrase")
    log.info("meeting settings %r", {"password": "123456", "waiting_room": True})
    log.info("an extra field", extra={"refresh_token": "rt-value-abc", "note": f"Bearer {JWT}"})
    try:
        raise ValueError(f"request failed: Authorization: Bearer {JWT}")
    except ValueError:
        log.exception("with a traceback")
    output = stream.getvalue()
    for secret in (
        JWT,
        "abc123def456",
        "Pa55c0deValue",
        CLIENT_SECRET,
        "778899",
        WEBHOOK_SECRET,
        "gAAAAABmYWtlLWZlcm5ldC10b2tlbi12YWx1ZS0xMjM0NTY3ODk",
        "MailPassw0rd",
        "second rotation passphrase",
        "123456",
        "rt-value-abc",
    ):
        assert secret not in output, secret
    assert output.count(MASK) >= 12
    # What is not a secret survives: the reader still learns what happened.
    assert "85746065432" in output
    assert "waiting_room" in output
    assert "expires_in" in output
    assert "smtp://officer:" in output


def test_scrub_leaves_ordinary_text_alone_and_is_idempotent() -> None:
    plain = "obtained a Zoom access token valid for 3600 s; sweep of account 3 completed"
    assert scrub(plain) == plain
    messy = f'Authorization: Bearer {JWT} {{"client_secret": "x y z"}} ?pwd=abc'
    once = scrub(messy)
    assert scrub(once) == once
    assert once == f'Authorization: Bearer {MASK} {{"client_secret": "{MASK}"}} ?pwd={MASK}'


def test_literal_secrets_come_from_the_settings_and_skip_short_ones() -> None:
    found = secrets_of(settings(zoom_oauth_client_secret="abc"))
    assert CLIENT_SECRET in found
    assert WEBHOOK_SECRET in found
    assert "first rotation passphrase" in found
    assert "second rotation passphrase" in found
    assert "abc" not in found  # too short to replace everywhere
    assert list(found) == sorted(found, key=len, reverse=True)


@pytest.mark.usefixtures("restore_logging")
def test_configuring_twice_replaces_the_handler_and_sets_the_level() -> None:
    first, _ = capture("text")
    second, log = capture("json", log_level="warning")
    ours = [h for h in logging.getLogger().handlers if isinstance(h, ServiceLogHandler)]
    assert len(ours) == 1
    log.info("not shown")
    log.warning("shown")
    assert first.getvalue() == ""
    assert [json.loads(line)["msg"] for line in second.getvalue().splitlines()] == ["shown"]
