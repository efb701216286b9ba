"""The granular scopes zoomguard's Zoom app needs, by feature: the one table of them.

New Server-to-Server OAuth apps get granular scopes only (the classic ``meeting:read:admin``
kind cannot be picked any more), so every entry is granular, in its admin form. Each names the
operation (or webhook subscription) it is for, as Zoom's OpenAPI documents list it:
``tests/test_scopes.py`` checks every entry against the documents and the README's scope list
against this table, and ``zoomguard connect`` refuses an app that lacks one an enabled feature
needs (``missing_scopes``). The event handlers declare their subscription scopes from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

SWEEP: Final = "sweep"
BASELINE: Final = "baseline"
RECORDINGS: Final = "recordings"
LIVE_CONTROLS: Final = "live controls"
WEBHOOKS: Final = "webhooks"

# The scopes the sweep's steps need, named when Zoom refuses one (code 4711) so the officer
# learns which scope to add, without reading Zoom's (translated) message.
LIST_USERS: Final = "user:read:list_users:admin"
LIST_MEETINGS: Final = "meeting:read:list_meetings:admin"
READ_MEETING: Final = "meeting:read:meeting:admin"
UPDATE_MEETING: Final = "meeting:update:meeting:admin"
# Webhook subscriptions.
READ_PARTICIPANT: Final = "meeting:read:participant:admin"
READ_RECORDING: Final = "cloud_recording:read:recording:admin"
READ_ACCOUNT_SETTING: Final = "account:read:account_setting:admin"
READ_ACCOUNT_LOCKS: Final = "account:read:lock_settings:admin"


@dataclass(frozen=True)
class ScopeNeed:
    scope: str
    # "GET /users" for an API operation, "event meeting.created" for a webhook subscription.
    used_for: str


def _api(scope: str, *operations: str) -> tuple[ScopeNeed, ...]:
    return tuple(ScopeNeed(scope, operation) for operation in operations)


FEATURE_SCOPES: Final[dict[str, tuple[ScopeNeed, ...]]] = {
    SWEEP: (
        *_api(LIST_USERS, "GET /users"),
        *_api(LIST_MEETINGS, "GET /users/{userId}/meetings"),
        *_api(READ_MEETING, "GET /meetings/{meetingId}"),
        *_api(UPDATE_MEETING, "PATCH /meetings/{meetingId}"),
        # The host's passcode requirement and who its waiting room holds (meeting_security).
        *_api("user:read:settings:admin", "GET /users/{userId}/settings"),
        *_api("webinar:read:list_webinars:admin", "GET /users/{userId}/webinars"),
        *_api("webinar:read:webinar:admin", "GET /webinars/{webinarId}"),
        *_api("webinar:update:webinar:admin", "PATCH /webinars/{webinarId}"),
    ),
    BASELINE: (
        *_api("account:read:settings:admin", "GET /accounts/{accountId}/settings"),
        *_api("account:update:settings:admin", "PATCH /accounts/{accountId}/settings"),
        # Zoom's document lists only the master form for reading account locks.
        *_api("account:read:lock_settings:master", "GET /accounts/{accountId}/lock_settings"),
        *_api("account:update:lock_settings:admin", "PATCH /accounts/{accountId}/lock_settings"),
        *_api("group:read:list_groups:admin", "GET /groups"),
        *_api("group:read:settings:admin", "GET /groups/{groupId}/settings"),
        *_api("group:update:settings:admin", "PATCH /groups/{groupId}/settings"),
        *_api("group:read:lock_settings:admin", "GET /groups/{groupId}/lock_settings"),
        *_api("group:update:lock_settings:admin", "PATCH /groups/{groupId}/lock_settings"),
        *_api("user:read:user:admin", "GET /users/{userId}"),
        *_api("user:read:settings:admin", "GET /users/{userId}/settings"),
        *_api("user:update:settings:admin", "PATCH /users/{userId}/settings"),
    ),
    RECORDINGS: (
        *_api("cloud_recording:read:list_user_recordings:admin", "GET /users/{userId}/recordings"),
        *_api(
            "cloud_recording:read:list_recording_files:admin",
            "GET /meetings/{meetingId}/recordings",
        ),
        *_api(
            "cloud_recording:delete:meeting_recording:admin",
            "DELETE /meetings/{meetingId}/recordings",
        ),
    ),
    LIVE_CONTROLS: (
        *_api(
            "meeting:update:in_meeting_controls:admin",
            "PATCH /live_meetings/{meetingId}/events",
        ),
        *_api("meeting:update:status:admin", "PUT /meetings/{meetingId}/status"),
        *_api(
            "meeting:update:livestream_status:admin",
            "PATCH /meetings/{meetingId}/livestream/status",
        ),
        *_api("meeting:delete:summary:admin", "DELETE /meetings/{meetingId}/meeting_summary"),
    ),
    WEBHOOKS: (
        ScopeNeed(READ_MEETING, "event meeting.created, meeting.updated, meeting.deleted"),
        ScopeNeed(READ_PARTICIPANT, "event meeting.participant_jbh_joined, _jbh_waiting"),
        ScopeNeed("webinar:read:webinar:admin", "event webinar.created, .updated, .deleted"),
        ScopeNeed(READ_RECORDING, "event recording.started, .resumed, .completed, .recovered"),
        ScopeNeed("meeting:read:ai_companion:admin", "event meeting.ai_companion_started"),
        ScopeNeed("meeting:read:summary:admin", "event meeting.summary_completed"),
        ScopeNeed("meeting:read:livestream:admin", "event meeting.live_streaming_started"),
        ScopeNeed("meeting:read:chat_message:admin", "event meeting.chat_message_file_sent"),
        ScopeNeed(READ_ACCOUNT_SETTING, "event account.settings_updated"),
        ScopeNeed(READ_ACCOUNT_LOCKS, "event account.lock_settings_updated"),
    ),
}


def feature_scopes(feature: str) -> list[str]:
    """The scopes of one feature, each once, in the table's order."""
    return list(dict.fromkeys(need.scope for need in FEATURE_SCOPES[feature]))


def missing_scopes(granted: Iterable[str], features: Iterable[str]) -> dict[str, list[str]]:
    """``{scope: [features that need it]}`` for every scope the enabled features need that is
    not in ``granted`` (the token response's ``scope``, split on spaces)."""
    have = set(granted)
    missing: dict[str, list[str]] = {}
    for feature in features:
        for scope in feature_scopes(feature):
            if scope not in have:
                missing.setdefault(scope, []).append(feature)
    return missing


def describe_missing(missing: dict[str, list[str]]) -> str:
    """One line: ``meeting:read:list_meetings:admin (for sweep), ...``."""
    return ", ".join(
        f"{scope} (for {' and '.join(features)})" for scope, features in missing.items()
    )


# What each feature is for, in the README's words.
FEATURE_TITLES: Final[dict[str, str]] = {
    SWEEP: "for the sweep (list users, meetings and webinars, read and fix each)",
    BASELINE: "for the account baseline (settings and locks of the account, groups and users)",
    RECORDINGS: "for cloud recordings (find and remove them)",
    LIVE_CONTROLS: (
        "for live controls (stop a recording, AI Companion or a live stream, end a meeting, "
        "delete a meeting summary)"
    ),
    WEBHOOKS: "for webhooks",
}


def readme_scope_list() -> str:
    """The README's scope list, generated from the table (``tests/test_scopes.py`` compares)."""
    lines = []
    for feature, title in FEATURE_TITLES.items():
        scopes = ", ".join(f"`{scope}`" for scope in feature_scopes(feature))
        lines.append(f"- {title}: {scopes}")
    return "\n".join(lines)
