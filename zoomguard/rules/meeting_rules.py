"""The catalog of per-meeting rules: each rule declared once, with everything about it.

A rule's entry holds its id (the key in a policy file's ``[rules]`` table), its default, the
guidance sentence it comes from, the meeting field(s) it reads, its check, its fix (its part of
the single PATCH body), the privacy officer's advice, and the two phrases the README and the
default policy file show. The profile's keys and defaults, the README table and
``zoomguard/policies/default.toml`` are all derived from ``MEETING_RULES`` (tests hold them to
it), so adding a rule is one entry here, plus the field in the sandbox's meeting model.

``MEETING_RULES`` is in the order findings are listed. The last two go beyond what the
guidance asks of a meeting, so they are opt-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from zoomguard.rules import guidance_quotes as quotes
from zoomguard.rules.identifying import REDACTED, find_identifying, redact
from zoomguard.rules.rule_types import (
    MISSING,
    Fix,
    MeetingRule,
    Outcome,
    Rule,
    Unreadable,
    Violation,
    json_type,
    setting_must_be,
)
from zoomguard.rules.webinar_rules import WEBINAR_RULES

PASSCODE: Final = "passcode"
WAITING_ROOM: Final = "waiting_room"
JOIN_BEFORE_HOST_OFF: Final = "join_before_host_off"
NO_AUTO_RECORDING: Final = "no_auto_recording"
IDENTIFYING_INFORMATION: Final = "identifying_information"
MEETING_AUTHENTICATION: Final = "meeting_authentication"
NO_PMI: Final = "no_pmi"
# Not a rule a policy file switches: the finding for a meeting zoomguard could not read.
UNREADABLE: Final = "unreadable"

PMI_MEETING_TYPE: Final = 4


# Checks that need more than ``setting_must_be`` -------------------------------------------------


def _check_passcode(meeting: Mapping[str, Any], settings: Mapping[str, Any]) -> Outcome:
    password = meeting.get("password", MISSING)
    if isinstance(password, str) and password:
        return None
    if password is not MISSING and not isinstance(password, str):
        return Unreadable("password", "a string", json_type(password))
    # Never the passcode itself in a finding: "" (empty) or None (absent) is all we report.
    return Violation(
        expected="a passcode",
        actual=None if password is MISSING else "",
        problem="The meeting has no passcode, so anyone who gets the link can join.",
    )


def _check_auto_recording(meeting: Mapping[str, Any], settings: Mapping[str, Any]) -> Outcome:
    value = settings.get("auto_recording", MISSING)
    if value == "none":
        return None
    if value is MISSING:
        problem = "The meeting does not say whether it records automatically."
    elif isinstance(value, str):
        problem = f"The meeting records automatically ({value} recording) when it starts."
    else:
        return Unreadable("settings.auto_recording", 'a string such as "none"', json_type(value))
    return Violation(expected="none", actual=None if value is MISSING else value, problem=problem)


def _check_identifying_information(
    meeting: Mapping[str, Any], settings: Mapping[str, Any]
) -> Outcome:
    flagged: list[tuple[str, str, list[str]]] = []  # (field, redacted text, kinds)
    for key in ("topic", "agenda"):
        text = meeting.get(key)
        if text is None:  # no text, nothing to find
            continue
        if not isinstance(text, str):
            return Unreadable(key, "a string", json_type(text))
        kinds = sorted({match.description for match in find_identifying(text)})
        if kinds:
            flagged.append((key, redact(text), kinds))
    if not flagged:
        return None
    found = "; ".join(f"the {key} holds {' and '.join(kinds)}" for key, _, kinds in flagged)
    if len(flagged) == 1:
        actual = flagged[0][1]
    else:
        actual = "\n".join(f"{key}: {text}" for key, text, _ in flagged)
    return Violation(
        expected="no identifying information",
        actual=actual,
        problem=f"In this meeting {found} (shown here as {REDACTED}).",
        fixable=False,
        field=", ".join(key for key, _, _ in flagged),  # only the fields that hold it
    )


_check_use_pmi = setting_must_be(
    "use_pmi",
    False,
    "The meeting uses the host's Personal Meeting ID, a permanent link that everyone invited "
    "before can reuse.",
)


def _check_no_pmi(meeting: Mapping[str, Any], settings: Mapping[str, Any]) -> Outcome:
    if meeting.get("type") == PMI_MEETING_TYPE:
        # The meeting *is* the host's personal room: no setting of it can change that.
        return Violation(
            expected="a meeting with its own ID",
            actual=PMI_MEETING_TYPE,
            problem="This is the host's Personal Meeting ID room, a permanent link that everyone "
            "invited before can reuse.",
            fixable=False,
        )
    return _check_use_pmi(meeting, settings)


# The catalog ----------------------------------------------------------------------------------

MEETING_RULES: Final[Mapping[str, MeetingRule]] = MappingProxyType(
    {
        rule.id: rule
        for rule in (
            MeetingRule(
                id=PASSCODE,
                title="Participants need a passcode to join the meeting",
                default=True,
                guidance=quotes.PASSCODE_TO_ACCESS,
                field="password",
                check=_check_passcode,
                fix=Fix("password", new_passcode=True),
                checks_text="meeting `password` is set",
                fix_text="a random 10-character passcode",
            ),
            MeetingRule(
                id=WAITING_ROOM,
                title="The waiting room is on, so the host admits each participant",
                default=True,
                guidance=quotes.PARTICIPANTS_IDENTIFIED,
                field="settings.waiting_room",
                check=setting_must_be(
                    "waiting_room",
                    True,
                    "The waiting room is off, so people join without the host admitting them.",
                ),
                fix=Fix("settings.waiting_room", True),
                checks_text="`settings.waiting_room` is true",
                fix_text="turned on",
            ),
            MeetingRule(
                id=JOIN_BEFORE_HOST_OFF,
                title="No one can join before the host",
                default=True,
                guidance=quotes.NO_ONE_BEFORE_HOST,
                field="settings.join_before_host",
                check=setting_must_be(
                    "join_before_host", False, "Participants can join before the host."
                ),
                fix=Fix("settings.join_before_host", False),
                checks_text="`settings.join_before_host` is false",
                fix_text="turned off",
            ),
            MeetingRule(
                id=NO_AUTO_RECORDING,
                title="The meeting is not recorded automatically",
                default=True,
                guidance=quotes.NOT_RECORDED,
                field="settings.auto_recording",
                check=_check_auto_recording,
                fix=Fix("settings.auto_recording", "none"),
                checks_text="`settings.auto_recording` is `none`",
                fix_text="set to `none`",
            ),
            MeetingRule(
                id=IDENTIFYING_INFORMATION,
                title="No identifying information (SIN, birth date, full name, address, PHN) "
                "in the meeting's topic or agenda",
                default=True,
                guidance=quotes.NO_IDENTIFYING_INFORMATION,
                field="topic, agenda",
                check=_check_identifying_information,
                fix=None,
                advice="Ask the host to remove the identifying information from the meeting's "
                "topic or agenda (it is visible to every invitee), and remind them that "
                "identifying information is discussed by phone, not video.",
                checks_text="topic and agenda hold no SIN (Luhn-checked), labelled birth date, "
                "first and last name used together (a first name alone is fine), street address, "
                "Canadian postal code or BC Personal Health Number (check digit)",
                fix_text="report only, text redacted",
            ),
            MeetingRule(
                id=MEETING_AUTHENTICATION,
                title="Only signed-in (authenticated) users can join",
                default=False,
                guidance=quotes.PARTICIPANTS_IDENTIFIED,
                field="settings.meeting_authentication",
                check=setting_must_be(
                    "meeting_authentication",
                    True,
                    "Anyone can join without signing in, so participants are not identified.",
                ),
                fix=Fix("settings.meeting_authentication", True),
                checks_text="authenticated participants only: "
                "`settings.meeting_authentication` is true",
                fix_text="turned on",
            ),
            MeetingRule(
                id=NO_PMI,
                title="The meeting does not use the host's Personal Meeting ID",
                default=False,
                guidance=quotes.PARTICIPANTS_IDENTIFIED,
                field="settings.use_pmi",
                check=_check_no_pmi,
                fix=Fix("settings.use_pmi", False),
                checks_text="no Personal Meeting ID: `settings.use_pmi` is false",
                fix_text="turned off",
            ),
        )
    }
)

UNREADABLE_RULE: Final = Rule(
    id=UNREADABLE,
    title="zoomguard could read the meeting's settings",
    guidance=quotes.TAKE_PRECAUTIONS,
    field="meeting",
)

# Every rule a policy file switches: the meeting rules, then their webinar twins.
CATALOG_RULES: Final[Mapping[str, MeetingRule]] = MappingProxyType(
    {**MEETING_RULES, **WEBINAR_RULES}
)

# Every rule a finding about a meeting or a webinar can be filed under: both catalogs and
# "unreadable".
RULES: Final[Mapping[str, Rule]] = MappingProxyType({**CATALOG_RULES, UNREADABLE: UNREADABLE_RULE})
