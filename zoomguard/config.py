"""Settings: the only place zoomguard reads its environment.

Everything else receives a ``Settings`` value. Unknown or malformed values raise ``ConfigError``
naming the variable, so an operator sees one line that says what to fix.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from zoomguard.errors import ConfigError

DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us"
DEFAULT_DATABASE_URL = "sqlite:///zoomguard.db"

RECORDING_ACTIONS = ("trash", "delete", "report")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# zoomguard.notify.smtp maps each to its transport security; a test keeps the two lists equal.
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps", "smtp+ssl")
DATABASE_BACKENDS = ("sqlite", "postgresql", "postgres")

# backend[+driver]://... as SQLAlchemy spells a database URL.
_DATABASE_URL_SHAPE = re.compile(r"(?P<backend>[A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?://")


@dataclass(frozen=True)
class Settings:
    # Zoom Server-to-Server OAuth app
    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: str | None = field(default=None, repr=False)
    zoom_api_url: str = DEFAULT_API_URL
    zoom_oauth_url: str = DEFAULT_OAUTH_URL
    # Zoom general (user-authorised) OAuth app, for "Connect from the browser"
    zoom_oauth_client_id: str | None = None
    zoom_oauth_client_secret: str | None = field(default=None, repr=False)
    zoom_oauth_redirect_url: str | None = None
    # Webhooks
    zoom_webhook_secret_token: str | None = field(default=None, repr=False)
    webhook_window_seconds: int = 300
    webhook_max_body_bytes: int = 1024 * 1024
    # A bearer token /metrics requires when set (None: /metrics is open, keep it off the internet)
    metrics_token: str | None = field(default=None, repr=False)
    # Storage and secrets
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = field(default=None, repr=False)
    # Policy
    policy_path: str | None = None
    # Zoom rate limits (requests per second per category; Pro plan defaults)
    rate_light: float = 30.0
    rate_medium: float = 20.0
    # The part of those limits zoomguard's processes use (the rest is left to other apps)
    rate_share: float = 0.8
    concurrency: int = 16
    http_timeout_seconds: float = 30.0
    max_retries: int = 5
    # Zoom's cap is 100 meeting create/update requests per user per UTC day; zoomguard stops
    # short of it so the host keeps some updates for themselves.
    daily_update_limit: int = 100
    daily_update_reserve: int = 10
    # What to do with a finished cloud recording: trash, delete or report only
    recording_action: str = "trash"
    # Alerts
    smtp_url: str | None = field(default=None, repr=False)
    alert_to: tuple[str, ...] = ()
    alert_from: str = "zoomguard@localhost"
    notify_hosts: bool = False
    # Alert categories sent at once (comma-separated; "none"); unset = zoomguard's defaults
    alert_immediate: str | None = None
    alert_digest_seconds: int = 900
    alert_unsent_warn_seconds: int = 3600
    # Service processes
    sweep_interval_minutes: int = 60
    outbox_interval_seconds: int = 30
    # The first back-off after a failed delivery (doubles per failure, capped at an hour)
    outbox_retry_seconds: int = 60
    retention_days: int = 90
    audit_retention_years: int = 7
    # Logging
    log_format: str = "text"
    # None: INFO for the service processes, WARNING for one-shot commands
    log_level: str | None = None

    @property
    def token_url(self) -> str:
        return self.zoom_oauth_url.rstrip("/") + "/oauth/token"

    @property
    def update_budget(self) -> int:
        """PATCHes zoomguard may send per host per UTC day."""
        return max(0, self.daily_update_limit - self.daily_update_reserve)

    def api_rates(self, part: float = 1.0) -> tuple[float, float]:
        """(light, medium) requests per second for one process's client: ``part`` of the
        ``rate_share`` of the plan's limits (a sweep takes all of it, the worker a quarter;
        see the README's "Rate limits")."""
        budget = self.rate_share * part
        return self.rate_light * budget, self.rate_medium * budget

    @property
    def has_s2s_credentials(self) -> bool:
        return bool(self.zoom_account_id and self.zoom_client_id and self.zoom_client_secret)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        reader = _Reader(e)
        settings = cls(
            zoom_account_id=reader.str("ZOOM_ACCOUNT_ID"),
            zoom_client_id=reader.str("ZOOM_CLIENT_ID"),
            zoom_client_secret=reader.str("ZOOM_CLIENT_SECRET"),
            zoom_api_url=reader.url("ZOOM_API_URL", DEFAULT_API_URL),
            zoom_oauth_url=reader.url("ZOOM_OAUTH_URL", DEFAULT_OAUTH_URL),
            zoom_oauth_client_id=reader.str("ZOOM_OAUTH_CLIENT_ID"),
            zoom_oauth_client_secret=reader.str("ZOOM_OAUTH_CLIENT_SECRET"),
            zoom_oauth_redirect_url=reader.str("ZOOM_OAUTH_REDIRECT_URL"),
            zoom_webhook_secret_token=reader.str("ZOOM_WEBHOOK_SECRET_TOKEN"),
            webhook_window_seconds=reader.int("ZOOMGUARD_WEBHOOK_WINDOW_SECONDS", 300, minimum=1),
            webhook_max_body_bytes=reader.int(
                "ZOOMGUARD_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024, minimum=1024
            ),
            metrics_token=reader.str("ZOOMGUARD_METRICS_TOKEN"),
            database_url=reader.database_url("ZOOMGUARD_DATABASE_URL")
            or _normalise_db_url(reader.database_url("DATABASE_URL"))
            or DEFAULT_DATABASE_URL,
            secret_key=reader.str("ZOOMGUARD_SECRET_KEY"),
            policy_path=reader.str("ZOOMGUARD_POLICY"),
            rate_light=reader.float("ZOOMGUARD_RATE_LIGHT", 30.0),
            rate_medium=reader.float("ZOOMGUARD_RATE_MEDIUM", 20.0),
            rate_share=reader.share("ZOOMGUARD_RATE_SHARE", 0.8),
            concurrency=reader.int("ZOOMGUARD_CONCURRENCY", 16, minimum=1),
            http_timeout_seconds=reader.float("ZOOMGUARD_HTTP_TIMEOUT", 30.0),
            max_retries=reader.int("ZOOMGUARD_MAX_RETRIES", 5, minimum=0),
            daily_update_limit=reader.int("ZOOMGUARD_DAILY_UPDATE_LIMIT", 100, minimum=1),
            daily_update_reserve=reader.int("ZOOMGUARD_DAILY_UPDATE_RESERVE", 10, minimum=0),
            recording_action=reader.choice(
                "ZOOMGUARD_RECORDING_ACTION", RECORDING_ACTIONS, "trash"
            ),
            smtp_url=reader.smtp_url("ZOOMGUARD_SMTP_URL"),
            alert_to=reader.list("ZOOMGUARD_ALERT_TO"),
            alert_from=reader.str("ZOOMGUARD_ALERT_FROM") or "zoomguard@localhost",
            notify_hosts=reader.bool("ZOOMGUARD_NOTIFY_HOSTS", False),
            alert_immediate=reader.str("ZOOMGUARD_ALERT_IMMEDIATE"),
            alert_digest_seconds=reader.int("ZOOMGUARD_ALERT_DIGEST_SECONDS", 900, minimum=1),
            alert_unsent_warn_seconds=reader.int("ZOOMGUARD_ALERT_UNSENT_WARN_SECONDS", 3600),
            sweep_interval_minutes=reader.int("ZOOMGUARD_SWEEP_INTERVAL_MINUTES", 60, minimum=1),
            outbox_interval_seconds=reader.int("ZOOMGUARD_OUTBOX_INTERVAL_SECONDS", 30, minimum=1),
            outbox_retry_seconds=reader.int("ZOOMGUARD_OUTBOX_RETRY_SECONDS", 60, minimum=1),
            retention_days=reader.int("ZOOMGUARD_RETENTION_DAYS", 90, minimum=1),
            audit_retention_years=reader.int("ZOOMGUARD_AUDIT_RETENTION_YEARS", 7, minimum=1),
            log_format=reader.choice("ZOOMGUARD_LOG_FORMAT", LOG_FORMATS, "text"),
            log_level=reader.log_level("ZOOMGUARD_LOG_LEVEL"),
        )
        return settings


