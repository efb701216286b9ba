"""The one error tree of zoomguard.

ZoomGuardError
├── ConfigError            bad or missing configuration (names the variable or key)
│   └── PolicyError        a policy file that cannot be used (names the key)
├── SecretKeyError         no ZOOMGUARD_SECRET_KEY, or one that cannot decrypt what is stored
├── ZoomAPIError           Zoom answered with an error (HTTP status + Zoom's own code)
│   ├── ZoomAuthError      credentials rejected / token could not be obtained
│   ├── ZoomNotFound       404 (e.g. code 3001 meeting deleted, 1001 user gone)
│   └── ZoomRateLimited    429 that outlived our retries, or the daily cap
├── ZoomUnavailable        network failure / 5xx after bounded retries
├── StoreError             the database cannot be used (not upgraded, unreachable)
├── Interrupted            a sweep stopped by Ctrl-C or SIGTERM
├── SweepBusy              another process is sweeping the same account
├── BaselineBusy           another process is applying the baseline to the same account
├── OAuthConnectError      the browser's return from Zoom cannot be accepted
├── DeliveryError          the SMTP server did not accept an email (it stays in the outbox)
└── UserError              a dashboard user cannot be created or changed
ValueError
├── MalformedEnvelope      a webhook body that is not a JSON object with an ``event``
└── UnusableEvent          a stored webhook body the worker cannot act on

Errors carry a machine-readable ``reason`` so callers (CLI, health checks, alerts) can act on
them without parsing messages. Findings are never exceptions: see policy.py.
"""

from __future__ import annotations


class ZoomGuardError(Exception):
    """Base of every error zoomguard raises on purpose."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class ConfigError(ZoomGuardError):
    reason = "config"


class PolicyError(ConfigError):
    reason = "policy"


class SecretKeyError(ConfigError):
    reason = "secret_key"


class ZoomAPIError(ZoomGuardError):
    """Zoom answered with an HTTP error. ``code`` is Zoom's own error code from the body."""

    reason = "zoom_api"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        method: str = "",
        path: str = "",
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.status = status
        self.code = code
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        code = f" (code {self.code})" if self.code is not None else ""
        return f"{where}HTTP {self.status}{code}: {self.message}"


class ZoomAuthError(ZoomAPIError):
    reason = "zoom_auth"


class ZoomNotFound(ZoomAPIError):
    reason = "zoom_not_found"


class ZoomScopeMissing(ZoomAPIError):
    """Zoom refused the call because the app lacks its scope (HTTP 400, code 4711)."""

    reason = "missing_scope"


class ZoomRateLimited(ZoomAPIError):
    reason = "zoom_rate_limited"


class WebinarPlanMissing(ZoomAPIError):
    """Zoom answered a webinar endpoint with HTTP 400 and code 200: the webinar plan is missing
    (or webinars are not enabled for the user). Not a failure: there are no webinars to check."""

    reason = "webinar_plan_missing"


class ZoomUnavailable(ZoomGuardError):
    reason = "zoom_unavailable"


class StoreError(ZoomGuardError):
    reason = "store"


class Interrupted(ZoomGuardError):
    reason = "interrupted"


class UserError(ZoomGuardError):
    """A dashboard user cannot be created or changed (exists, unknown, bad name, weak password)."""

    reason = "user"


class SweepBusy(ZoomGuardError):
    reason = "sweep_busy"


class BaselineBusy(ZoomGuardError):
    reason = "baseline_busy"


class OAuthConnectError(ZoomGuardError):
    """The browser's return from Zoom cannot be accepted (state, consent or code problem).

    The message is safe to show to the person connecting.
    """

    reason = "oauth_connect"


class DeliveryError(ZoomGuardError):
    """The message was not accepted; it stays in the outbox and is tried again later.

    ``permanent`` is true when the server answered 5xx (its answer will likely not change without
    a person's help); zoomguard still retries, with backoff, because losing an alert is worse.
    ``connection`` is true when the server could not be reached at all, so trying the next
    message in the same flush is pointless.
    """

    reason = "smtp"

    def __init__(self, message: str, *, code: int | None = None, connection: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.connection = connection

    @property
    def permanent(self) -> bool:
        return self.code is not None and 500 <= self.code < 600


class MalformedEnvelope(ValueError):
    """The body is not a JSON object with a string ``event``; the message is safe to return."""


class UnusableEvent(ValueError):
    """The stored body cannot be acted on (it passed the receiver's checks, but not ours)."""


class UnknownAccount(ZoomGuardError):
    """An event for a Zoom account zoomguard does not know: kept as ``unknown_account`` for the
    officer to see, not marked done."""

    reason = "unknown_account"
