"""The policy: a Zoom meeting's JSON and a ``Profile`` in, findings and one PATCH body out.

PURE: no I/O, no clock, no environment. ``today`` is passed in, passcode generation is
injectable, and bad meeting data is a finding ("unreadable"), never an exception.

The rules themselves (checks, fixes, guidance) are declared in ``zoomguard.rules.meeting_rules``;
this module runs the enabled ones and joins their fixes into the single PATCH body. Values that
could identify a person (a SIN, a labelled birth date in a topic or agenda) are replaced by
"[redacted]" before they are put in a finding or an ``Evaluation``, and a passcode never appears
in a finding: only ``Evaluation.patch`` carries it, and ``audit_patch`` masks it.

The names callers use from the catalog, the policy file and the redaction are re-exported here,
so ``zoomguard.rules.policy`` is the one import for evaluating meetings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from zoomguard.errors import PolicyError
from zoomguard.masking import PATCH_MASK, masked_patch
from zoomguard.rules.guidance_quotes import cite
from zoomguard.rules.identifying import REDACTED, redact
from zoomguard.rules.meeting_rules import (
    CATALOG_RULES,
    IDENTIFYING_INFORMATION,
    JOIN_BEFORE_HOST_OFF,
    MEETING_AUTHENTICATION,
    MEETING_RULES,
    NO_AUTO_RECORDING,
    NO_PMI,
    OCCURRENCE_CATALOG,
    OCCURRENCE_RULES,
    OCCURRENCE_SETTINGS,
    PASSCODE,
    RULES,
    UNREADABLE,
    UNREADABLE_RULE,
    WAITING_ROOM,
    waiting_room_follows_host,
)
from zoomguard.rules.passcodes import PASSCODE_ALPHABET, acceptable_passcode, generate_passcode
from zoomguard.rules.profile import (
    DEFAULT_RULES,
    MODES,
    RULE_DEFAULTS,
    Exemption,
    Mode,
    Profile,
    default_profile,
    load_profile,
)
from zoomguard.rules.rule_types import (
    MISSING,
    UNKNOWN_HOST,
    Fix,
    HostSettings,
    JSONScalar,
    MeetingRule,
    Rule,
    Unreadable,
    Violation,
    json_type,
)
from zoomguard.rules.webinar_rules import WEBINAR_RULES, WEBINAR_TYPES

__all__ = [
    "CATALOG_RULES",
    "DEFAULT_RULES",
    "IDENTIFYING_INFORMATION",
    "JOIN_BEFORE_HOST_OFF",
    "MASK",
    "MEETING_AUTHENTICATION",
    "MEETING_RULES",
    "MEETING_TYPES",
    "MODES",
    "NO_AUTO_RECORDING",
    "NO_PMI",
    "OCCURRENCE_CATALOG",
    "OCCURRENCE_RULES",
    "OCCURRENCE_SETTINGS",
    "PASSCODE",
    "PASSCODE_ALPHABET",
    "REDACTED",
    "RULES",
    "RULE_DEFAULTS",
    "UNKNOWN_HOST",
    "UNREADABLE",
    "WAITING_ROOM",
    "WEBINAR",
    "WEBINAR_RULES",
    "WEBINAR_TYPES",
    "Evaluation",
    "Exemption",
    "Finding",
    "HostSettings",
    "JSONScalar",
    "MeetingRule",
    "Mode",
    "PolicyError",
    "Profile",
    "Rule",
    "default_profile",
    "evaluate",
    "evaluate_webinar",
    "generate_passcode",
    "load_profile",
    "redact",
    "verify",
    "waiting_room_follows_host",
]

MASK: Final = PATCH_MASK

# 1 instant, 2 scheduled, 3 recurring (no fixed time), 4 PMI, 8 recurring (fixed time),
# 10 screen-share only: every type GET /meetings/{id} may return.
MEETING_TYPES: Final[frozenset[int]] = frozenset({1, 2, 3, 4, 8, 10})

# What an evaluation is about: a meeting (GET /meetings/{id}) or a webinar (GET /webinars/{id}).
MEETING: Final = "meeting"
WEBINAR: Final = "webinar"


@dataclass(frozen=True)
class _Kind:
    name: str
    rules: Mapping[str, MeetingRule]
    types: frozenset[int]


_KINDS: Final[Mapping[str, _Kind]] = {
    MEETING: _Kind(MEETING, MEETING_RULES, MEETING_TYPES),
    WEBINAR: _Kind(WEBINAR, WEBINAR_RULES, WEBINAR_TYPES),
}
# One occurrence of a recurring meeting: a meeting (its endpoints, with ?occurrence_id=) checked
# against only what an occurrence can have of its own.
_OCCURRENCE: Final = _Kind(MEETING, OCCURRENCE_CATALOG, MEETING_TYPES)


def _kind_of(evaluation: Evaluation) -> _Kind:
    return _OCCURRENCE if evaluation.occurrence else _KINDS[evaluation.kind]


# Values ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One way a meeting breaks one rule. Values are JSON scalars, already redacted."""

    rule_id: str
    field: str
    expected: JSONScalar
    actual: JSONScalar  # None: the field is absent from the meeting
    reason: str
    guidance: str
    fixable: bool


