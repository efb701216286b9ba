"""Zoom's JSON shapes: meetings, users, recordings and webhook objects.

The sandbox keeps each meeting and user as the object ``GET`` returns; everything else (list
items, webhook objects) is a projection of it onto the fields the OpenAPI documents define, so
no response carries an invented field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def iso(moment: datetime) -> str:
    """Zoom's timestamp format: UTC, second precision, "Z".

    The year is always four digits: ``strftime("%Y")`` writes year 999 as "999", which
    ``parse_iso`` then cannot read back (a fuzzed start time once broke listing with a 500)."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# Default per-meeting settings (names and enums from GET /meetings/{meetingId}).
MEETING_SETTINGS_DEFAULTS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "cn_meeting": False,
    "in_meeting": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "audio": "voip",
    "auto_recording": "none",
    "host_pause_stop_recording": True,
    "alternative_host_manage_cloud_recording": False,
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "alternative_hosts_email_notification": True,
    "close_registration": False,
    "show_share_button": False,
    "allow_multiple_devices": False,
    "registrants_confirmation_email": True,
    "waiting_room": True,
    "request_permission_to_unmute_participants": False,
    "registrants_email_notification": True,
    "meeting_authentication": False,
    "encryption_type": "enhanced_encryption",
    "approved_or_denied_countries_or_regions": {"enable": False},
    "breakout_room": {"enable": False},
    "internal_meeting": False,
    "continuous_meeting_chat": {"enable": False},
    "participant_focused_meeting": False,
    "push_change_to_calendar": False,
    "auto_start_meeting_summary": False,
    "auto_start_ai_companion_questions": False,
    "device_testing": False,
    "email_notification": True,
    "private_meeting": False,
    "show_join_info": False,
    "focus_mode": False,
    "email_in_attendee_report": False,
}

# Top-level meeting fields a PATCH may change (the rest are Zoom's to set).
PATCHABLE_FIELDS = ("topic", "type", "start_time", "duration", "timezone", "agenda", "password")
MEETING_TYPES = (1, 2, 3, 8, 10)
AUDIO_VALUES = ("both", "telephony", "voip", "thirdParty")
PASSWORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@-_*")

# GET /users/{userId}/meetings items carry only these (agenda truncated to 250 characters).
LIST_ITEM_FIELDS = (
    "uuid",
    "id",
    "host_id",
    "topic",
    "type",
    "start_time",
    "duration",
    "timezone",
    "agenda",
    "created_at",
    "join_url",
)

USER_LIST_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "display_name",
    "email",
    "type",
    "pmi",
    "timezone",
    "verified",
    "dept",
    "created_at",
    "user_created_at",
    "last_login_time",
    "last_client_version",
    "status",
    "role_id",
    "group_ids",
)

# meeting.updated: the object/old_object fields the webhook document defines.
UPDATED_TOP_FIELDS = (
    "uuid",
    "host_id",
    "topic",
    "type",
    "start_time",
    "duration",
    "timezone",
    "join_url",
    "password",
    "agenda",
    "occurrences",
    "recurrence",
)
UPDATED_SETTINGS_FIELDS = frozenset(
    {
        "host_video",
        "participant_video",
        "join_before_host",
        "jbh_time",
        "mute_upon_entry",
        "audio",
        "auto_recording",
        "use_pmi",
        "waiting_room",
        "watermark",
        "enforce_login",
        "enforce_login_domains",
        "approval_type",
        "registration_type",
        "alternative_hosts",
        "meeting_authentication",
        "authentication_option",
        "authentication_name",
        "authentication_domains",
        "auto_start_meeting_summary",
        "auto_start_ai_companion_questions",
        "email_in_attendee_report",
    }
)
# Enum values the webhook document narrows (e.g. jbh_time has no 15 there).
UPDATED_SETTINGS_ENUMS: dict[str, tuple[Any, ...]] = {
    "jbh_time": (0, 5, 10),
    "audio": ("telephony", "voip", "both"),
}
WEBHOOK_MEETING_TYPES = (0, 1, 2, 3, 4, 7, 8)


def list_item(meeting: Mapping[str, Any]) -> dict[str, Any]:
    item = {name: meeting[name] for name in LIST_ITEM_FIELDS if name in meeting}
    if "agenda" in item:
        item["agenda"] = item["agenda"][:250]
    if meeting.get("settings", {}).get("use_pmi") and "pmi" in meeting:
        item["pmi"] = meeting["pmi"]
    return item


def user_list_item(user: Mapping[str, Any]) -> dict[str, Any]:
    return {name: copy.deepcopy(user[name]) for name in USER_LIST_FIELDS if name in user}


def meeting_view(meeting: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(meeting))


