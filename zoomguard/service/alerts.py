"""What the privacy officer is told about each finding: category, timing and details."""

from __future__ import annotations

import functools
from typing import Any

from zoomguard.config import Settings
from zoomguard.notify.categories import delivery_for, parse_immediate_categories
from zoomguard.rules import policy
from zoomguard.service.failures import FixFailure
from zoomguard.service.outcome import MeetingOutcome


def masked(path: str, value: Any) -> Any:
    # The passcode itself must never reach the audit log, a report or an email.
    if path.split(".")[-1] in {"password", "pstn_password", "h323_password", "encrypted_password"}:
        return "(set)" if value else "(none)"
    return value


# What the officer should do when a fix could not be made; the advice about a rule itself
# (whatever the fix did) is the rule's own, in zoomguard.rules.meeting_rules.
FAILURE_ACTIONS = {
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


def alert_category(status: str, failure: FixFailure | None, rule_id: str) -> str:
    if status == "failed":
        if failure is FixFailure.UPDATE_CAP:
            return "meeting.update_cap"
        return "meeting.fix_failed"
    if rule_id == policy.IDENTIFYING_INFORMATION:
        return "meeting.identifying_information"
    return f"meeting.{status}"


@functools.cache
def _immediate(text: str | None) -> frozenset[str]:
    return parse_immediate_categories(text)


def delivery(settings: Settings, category: str) -> str:
    """ "immediate" or "digest" for a category, as ZOOMGUARD_ALERT_IMMEDIATE says."""
    return delivery_for(category, _immediate(settings.alert_immediate))


def alert_delivery(
    settings: Settings, status: str, failure: FixFailure | None, rule_id: str
) -> str:
    return delivery(settings, alert_category(status, failure, rule_id))


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
                "before": masked(finding.field, finding.actual),
                "after": outcome.after.get(finding.rule_id),
            }
        )
    detail = outcome.details.get(finding.rule_id)
    officer_action: str | None = None
    if status == "failed":
        capped = outcome.failures.get(finding.rule_id) is FixFailure.UPDATE_CAP
        key = "daily_update_limit" if capped else "failed"
        officer_action = FAILURE_ACTIONS[key]
    elif rule is not None:
        officer_action = rule.advice
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
