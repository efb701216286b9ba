"""Tests of the pure policy: rules, identifying information, exemptions, modes, policy files."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from datetime import date
from importlib import resources
from typing import Any

import pytest

from zoomguard.errors import PolicyError
from zoomguard.rules import guidance, policy
from zoomguard.rules.policy import (
    MASK,
    REDACTED,
    RULES,
    UNREADABLE,
    Evaluation,
    Exemption,
    Finding,
    Profile,
    default_profile,
    evaluate,
    generate_passcode,
    load_profile,
    redact,
    verify,
)

TODAY = date(2026, 3, 1)
NEW_PASSCODE = "Ab3*xY9-zQ"
ALL_RULES = frozenset(policy.RULE_DEFAULTS)


def compliant_meeting(**overrides: Any) -> dict[str, Any]:
    meeting: dict[str, Any] = {
        "id": 85746065432,
        "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
        "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
        "host_email": "host@example.org",
        "topic": "Weekly check-in with Sam",
        "agenda": "Plans for next week",
        "type": 2,
        "password": "s3cret-Pw",
        "settings": {
            "waiting_room": True,
            "waiting_room_options": {"mode": "custom", "who_goes_to_waiting_room": "everyone"},
            "join_before_host": False,
            "auto_recording": "none",
            "meeting_authentication": True,
            "use_pmi": False,
        },
    }
    meeting.update(overrides)
    return meeting


def with_settings(**changes: Any) -> dict[str, Any]:
    meeting = compliant_meeting()
    meeting["settings"].update(changes)
    return meeting


def without_setting(key: str) -> dict[str, Any]:
    meeting = compliant_meeting()
    del meeting["settings"][key]
    return meeting


def fixed_passcode() -> str:
    return NEW_PASSCODE


def must_not_generate() -> str:
    raise AssertionError("a passcode was generated although none will be sent")


def run(
    meeting: Any,
    profile: Profile | None = None,
    *,
    today: date = TODAY,
    host_email: str | None = None,
    make_passcode: Callable[[], str] = fixed_passcode,
) -> Evaluation:
    return evaluate(
        meeting,
        profile or default_profile(),
        today=today,
        host_email=host_email,
        make_passcode=make_passcode,
    )


def only(evaluation: Evaluation, rule_id: str) -> Finding:
    matching = [f for f in evaluation.findings if f.rule_id == rule_id]
    assert len(matching) == 1, evaluation.findings
    return matching[0]


ALL_ON = Profile(rules=ALL_RULES)


# Rules and their guidance ---------------------------------------------------------------------


def test_every_switchable_rule_has_a_check_and_a_rule_entry() -> None:
    assert set(RULES) == set(policy.RULE_DEFAULTS) | {UNREADABLE}
    assert {r.id for r in RULES.values()} == set(RULES)
    assert RULES[UNREADABLE].fixable is False
    assert RULES[policy.IDENTIFYING_INFORMATION].fixable is False


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_guidance_is_quoted_verbatim(rule_id: str) -> None:
    # The guidance ships in the package (zoomguard/rules/guidance/), emphasis dropped.
    assert RULES[rule_id].guidance in guidance.plain_text()


def test_guidance_documents_are_package_data() -> None:
    for name in guidance.DOCUMENTS:
        assert "Zoom" in guidance.read_document(name)
    with pytest.raises(KeyError, match="not a guidance document"):
        guidance.read_document("SOURCES.md")


def test_default_profile_turns_on_the_guidance_rules_only() -> None:
    profile = default_profile()
    assert profile.mode == "enforce"
    assert profile.rules == {
        "passcode",
        "waiting_room",
        "join_before_host_off",
        "no_auto_recording",
        "no_ai_summary",
        "no_ai_questions",
        "identifying_information",
        "webinar_passcode",
        "webinar_no_auto_recording",
        "webinar_not_on_demand",
        "webinar_ai_companion_off",
    }
    assert profile.exemptions == ()


# Compliance and the single patch --------------------------------------------------------------


def test_compliant_meeting_has_no_findings_and_an_empty_patch() -> None:
    evaluation = run(compliant_meeting(), ALL_ON, make_passcode=must_not_generate)
    assert evaluation.compliant
    assert evaluation.findings == ()
    assert evaluation.patch == {}
    assert evaluation.audit_patch == {}
    assert evaluation.meeting_id == "85746065432"
    assert evaluation.host_id == "KDcuGIm1QgePTO8WbOqwIQ"
    assert evaluation.exemption is None


RULE_CASES = [
    # (rule id, meeting, field, expected, actual, patch)
    ("passcode", compliant_meeting(password=""), "password", "a passcode", "",
     {"password": NEW_PASSCODE}),
    ("passcode", {k: v for k, v in compliant_meeting().items() if k != "password"}, "password",
     "a passcode", None, {"password": NEW_PASSCODE}),
    ("waiting_room", with_settings(waiting_room=False), "settings.waiting_room", True, False,
     {"settings": {"waiting_room": True}}),
    ("waiting_room", without_setting("waiting_room"), "settings.waiting_room", True, None,
     {"settings": {"waiting_room": True}}),
    ("join_before_host_off", with_settings(join_before_host=True), "settings.join_before_host",
     False, True, {"settings": {"join_before_host": False}}),
    ("join_before_host_off", without_setting("join_before_host"), "settings.join_before_host",
     False, None, {"settings": {"join_before_host": False}}),
    ("no_auto_recording", with_settings(auto_recording="cloud"), "settings.auto_recording",
     "none", "cloud", {"settings": {"auto_recording": "none"}}),
    ("no_auto_recording", with_settings(auto_recording="local"), "settings.auto_recording",
     "none", "local", {"settings": {"auto_recording": "none"}}),
    ("no_auto_recording", without_setting("auto_recording"), "settings.auto_recording",
     "none", None, {"settings": {"auto_recording": "none"}}),
    ("meeting_authentication", with_settings(meeting_authentication=False),
     "settings.meeting_authentication", True, False,
     {"settings": {"meeting_authentication": True}}),
    ("meeting_authentication", without_setting("meeting_authentication"),
     "settings.meeting_authentication", True, None,
     {"settings": {"meeting_authentication": True}}),
    ("no_pmi", with_settings(use_pmi=True), "settings.use_pmi", False, True,
     {"settings": {"use_pmi": False}}),
]  # fmt: skip


@pytest.mark.parametrize(("rule_id", "meeting", "field", "expected", "actual", "patch"), RULE_CASES)
def test_each_rule_finds_and_fixes_exactly_its_field(
    rule_id: str,
    meeting: dict[str, Any],
    field: str,
    expected: Any,
    actual: Any,
    patch: dict[str, Any],
) -> None:
    evaluation = run(meeting, ALL_ON)
    assert [f.rule_id for f in evaluation.findings] == [rule_id]
    finding = evaluation.findings[0]
    assert (finding.field, finding.expected, finding.actual) == (field, expected, actual)
    assert finding.fixable
    assert finding.guidance == RULES[rule_id].guidance
    assert RULES[rule_id].guidance in finding.reason
    # The finding names the rule's field(s), or the one of them at fault.
    assert set(finding.field.split(", ")) <= set(RULES[rule_id].field.split(", "))
    assert evaluation.patch == patch


@pytest.mark.parametrize(("rule_id", "meeting", "field", "expected", "actual", "patch"), RULE_CASES)
def test_a_rule_switched_off_finds_nothing(
    rule_id: str,
    meeting: dict[str, Any],
    field: str,
    expected: Any,
    actual: Any,
    patch: dict[str, Any],
) -> None:
    evaluation = run(meeting, Profile(rules=ALL_RULES - {rule_id}), make_passcode=must_not_generate)
    assert evaluation.compliant
    assert evaluation.patch == {}


@pytest.mark.parametrize(
    ("setting", "value"), [("meeting_authentication", False), ("use_pmi", True)]
)
def test_optional_rules_are_off_by_default(setting: str, value: bool) -> None:
    assert run(with_settings(**{setting: value})).compliant


def test_one_patch_fixes_every_fixable_finding_and_nothing_else() -> None:
    meeting = compliant_meeting(password="")
    meeting["settings"].update(waiting_room=False, join_before_host=True, auto_recording="cloud")
    evaluation = run(meeting)
    assert evaluation.patch == {
        "password": NEW_PASSCODE,
        "settings": {"waiting_room": True, "join_before_host": False, "auto_recording": "none"},
    }
    assert [f.rule_id for f in evaluation.fixable_findings] == [
        "passcode",
        "waiting_room",
        "join_before_host_off",
        "no_auto_recording",
    ]


def test_patch_leaves_out_compliant_fields() -> None:
    evaluation = run(with_settings(join_before_host=True), make_passcode=must_not_generate)
    assert evaluation.patch == {"settings": {"join_before_host": False}}


@pytest.mark.parametrize("meeting_type", [1, 2, 3, 8, 10])
def test_every_meeting_type_is_evaluated_alike(meeting_type: int) -> None:
    evaluation = run(with_settings(waiting_room=False) | {"type": meeting_type})
    assert [f.rule_id for f in evaluation.findings] == ["waiting_room"]
    # No occurrence handling: a PATCH without occurrence_id updates a recurring series.
    assert evaluation.patch == {"settings": {"waiting_room": True}}


def test_pmi_meeting_is_reported_but_not_patched_by_the_no_pmi_rule() -> None:
    evaluation = run(compliant_meeting(type=4), ALL_ON)
    finding = only(evaluation, "no_pmi")
    assert not finding.fixable
    assert finding.actual == 4
    assert evaluation.patch == {}
    assert run(compliant_meeting(type=4)).compliant  # the rule is opt-in


def test_meeting_id_from_a_string_id() -> None:
    assert run(compliant_meeting(id="85746065432")).meeting_id == "85746065432"


def test_unexpected_auto_recording_value_is_fixed() -> None:
    finding = only(run(with_settings(auto_recording="both")), "no_auto_recording")
    assert (finding.actual, finding.fixable) == ("both", True)


# Passcodes ------------------------------------------------------------------------------------


def test_passcode_never_appears_in_findings_or_audit_patch() -> None:
    evaluation = run(compliant_meeting(password=""))
    assert evaluation.patch["password"] == NEW_PASSCODE
    assert evaluation.audit_patch == {"password": MASK}
    assert evaluation.patch["password"] == NEW_PASSCODE  # masking copies, never mutates
    serialised = json.dumps([dataclasses.asdict(f) for f in evaluation.findings])
    assert NEW_PASSCODE not in serialised
    assert NEW_PASSCODE not in json.dumps(evaluation.audit_patch)


def test_audit_patch_masks_only_the_passcode() -> None:
    meeting = compliant_meeting(password="")
    meeting["settings"]["waiting_room"] = False
    assert run(meeting).audit_patch == {"password": MASK, "settings": {"waiting_room": True}}


def test_existing_passcode_is_never_shown_when_unreadable() -> None:
    # A numeric passcode in the wrong JSON type must not leak through the unreadable finding.
    evaluation = run(compliant_meeting(password=987654))
    text = json.dumps([dataclasses.asdict(f) for f in evaluation.findings])
    assert "987654" not in text
    assert only(evaluation, UNREADABLE).field == "password"


@pytest.mark.parametrize("bad", ["", "x" * 11, "has space", "semi;colon"])
def test_a_generator_returning_a_passcode_zoom_rejects_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="make_passcode"):
        run(compliant_meeting(password=""), make_passcode=lambda: bad)


def test_generated_passcodes_fit_zoom_rules() -> None:
    passcodes = [generate_passcode() for _ in range(300)]
    for passcode in passcodes:
        assert re.fullmatch(r"[A-Za-z0-9@\-_*]{10}", passcode)
        assert re.search(r"[A-Za-z]", passcode)
        assert re.search(r"\d", passcode)
    assert len(set(passcodes)) == len(passcodes)


def test_default_generator_is_used_for_a_missing_passcode() -> None:
    evaluation = evaluate(compliant_meeting(password=""), default_profile(), today=TODAY)
    assert re.fullmatch(r"[A-Za-z0-9@\-_*]{10}", evaluation.patch["password"])


# Identifying information ----------------------------------------------------------------------

SIN_CASES = [
    ("SIN 046 454 286", True),
    ("046-454-286", True),
    ("046454286", True),
    ("Review for Jo (130 692 544)", True),
    ("SIN: 193-456-787 please", True),
    ("046 454 287", False),  # fails Luhn
    ("123 456 789", False),  # fails Luhn: a meeting-ID-looking number
    ("123456789", False),
    ("000 000 000", False),
    ("046 454-286", False),  # mixed separators are not a 3-3-3 grouping
    ("0464542861", False),  # ten digits
    ("call 604 555 1234", False),  # phone number
    ("+1 046 454 286 5", False),  # part of a longer number
    ("Meeting ID: 046 454 286", False),  # labelled as a meeting ID
    ("phone 046-454-286", False),
    ("Zoom 857 4606 5432", False),  # an 11-digit meeting ID
]


@pytest.mark.parametrize(("text", "flagged"), SIN_CASES)
def test_sin_detection(text: str, flagged: bool) -> None:
    evaluation = run(compliant_meeting(topic=text))
    assert (not evaluation.compliant) == flagged
    if flagged:
        finding = only(evaluation, "identifying_information")
        assert REDACTED in str(finding.actual)
        assert "Social Insurance Number" in finding.reason


BIRTH_DATE_CASES = [
    ("DOB 1990-04-12", True),
    ("D.O.B.: 4/12/90", True),
    ("born 12/04/1990", True),
    ("Born on April 12, 1990", True),
    ("birth date: April 12, 1990", True),
    ("Birthdate 12.04.1990", True),
    ("date of birth 12 April 1990", True),
    ("Date of birth is Apr. 12th, 1990", True),
    ("date of birth: 12th of April 1990", True),
    ("DOB April 12", True),  # a clear label: day and month are enough
    ("Birthday: April 12, 1990", True),
    ("Meeting on 2024-04-12", False),  # a date without a birth label
    ("Planning 12/04/1990 retrospective", False),
    ("born in 1990", False),  # a year is not a date
    ("birthday party April 12", False),  # "birthday" needs a full date
    ("Birth date policy review 2024-04-12", False),  # label not attached to the date
    ("Adobe training 2020-01-01", False),
    ("DOB", False),
]


@pytest.mark.parametrize(("text", "flagged"), BIRTH_DATE_CASES)
def test_birth_date_detection(text: str, flagged: bool) -> None:
    evaluation = run(compliant_meeting(agenda=text))
    assert (not evaluation.compliant) == flagged
    if flagged:
        finding = only(evaluation, "identifying_information")
        assert finding.field == "agenda"
        assert "birth date" in finding.reason


REDACT_CASES = [
    ("SIN 046 454 286", "SIN [redacted]"),
    ("046-454-286 and 130692544", "[redacted] and [redacted]"),
    ("DOB 1990-04-12, SIN 046454286", "DOB [redacted], SIN [redacted]"),
    ("born 12/04/1990 in Surrey", "born [redacted] in Surrey"),
    ("birth date: April 12, 1990.", "birth date: [redacted]."),
    ("Meeting ID 123 456 789 on 2024-04-12", "Meeting ID 123 456 789 on 2024-04-12"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), REDACT_CASES)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_identifying_information_is_reported_redacted_and_never_fixed() -> None:
    meeting = compliant_meeting(topic="Intake: Sam Lee DOB 1990-04-12", agenda="SIN 046 454 286")
    evaluation = run(meeting, make_passcode=must_not_generate)
    finding = only(evaluation, "identifying_information")
    assert not finding.fixable
    assert finding.field == "topic, agenda"
    assert finding.actual == "topic: Intake: [redacted] DOB [redacted]\nagenda: SIN [redacted]"
    assert finding.reason.startswith(
        "In this meeting the topic holds a birth date and a first and last name; "
        "the agenda holds a Social Insurance Number"
    )
    assert evaluation.patch == {}
    assert evaluation.topic == "Intake: [redacted] DOB [redacted]"
    everything = json.dumps([dataclasses.asdict(f) for f in evaluation.findings])
    for raw in ("Sam Lee", "1990-04-12", "046 454 286"):
        assert raw not in everything


def test_topic_is_redacted_even_when_the_rule_is_off() -> None:
    profile = Profile(rules=ALL_RULES - {"identifying_information"})
    evaluation = run(compliant_meeting(topic="SIN 046 454 286"), profile)
    assert evaluation.compliant
    assert evaluation.topic == "SIN [redacted]"


@pytest.mark.parametrize("agenda", [None, ""])
def test_absent_agenda_is_not_a_problem(agenda: str | None) -> None:
    assert run(compliant_meeting(agenda=agenda)).compliant


# Exemptions and modes -------------------------------------------------------------------------


def exempt_profile(**exemption: Any) -> Profile:
    return Profile(exemptions=(Exemption(reason="approved by the privacy officer", **exemption),))


EXEMPTION_CASES = [
    # (exemption, host_email passed by the caller, exempt?)
    ({"meeting_id": "85746065432", "expires": date(2026, 3, 31)}, None, True),
    ({"meeting_id": "857 4606 5432", "expires": date(2026, 3, 31)}, None, True),
    ({"meeting_id": "85746065432", "expires": TODAY}, None, True),  # last day still applies
    ({"meeting_id": "85746065432", "expires": date(2026, 2, 28)}, None, False),  # expired
    ({"meeting_id": "11111111111", "expires": date(2026, 3, 31)}, None, False),
    ({"host_email": "Host@Example.org", "expires": date(2026, 3, 31)}, None, True),
    ({"host_email": "host@example.org", "expires": date(2026, 3, 31)}, "HOST@example.ORG", True),
    ({"host_email": "other@example.org", "expires": date(2026, 3, 31)}, None, False),
    ({"host_email": "host@example.org", "expires": date(2026, 2, 1)}, None, False),
]


@pytest.mark.parametrize(("exemption", "host_email", "exempt"), EXEMPTION_CASES)
def test_exemptions(exemption: dict[str, Any], host_email: str | None, exempt: bool) -> None:
    profile = exempt_profile(**exemption)
    evaluation = run(with_settings(waiting_room=False), profile, host_email=host_email)
    assert [f.rule_id for f in evaluation.findings] == ["waiting_room"]  # listed either way
    assert (evaluation.exemption is not None) == exempt
    assert evaluation.exempt == exempt
    assert evaluation.patch == ({} if exempt else {"settings": {"waiting_room": True}})


def test_caller_host_email_wins_over_the_meeting_field() -> None:
    profile = exempt_profile(host_email="host@example.org", expires=date(2026, 12, 31))
    evaluation = run(with_settings(waiting_room=False), profile, host_email="someone@example.org")
    assert evaluation.exemption is None


def test_meeting_exemption_wins_over_host_exemption() -> None:
    by_host = Exemption(host_email="host@example.org", reason="host", expires=date(2026, 12, 31))
    by_meeting = Exemption(meeting_id="85746065432", reason="meeting", expires=date(2026, 12, 31))
    evaluation = run(compliant_meeting(), Profile(exemptions=(by_host, by_meeting)))
    assert evaluation.exemption == by_meeting


def test_exempt_meeting_does_not_generate_a_passcode() -> None:
    profile = exempt_profile(meeting_id="85746065432", expires=date(2026, 12, 31))
    evaluation = run(compliant_meeting(password=""), profile, make_passcode=must_not_generate)
    assert only(evaluation, "passcode").fixable
    assert evaluation.patch == {}


def test_report_mode_finds_everything_and_patches_nothing() -> None:
    meeting = compliant_meeting(password="", topic="SIN 046 454 286")
    meeting["settings"].update(waiting_room=False, auto_recording="cloud")
    evaluation = run(meeting, Profile(mode="report"), make_passcode=must_not_generate)
    assert [f.rule_id for f in evaluation.findings] == [
        "passcode",
        "waiting_room",
        "no_auto_recording",
        "identifying_information",
    ]
    assert evaluation.patch == {}
    assert evaluation.exemption is None


def test_exemption_and_profile_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Exemption(reason="x", expires=TODAY)
    with pytest.raises(ValueError, match="exactly one"):
        Exemption(meeting_id="1", host_email="a@b", reason="x", expires=TODAY)
    with pytest.raises(ValueError, match="mode"):
        Profile(mode="fix")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="waiting_rom"):
        Profile(rules=frozenset({"waiting_rom"}))


# Malformed meetings ---------------------------------------------------------------------------


def _meeting_without(key: str) -> dict[str, Any]:
    return {k: v for k, v in compliant_meeting().items() if k != key}


WHOLE_MEETING_UNREADABLE: list[tuple[Any, str]] = [
    # (meeting, field named in the finding)
    (None, "meeting"),
    ([], "meeting"),
    ("a meeting", "meeting"),
    (42, "meeting"),
    ({}, "id, type, settings"),
    (_meeting_without("settings"), "settings"),
    (compliant_meeting(settings=None), "settings"),
    (compliant_meeting(settings=[]), "settings"),
    (compliant_meeting(settings="waiting_room"), "settings"),
    (_meeting_without("type"), "type"),
    (compliant_meeting(type=5), "type"),
    (compliant_meeting(type=None), "type"),
    (compliant_meeting(type="2"), "type"),
    (compliant_meeting(type=True), "type"),
    (_meeting_without("id"), "id"),
    (compliant_meeting(id=None), "id"),
    (compliant_meeting(id=True), "id"),
    (compliant_meeting(id="abc"), "id"),
    (compliant_meeting(id=-5), "id"),
    (compliant_meeting(id=None, type=0, settings=None), "id, type, settings"),
]


@pytest.mark.parametrize(("meeting", "field"), WHOLE_MEETING_UNREADABLE)
def test_unreadable_meeting_is_one_finding_and_no_patch(meeting: Any, field: str) -> None:
    evaluation = run(meeting, ALL_ON, make_passcode=must_not_generate)
    assert len(evaluation.findings) == 1
    finding = evaluation.findings[0]
    assert (finding.rule_id, finding.field, finding.fixable) == (UNREADABLE, field, False)
    assert evaluation.patch == {}
    assert not evaluation.compliant
    json.dumps(dataclasses.asdict(finding))


FIELD_UNREADABLE = [
    # (meeting, unreadable field, rules still fixed by the patch)
    (with_settings(waiting_room=None), "settings.waiting_room", {}),
    (with_settings(waiting_room="yes"), "settings.waiting_room", {}),
    (with_settings(waiting_room=1), "settings.waiting_room", {}),
    (with_settings(join_before_host=None, auto_recording="cloud"), "settings.join_before_host",
     {"settings": {"auto_recording": "none"}}),
    (with_settings(auto_recording=None), "settings.auto_recording", {}),
    (with_settings(auto_recording=0, waiting_room=False), "settings.auto_recording",
     {"settings": {"waiting_room": True}}),
    (compliant_meeting(password=None), "password", {}),
    (compliant_meeting(password=["x"]), "password", {}),
    (compliant_meeting(topic=42, password=""), "topic", {"password": NEW_PASSCODE}),
    (compliant_meeting(agenda={"text": "x"}), "agenda", {}),
]  # fmt: skip


@pytest.mark.parametrize(("meeting", "field", "patch"), FIELD_UNREADABLE)
def test_unreadable_field_is_reported_and_left_alone(
    meeting: dict[str, Any], field: str, patch: dict[str, Any]
) -> None:
    evaluation = run(meeting)
    finding = only(evaluation, UNREADABLE)
    assert (finding.field, finding.fixable) == (field, False)
    assert evaluation.patch == patch


def test_several_unreadable_fields_make_one_finding() -> None:
    evaluation = run(with_settings(waiting_room=None, join_before_host="no"))
    finding = only(evaluation, UNREADABLE)
    assert finding.field == "settings.waiting_room, settings.join_before_host"
    assert finding.actual == "settings.waiting_room: null; settings.join_before_host: a string"


def test_unreadable_field_of_a_rule_switched_off_is_ignored() -> None:
    assert run(with_settings(use_pmi=None)).compliant


def test_findings_never_repeat_a_rule_id() -> None:
    meeting = compliant_meeting(password="", topic="SIN 046 454 286", agenda="DOB 1990-04-12")
    meeting["settings"] = {"waiting_room": None, "join_before_host": "x"}
    evaluation = run(meeting, ALL_ON)
    rule_ids = [f.rule_id for f in evaluation.findings]
    assert len(rule_ids) == len(set(rule_ids))


def test_evaluate_does_not_modify_the_meeting() -> None:
    meeting = compliant_meeting(password="", topic="SIN 046 454 286")
    meeting["settings"]["waiting_room"] = False
    before = copy.deepcopy(meeting)
    run(meeting)
    assert meeting == before


# Verify after the PATCH -----------------------------------------------------------------------


def noncompliant_meeting() -> dict[str, Any]:
    meeting = compliant_meeting(password="", topic="SIN 046 454 286")
    meeting["settings"].update(waiting_room=False, join_before_host=True, auto_recording="cloud")
    return meeting


def apply(meeting: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(meeting)
    settings = patch.get("settings", {})
    result.update({k: v for k, v in patch.items() if k != "settings"})
    result["settings"].update(settings)
    return result


def test_verify_confirms_what_the_reread_shows() -> None:
    evaluation = run(noncompliant_meeting())
    reread = apply(noncompliant_meeting(), evaluation.patch)
    confirmed, still = verify(evaluation, reread, default_profile(), today=TODAY)
    assert [f.rule_id for f in confirmed] == [
        "passcode",
        "waiting_room",
        "join_before_host_off",
        "no_auto_recording",
    ]
    assert confirmed == list(evaluation.fixable_findings)
    assert still == []


def test_verify_reports_what_zoom_kept() -> None:
    evaluation = run(noncompliant_meeting())
    reread = apply(noncompliant_meeting(), evaluation.patch)
    reread["settings"]["waiting_room"] = False  # a locked setting won
    reread["password"] = "Zoom-chose"  # Zoom may store a passcode of its own: still a passcode
    confirmed, still = verify(evaluation, reread, default_profile(), today=TODAY)
    assert [f.rule_id for f in confirmed] == [
        "passcode",
        "join_before_host_off",
        "no_auto_recording",
    ]
    assert [(f.rule_id, f.actual, f.fixable) for f in still] == [("waiting_room", False, True)]


def test_verify_passcode_still_missing() -> None:
    evaluation = run(compliant_meeting(password=""))
    confirmed, still = verify(
        evaluation, compliant_meeting(password=""), default_profile(), today=TODAY
    )
    assert confirmed == []
    assert [f.rule_id for f in still] == ["passcode"]


@pytest.mark.parametrize("reread", [None, {}, compliant_meeting(settings=None)])
def test_verify_with_an_unreadable_reread_confirms_nothing(reread: Any) -> None:
    evaluation = run(noncompliant_meeting())
    confirmed, still = verify(evaluation, reread, default_profile(), today=TODAY)
    assert confirmed == []
    assert [f.rule_id for f in still] == [f.rule_id for f in evaluation.fixable_findings]
    assert all("could not be confirmed" in f.reason for f in still)


def test_verify_with_one_field_unreadable_after_the_fix() -> None:
    evaluation = run(with_settings(waiting_room=False, join_before_host=True))
    reread = with_settings(waiting_room=None)
    confirmed, still = verify(evaluation, reread, default_profile(), today=TODAY)
    assert [f.rule_id for f in confirmed] == ["join_before_host_off"]
    assert [f.rule_id for f in still] == ["waiting_room"]


def test_verify_does_nothing_when_nothing_was_sent() -> None:
    profile = Profile(mode="report")
    evaluation = run(noncompliant_meeting(), profile)
    assert verify(evaluation, noncompliant_meeting(), profile, today=TODAY) == ([], [])


# Policy files ---------------------------------------------------------------------------------


def test_shipped_default_policy_file_is_the_default_profile() -> None:
    text = resources.files("zoomguard").joinpath("policies/default.toml").read_text("utf-8")
    assert load_profile(text) == default_profile()


def test_empty_policy_file_is_the_default_profile() -> None:
    assert load_profile("") == default_profile()


def test_policy_file_sets_mode_rules_and_exemptions() -> None:
    profile = load_profile(
        """
        mode = "report"
        [rules]
        waiting_room = false
        no_pmi = true

        [[exemptions]]
        meeting_id = "857 4606 5432"
        reason = "Training recording"
        expires = 2027-01-31

        [[exemptions]]
        host_email = " Trainer@Example.org "
        reason = "Webinars"
        expires = "2026-12-31"

        [[exemptions]]
        meeting_id = 123456789
        reason = "Bare integer ID"
        expires = 2026-06-30
        """
    )
    assert profile.mode == "report"
    assert profile.rules == (policy.DEFAULT_RULES - {"waiting_room"}) | {"no_pmi"}
    assert profile.exemptions == (
        Exemption(meeting_id="85746065432", reason="Training recording", expires=date(2027, 1, 31)),
        Exemption(host_email="trainer@example.org", reason="Webinars", expires=date(2026, 12, 31)),
        Exemption(meeting_id="123456789", reason="Bare integer ID", expires=date(2026, 6, 30)),
    )


EX = "[[exemptions]]\n"
ID = "meeting_id = '1'\n"
WHY = "reason = 'r'\n"
UNTIL = "expires = 2027-01-01\n"

POLICY_ERRORS = [
    ("[rules]\nwaiting_rom = true", "policy: rules.waiting_rom: unknown key"),
    ("[rules]\nwaiting_room = 1", "policy: rules.waiting_room: must be true or false"),
    ('[rules]\npasscode = "yes"', "policy: rules.passcode: must be true or false"),
    ("rules = 3", "policy: rules: must be a table"),
    ('mode = "fix"', 'policy: mode: must be "enforce" or "report"'),
    ("mode = true", "policy: mode:"),
    ("[baseline]\nwaiting_rom = true", "policy: baseline.waiting_rom: unknown key"),
    ("moed = 'report'", "policy: moed: unknown key"),
    ("mode = ", "policy: not valid TOML"),
    ("[exemptions]\n" + ID, "policy: exemptions: must be an array of tables"),
    ("exemptions = [1]", "policy: exemptions[0]: must be a table"),
    (EX + WHY + UNTIL, "policy: exemptions[0]: needs exactly one"),
    (EX + ID + "host_email = 'a@b.c'\n" + WHY + UNTIL, "policy: exemptions[0]: needs exactly one"),
    (EX + "meeting_id = 'abc'\n" + WHY + UNTIL, "policy: exemptions[0].meeting_id: must be"),
    (EX + "meeting_id = 0\n" + WHY + UNTIL, "policy: exemptions[0].meeting_id: must be"),
    (EX + "host_email = 'nobody'\n" + WHY + UNTIL, "policy: exemptions[0].host_email: must be"),
    (EX + ID + UNTIL, "policy: exemptions[0].reason: missing"),
    (EX + ID + "reason = ' '\n" + UNTIL, "policy: exemptions[0].reason: must be a non-empty"),
    (EX + ID + WHY, "policy: exemptions[0].expires: missing"),
    (EX + ID + WHY + "expires = 2027-01-01T10:00:00", "policy: exemptions[0].expires: must be"),
    (EX + ID + WHY + "expires = 'soon'", "policy: exemptions[0].expires: must be a date"),
    (EX + ID + WHY + UNTIL + "expiry = 1", "policy: exemptions[0].expiry: unknown key"),
    (EX + ID + WHY + UNTIL + EX + ID + WHY + "expires = 'x'", "policy: exemptions[1].expires:"),
]


@pytest.mark.parametrize(("text", "message"), POLICY_ERRORS)
def test_policy_file_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_profile(text)
    assert str(caught.value).startswith(message)
    assert caught.value.reason == "policy"


def test_findings_are_json_serialisable() -> None:
    meeting = noncompliant_meeting()
    meeting["agenda"] = "DOB 1990-04-12"
    evaluation = run(meeting, ALL_ON)
    payload = json.loads(json.dumps([dataclasses.asdict(f) for f in evaluation.findings]))
    assert {f["rule_id"] for f in payload} == {
        "passcode",
        "waiting_room",
        "join_before_host_off",
        "no_auto_recording",
        "identifying_information",
    }


def test_ai_companion_auto_start_is_turned_off_in_the_one_patch() -> None:
    meeting = compliant_meeting()
    meeting["settings"].update(
        auto_start_meeting_summary=True, auto_start_ai_companion_questions=True, waiting_room=False
    )
    evaluation = evaluate(meeting, default_profile(), today=TODAY)
    assert [f.rule_id for f in evaluation.findings] == [
        "waiting_room",
        "no_ai_summary",
        "no_ai_questions",
    ]
    assert evaluation.patch == {
        "settings": {
            "waiting_room": True,
            "auto_start_meeting_summary": False,
            "auto_start_ai_companion_questions": False,
        }
    }
    summary = next(f for f in evaluation.findings if f.rule_id == "no_ai_summary")
    assert "not recorded" in summary.reason


def test_ai_companion_fields_absent_mean_no_ai_companion_to_turn_off() -> None:
    # compliant_meeting() has neither field, as Zoom returns meetings without AI Companion.
    assert evaluate(compliant_meeting(), default_profile(), today=TODAY).compliant


def test_ai_companion_rules_can_be_switched_off_and_exempted() -> None:
    meeting = compliant_meeting()
    meeting["settings"]["auto_start_meeting_summary"] = True
    off = dataclasses.replace(default_profile(), rules=ALL_RULES - {"no_ai_summary"})
    assert evaluate(meeting, off, today=TODAY).compliant
    evaluation = evaluate(
        meeting, exempt_profile(meeting_id="85746065432", expires=TODAY), today=TODAY
    )
    assert evaluation.patch == {}
    assert evaluation.exemption is not None
    assert [f.rule_id for f in evaluation.findings] == ["no_ai_summary"]
    reported = evaluate(meeting, Profile(mode="report"), today=TODAY)
    assert reported.patch == {}
    assert [f.rule_id for f in reported.findings] == ["no_ai_summary"]


WAITING_ROOM_FOR_EVERYONE = {"mode": "custom", "who_goes_to_waiting_room": "everyone"}


SENDS_EVERYONE = policy.HostSettings(waiting_room_places=0)
OUTSIDERS_ONLY = policy.HostSettings(waiting_room_places=1)


@pytest.mark.parametrize(
    ("waiting_room", "options", "host", "patch"),
    [
        # No options at all: the meeting follows the host's setting, as with "follow_setting".
        (True, None, SENDS_EVERYONE, {}),
        (
            True,
            None,
            OUTSIDERS_ONLY,
            {"settings": {"waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
        (
            True,
            None,
            policy.UNKNOWN_HOST,
            {"settings": {"waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
        (
            False,
            None,
            policy.UNKNOWN_HOST,
            {"settings": {"waiting_room": True, "waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
        (True, {"mode": "follow_setting"}, SENDS_EVERYONE, {}),
        (
            True,
            {"mode": "follow_setting"},
            OUTSIDERS_ONLY,
            {"settings": {"waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
        (
            True,
            {"mode": "follow_setting"},
            policy.HostSettings(waiting_room_places=2),
            {"settings": {"waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
        # Unknown (not read, or the read failed): the stricter reading.
        (
            True,
            {"mode": "follow_setting"},
            policy.UNKNOWN_HOST,
            {"settings": {"waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
        (True, WAITING_ROOM_FOR_EVERYONE, policy.UNKNOWN_HOST, {}),
        (
            True,
            {"mode": "custom", "who_goes_to_waiting_room": "users_not_in_account"},
            SENDS_EVERYONE,
            {"settings": {"waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
        (False, {"mode": "follow_setting"}, SENDS_EVERYONE, {"settings": {"waiting_room": True}}),
        # Off and following a setting nobody read: turned on for everyone, no read needed.
        (
            False,
            {"mode": "follow_setting"},
            policy.UNKNOWN_HOST,
            {"settings": {"waiting_room": True, "waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
        (
            False,
            {"mode": "custom", "who_goes_to_waiting_room": "users_not_on_invite"},
            SENDS_EVERYONE,
            {"settings": {"waiting_room": True, "waiting_room_options": WAITING_ROOM_FOR_EVERYONE}},
        ),
    ],
)
def test_the_waiting_room_must_hold_everyone(
    waiting_room: bool,
    options: dict[str, str] | None,
    host: policy.HostSettings,
    patch: dict[str, Any],
) -> None:
    meeting = {
        "id": 85746065432,
        "type": 2,
        "password": "Xy3*abcd9Q",
        "settings": {
            "waiting_room": waiting_room,
            "join_before_host": False,
            "auto_recording": "none",
            **({"waiting_room_options": options} if options is not None else {}),
        },
    }
    evaluation = policy.evaluate(meeting, policy.Profile(), today=date(2026, 1, 5), host=host)
    assert evaluation.patch == patch
    assert [f.rule_id for f in evaluation.findings] == (["waiting_room"] if patch else [])


def _following_the_host(waiting_room: bool = True) -> dict[str, Any]:
    return {
        "id": 85746065432,
        "type": 2,
        "password": "Xy3*abcd9Q",
        "settings": {
            "waiting_room": waiting_room,
            "join_before_host": False,
            "auto_recording": "none",
            "waiting_room_options": {"mode": "follow_setting"},
        },
    }


def test_a_host_setting_for_outsiders_only_is_named_in_the_finding() -> None:
    evaluation = policy.evaluate(
        _following_the_host(), policy.Profile(), today=date(2026, 1, 5), host=OUTSIDERS_ONLY
    )
    [finding] = evaluation.findings
    assert finding.field == "settings.waiting_room_options"
    assert finding.actual == "follow_setting: only users not in the account"
    assert "only users not in the account" in finding.reason


def test_a_meeting_without_options_is_named_as_following_the_host_setting() -> None:
    meeting = _following_the_host()
    del meeting["settings"]["waiting_room_options"]
    evaluation = policy.evaluate(
        meeting, policy.Profile(), today=date(2026, 1, 5), host=OUTSIDERS_ONLY
    )
    [finding] = evaluation.findings
    assert finding.field == "settings.waiting_room_options"
    assert finding.actual == "no options: only users not in the account"
    assert "has no options of its own, so it follows the host's own setting" in finding.reason


def test_null_options_are_read_as_no_options() -> None:
    meeting = _following_the_host()
    meeting["settings"]["waiting_room_options"] = None
    assert policy.waiting_room_follows_host(meeting)
    assert policy.evaluate(
        meeting, policy.Profile(), today=date(2026, 1, 5), host=SENDS_EVERYONE
    ).compliant
    [finding] = policy.evaluate(meeting, policy.Profile(), today=date(2026, 1, 5)).findings
    assert finding.actual == "no options: not confirmed"


def test_a_host_setting_that_could_not_be_read_is_a_finding_that_says_so() -> None:
    evaluation = policy.evaluate(_following_the_host(), policy.Profile(), today=date(2026, 1, 5))
    [finding] = evaluation.findings
    assert finding.actual == "follow_setting: not confirmed"
    assert "could not read" in finding.reason


def test_the_host_is_read_only_for_a_waiting_room_on_that_follows_it_or_has_no_options() -> None:
    assert policy.waiting_room_follows_host(_following_the_host())
    assert not policy.waiting_room_follows_host(_following_the_host(waiting_room=False))
    custom = _following_the_host()
    custom["settings"]["waiting_room_options"] = WAITING_ROOM_FOR_EVERYONE
    assert not policy.waiting_room_follows_host(custom)
    without_options = _following_the_host()
    del without_options["settings"]["waiting_room_options"]
    assert policy.waiting_room_follows_host(without_options)
    without_options["settings"]["waiting_room"] = False
    assert not policy.waiting_room_follows_host(without_options)


def test_a_fix_to_custom_everyone_is_confirmed_whatever_the_host_setting() -> None:
    evaluation = policy.evaluate(
        _following_the_host(), policy.Profile(), today=date(2026, 1, 5), host=OUTSIDERS_ONLY
    )
    reread = _following_the_host()
    reread["settings"]["waiting_room_options"] = WAITING_ROOM_FOR_EVERYONE
    fixed, still = policy.verify(
        evaluation, reread, policy.Profile(), today=date(2026, 1, 5), host=OUTSIDERS_ONLY
    )
    assert [f.rule_id for f in fixed] == ["waiting_room"]
    assert still == []
    kept, failing = policy.verify(
        evaluation,
        _following_the_host(),
        policy.Profile(),
        today=date(2026, 1, 5),
        host=OUTSIDERS_ONLY,
    )
    assert kept == []
    assert [f.rule_id for f in failing] == ["waiting_room"]


def test_the_live_table_says_what_to_do_when_a_stop_is_refused() -> None:
    assert policy.default_profile().live.when_stop_refused == "alert"
    ending = policy.load_profile('[live]\nwhen_stop_refused = "end_meeting"\n')
    assert ending.live.when_stop_refused == "end_meeting"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[live]\nwhen_stop_refused = "shrug"\n', "live.when_stop_refused: must be"),
        ("[live]\nwhen_stop_refused = true\n", "live.when_stop_refused: must be"),
        ("[live]\nwhen_refused = 'alert'\n", "live.when_refused: unknown key"),
        ('live = "alert"\n', "live: must be a table"),
    ],
)
def test_a_bad_live_table_names_the_key(text: str, message: str) -> None:
    with pytest.raises(policy.PolicyError, match=message):
        policy.load_profile(text)