def user_view(user: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """GET /users/{userId}: the stored user plus the account it belongs to."""
    return {**copy.deepcopy(dict(user)), "account_id": account_id}


def _updated_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in UPDATED_SETTINGS_FIELDS:
            continue
        allowed = UPDATED_SETTINGS_ENUMS.get(key)
        if allowed is not None and value not in allowed:
            continue
        out[key] = copy.deepcopy(value)
    return out


def meeting_changes(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(object, old_object) for meeting.updated: the id plus only what changed, or None."""
    obj: dict[str, Any] = {"id": new["id"]}
    old_obj: dict[str, Any] = {"id": old["id"]}
    changed = False
    for name in UPDATED_TOP_FIELDS:
        if name in ("uuid", "host_id"):
            continue
        if old.get(name) != new.get(name):
            if name in new:
                obj[name] = copy.deepcopy(new[name])
            if name in old:
                old_obj[name] = copy.deepcopy(old[name])
            changed = True
    old_settings = _updated_settings(old.get("settings", {}))
    new_settings = _updated_settings(new.get("settings", {}))
    diff_keys = [k for k in new_settings if old_settings.get(k) != new_settings[k]]
    if diff_keys:
        obj["settings"] = {k: new_settings[k] for k in diff_keys}
        old_obj["settings"] = {k: old_settings[k] for k in diff_keys if k in old_settings}
        changed = True
    if not changed:
        return None
    for target, source in ((obj, new), (old_obj, old)):
        target["uuid"] = source["uuid"]
        target["host_id"] = source["host_id"]
    return obj, old_obj


def _webhook_type(meeting_type: int) -> int:
    # Screen-share-only meetings (10) are not in the webhook enums; Zoom reports them as scheduled.
    return meeting_type if meeting_type in WEBHOOK_MEETING_TYPES else 2


def meeting_summary(
    meeting: Mapping[str, Any], *, string_id: bool, start_time: str | None = None
) -> dict[str, Any]:
    """The object of meeting.started/ended/participant_* events and meeting.deleted."""
    obj: dict[str, Any] = {
        "id": str(meeting["id"]) if string_id else meeting["id"],
        "uuid": meeting["uuid"],
        "host_id": meeting["host_id"],
        "topic": meeting["topic"],
        "type": _webhook_type(meeting["type"]),
    }
    begins = start_time or meeting.get("start_time")
    if begins:
        obj["start_time"] = begins
    obj["timezone"] = meeting.get("timezone", "UTC")
    obj["duration"] = meeting.get("duration", 0)
    return obj


@dataclass
class RecordingFile:
    id: str
    file_type: str
    file_extension: str
    recording_type: str
    file_size: int
    recording_start: str
    recording_end: str


@dataclass
class Recording:
    """One meeting instance's cloud recording."""

    meeting_id: int
    uuid: str
    host_id: str
    host_email: str
    topic: str
    meeting_type: int
    start_time: str
    timezone: str
    duration: int
    password: str
    files: list[RecordingFile] = field(default_factory=list)
    trashed: bool = False

    @property
    def total_size(self) -> int:
        return sum(f.file_size for f in self.files)

    def share_url(self, base_url: str) -> str:
        return f"{base_url}/rec/share/{self.meeting_id}"

    def file_view(self, f: RecordingFile, base_url: str, *, webhook: bool) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": f.id,
            "meeting_id": self.uuid,
            "recording_start": f.recording_start,
            "recording_end": f.recording_end,
            "file_type": f.file_type,
            "file_extension": f.file_extension,
            "file_size": f.file_size,
            "play_url": f"{base_url}/rec/play/{f.id}",
            "download_url": f"{base_url}/rec/download/{f.id}",
            "status": "completed",
            "recording_type": f.recording_type,
        }
        if webhook:
            view["file_name"] = f"{self.topic}.{f.file_extension.lower()}"
        return view

    def api_view(self, account_id: str, base_url: str) -> dict[str, Any]:
        """GET /meetings/{meetingId}/recordings and the items of GET /users/{userId}/recordings."""
        return {
            "uuid": self.uuid,
            "id": self.meeting_id,
            "account_id": account_id,
            "host_id": self.host_id,
            "topic": self.topic,
            "type": str(self.meeting_type),
            "start_time": self.start_time,
            "duration": self.duration,
            "total_size": self.total_size,
            "recording_count": len(self.files),
            "recording_files": [self.file_view(f, base_url, webhook=False) for f in self.files],
        }

    def webhook_object(self, account_id: str, base_url: str, *, completed: bool) -> dict[str, Any]:
        """The object of recording.completed (completed=True) or recording.trashed/deleted."""
        obj: dict[str, Any] = {
            "id": self.meeting_id,
            "uuid": self.uuid,
            "host_id": self.host_id,
            "account_id": account_id,
            "topic": self.topic,
            "type": self.meeting_type,
            "start_time": self.start_time,
            "timezone": self.timezone,
            "duration": self.duration,
            "share_url": self.share_url(base_url),
            "total_size": self.total_size,
            "recording_count": len(self.files),
            "recording_files": [self.file_view(f, base_url, webhook=True) for f in self.files],
        }
        if completed:
            obj["password"] = self.password
            obj["host_email"] = self.host_email
        return obj


@dataclass
class LiveMeeting:
    """A meeting instance that is in progress, and its cloud recording if one is running."""

    meeting_id: int
    uuid: str
    started_at: datetime
    recording_start: datetime | None = None
    recording_end: datetime | None = None
    recording_state: str = "none"  # none | recording | paused | stopped
    ai_companion: str = "off"  # off | started | stopped | disabled (disabled: cannot restart)
    ai_companion_features: tuple[str, ...] = ()  # "questions", "summary"
    live_stream_service: str | None = None  # the streaming service while streaming


@dataclass(frozen=True)
class RecordingStop:
    """A recording.stop received through PATCH /live_meetings/{meetingId}/events."""

    meeting_id: int
    uuid: str
    received_at: float
    was_recording: bool
