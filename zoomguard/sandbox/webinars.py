"""Webinars: their JSON (GET /webinars/{webinarId}), PATCH validation and webhook objects.

A webinar is kept, like a meeting, as the object GET returns; list items and webhook objects are
projections of it onto the fields Zoom's OpenAPI documents define for them. A PATCH is checked
with the meetings' validation (``meetings.validate_patch``), with the webinar's types, settings
and passcode characters (a webinar passcode may also hold "!").
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from zoomguard.sandbox.meetings import (
    EXAMPLE_BASE,
    digits_from,
    encrypted_from,
    occurrences_for,
    validate_patch,
)
from zoomguard.sandbox.model import PASSWORD_CHARS, iso

# 5 webinar, 6 recurring without a fixed time, 9 recurring with a fixed time.
WEBINAR_TYPES = (5, 6, 9)
WEBINAR_PASSWORD_CHARS = PASSWORD_CHARS | {"!"}

# Default per-webinar settings (names and defaults from GET /webinars/{webinarId}).
WEBINAR_SETTINGS_DEFAULTS: dict[str, Any] = {
    "host_video": False,
    "panelists_video": False,
    "practice_session": False,
    "hd_video": False,
    "hd_video_for_attendees": False,
    "send_1080p_video_to_attendees": False,
    "approval_type": 2,
    "registration_type": 1,
    "audio": "both",
    "auto_recording": "none",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "close_registration": False,
    "show_share_button": False,
    "allow_multiple_devices": False,
    "on_demand": False,
    "contact_name": "",
    "contact_email": "",
    "registrants_restrict_number": 0,
    "post_webinar_survey": False,
    "registrants_email_notification": True,
    "registrants_confirmation_email": True,
    "panelists_invitation_email_notification": True,
    "meeting_authentication": False,
    "add_watermark": False,
    "add_audio_watermark": False,
    "email_language": "en-US",
    "request_permission_to_unmute_participants": False,
    "allow_host_control_participant_mute_state": False,
    "email_in_attendee_report": False,
    "enable_session_branding": False,
}

# GET /users/{userId}/webinars items carry only these (agenda truncated to 250 characters).
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
    "is_simulive",
)
# webinar.updated: the object/old_object fields the webhook document defines.
UPDATED_TOP_FIELDS = (
    "uuid",
    "host_id",
    "topic",
    "type",
    "start_time",
    "duration",
    "timezone",
    "password",
    "agenda",
    "occurrences",
    "recurrence",
)
UPDATED_SETTINGS_FIELDS = frozenset(
    {
        "host_video",
        "panelists_video",
        "practice_session",
        "approval_type",
        "registration_type",
        "audio",
        "auto_recording",
        "enforce_login",
        "meeting_authentication",
        "email_in_attendee_report",
        "allow_host_control_participant_mute_state",
    }
)


def new_webinar(
    *,
    webinar_id: int,
    uuid: str,
    host: Mapping[str, Any],
    topic: str,
    webinar_type: int,
    start_time: datetime | None,
    duration: int,
    timezone: str,
    agenda: str,
    created_at: datetime,
    password: str,
    settings: Mapping[str, Any],
    creation_source: str = "web_portal",
) -> dict[str, Any]:
    """A webinar as GET /webinars/{webinarId} returns it."""
    merged = copy.deepcopy(WEBINAR_SETTINGS_DEFAULTS)
    merged.update(copy.deepcopy(dict(settings)))
    webinar: dict[str, Any] = {
        "uuid": uuid,
        "id": webinar_id,
        "host_id": host["id"],
        "host_email": host["email"],
        "topic": topic,
        "type": webinar_type,
        "duration": duration,
        "timezone": timezone,
        "agenda": agenda,
        "created_at": iso(created_at),
        "start_url": f"{EXAMPLE_BASE}/s/{webinar_id}",
        "join_url": f"{EXAMPLE_BASE}/w/{webinar_id}",
        "registration_url": f"{EXAMPLE_BASE}/webinar/register/{webinar_id}",
        "password": password,
        "h323_passcode": digits_from(password),
        "encrypted_passcode": encrypted_from(webinar_id, password),
        "settings": merged,
        "is_simulive": False,
        "creation_source": creation_source,
    }
    if webinar_type != 6 and start_time is not None:
        webinar["start_time"] = iso(start_time)
    if webinar_type == 9 and start_time is not None:
        webinar["recurrence"] = {"type": 2, "repeat_interval": 1, "end_times": 4}
        webinar["occurrences"] = occurrences_for(start_time, duration, 4)
    return webinar


def validate_webinar_patch(
    body: Any, current_settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A webinar PATCH body checked as Zoom checks a meeting's (raises MeetingValidationError).

    A setting the webinar already carries beyond the documented ones (a test may give a webinar
    ``auto_start_meeting_summary``) is accepted with the type it has; others are ignored.
    """
    known = {**(current_settings or {}), **WEBINAR_SETTINGS_DEFAULTS}
    return validate_patch(
        body,
        types=WEBINAR_TYPES,
        settings_defaults=known,
        password_chars=WEBINAR_PASSWORD_CHARS,
    )