@dataclass(frozen=True)
class Evaluation:
    meeting_id: str  # "" when the meeting has no readable ID
    host_id: str | None
    topic: str | None  # redacted
    findings: tuple[Finding, ...]
    # Empty in report mode, for an exempt meeting, and when nothing is fixable. Holds the new
    # passcode in clear: send it to Zoom, show ``audit_patch`` anywhere else.
    patch: dict[str, Any] = dataclasses.field(hash=False)
    exemption: Exemption | None = None
    kind: str = MEETING  # MEETING or WEBINAR: which endpoints fix and re-read it
    occurrence: bool = False  # one occurrence of a meeting, checked by OCCURRENCE_CATALOG

    @property
    def compliant(self) -> bool:
        return not self.findings

    @property
    def exempt(self) -> bool:
        return self.exemption is not None

    @property
    def fixable_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fixable)

    @property
    def audit_patch(self) -> dict[str, Any]:
        """The patch with the passcode masked: what logs, the audit log and emails may show."""
        return masked_patch(self.patch)


# Evaluation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unreadable:
    rule_id: str | None  # None: the meeting as a whole
    problem: Unreadable


@dataclass(frozen=True)
class _Broken:
    """A rule the meeting breaks: the finding, and the rule's fix when it can help."""

    finding: Finding
    fix: Fix | None  # None: report only
    fix_paths: tuple[str, ...] | None = None  # the fix's paths to send (None: all)


@dataclass(frozen=True)
class _Assessment:
    meeting_id: str
    host_id: str | None
    host_email: str | None
    topic: str | None
    violations: tuple[_Broken, ...]
    unreadable: tuple[_Unreadable, ...]
    whole_meeting_unreadable: bool
    kind: str = MEETING

    def findings(self) -> tuple[Finding, ...]:
        found = tuple(v.finding for v in self.violations)
        if self.unreadable:
            found += (
                _unreadable_finding(self.unreadable, self.whole_meeting_unreadable, self.kind),
            )
        return found


def evaluate(
    meeting: Mapping[str, Any],
    profile: Profile,
    *,
    today: date,
    host_email: str | None = None,
    make_passcode: Callable[[], str] = generate_passcode,
    host: HostSettings = UNKNOWN_HOST,
    occurrence: bool = False,
) -> Evaluation:
    """Check ``meeting`` (GET /meetings/{id}) against ``profile``.

    The patch fixes every fixable finding at once, touches no field that is already compliant,
    and is empty in report mode, for an exempt meeting and for a compliant one. Recurring
    meetings need nothing special: a PATCH without ``occurrence_id`` updates the whole series.
    ``host`` is what the host's own settings say, for a meeting that defers to them (see
    ``waiting_room_follows_host``); unknown is read the stricter way. With ``occurrence``,
    ``meeting`` is one occurrence (GET ?occurrence_id=) and only ``OCCURRENCE_CATALOG`` applies.
    """
    return _evaluate(
        _OCCURRENCE if occurrence else _KINDS[MEETING],
        meeting,
        profile,
        today,
        host_email=host_email,
        make_passcode=make_passcode,
        host=host,
    )


