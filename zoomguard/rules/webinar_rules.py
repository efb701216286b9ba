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
from typing import Final

from zoomguard.rules import guidance_quotes as quotes
from zoomguard.rules.rule_types import (
    Fix,
    MeetingRule,
    ai_companion_off,
    no_auto_recording,
    passcode_required,
    setting_must_be,
)

WEBINAR_PASSCODE: Final = "webinar_passcode"
WEBINAR_NO_AUTO_RECORDING: Final = "webinar_no_auto_recording"
WEBINAR_NOT_ON_DEMAND: Final = "webinar_not_on_demand"
WEBINAR_AI_COMPANION_OFF: Final = "webinar_ai_companion_off"

# 5 webinar, 6 recurring without a fixed time, 9 recurring with a fixed time: every type
# GET /webinars/{webinarId} may return.
WEBINAR_TYPES: Final[frozenset[int]] = frozenset({5, 6, 9})


_check_on_demand = setting_must_be(
    "on_demand",
    False,
    "The webinar is on demand: it is recorded and the recording is offered to registrants "
    "afterwards.",
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
                check=passcode_required("webinar"),
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
                check=no_auto_recording("webinar"),
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
                check=ai_companion_off(
                    "auto_start_meeting_summary",
                    "AI Companion writes a summary of what is said in the webinar as soon as it "
                    "starts.",
                ),
                fix=Fix("settings.auto_start_meeting_summary", False),
                checks_text="webinar `settings.auto_start_meeting_summary` is false where the "
                "webinar has it",
                fix_text="turned off",
            ),
        )
    }
)
