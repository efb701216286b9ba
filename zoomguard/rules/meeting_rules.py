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

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from zoomguard.rules import guidance_quotes as quotes
from zoomguard.rules.identifying import REDACTED, find_identifying, redact
from zoomguard.rules.rule_types import (
    MISSING,
    WAITING_ROOM_PLACES,
    WAITING_ROOM_PLACES_EVERYONE,
    Fix,
    HostSettings,
    MeetingRule,
    Outcome,
    Rule,
    Unreadable,
    Violation,
    ai_companion_off,
    json_type,
    no_auto_recording,
    passcode_required,
    setting_must_be,
)
from zoomguard.rules.webinar_rules import WEBINAR_RULES

PASSCODE: Final = "passcode"
WAITING_ROOM: Final = "waiting_room"
JOIN_BEFORE_HOST_OFF: Final = "join_before_host_off"
NO_AUTO_RECORDING: Final = "no_auto_recording"
NO_AI_SUMMARY: Final = "no_ai_summary"
NO_AI_QUESTIONS: Final = "no_ai_questions"
IDENTIFYING_INFORMATION: Final = "identifying_information"
MEETING_AUTHENTICATION: Final = "meeting_authentication"
NO_PMI: Final = "no_pmi"
# Not a rule a policy file switches: the finding for a meeting zoomguard could not read.
UNREADABLE: Final = "unreadable"

PMI_MEETING_TYPE: Final = 4


# Checks that need more than ``setting_must_be`` -------------------------------------------------


_check_waiting_room_on = setting_must_be(
    "waiting_room",
    True,
    "The waiting room is off, so people join without the host admitting them.",
)

EVERYONE: Final = "everyone"
WAITING_ROOM_PATH: Final = "settings.waiting_room"
WAITING_ROOM_OPTIONS_PATH: Final = "settings.waiting_room_options"
# On, and for everyone: mode "custom" with "everyone" holds whatever the account's own setting.
_WAITING_ROOM_FIX: Final = Fix(
    WAITING_ROOM_PATH,
    True,
    also=(
        (WAITING_ROOM_OPTIONS_PATH + ".mode", "custom"),
        (WAITING_ROOM_OPTIONS_PATH + ".who_goes_to_waiting_room", EVERYONE),
    ),
)


def _check_waiting_room(
    meeting: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings
) -> Outcome:
    """The waiting room is on, and nobody skips it.

    With ``waiting_room_options`` mode "custom", only ``who_goes_to_waiting_room`` "everyone"
    sends everyone there. Mode "follow_setting" follows the host's own waiting-room setting
    (``host.waiting_room_places``), compliant only where it places everyone; unknown is the
    stricter reading (a finding: it could not be confirmed). A meeting without options follows
    the setting too: in Zoom an absent ``waiting_room_options`` means the meeting has none of
    its own, so whom its waiting room holds is the host's (account's, group's) setting."""
    off = _check_waiting_room_on(meeting, settings, host)
    if isinstance(off, Unreadable):
        return off
    for_some = _waiting_room_for_some(settings, host)
    if isinstance(for_some, Unreadable):
        return for_some
    if off is None:
        return for_some  # None, or only the options need fixing
    if for_some is None:
        return dataclasses.replace(off, field=WAITING_ROOM_PATH, fix_paths=(WAITING_ROOM_PATH,))
    return dataclasses.replace(
        off,
        problem=f"{off.problem} {for_some.problem}",
        field=f"{WAITING_ROOM_PATH}, {WAITING_ROOM_OPTIONS_PATH}",
    )


FOLLOW_SETTING: Final = "follow_setting"


def waiting_room_follows_host(meeting: Mapping[str, Any]) -> bool:
    """True when the meeting's waiting room is on and follows the host's own setting (mode
    "follow_setting", or no options at all): only then does the waiting-room rule need
    ``HostSettings.waiting_room_places`` (a meeting with the waiting room off is fixed to
    "custom" / "everyone" without it)."""
    settings = meeting.get("settings")
    if not isinstance(settings, Mapping) or settings.get("waiting_room") is not True:
        return False
    options = settings.get("waiting_room_options")
    if options is None:
        return True
    return isinstance(options, Mapping) and options.get("mode") == FOLLOW_SETTING


def _waiting_room_for_some(
    settings: Mapping[str, Any], host: HostSettings
) -> Violation | Unreadable | None:
    options = settings.get("waiting_room_options", MISSING)
    if options is MISSING or options is None:
        return _host_setting_for_some(host, stated=False)
    if not isinstance(options, Mapping):
        return Unreadable(WAITING_ROOM_OPTIONS_PATH, "an object", json_type(options))
    mode = options.get("mode", MISSING)
    who = options.get("who_goes_to_waiting_room", MISSING)
    if mode == FOLLOW_SETTING:
        return _host_setting_for_some(host, stated=True)
    if mode == "custom" and who == EVERYONE:
        return None
    if not isinstance(mode, str) or (who is not MISSING and not isinstance(who, str)):
        return Unreadable(
            WAITING_ROOM_OPTIONS_PATH, "a mode and who goes to the waiting room", "other values"
        )
    shown = who if isinstance(who, str) else "not set"
    return Violation(
        expected=EVERYONE,
        actual=f"{mode}: {shown}",
        problem=f"The waiting room holds only some participants ({shown}): the others join "
        "without the host admitting them.",
        field=WAITING_ROOM_OPTIONS_PATH,
        fix_paths=_OPTIONS_FIX_PATHS,
    )


_OPTIONS_FIX_PATHS: Final = tuple(path for path, _ in _WAITING_ROOM_FIX.also)


