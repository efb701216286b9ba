"""The /v2 route table: which handler answers each path and method, and its rate-limit category.

Handlers turn one call into a ``Reply`` with Zoom's status, body and error codes; they live in
api_meetings.py, api_webinars.py, api_recordings.py, api_records.py (summaries, live
streams) and api_accounts.py (users, groups, account settings), and share replies.py. HTTP
plumbing (auth, limits, latency, faults, the request log) is in app.py.
"""

from __future__ import annotations

from zoomguard.sandbox.api_accounts import (
    get_account_locks,
    get_account_settings,
    get_group,
    get_group_locks,
    get_group_settings,
    get_user,
    get_user_settings,
    group_members,
    list_groups,
    list_users,
    patch_account_locks,
    patch_account_settings,
    patch_group_locks,
    patch_group_settings,
    patch_user_settings,
)
from zoomguard.sandbox.api_meetings import (
    create_meeting,
    delete_meeting,
    get_meeting,
    list_meetings,
    live_meeting_events,
    meeting_status,
    patch_meeting,
)
from zoomguard.sandbox.api_recordings import (
    delete_recording_file,
    delete_recordings,
    get_recordings,
    list_user_recordings,
)
from zoomguard.sandbox.api_records import (
    delete_meeting_summary,
    get_meeting_summary,
    livestream_status,
)
from zoomguard.sandbox.api_webinars import (
    delete_webinar,
    get_webinar,
    list_webinars,
    patch_webinar,
)
from zoomguard.sandbox.config import LIGHT, MEDIUM
from zoomguard.sandbox.replies import Call, Handler, Reply, error

__all__ = ["ROUTES", "Call", "Handler", "Reply", "error"]

# (path under /v2, {method: (handler, rate-limit category)}) — categories from each operation's
# "Rate Limit Label" in Zoom's OpenAPI documents.
ROUTES: tuple[tuple[str, dict[str, tuple[Handler, str]]], ...] = (
    ("/users", {"GET": (list_users, MEDIUM)}),
    ("/users/<user_id>", {"GET": (get_user, LIGHT)}),
    (
        "/users/<user_id>/meetings",
        {"GET": (list_meetings, MEDIUM), "POST": (create_meeting, LIGHT)},
    ),
    ("/users/<user_id>/recordings", {"GET": (list_user_recordings, MEDIUM)}),
    ("/users/<user_id>/webinars", {"GET": (list_webinars, MEDIUM)}),
    (
        "/users/<user_id>/settings",
        {"GET": (get_user_settings, MEDIUM), "PATCH": (patch_user_settings, MEDIUM)},
    ),
    (
        "/meetings/<meeting_id>",
        {
            "GET": (get_meeting, LIGHT),
            "PATCH": (patch_meeting, LIGHT),
            "DELETE": (delete_meeting, LIGHT),
        },
    ),
    (
        "/webinars/<webinar_id>",
        {
            "GET": (get_webinar, LIGHT),
            "PATCH": (patch_webinar, LIGHT),
            "DELETE": (delete_webinar, LIGHT),
        },
    ),
    ("/meetings/<meeting_id>/status", {"PUT": (meeting_status, LIGHT)}),
    (
        "/meetings/<meeting_id>/recordings",
        {"GET": (get_recordings, LIGHT), "DELETE": (delete_recordings, LIGHT)},
    ),
    (
        "/meetings/<meeting_id>/recordings/<recording_id>",
        {"DELETE": (delete_recording_file, LIGHT)},
    ),
    (
        "/meetings/<meeting_id>/meeting_summary",
        {"GET": (get_meeting_summary, LIGHT), "DELETE": (delete_meeting_summary, LIGHT)},
    ),
    ("/meetings/<meeting_id>/livestream/status", {"PATCH": (livestream_status, LIGHT)}),
    ("/live_meetings/<meeting_id>/events", {"PATCH": (live_meeting_events, MEDIUM)}),
    ("/groups", {"GET": (list_groups, MEDIUM)}),
    ("/groups/<group_id>", {"GET": (get_group, LIGHT)}),
    ("/groups/<group_id>/members", {"GET": (group_members, MEDIUM)}),
    (
        "/groups/<group_id>/settings",
        {"GET": (get_group_settings, MEDIUM), "PATCH": (patch_group_settings, MEDIUM)},
    ),
    (
        "/groups/<group_id>/lock_settings",
        {"GET": (get_group_locks, MEDIUM), "PATCH": (patch_group_locks, MEDIUM)},
    ),
    (
        "/accounts/<account_id>/settings",
        {"GET": (get_account_settings, MEDIUM), "PATCH": (patch_account_settings, MEDIUM)},
    ),
    (
        "/accounts/<account_id>/lock_settings",
        {"GET": (get_account_locks, MEDIUM), "PATCH": (patch_account_locks, MEDIUM)},
    ),
)
