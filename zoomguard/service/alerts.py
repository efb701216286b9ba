"""What the privacy officer is told about each finding: category, timing and details."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from zoomguard.config import Settings
from zoomguard.masking import passcode_state
from zoomguard.notify.categories import delivery_for, parse_immediate_categories
from zoomguard.rules import policy

if TYPE_CHECKING:
    from zoomguard.service.enforce import MeetingOutcome


OFFICER_ACTIONS = {
    "identifying_information": (
        "Ask the host to remove the identifying information from the meeting's topic or agenda "
        "(it is visible to every invitee), and remind them that identifying information is "
        "discussed by phone, not video."
    ),
    "daily_update_limit": (
        "Zoom's limit of 100 meeting updates per host per day was reached; zoomguard tries again "
        "on the next sweep after 00:00 UTC. Ask the host to fix the meeting by hand if it starts "
        "before then."
    ),
    "failed": (
        "Check the meeting in the Zoom web portal and the account's locked settings; fix it by "
        "hand or cancel it if it cannot be made compliant."
    ),
}


def alert_category(status: str, detail: str | None, rule_id: str) -> str:
    if status == "failed":
        if detail and "daily update limit" in detail:
            return "meeting.update_cap"
        return "meeting.fix_failed"
    if rule_id == "identifying_information":
        return "meeting.identifying_information"
    return f"meeting.{status}"


@functools.cache
def _immediate(text: str | None) -> frozenset[str]:
    return parse_immediate_categories(text)


def delivery(settings: Settings, category: str) -> str:
    """ "immediate" or "digest" for a category, as ZOOMGUARD_ALERT_IMMEDIATE says."""
    return delivery_for(category, _immediate(settings.alert_immediate))


def alert_delivery(settings: Settings, status: str, detail: str | None, rule_id: str) -> str:
    return delivery(settings, alert_category(status, detail, rule_id))


def alert_details(
    evaluation: policy.Evaluation,
    finding: policy.Finding,
    status: str,
    outcome: MeetingOutcome,
    host_email: str | None,
    settings: Settings,
) -> dict[str, Any]:
    rule = policy.RULES.get(finding.rule_id)
    changes: list[dict[str, Any]] = []
    if status in ("fixed", "failed") and outcome.patched:
        changes.append(
            {
                "field": finding.field,
                "before": passcode_state(finding.field, finding.actual),
                "after": outcome.after.get(finding.rule_id),
            }
        )
    detail = outcome.details.get(finding.rule_id)
    officer_action: str | None = None
    if status == "failed":
        key = "daily_update_limit" if detail and "daily update limit" in detail else "failed"
        officer_action = OFFICER_ACTIONS[key]
    elif finding.rule_id == "identifying_information":
        officer_action = OFFICER_ACTIONS["identifying_information"]
    return {
        "meeting_id": evaluation.meeting_id,
        "topic": evaluation.topic,
        "host_email": host_email,
        "start_time": outcome.start_time,
        "rule_id": finding.rule_id,
        "rule": rule.title if rule else finding.reason,
        "reason": finding.reason,
        "guidance": finding.guidance,
        "status": status,
        "changes": changes,
        "confirmed": outcome.confirmed if outcome.patched else None,
        "failure": detail if status == "failed" else None,
        "officer_action": officer_action,
    }