def _host_setting_for_some(host: HostSettings, *, stated: bool) -> Violation | None:
    """Mode "follow_setting" (``stated``), or no options at all: whom the host's own setting
    places in the waiting room."""
    places = host.waiting_room_places
    if places == WAITING_ROOM_PLACES_EVERYONE:
        return None
    mode = FOLLOW_SETTING if stated else "no options"
    follows = "follows" if stated else "has no options of its own, so it follows"
    if places is None:
        actual = f"{mode}: not confirmed"
        problem = (
            f"The waiting room {follows} the host's own waiting-room setting, which zoomguard "
            "could not read, so it cannot confirm that everyone waits to be admitted."
        )
    else:
        whom = WAITING_ROOM_PLACES.get(places, f"participants of type {places}")
        actual = f"{mode}: {whom}"
        problem = (
            f"The waiting room {follows} the host's own setting, which holds {whom}: the "
            "others join without the host admitting them."
        )
    return Violation(
        expected=EVERYONE,
        actual=actual,
        problem=problem,
        field=WAITING_ROOM_OPTIONS_PATH,
        fix_paths=_OPTIONS_FIX_PATHS,
    )


def _check_identifying_information(
    meeting: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings
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


def _check_no_pmi(
    meeting: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings
) -> Outcome:
    if meeting.get("type") == PMI_MEETING_TYPE:
        # The meeting *is* the host's personal room: no setting of it can change that.
        return Violation(
            expected="a meeting with its own ID",
            actual=PMI_MEETING_TYPE,
            problem="This is the host's Personal Meeting ID room, a permanent link that everyone "
            "invited before can reuse.",
            fixable=False,
        )
    return _check_use_pmi(meeting, settings, host)


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
                check=passcode_required("meeting"),
                fix=Fix("password", new_passcode=True),
                checks_text="meeting `password` is set",
                fix_text="a random 10-character passcode that meets the host's passcode "
                "requirement",
            ),
            MeetingRule(
                id=WAITING_ROOM,
                title="The waiting room is on, so the host admits each participant",
                default=True,
                guidance=quotes.PARTICIPANTS_IDENTIFIED,
                field=f"{WAITING_ROOM_PATH}, {WAITING_ROOM_OPTIONS_PATH}",
                check=_check_waiting_room,
                fix=_WAITING_ROOM_FIX,
                checks_text="`settings.waiting_room` is true and `waiting_room_options` sends "
                "everyone there (mode `custom` with `everyone`, or `follow_setting` or no "
                "options where the host's own setting places everyone)",
                fix_text="turned on, for everyone",
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
                check=no_auto_recording("meeting"),
                fix=Fix("settings.auto_recording", "none"),
                checks_text="`settings.auto_recording` is `none`",
                fix_text="set to `none`",
            ),
            MeetingRule(
                id=NO_AI_SUMMARY,
                title="AI Companion does not start a meeting summary automatically",
                default=True,
                guidance=quotes.NOT_RECORDED,
                field="settings.auto_start_meeting_summary",
                check=ai_companion_off(
                    "auto_start_meeting_summary",
                    "AI Companion starts writing a summary of what is said as soon as the "
                    "meeting starts: a record of the call.",
                ),
                fix=Fix("settings.auto_start_meeting_summary", False),
                checks_text="AI Companion's meeting summary does not start by itself: "
                "`settings.auto_start_meeting_summary` is false",
                fix_text="turned off",
            ),
            MeetingRule(
                id=NO_AI_QUESTIONS,
                title="AI Companion questions do not start automatically",
                default=True,
                guidance=quotes.NOT_RECORDED,
                field="settings.auto_start_ai_companion_questions",
                check=ai_companion_off(
                    "auto_start_ai_companion_questions",
                    "AI Companion starts transcribing the meeting to answer questions about it "
                    "as soon as the meeting starts: a record of the call.",
                ),
                fix=Fix("settings.auto_start_ai_companion_questions", False),
                checks_text="AI Companion questions do not start by themselves: "
                "`settings.auto_start_ai_companion_questions` is false",
                fix_text="turned off",
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

# The settings one occurrence of a recurring meeting can have of its own (PATCH
# /meetings/{id}?occurrence_id=, per Zoom's OpenAPI document), and the rules that check them.
OCCURRENCE_SETTINGS: Final = frozenset(
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
OCCURRENCE_RULES: Final[frozenset[str]] = frozenset(
    rule.id
    for rule in MEETING_RULES.values()
    if rule.fix is not None
    and rule.fix.path.startswith("settings.")
    and rule.fix.path.removeprefix("settings.") in OCCURRENCE_SETTINGS
)


def _check_occurrence_waiting_room(
    meeting: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings
) -> Outcome:
    """An occurrence's own waiting room is on. Whom it holds is not the occurrence's to say:
    PATCH ?occurrence_id= takes no ``waiting_room_options``, so every occurrence has its
    series' options, which are checked (and fixed) with the series. Reading their absence from
    an occurrence's own settings as "follows the host's setting" would flag every occurrence,
    and PATCH it in vain, for what only its series can change."""
    return _check_waiting_room_on(meeting, settings, host)


# The occurrence rules as one occurrence is checked (GET ?occurrence_id=, its own settings):
# the waiting-room rule without the options, which only the series has.
OCCURRENCE_CATALOG: Final[Mapping[str, MeetingRule]] = MappingProxyType(
    {
        rule.id: (
            dataclasses.replace(
                rule,
                field=WAITING_ROOM_PATH,
                check=_check_occurrence_waiting_room,
                fix=Fix(WAITING_ROOM_PATH, True),
            )
            if rule.id == WAITING_ROOM
            else rule
        )
        for rule in MEETING_RULES.values()
        if rule.id in OCCURRENCE_RULES
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
