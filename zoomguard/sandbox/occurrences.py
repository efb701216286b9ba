"""Occurrences of a recurring meeting (type 8) with their own settings.

Zoom lets a single occurrence differ from its series: ``PATCH /meetings/{id}?occurrence_id=``
changes the agenda, start time, duration and a few settings (the OpenAPI document lists
``host_video``, ``participant_video``, ``join_before_host``, ``mute_upon_entry``,
``waiting_room``, ``watermark`` and ``auto_recording``) of that occurrence only, and emits
``meeting.updated`` with ``scope: "single"``. ``GET /meetings/{id}?occurrence_id=`` returns the
meeting as that occurrence has it. The sandbox keeps each occurrence's own values in
``state.occurrence_settings``; a PATCH of the series leaves them alone (the stricter reading:
an occurrence that breaks a rule is fixed only through its own ``occurrence_id``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from zoomguard.sandbox.meetings import MeetingValidationError, validate_patch
from zoomguard.sandbox.model import iso, parse_iso

if TYPE_CHECKING:
    from zoomguard.sandbox.state import SandboxState

OCCURRENCE_SETTINGS = frozenset(
    {
        "host_video",
        "participant_video",
        "join_before_host",
        "mute_upon_entry",
        "waiting_room",
        "watermark",
        "auto_recording",
    }
)
OCCURRENCE_FIELDS = frozenset({"agenda", "start_time", "duration"})


def find_occurrence(meeting: Mapping[str, Any], occurrence_id: str) -> dict[str, Any] | None:
    for occurrence in meeting.get("occurrences", ()):
        if occurrence.get("occurrence_id") == occurrence_id:
            return dict(occurrence)
    return None


def upcoming_view(meeting: Mapping[str, Any], *, show_previous: bool) -> dict[str, Any]:
    """GET of a series: its occurrences from now on, unless ``show_previous_occurrences``."""
    view = copy.deepcopy(dict(meeting))
    if "occurrences" in view and not show_previous:
        now = datetime.now(UTC)
        view["occurrences"] = [
            o for o in view["occurrences"] if parse_iso(o["start_time"]) + _length(o) >= now
        ]
    return view


def _length(occurrence: Mapping[str, Any]) -> timedelta:
    return timedelta(minutes=int(occurrence.get("duration", 0) or 0))


def occurrence_view(
    state: SandboxState, meeting: Mapping[str, Any], occurrence_id: str
) -> dict[str, Any] | None:
    """GET /meetings/{id}?occurrence_id=: the meeting as this occurrence has it, or None."""
    occurrence = find_occurrence(meeting, occurrence_id)
    if occurrence is None:
        return None
    own = state.occurrence_settings.get((int(meeting["id"]), occurrence_id), {})
    view = copy.deepcopy(dict(meeting))
    view["start_time"] = occurrence["start_time"]
    view["duration"] = occurrence.get("duration", view.get("duration"))
    for name in OCCURRENCE_FIELDS - {"start_time", "duration"}:
        if name in own:
            view[name] = own[name]
    view["settings"] = {**view["settings"], **own.get("settings", {})}
    view["occurrences"] = [occurrence]
    return view


def update_occurrence(
    state: SandboxState,
    meeting_id: int,
    occurrence_id: str,
    body: Mapping[str, Any],
    *,
    operator_id: str | None,
) -> None:
    """Apply a PATCH ?occurrence_id= and emit meeting.updated with scope "single".

    Raises MeetingValidationError for a body Zoom would refuse, KeyError for an unknown one."""
    clean = validate_patch(dict(body))
    unsupported = sorted(
        {k for k in clean if k != "settings"} - OCCURRENCE_FIELDS
        | {f"settings.{k}" for k in clean.get("settings", {}) if k not in OCCURRENCE_SETTINGS}
    )
    if unsupported:
        raise MeetingValidationError(unsupported[0], "Not supported for a single occurrence.")
    with state.lock:
        meeting = state.meetings[meeting_id]
        before = occurrence_view(state, meeting, occurrence_id)
        if before is None:
            raise KeyError(occurrence_id)
        own = state.occurrence_settings.setdefault((meeting_id, occurrence_id), {})
        for name in OCCURRENCE_FIELDS & set(clean):
            own[name] = clean[name]
        settings = dict(clean.get("settings", {}))
        if state.config.waiting_room_disables_join_before_host and settings.get("waiting_room"):
            settings["join_before_host"] = False  # as Zoom does
        own.setdefault("settings", {}).update(settings)
        for occurrence in meeting["occurrences"]:
            if occurrence["occurrence_id"] == occurrence_id:
                if "start_time" in clean:
                    occurrence["start_time"] = iso(parse_iso(clean["start_time"]))
                if "duration" in clean:
                    occurrence["duration"] = clean["duration"]
        after = occurrence_view(state, meeting, occurrence_id)
        assert after is not None
        changed = {
            k: after["settings"][k]
            for k in after["settings"]
            if before["settings"].get(k) != after["settings"][k]
        }
        if not changed and after["start_time"] == before["start_time"]:
            return
        email, op_id = state.operator(operator_id)
        marker = [{"occurrence_id": occurrence_id, "start_time": after["start_time"]}]
        obj = {"id": meeting_id, "uuid": meeting["uuid"], "host_id": meeting["host_id"]}
        state._emit(
            "meeting.updated",
            {
                "operator": email,
                "operator_id": op_id,
                "scope": "single",
                "object": {**obj, "occurrences": marker, "settings": changed},
                "old_object": {
                    **obj,
                    "occurrences": marker,
                    "settings": {k: before["settings"].get(k) for k in changed},
                },
                "time_stamp": int(time.time() * 1000),
            },
        )
