"""Building meetings and applying create/PATCH bodies the way Zoom validates them."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from zoomguard.sandbox.model import (
    AUDIO_VALUES,
    MEETING_SETTINGS_DEFAULTS,
    MEETING_TYPES,
    PASSWORD_CHARS,
    iso,
    parse_iso,
)

EXAMPLE_BASE = "https://example.com"

SETTINGS_ENUMS: dict[str, tuple[Any, ...]] = {
    "auto_recording": ("local", "cloud", "none"),
    "jbh_time": (0, 5, 10, 15),
    "approval_type": (0, 1, 2),
    "audio": AUDIO_VALUES,
    "encryption_type": ("enhanced_encryption", "e2ee"),
    "registration_type": (1, 2, 3),
}
# Settings a PATCH may carry that have no default in a fresh meeting.
EXTRA_SETTINGS_TYPES: dict[str, type] = {
    "authentication_option": str,
    "authentication_domains": str,
    "authentication_name": str,
    "registration_type": int,
    "waiting_room_options": dict,
    "meeting_invitees": list,
    "authentication_exception": list,
}


class MeetingValidationError(ValueError):
    """Zoom's code 300 "Validation Failed." for one field."""

    def __init__(self, field_path: str, message: str = "Invalid field.") -> None:
        super().__init__(message)
        self.field = field_path
        self.message = message


def digits_from(text: str, length: int = 6) -> str:
    """A stable numeric passcode (PSTN/H.323) derived from the meeting passcode."""
    if not text:
        return ""
    number = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    return str(number % 10**length).zfill(length)


def encrypted_from(meeting_id: int, password: str) -> str:
    """Stands in for Zoom's encrypted passcode (the pwd= of a join link); stable per passcode."""
    if not password:
        return ""
    return hashlib.sha256(f"{meeting_id}:{password}".encode()).hexdigest()[:32]


def occurrences_for(
    start: datetime, duration: int, count: int, every_days: int = 7
) -> list[dict[str, Any]]:
    out = []
    for index in range(count):
        begins = start + timedelta(days=every_days * index)
        out.append(
            {
                "occurrence_id": str(int(begins.timestamp() * 1000)),
                "start_time": iso(begins),
                "duration": duration,
                "status": "available",
            }
        )
    return out


def new_meeting(
    *,
    meeting_id: int,
    uuid: str,
    host: Mapping[str, Any],
    topic: str,
    meeting_type: int,
    start_time: datetime | None,
    duration: int,
    timezone: str,
    agenda: str,
    created_at: datetime,
    password: str,
    settings: Mapping[str, Any],
    creation_source: str = "web_portal",
    occurrences: int = 4,
) -> dict[str, Any]:
    """A meeting as GET /meetings/{meetingId} returns it."""
    merged = copy.deepcopy(MEETING_SETTINGS_DEFAULTS)
    merged.update(copy.deepcopy(dict(settings)))
    meeting: dict[str, Any] = {
        "uuid": uuid,
        "id": meeting_id,
        "host_id": host["id"],
        "host_email": host["email"],
        "topic": topic,
        "type": meeting_type,
        "status": "waiting",
        "duration": duration,
        "timezone": timezone,
        "agenda": agenda,
        "created_at": iso(created_at),
        "start_url": f"{EXAMPLE_BASE}/s/{meeting_id}",
        "join_url": f"{EXAMPLE_BASE}/j/{meeting_id}",
        "password": password,
        "h323_password": digits_from(password),
        "pstn_password": digits_from(password),
        "encrypted_password": encrypted_from(meeting_id, password),
        "pre_schedule": False,
        "settings": merged,
        "creation_source": creation_source,
    }
    if meeting_type != 3 and start_time is not None:
        meeting["start_time"] = iso(start_time)
    if meeting_type == 8 and start_time is not None:
        meeting["recurrence"] = {
            "type": 2,
            "repeat_interval": 1,
            "weekly_days": str(start_time.isoweekday() % 7 + 1),
            "end_times": occurrences,
        }
        meeting["occurrences"] = occurrences_for(start_time, duration, occurrences)
    return meeting


def _check_type(path: str, value: Any, expected: type) -> None:
    if expected is int and isinstance(value, bool):
        raise MeetingValidationError(path)
    if not isinstance(value, expected):
        raise MeetingValidationError(path)


