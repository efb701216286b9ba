"""SandboxConfig: how the local Zoom stand-in behaves (credentials, limits, faults, data)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

LIGHT = "light"
MEDIUM = "medium"

# Requests per second per category for each plan (Zoom's rate-limits page; Business+ = business).
PLAN_RATES: dict[str, dict[str, float]] = {
    "free": {LIGHT: 4.0, MEDIUM: 2.0},
    "pro": {LIGHT: 30.0, MEDIUM: 20.0},
    "business": {LIGHT: 80.0, MEDIUM: 60.0},
}

DEFAULT_SCOPES = (
    "meeting:read:list_meetings:admin meeting:read:meeting:admin meeting:update:meeting:admin "
    "meeting:delete:meeting:admin meeting:update:status:admin "
    "meeting:update:in_meeting_controls:admin cloud_recording:read:list_recording_files:admin "
    "cloud_recording:read:list_user_recordings:admin "
    "cloud_recording:delete:meeting_recording:admin "
    "cloud_recording:delete:recording_file:admin user:read:list_users:admin user:read:user:admin "
    "user:read:settings:admin user:update:settings:admin group:read:list_groups:admin "
    "group:read:settings:admin group:update:settings:admin group:read:lock_settings:admin "
    "group:update:lock_settings:admin account:read:settings:admin account:update:settings:admin "
    "account:read:lock_settings:master account:update:lock_settings:admin"
)


def _token(nbytes: int) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass
class SandboxConfig:
    """Mutable on purpose: tests change latency, token lifetime or the webhook URL mid-run."""

    port: int = 0
    account_id: str = field(default_factory=lambda: _token(16))
    client_id: str = field(default_factory=lambda: _token(16))
    client_secret: str = field(default_factory=lambda: _token(24), repr=False)
    # The general (user-authorised) OAuth app, for authorization_code and refresh_token.
    oauth_client_id: str = field(default_factory=lambda: _token(16))
    oauth_client_secret: str = field(default_factory=lambda: _token(24), repr=False)
    # Redirect URIs /oauth/authorize accepts; empty = any.
    oauth_redirect_uris: tuple[str, ...] = ()
    webhook_secret: str = field(default_factory=lambda: _token(16), repr=False)
    webhook_url: str | None = None
    webhook_time_scale: float = 1.0
    webhook_timeout_seconds: float = 3.0
    webhook_workers: int = 4
    token_ttl_seconds: float = 3600.0
    scopes: str = DEFAULT_SCOPES
    latency_ms: float = 0.0
    # Each request is delayed by latency_ms plus a uniform 0..latency_jitter_ms.
    latency_jitter_ms: float = 0.0
    plan: str = "pro"
    rate_light: float | None = None
    rate_medium: float | None = None
    enforce_rate_limits: bool = True
    error_rate: float = 0.0
    drop_rate: float = 0.0
    daily_update_limit: int = 100
    seed: int = 0
    users: int = 0
    meetings: int = 0
    noncompliant_share: float = 0.3

    def __post_init__(self) -> None:
        if self.plan not in PLAN_RATES:
            raise ValueError(f"plan must be one of {', '.join(PLAN_RATES)}, got {self.plan!r}")
        for name in ("error_rate", "drop_rate", "noncompliant_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")

    def rate(self, category: str) -> float:
        override = self.rate_light if category == LIGHT else self.rate_medium
        return override if override is not None else PLAN_RATES[self.plan][category]
