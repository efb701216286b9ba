"""What the privacy officer is told about a baseline setting or a cloud recording found: the
alert's category and its details (the words a person reads)."""

from __future__ import annotations

from typing import Any

from zoomguard.notify import (
    MEETING_FIX_FAILED,
    MEETING_FIXED,
    MEETING_REPORTED,
    SETTINGS_BASELINE,
    SETTINGS_BASELINE_FAILED,
)
from zoomguard.rules import baseline as bl
from zoomguard.rules.baseline_items import BASELINE_CLOUD_RECORDING, BASELINE_PMI_PASSCODE
from zoomguard.service.baseline.common import Target

_OFFICER_ACTIONS = {
    bl.FAILED: (
        "Check the setting in the Zoom web portal (Account Management > Account Settings, and "
        "the group's or user's settings), set it to the baseline value and lock it by hand."
    ),
    bl.REPORTED: (
        'Decide whether to let zoomguard enforce the baseline (mode = "enforce"), or change '
        "and lock the setting in the Zoom web portal."
    ),
}


def past(action: str) -> str:
    """``trash`` -> ``trashed``: a recording action as done."""
    return {"trash": "trashed", "delete": "deleted"}.get(action, action)


def setting_category(result: bl.SettingResult) -> str:
    if result.item_id == BASELINE_PMI_PASSCODE:
        # The PMI is a meeting: the officer hears about it as about any noncompliant meeting.
        return {bl.FIXED: MEETING_FIXED, bl.FAILED: MEETING_FIX_FAILED}.get(
            result.status, MEETING_REPORTED
        )
    if result.status == bl.FAILED:
        return SETTINGS_BASELINE_FAILED
    return SETTINGS_BASELINE


def _describe_target(target: Target) -> str:
    if target.level == bl.ACCOUNT:
        return "the account"
    label = "group" if target.level == bl.GROUP else "user"
    return f"{label} {target.name or target.ident}"


def _yes_no(value: bool | None) -> str:
    return "no lock at this level" if value is None else ("yes" if value else "no")


def _show(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _reason(target: Target, result: bl.SettingResult) -> str:
    where = _describe_target(target)
    if result.actual == result.desired and result.locked_before is False:
        return (
            f"For {where}, {result.field} is {_show(result.actual)} as the baseline wants, but it "
            "is not locked, so groups and users can change it."
        )
    if result.item_id == BASELINE_PMI_PASSCODE:
        return (
            f"The Personal Meeting ID room of {where} has no passcode, so anyone who has the "
            "link can join it."
        )
    return (
        f"For {where}, {result.field} is {_show(result.actual)}; the baseline wants "
        f"{_show(result.desired)}."
    )


def setting_alert(target: Target, result: bl.SettingResult) -> dict[str, Any]:
    changed = result.status in (bl.FIXED, bl.FAILED) and result.after is not None
    changes = (
        [{"field": result.field, "before": result.actual, "after": result.after}] if changed else []
    )
    target_text = target.target + (f" ({target.name})" if target.name else "")
    return {
        "meeting_id": target.pmi if result.item_id == BASELINE_PMI_PASSCODE else None,
        "topic": None,
        "host_email": target.name if target.level == bl.USER else None,
        "start_time": None,
        "rule_id": result.rule_id,
        "rule": result.item.title,
        "reason": _reason(target, result),
        "guidance": result.item.guidance,
        "status": result.status,
        "changes": changes,
        "confirmed": (result.status == bl.FIXED) if changed else None,
        "failure": result.detail if result.status == bl.FAILED else None,
        "officer_action": _OFFICER_ACTIONS.get(result.status),
        "target": target_text,
        "enforcement": result.enforcement,
        "locked_before": _yes_no(result.locked_before),
        "locked_after": _yes_no(result.locked_after),
    }


def recording_alert(result: bl.RecordingResult, status: str) -> dict[str, Any]:
    removed = result.action in ("trashed", "deleted")
    return {
        "meeting_id": result.meeting_id,
        "topic": result.topic,
        "host_email": result.host_email,
        "start_time": result.start_time,
        "rule_id": bl.RECORDING_RULE_ID,
        "rule": "Meetings are not recorded: existing cloud recordings are removed",
        "reason": (
            f"A cloud recording of this meeting ({result.files} file(s)) was found in the account."
        ),
        "guidance": bl.ITEMS[BASELINE_CLOUD_RECORDING].guidance,
        "status": status,
        "changes": [
            {
                "field": "cloud recording",
                "before": f"{result.files} file(s)",
                "after": result.action,
            }
        ]
        if removed or result.action == "failed"
        else [],
        "confirmed": removed if removed or result.action == "failed" else None,
        "failure": result.detail if result.action == "failed" else None,
        "officer_action": None,
        "recording_instance": result.uuid,
    }
