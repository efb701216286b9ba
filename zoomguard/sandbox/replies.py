"""What the /v2 handlers share: ``Reply`` and ``Call``, Zoom's error shapes, and the argument,
paging and lookup helpers every endpoint module uses."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from zoomguard.sandbox import settings as st
from zoomguard.sandbox.config import SandboxConfig
from zoomguard.sandbox.meetings import MeetingValidationError
from zoomguard.sandbox.oauth import AccessToken
from zoomguard.sandbox.ratelimit import next_utc_midnight
from zoomguard.sandbox.state import SandboxState

LIVE_METHODS = (
    "recording.start",
    "recording.stop",
    "recording.pause",
    "recording.resume",
    "participant.invite",
    "participant.invite.callout",
    "participant.invite.room_system_callout",
    "waiting_room.update",
    "ai_companion.start",
    "ai_companion.stop",
    "ai_companion.disable",
    "participant.remove",
)
MEETING_LIST_TYPES = ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings")
SETTINGS_OPTIONS = ("meeting_authentication", "recording_authentication", "meeting_security")
ACCOUNT_SETTINGS_OPTIONS = (*SETTINGS_OPTIONS, "security")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, code: int, message: str, **extra: Any) -> Reply:
    return Reply(status, {"code": code, "message": message, **extra})


def daily_cap_reply(limit: int, now: datetime) -> Reply:
    reply = error(
        429,
        429,
        f"You have exceeded the daily rate limit ({limit}) of Meeting Create/Update API requests "
        "permitted for this particular user. You may resume these requests at GMT 00:00:00.",
    )
    reply.headers.update(
        {
            "X-RateLimit-Category": "Light",
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "Retry-After": next_utc_midnight(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    return reply


@dataclass
class Call:
    state: SandboxState
    config: SandboxConfig
    token: AccessToken
    args: Mapping[str, str]
    body: Any
    received_at: float


Handler = Callable[..., Reply]


def page_size_arg(call: Call, default: int, maximum: int) -> int | Reply:
    raw = call.args.get("page_size")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        return error(400, 300, "Invalid field: page_size.")
    return max(1, min(value, maximum))


def paging_fields(total: int, size: int, token: str) -> dict[str, Any]:
    """The paging fields every Zoom list response carries."""
    return {
        "page_count": math.ceil(total / size) if total else 0,
        "page_size": size,
        "total_records": total,
        "next_page_token": token,
    }


def bad_page_token() -> Reply:
    return error(400, 300, "The next page token is invalid or expired.")


def user_or_reply(call: Call, user_id: str) -> dict[str, Any] | Reply:
    user = call.state.find_user(user_id, me=call.token.user_id)
    if user is None:
        return error(404, 1001, f"User does not exist: {user_id}.")
    return user


def meeting_or_reply(call: Call, meeting_id: str) -> dict[str, Any] | Reply:
    meeting = call.state.find_meeting(meeting_id)
    if meeting is None:
        return error(404, 3001, f"Meeting does not exist: {meeting_id}.")
    return meeting


def validation_reply(exc: MeetingValidationError | st.SettingsError) -> Reply:
    message = exc.message if isinstance(exc, MeetingValidationError) else str(exc)
    return error(400, 300, "Validation Failed.", errors=[{"field": exc.field, "message": message}])


def date_arg(call: Call, name: str) -> date | Reply | None:
    raw = call.args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return error(400, 300, f"Invalid field: {name}.")