def validate_patch(
    body: Any,
    *,
    types: tuple[int, ...] = MEETING_TYPES,
    settings_defaults: Mapping[str, Any] = MEETING_SETTINGS_DEFAULTS,
    password_chars: frozenset[str] = PASSWORD_CHARS,
) -> dict[str, Any]:
    """The fields of a meeting create/PATCH body the sandbox acts on, checked like Zoom checks
    them; unknown fields are ignored. A webinar's body is checked the same way, with its own
    types, settings and passcode characters."""
    if not isinstance(body, dict):
        raise MeetingValidationError("body", "Request Body should be a valid JSON object.")
    clean: dict[str, Any] = {}
    for name, expected, limit in (
        ("topic", str, 200),
        ("agenda", str, 2000),
        ("timezone", str, 64),
        ("start_time", str, 64),
    ):
        if name in body:
            _check_type(name, body[name], expected)
            if len(body[name]) > limit:
                raise MeetingValidationError(name)
            clean[name] = body[name]
    if clean.get("start_time"):
        try:
            parse_iso(clean["start_time"])
        except ValueError:
            raise MeetingValidationError("start_time") from None
    if "duration" in body:
        _check_type("duration", body["duration"], int)
        if body["duration"] < 0:
            raise MeetingValidationError("duration")
        clean["duration"] = body["duration"]
    if "type" in body:
        if body["type"] not in types or isinstance(body["type"], bool):
            raise MeetingValidationError("type")
        clean["type"] = body["type"]
    if "password" in body:
        password = body["password"]
        _check_type("password", password, str)
        if len(password) > 10 or not set(password) <= password_chars:
            raise MeetingValidationError("password", "Invalid password.")
        clean["password"] = password
    if "recurrence" in body:
        recurrence = body["recurrence"]
        _check_type("recurrence", recurrence, dict)
        if recurrence.get("type") not in (1, 2, 3):
            raise MeetingValidationError("recurrence.type")
        clean["recurrence"] = copy.deepcopy(recurrence)
    if "settings" in body:
        clean["settings"] = _validate_settings(body["settings"], settings_defaults)
    return clean


def _validate_settings(settings: Any, defaults: Mapping[str, Any]) -> dict[str, Any]:
    _check_type("settings", settings, dict)
    clean: dict[str, Any] = {}
    for key, value in settings.items():
        path = f"settings.{key}"
        if key in defaults:
            expected: type = type(defaults[key])
        elif key in EXTRA_SETTINGS_TYPES:
            expected = EXTRA_SETTINGS_TYPES[key]
        else:
            continue  # Zoom ignores settings it does not know
        _check_type(path, value, expected)
        if key == "waiting_room_options":
            _check_waiting_room_options(value)
        allowed = SETTINGS_ENUMS.get(key)
        if allowed is not None and value not in allowed:
            raise MeetingValidationError(path)
        clean[key] = copy.deepcopy(value)
    return clean


WAITING_ROOM_MODES = ("follow_setting", "custom")
WHO_GOES_TO_WAITING_ROOM = (
    "everyone",
    "users_not_in_account",
    "users_not_in_account_or_whitelisted_domains",
    "users_not_on_invite",
    "users_not_in_org",
)


def _check_waiting_room_options(options: Mapping[str, Any]) -> None:
    """``mode`` is required; ``who_goes_to_waiting_room`` is required with mode "custom"."""
    path = "settings.waiting_room_options"
    if options.get("mode") not in WAITING_ROOM_MODES:
        raise MeetingValidationError(f"{path}.mode")
    who = options.get("who_goes_to_waiting_room")
    if who is None and options["mode"] == "custom":
        raise MeetingValidationError(f"{path}.who_goes_to_waiting_room")
    if who is not None and who not in WHO_GOES_TO_WAITING_ROOM:
        raise MeetingValidationError(f"{path}.who_goes_to_waiting_room")


def merge_patch(meeting: Mapping[str, Any], clean: Mapping[str, Any]) -> dict[str, Any]:
    """A new meeting dict with a validated PATCH applied (before Zoom's enforcement)."""
    out = copy.deepcopy(dict(meeting))
    for name in ("topic", "agenda", "timezone", "duration"):
        if name in clean:
            out[name] = clean[name]
    if clean.get("start_time"):
        out["start_time"] = iso(parse_iso(clean["start_time"]))  # stored as Zoom returns it
    if "password" in clean:
        out["password"] = clean["password"]
    if "settings" in clean:
        settings = out.setdefault("settings", {})
        for key, value in clean["settings"].items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
    if "type" in clean:
        out["type"] = clean["type"]
    if "recurrence" in clean and out["type"] == 8:
        out["recurrence"] = clean["recurrence"]
    _reshape_for_type(out)
    return out


def _reshape_for_type(meeting: dict[str, Any]) -> None:
    meeting_type = meeting["type"]
    if meeting_type == 3:
        meeting.pop("start_time", None)
    if meeting_type != 8:
        meeting.pop("recurrence", None)
        meeting.pop("occurrences", None)
        return
    start = meeting.get("start_time")
    if start and "occurrences" not in meeting:
        count = int(meeting.get("recurrence", {}).get("end_times", 4) or 4)
        meeting.setdefault("recurrence", {"type": 2, "repeat_interval": 1, "end_times": count})
        meeting["occurrences"] = occurrences_for(parse_iso(start), meeting["duration"], count)


def sync_passwords(meeting: dict[str, Any]) -> None:
    """Keep the derived passcode fields in step with ``password``."""
    password = meeting.get("password", "")
    meeting["h323_password"] = digits_from(password)
    meeting["pstn_password"] = digits_from(password)
    meeting["encrypted_password"] = encrypted_from(meeting["id"], password)
