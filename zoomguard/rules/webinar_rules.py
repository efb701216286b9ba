"""The catalog of per-webinar rules: the meeting rules' twins for Zoom's separate webinar API.

A webinar (``GET /webinars/{webinarId}``) is a meeting broadcast to attendees: the same guidance
applies, but its JSON differs (types 5, 6 and 9; ``settings.on_demand``; no waiting room or
join-before-host). Each rule is declared once here, like those of ``meeting_rules``; the policy
file's ``[rules]`` table switches them by id, and the README and default policy list them after
the meeting rules.

An on-demand webinar is recorded and offered to registrants afterwards, so it is a recording
and breaks "not recorded" as auto-recording does. Zoom's webinar document has no AI Companion
field today; the AI Companion rule judges ``settings.auto_start_meeting_summary`` only where a
webinar carries it, and a webinar without it complies.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from zoomguard.rules import guidance_quotes as quotes
from zoomguard.rules.rule_types import (
    MISSING,
    Fix,
    HostSettings,
    MeetingRule,
    Outcome,
    Unreadable,
    Violation,
    json_type,
    setting_must_be,
)

WEBINAR_PASSCODE: Final = "webinar_passcode"
WEBINAR_NO_AUTO_RECORDING: Final = "webinar_no_auto_recording"
WEBINAR_NOT_ON_DEMAND: Final = "webinar_not_on_demand"
WEBINAR_AI_COMPANION_OFF: Final = "webinar_ai_companion_off"

# 5 webinar, 6 recurring without a fixed time, 9 recurring with a fixed time: every type
# GET /webinars/{webinarId} may return.
WEBINAR_TYPES: Final[frozenset[int]] = frozenset({5, 6, 9})


def _check_passcode(
    webinar: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings
) -> Outcome:
    password = webinar.get("password", MISSING)
    if isinstance(password, str) and password:
        return None
    if password is not MISSING and not isinstance(password, str):
        return Unreadable("password", "a string", json_type(password))
    # Never the passcode itself in a finding: "" (empty) or None (absent) is all we report.
    return Violation(
        expected="a passcode",
        actual=None if password is MISSING else "",
        problem="The webinar has no passcode, so anyone who gets the link can join.",
    )


def _check_auto_recording(
    webinar: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings
) -> Outcome:
    value = settings.get("auto_recording", MISSING)
    if value == "none":
        return None
    if value is MISSING:
        problem = "The webinar does not say whether it records automatically."
    elif isinstance(value, str):
        problem = f"The webinar records automatically ({value} recording) when it starts."
    else:
        return Unreadable("settings.auto_recording", 'a string such as "none"', json_type(value))
    return Violation(expected="none", actual=None if value is MISSING else value, problem=problem)


_check_on_demand = setting_must_be(
    "on_demand",
    False,
    "The webinar is on demand: it is recorded and the recording is offered to registrants "
    "afterwards.",
)


def _check_ai_companion(
    webinar: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings
) -> Outcome:
    value = settings.get("auto_start_meeting_summary", MISSING)
    if value is MISSING or value is False:
        return None  # a webinar without the field has no AI Companion summary to switch off
    if not isinstance(value, bool):
        return Unreadable("settings.auto_start_meeting_summary", "true or false", json_type(value))
    return Violation(
        expected=False,
        actual=True,
        problem="AI Companion writes a summary of what is said in the webinar as soon as it "
        "starts.",
    )


WEBINAR_RULES: Final[Mapping[str, MeetingRule]] = MappingProxyType(
    {
        rule.id: rule
        for rule in (
            MeetingRule(
                id=WEBINAR_PASSCODE,
                title="Participants need a passcode to join the webinar",
                default=True,
                guidance=quotes.PASSCODE_TO_ACCESS,
                field="password",
                check=_check_passcode,
                fix=Fix("password", new_passcode=True),
                checks_text="webinar `password` is set",
                fix_text="a random 10-character passcode",
            ),
            MeetingRule(
                id=WEBINAR_NO_AUTO_RECORDING,
                title="The webinar is not recorded automatically",
                default=True,
                guidance=quotes.NOT_RECORDED,
                field="settings.auto_recording",
                check=_check_auto_recording,
                fix=Fix("settings.auto_recording", "none"),
                checks_text="webinar `settings.auto_recording` is `none`",
                fix_text="set to `none`",
            ),
            MeetingRule(
                id=WEBINAR_NOT_ON_DEMAND,
                title="The webinar is not offered on demand (as a recording) afterwards",
                default=True,
                guidance=quotes.NOT_RECORDED,
                field="settings.on_demand",
                check=_check_on_demand,
                fix=Fix("settings.on_demand", False),
                checks_text="webinar `settings.on_demand` is false",
                fix_text="turned off",
            ),
            MeetingRule(
                id=WEBINAR_AI_COMPANION_OFF,
                title="AI Companion does not summarise the webinar",
                default=True,
                guidance=quotes.NOT_RECORDED,
                field="settings.auto_start_meeting_summary",
                check=_check_ai_companion,
                fix=Fix("settings.auto_start_meeting_summary", False),
                checks_text="webinar `settings.auto_start_meeting_summary` is false where the "
                "webinar has it",
                fix_text="turned off",
            ),
        )
    }
)