def _normalise_db_url(url: str | None) -> str | None:
    # Heroku-style DATABASE_URL says postgres://; SQLAlchemy wants a driver name.
    if url is None:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class _Reader:
    """Typed access to an environment mapping; every failure names the variable."""

    def __init__(self, env: Mapping[builtins.str, builtins.str]) -> None:
        self._env = env

    def str(self, name: builtins.str) -> builtins.str | None:
        value = self._env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def url(self, name: builtins.str, default: builtins.str) -> builtins.str:
        value = self.str(name) or default
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    def database_url(self, name: builtins.str) -> builtins.str | None:
        # The value is never repeated in the message: it may hold the database password.
        value = self.str(name)
        if value is None:
            return None
        shape = _DATABASE_URL_SHAPE.match(value)
        if shape is None:
            raise ConfigError(
                f"{name} is not a database URL "
                "(expected sqlite:///path/to/zoomguard.db or postgresql+psycopg://user:pw@host/db)"
            )
        backend = shape.group("backend").lower()
        if backend not in DATABASE_BACKENDS:
            raise ConfigError(
                f"{name} names an unsupported database {backend!r} (use sqlite or postgresql)"
            )
        return value

    def smtp_url(self, name: builtins.str) -> builtins.str | None:
        # Only the scheme is checked here, so that a command fails before it starts work rather
        # than when the first alert is sent; zoomguard.notify.smtp parses the rest.
        value = self.str(name)
        if value is None:
            return None
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in SMTP_SCHEMES:
            raise ConfigError(
                f"{name} must start with one of {', '.join(s + '://' for s in SMTP_SCHEMES)}; "
                f"got scheme {scheme or '(none)'!r}"
            )
        return value

    def log_level(self, name: builtins.str) -> builtins.str | None:
        value = self.str(name)
        if value is None:
            return None
        if value.upper() not in LOG_LEVELS:
            raise ConfigError(f"{name} must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return value.upper()

    def int(
        self, name: builtins.str, default: builtins.int, *, minimum: builtins.int = 0
    ) -> builtins.int:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def float(self, name: builtins.str, default: builtins.float) -> builtins.float:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if value <= 0:
            raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
        return value

    def share(self, name: builtins.str, default: builtins.float) -> builtins.float:
        value = self.float(name, default)
        if value > 1:
            raise ConfigError(f"{name} must be at most 1, got {value}")
        return value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        raw = self.str(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")

    def choice(
        self, name: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str
    ) -> builtins.str:
        raw = self.str(name)
        if raw is None:
            return default
        if raw not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return raw

    def list(self, name: builtins.str) -> tuple[builtins.str, ...]:
        raw = self.str(name)
        if raw is None:
            return ()
        return tuple(part.strip() for part in raw.replace(";", ",").split(",") if part.strip())