def evaluate_webinar(
    webinar: Mapping[str, Any],
    profile: Profile,
    *,
    today: date,
    host_email: str | None = None,
    make_passcode: Callable[[], str] = generate_passcode,
) -> Evaluation:
    """Check ``webinar`` (GET /webinars/{id}) against the webinar rules ``profile`` enables.

    As ``evaluate``: one PATCH body for PATCH /webinars/{id}; an exemption by meeting ID matches
    the webinar's ID, one by host email matches its host.
    """
    return _evaluate(
        _KINDS[WEBINAR],
        webinar,
        profile,
        today,
        host_email=host_email,
        make_passcode=make_passcode,
        host=UNKNOWN_HOST,  # no webinar rule defers to the host's settings
    )


def _evaluate(
    kind: _Kind,
    meeting: Mapping[str, Any],
    profile: Profile,
    today: date,
    *,
    host_email: str | None,
    make_passcode: Callable[[], str],
    host: HostSettings,
) -> Evaluation:
    assessment = _assess(meeting, profile, kind, host)
    email = host_email if host_email is not None else assessment.host_email
    exemption = profile.exemption_for(assessment.meeting_id, email, today=today)
    patch: dict[str, Any] = {}
    if profile.mode == "enforce" and exemption is None:
        patch = _patch(assessment.violations, make_passcode)
    return Evaluation(
        meeting_id=assessment.meeting_id,
        host_id=assessment.host_id,
        topic=assessment.topic,
        findings=assessment.findings(),
        patch=patch,
        exemption=exemption,
        kind=kind.name,
        occurrence=kind is _OCCURRENCE,
    )


def verify(
    evaluation: Evaluation,
    reread_meeting: Mapping[str, Any],
    profile: Profile,
    *,
    today: date,
    host: HostSettings = UNKNOWN_HOST,
) -> tuple[list[Finding], list[Finding]]:
    """After the PATCH, which fixes the re-read meeting shows: (confirmed fixed, still failing).

    Only findings the patch tried to fix are considered. Confirmed ones are returned as they
    were (``actual`` is the value before); still-failing ones describe the re-read meeting.
    A passcode counts as fixed when the re-read one is non-empty, whatever its value.
    ``today`` is accepted for symmetry with ``evaluate``: exemptions do not apply to a re-read.
    ``host``: as for ``evaluate``.
    """
    del today
    attempted = [f for f in evaluation.findings if f.fixable] if evaluation.patch else []
    if not attempted:
        return [], []
    after = _assess(reread_meeting, profile, _kind_of(evaluation), host)
    now_failing = {v.finding.rule_id: v.finding for v in after.violations}
    unreadable_rules = {u.rule_id for u in after.unreadable}
    confirmed: list[Finding] = []
    still_failing: list[Finding] = []
    for finding in attempted:
        if finding.rule_id in now_failing:
            still_failing.append(now_failing[finding.rule_id])
        elif after.whole_meeting_unreadable or finding.rule_id in unreadable_rules:
            still_failing.append(
                dataclasses.replace(
                    finding,
                    reason="The fix could not be confirmed: the meeting read back after the "
                    f"change was unreadable. {finding.reason}",
                )
            )
        else:
            confirmed.append(finding)
    return confirmed, still_failing


