"""The scopes each /v2 operation of the sandbox requires, copied from Zoom's OpenAPI documents.

Each entry is ``(route, method): (granular scopes, classic "macro" scopes)`` from the operation's
``x-extensions`` (``x-granular-scopes``, ``x-macro-scopes``; together they are its ``security``
list). A token needs any one of them. ``tests/test_sandbox_scopes.py`` holds this table to the
documents, so regenerate it from there when a route is added: the failing test prints the entry.

Generated once rather than parsed at start-up: the sandbox then runs without the documents.
"""

from __future__ import annotations

from typing import Final

OPERATION_SCOPES: Final[dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]]] = {
    ("/users", "GET"): (
        ("user:read:list_users:admin",),
        ("user:read", "user:write", "user:read:admin", "user:write:admin"),
    ),
    ("/users/<user_id>", "GET"): (
        ("user:read:user", "user:read:user:admin"),
        (
            "user:read",
            "user:write",
            "user:read:admin",
            "user:write:admin",
            "user_profile",
            "user_info:read",
        ),
    ),
    ("/users/<user_id>/meetings", "GET"): (
        ("meeting:read:list_meetings", "meeting:read:list_meetings:admin"),
        ("meeting:read:admin", "meeting:read"),
    ),
    ("/users/<user_id>/meetings", "POST"): (
        ("meeting:write:meeting", "meeting:write:meeting:admin"),
        ("meeting:write:admin", "meeting:write"),
    ),
    ("/users/<user_id>/recordings", "GET"): (
        (
            "cloud_recording:read:list_user_recordings",
            "cloud_recording:read:list_user_recordings:master",
            "cloud_recording:read:list_user_recordings:admin",
        ),
        ("recording:read:admin", "recording:read"),
    ),
    ("/users/<user_id>/webinars", "GET"): (
        ("webinar:read:list_webinars", "webinar:read:list_webinars:admin"),
        ("webinar:read:admin", "webinar:read"),
    ),
    ("/users/<user_id>/settings", "GET"): (
        ("user:read:settings", "user:read:settings:admin"),
        ("user:read", "user:write", "user:read:admin", "user:write:admin"),
    ),
    ("/users/<user_id>/settings", "PATCH"): (
        ("user:update:settings", "user:update:settings:admin"),
        ("user:write:admin", "user:write"),
    ),
    ("/meetings/<meeting_id>", "GET"): (
        ("meeting:read:meeting", "meeting:read:meeting:admin"),
        ("meeting:read", "meeting:read:admin"),
    ),
    ("/meetings/<meeting_id>", "PATCH"): (
        ("meeting:update:meeting:admin", "meeting:update:meeting"),
        ("meeting:write", "meeting:write:admin"),
    ),
    ("/meetings/<meeting_id>", "DELETE"): (
        ("meeting:delete:meeting", "meeting:delete:meeting:admin"),
        ("meeting:write:admin", "meeting:write"),
    ),
    ("/webinars/<webinar_id>", "GET"): (
        ("webinar:read:webinar", "webinar:read:webinar:admin"),
        ("webinar:read:admin", "webinar:read"),
    ),
    ("/webinars/<webinar_id>", "PATCH"): (
        ("webinar:update:webinar", "webinar:update:webinar:admin"),
        ("webinar:write", "webinar:write:admin"),
    ),
    ("/webinars/<webinar_id>", "DELETE"): (
        ("webinar:delete:webinar", "webinar:delete:webinar:admin"),
        ("webinar:write:admin", "webinar:write"),
    ),
    ("/meetings/<meeting_id>/status", "PUT"): (
        ("meeting:update:status", "meeting:update:status:admin"),
        ("meeting:write:admin", "meeting:write"),
    ),
    ("/meetings/<meeting_id>/recordings", "GET"): (
        (
            "cloud_recording:read:list_recording_files:admin",
            "cloud_recording:read:list_recording_files",
            "cloud_recording:read:list_recording_files:master",
        ),
        ("recording:read", "phone_recording:read:admin"),
    ),
    ("/meetings/<meeting_id>/recordings", "DELETE"): (
        (
            "cloud_recording:delete:meeting_recording",
            "cloud_recording:delete:meeting_recording:admin",
            "cloud_recording:delete:meeting_recording:master",
        ),
        ("recording:write:admin", "recording:write"),
    ),
    ("/meetings/<meeting_id>/recordings/<recording_id>", "DELETE"): (
        (
            "cloud_recording:delete:recording_file",
            "cloud_recording:delete:recording_file:admin",
            "cloud_recording:delete:recording_file:master",
        ),
        ("recording:write:admin", "recording:write"),
    ),
    ("/meetings/<meeting_id>/meeting_summary", "GET"): (
        ("meeting:read:summary", "meeting:read:summary:admin"),
        ("meeting_summary:read", "meeting_summary:read:admin"),
    ),
    ("/meetings/<meeting_id>/meeting_summary", "DELETE"): (
        ("meeting:delete:summary", "meeting:delete:summary:admin"),
        ("meeting_summary:write", "meeting_summary:write:admin"),
    ),
    ("/meetings/<meeting_id>/livestream/status", "PATCH"): (
        ("meeting:update:livestream_status", "meeting:update:livestream_status:admin"),
        ("meeting:write:admin", "meeting:write"),
    ),
    ("/live_meetings/<meeting_id>/events", "PATCH"): (
        ("meeting:update:in_meeting_controls", "meeting:update:in_meeting_controls:admin"),
        ("meeting:write", "meeting:write:admin", "meeting:master"),
    ),
    ("/groups", "GET"): (
        ("group:read:list_groups:admin",),
        ("group:read:admin", "group:write:admin"),
    ),
    ("/groups/<group_id>", "GET"): (
        ("group:read:group:admin",),
        ("group:read:admin", "group:write:admin"),
    ),
    ("/groups/<group_id>/members", "GET"): (
        ("group:read:list_members:admin",),
        ("group:read:admin", "group:write:admin"),
    ),
    ("/groups/<group_id>/settings", "GET"): (
        ("group:read:settings:admin",),
        ("group:read:admin", "group:write:admin"),
    ),
    ("/groups/<group_id>/settings", "PATCH"): (
        ("group:update:settings:admin",),
        ("group:write:admin",),
    ),
    ("/groups/<group_id>/lock_settings", "GET"): (
        ("group:read:lock_settings:admin",),
        ("group:read:admin", "group:write:admin"),
    ),
    ("/groups/<group_id>/lock_settings", "PATCH"): (
        ("group:update:lock_settings:admin",),
        ("group:write:admin",),
    ),
    ("/accounts/<account_id>/settings", "GET"): (
        ("account:read:settings:admin", "account:read:settings:master"),
        ("account:read:admin",),
    ),
    ("/accounts/<account_id>/settings", "PATCH"): (
        ("account:update:settings:admin", "account:update:settings:master"),
        ("account:write:admin",),
    ),
    ("/accounts/<account_id>/lock_settings", "GET"): (
        ("account:read:lock_settings:master",),
        ("account:read:admin",),
    ),
    ("/accounts/<account_id>/lock_settings", "PATCH"): (
        ("account:update:lock_settings:master", "account:update:lock_settings:admin"),
        ("account:write:admin",),
    ),
}

MISSING_SCOPE_CODE: Final = 4711


def missing_scopes(route: str, method: str, granted: str) -> tuple[str, ...]:
    """The granular scopes to name when a token with ``granted`` (the token response's
    space-separated ``scope``) may not call ``method route``; empty when it may.

    Zoom names the operation's granular scopes in its answer, so a new granular app sees what
    to add; a route missing from the table needs no scope (the sandbox's own additions)."""
    accepted = OPERATION_SCOPES.get((route, method))
    if accepted is None:
        return ()
    granular, classic = accepted
    if set(granted.split()) & {*granular, *classic}:
        return ()
    return granular


def missing_scopes_message(scopes: tuple[str, ...]) -> str:
    return f"Invalid access token, does not contain scopes:[{', '.join(scopes)}]"