def merge_webinar_patch(webinar: Mapping[str, Any], clean: Mapping[str, Any]) -> dict[str, Any]:
    """A new webinar dict with a validated PATCH applied."""
    out = copy.deepcopy(dict(webinar))
    for name in ("topic", "agenda", "timezone", "duration", "type"):
        if name in clean:
            out[name] = clean[name]
    if clean.get("start_time"):
        out["start_time"] = clean["start_time"]
    if "password" in clean:
        out["password"] = clean["password"]
        out["h323_passcode"] = digits_from(clean["password"])
        out["encrypted_passcode"] = encrypted_from(out["id"], clean["password"])
    settings = out.setdefault("settings", {})
    for key, value in clean.get("settings", {}).items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    if out["type"] == 6:
        out.pop("start_time", None)
    return out


def webinar_list_item(webinar: Mapping[str, Any]) -> dict[str, Any]:
    item = {name: copy.deepcopy(webinar[name]) for name in LIST_ITEM_FIELDS if name in webinar}
    if "agenda" in item:
        item["agenda"] = item["agenda"][:250]
    return item


def created_object(webinar: Mapping[str, Any]) -> dict[str, Any]:
    """webinar.created's ``payload.object``."""
    obj: dict[str, Any] = {
        name: copy.deepcopy(webinar[name])
        for name in (
            "uuid",
            "id",
            "host_id",
            "topic",
            "type",
            "start_time",
            "duration",
            "timezone",
            "join_url",
            "password",
            "creation_source",
            "occurrences",
            "recurrence",
        )
        if name in webinar
    }
    obj["settings"] = {
        "use_pmi": False,
        "alternative_hosts": webinar["settings"]["alternative_hosts"],
    }
    return obj


def deleted_object(webinar: Mapping[str, Any]) -> dict[str, Any]:
    """webinar.deleted's ``payload.object``."""
    obj: dict[str, Any] = {
        name: webinar[name]
        for name in ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone")
        if name in webinar
    }
    if "occurrences" in webinar:
        obj["occurrences"] = [
            {"occurrence_id": o["occurrence_id"], "start_time": o["start_time"]}
            for o in webinar["occurrences"]
        ]
    return obj


def webinar_changes(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(object, old_object) for webinar.updated: the id plus what changed, or None.

    A change to a field the webhook document does not define (``settings.on_demand``) still
    sends the event, with the id alone, as Zoom does for any update.
    """
    if old == new:
        return None
    obj: dict[str, Any] = {"id": new["id"]}
    old_obj: dict[str, Any] = {"id": old["id"]}
    for name in UPDATED_TOP_FIELDS:
        if old.get(name) != new.get(name):
            if name in new:
                obj[name] = copy.deepcopy(new[name])
            if name in old:
                old_obj[name] = copy.deepcopy(old[name])
    settings: dict[str, Any] = {}
    old_settings: dict[str, Any] = {}
    for key in UPDATED_SETTINGS_FIELDS:
        before, after = old["settings"].get(key), new["settings"].get(key)
        if before != after:
            settings[key] = copy.deepcopy(after)
            old_settings[key] = copy.deepcopy(before)
    if settings:
        obj["settings"] = settings
        old_obj["settings"] = old_settings
    return obj, old_obj
