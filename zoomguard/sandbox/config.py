"""SandboxConfig: how the local Zoom stand-in behaves (credentials, limits, faults, data)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from zoomguard.sandbox.scopes import OPERATION_SCOPES

LANGUAGES = ("en", "fr")
LIGHT = "light"
MEDIUM = "medium"

# Requests per second per category for each plan (Zoom's rate-limits page; Business+ = business).
PLAN_RATES: dict[str, dict[str, float]] = {
    "free": {LIGHT: 4.0, MEDIUM: 2.0},
    "pro": {LIGHT: 30.0, MEDIUM: 20.0},
    "business": {LIGHT: 80.0, MEDIUM: 60.0},
}

# Scopes that subscribe an app to webhook events; no /v2 operation checks them.
EVENT_SUBSCRIPTION_SCOPES = (
    "meeting:read:participant:admin",
    "cloud_recording:read:recording:admin",
    "account:read:account_setting:admin",
    "account:read:lock_settings:admin",
    "webinar:read:webinar:admin",
    "meeting:read:ai_companion:admin",
    "meeting:read:summary:admin",
    "meeting:read:livestream:admin",
    "meeting:read:chat_message:admin",
)


def _admin_scope(granular: tuple[str, ...]) -> str:
    """The admin form of an operation's granular scopes (what an account-level app selects)."""
    for suffix in (":admin", ":master"):
        for scope in granular:
            if scope.endswith(suffix):
                return scope
    return granular[0]


# What the default app registration grants: the admin scope of every operation the sandbox
# serves, and the event-subscription scopes. Tests narrow ``SandboxConfig.scopes`` to refuse some.
DEFAULT_SCOPES = " ".join(
    dict.fromkeys(
        [
            *(_admin_scope(granular) for granular, _classic in OPERATION_SCOPES.values()),
            *EVENT_SUBSCRIPTION_SCOPES,
        ]
    )
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
    # The scopes the app registration grants (every token's ``scope``), and whether each call
    # must carry one its operation lists, as at Zoom (False: any token may call anything).
    scopes: str = DEFAULT_SCOPES
    enforce_scopes: bool = True
    # next_page_token lifetime: Zoom's is 15 minutes; tests shorten it.
    page_token_ttl_seconds: float = 15 * 60.0
    # "en", or "fr" to answer errors in French as Zoom does for a French-language account (proves
    # zoomguard decides on codes, statuses and headers, never on the wording).
    language: str = "en"
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
    # Strictness switches: each makes the sandbox behave as Zoom does (the default) where a
    # laxer stand-in would hide a failure zoomguard meets on a real account.
    # In-meeting controls (PATCH /live_meetings/{id}/events) only for the meeting's host or an
    # alternative host; a Server-to-Server token acts as the app's creator.
    live_controls_host_only: bool = True
    # The user a Server-to-Server app acts as (its creator); None: the account owner.
    app_creator_id: str | None = None
    # The account's (group's, user's) meeting passcode requirement holds on every meeting PATCH.
    enforce_passcode_requirement: bool = True
    # Turning a meeting's waiting room on turns join-before-host off.
    waiting_room_disables_join_before_host: bool = True
    # False: the account has no webinar plan (every webinar endpoint answers 400, code 200).
    webinar_plan: bool = True

    def __post_init__(self) -> None:
        if self.plan not in PLAN_RATES:
            raise ValueError(f"plan must be one of {', '.join(PLAN_RATES)}, got {self.plan!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")
        for name in ("error_rate", "drop_rate", "noncompliant_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")

    def rate(self, category: str) -> float:
        override = self.rate_light if category == LIGHT else self.rate_medium
        return override if override is not None else PLAN_RATES[self.plan][category]