def _patch(violations: tuple[_Broken, ...], make_passcode: Callable[[], str]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for violation in violations:
        if violation.fix is None:
            continue
        for index, (path, value) in enumerate(violation.fix.assignments()):
            if violation.fix_paths is not None and path not in violation.fix_paths:
                continue
            if index == 0 and violation.fix.new_passcode:
                value = make_passcode()
                # A bad injected generator must not send Zoom a passcode it rejects (or none).
                if not acceptable_passcode(value):
                    raise ValueError("make_passcode returned a passcode Zoom would reject")
            *parents, leaf = path.split(".")
            target = patch
            for key in parents:
                target = target.setdefault(key, {})
            target[leaf] = value
    return patch


def _assess(meeting: Any, profile: Profile, kind: _Kind, host: HostSettings) -> _Assessment:
    if not isinstance(meeting, Mapping):
        problem = _Unreadable(None, Unreadable(kind.name, "a JSON object", json_type(meeting)))
        return _Assessment("", None, None, None, (), (problem,), True, kind.name)
    meeting_id = _meeting_id(meeting.get("id", MISSING))
    host_id = meeting.get("host_id")
    host_email = meeting.get("host_email")
    topic = meeting.get("topic")
    structural = _structural_problems(meeting, meeting_id, kind)
    readable_id = meeting_id or ""
    readable_host_id = host_id if isinstance(host_id, str) and host_id else None
    readable_email = host_email if isinstance(host_email, str) and host_email else None
    redacted_topic = redact(topic) if isinstance(topic, str) else None
    if structural:
        return _Assessment(
            readable_id,
            readable_host_id,
            readable_email,
            redacted_topic,
            (),
            structural,
            True,
            kind.name,
        )
    settings: Mapping[str, Any] = meeting["settings"]
    violations: list[_Broken] = []
    unreadable: list[_Unreadable] = []
    for rule in kind.rules.values():
        if not profile.enabled(rule.id):
            continue
        outcome = rule.check(meeting, settings, host)
        if isinstance(outcome, Violation):
            violations.append(_broken(rule, outcome))
        elif isinstance(outcome, Unreadable):
            unreadable.append(_Unreadable(rule.id, outcome))
    return _Assessment(
        readable_id,
        readable_host_id,
        readable_email,
        redacted_topic,
        tuple(violations),
        tuple(unreadable),
        False,
        kind.name,
    )


def _meeting_id(value: Any) -> str | None:
    # GET returns an integer; some webhook payloads carry the ID as a string.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    return None


def _structural_problems(
    meeting: Mapping[str, Any], meeting_id: str | None, kind: _Kind
) -> tuple[_Unreadable, ...]:
    """What stops zoomguard from treating ``meeting`` as a Zoom meeting (or webinar) at all."""
    problems: list[_Unreadable] = []
    if meeting_id is None:
        problems.append(
            _Unreadable(
                None,
                Unreadable("id", f"a {kind.name} ID", json_type(meeting.get("id", MISSING))),
            )
        )
    meeting_type = meeting.get("type", MISSING)
    if not (
        isinstance(meeting_type, int)
        and not isinstance(meeting_type, bool)
        and meeting_type in kind.types
    ):
        shown = (
            str(meeting_type)
            if isinstance(meeting_type, int) and not isinstance(meeting_type, bool)
            else json_type(meeting_type)
        )
        expected = f"a {kind.name} type: " + ", ".join(str(t) for t in sorted(kind.types))
        problems.append(_Unreadable(None, Unreadable("type", expected, shown)))
    # Without settings (e.g. an item of the list endpoint, or a null) nothing can be confirmed,
    # and "fixing" every setting blindly could undo what the host set.
    settings = meeting.get("settings", MISSING)
    if not isinstance(settings, Mapping):
        problems.append(
            _Unreadable(None, Unreadable("settings", "a JSON object", json_type(settings)))
        )
    return tuple(problems)


def _unreadable_finding(
    unreadable: tuple[_Unreadable, ...], whole_meeting: bool, noun: str
) -> Finding:
    # One finding for all of them: the store keeps one open row per meeting and rule.
    problems = [u.problem for u in unreadable]
    fields = ", ".join(p.field for p in problems)
    consequence = (
        "so zoomguard cannot check it and changed nothing"
        if whole_meeting
        else "so zoomguard could not check the rule(s) that depend on it and left it unchanged"
    )
    detail = "; ".join(f"{p.field} is {p.actual}, expected {p.expected}" for p in problems)
    return Finding(
        rule_id=UNREADABLE,
        field=fields,
        expected="; ".join(f"{p.field}: {p.expected}" for p in problems),
        actual="; ".join(f"{p.field}: {p.actual}" for p in problems),
        reason=f"zoomguard could not read this {noun} ({detail}), {consequence}. "
        f"A person should look at it. {cite(UNREADABLE_RULE.guidance)}",
        guidance=UNREADABLE_RULE.guidance,
        fixable=False,
    )


def _broken(rule: MeetingRule, violation: Violation) -> _Broken:
    fix = rule.fix if violation.fixable else None
    action = (
        "zoomguard can fix this."
        if fix is not None
        else "zoomguard does not change this itself: the host must."
    )
    finding = Finding(
        rule_id=rule.id,
        field=rule.field if violation.field is None else violation.field,
        expected=violation.expected,
        actual=violation.actual,
        reason=f"{violation.problem} {action} {cite(rule.guidance)}",
        guidance=rule.guidance,
        fixable=fix is not None,
    )
    return _Broken(finding, fix, violation.fix_paths)
