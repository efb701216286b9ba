"""The policy: a Zoom meeting's JSON and a ``Profile`` in, findings and one PATCH body out.

PURE: no I/O, no clock, no environment. ``today`` is passed in, passcode generation is
injectable, and bad meeting data is a finding ("unreadable"), never an exception.

Every rule traces back to a sentence of the CLBC guidance (``RULES[rule_id].guidance`` quotes it).
Values that could identify a person (a SIN, a labelled birth date in a topic or agenda) are
replaced by "[redacted]" before they are put in a finding or an ``Evaluation``, and a passcode
never appears in a finding: only ``Evaluation.patch`` carries it, and ``audit_patch`` masks it.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Final

from zoomguard.errors import PolicyError
from zoomguard.rules.policy_file import (
    DEFAULT_RULES,
    IDENTIFYING_INFORMATION,
    JOIN_BEFORE_HOST_OFF,
    MEETING_AUTHENTICATION,
    MODES,
    NO_AUTO_RECORDING,
    NO_PMI,
    PASSCODE,
    RULE_DEFAULTS,
    WAITING_ROOM,
    Exemption,
    Mode,
    Profile,
    default_profile,
    load_profile,
)

__all__ = [
    "DEFAULT_RULES",
    "IDENTIFYING_INFORMATION",
    "JOIN_BEFORE_HOST_OFF",
    "MASK",
    "MEETING_AUTHENTICATION",
    "MEETING_TYPES",
    "MODES",
    "NO_AUTO_RECORDING",
    "NO_PMI",
    "PASSCODE",
    "PASSCODE_ALPHABET",
    "REDACTED",
    "RULES",
    "RULE_DEFAULTS",
    "UNREADABLE",
    "WAITING_ROOM",
    "Evaluation",
    "Exemption",
    "Finding",
    "JSONScalar",
    "Mode",
    "PolicyError",
    "Profile",
    "Rule",
    "default_profile",
    "evaluate",
    "generate_passcode",
    "load_profile",
    "redact",
    "verify",
]

UNREADABLE: Final = "unreadable"
REDACTED: Final = "[redacted]"
MASK: Final = "********"

# 1 instant, 2 scheduled, 3 recurring (no fixed time), 4 PMI, 8 recurring (fixed time),
# 10 screen-share only: every type GET /meetings/{id} may return.
MEETING_TYPES: Final[frozenset[int]] = frozenset({1, 2, 3, 4, 8, 10})
PMI_MEETING_TYPE: Final = 4

JSONScalar = str | int | bool | None


# Rules -----------------------------------------------------------------------------------------

# Quoted verbatim from zoomguard/rules/guidance/interim-guidance-video-conferencing.md (emphasis
# dropped). The curly quotes and the en dash are the guidance's own characters.
_GUIDANCE_ACCESS = "Participants use a password to access a meeting."
_GUIDANCE_IDENTIFIED = (
    "Each participant is identified, and the \u201cmeeting\u201d is locked to prevent "
    "unauthorized parties joining."
)
_GUIDANCE_HOST_FIRST = "No one joins the meeting before the host."
_GUIDANCE_NOT_RECORDED = (
    "Video calls or conference calls are not recorded \u2013 CLBC staff confirm the host has "
    "turned off this option."
)
_GUIDANCE_IDENTIFYING = (
    "Identifying information of individuals is not included in discussion e.g. SIN, birth date, "
    "address, first and last name used together (using first names alone is fine)."
)
_GUIDANCE_PRECAUTIONS = (
    "Before using any non-government video conferencing platform, CLBC Staff and service "
    "providers must take precautions to protect personal information."
)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str  # plain language, for emails and reports
    guidance: str  # the sentence of the guidance the rule comes from
    field: str  # the meeting field it reads (dotted path)
    fixable: bool  # zoomguard can fix it with a PATCH (report-only otherwise)


RULES: Final[Mapping[str, Rule]] = MappingProxyType(
    {
        rule.id: rule
        for rule in (
            Rule(
                PASSCODE,
                "Participants need a passcode to join the meeting",
                _GUIDANCE_ACCESS,
                "password",
                True,
            ),
            Rule(
                WAITING_ROOM,
                "The waiting room is on, so the host admits each participant",
                _GUIDANCE_IDENTIFIED,
                "settings.waiting_room",
                True,
            ),
            Rule(
                JOIN_BEFORE_HOST_OFF,
                "No one can join before the host",
                _GUIDANCE_HOST_FIRST,
                "settings.join_before_host",
                True,
            ),
            Rule(
                NO_AUTO_RECORDING,
                "The meeting is not recorded automatically",
                _GUIDANCE_NOT_RECORDED,
                "settings.auto_recording",
                True,
            ),
            Rule(
                IDENTIFYING_INFORMATION,
                "No identifying information (SIN, birth date) in the meeting's topic or agenda",
                _GUIDANCE_IDENTIFYING,
                "topic, agenda",
                False,
            ),
            Rule(
                MEETING_AUTHENTICATION,
                "Only signed-in (authenticated) users can join",
                _GUIDANCE_IDENTIFIED,
                "settings.meeting_authentication",
                True,
            ),
            Rule(
                NO_PMI,
                "The meeting does not use the host's Personal Meeting ID",
                _GUIDANCE_IDENTIFIED,
                "settings.use_pmi",
                True,
            ),
            Rule(
                UNREADABLE,
                "zoomguard could read the meeting's settings",
                _GUIDANCE_PRECAUTIONS,
                "meeting",
                False,
            ),
        )
    }
)


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
        return _masked(self.patch)


def _masked(patch: Mapping[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = {}
    for key, value in patch.items():
        if key == "password":
            masked[key] = MASK
        elif isinstance(value, Mapping):
            masked[key] = _masked(value)
        else:
            masked[key] = value
    return masked


# Passcodes -------------------------------------------------------------------------------------

PASSCODE_ALPHABET: Final = string.ascii_letters + string.digits + "@-_*"
PASSCODE_LENGTH: Final = 10  # Zoom's maximum
_PASSCODE_SHAPE = re.compile(r"[A-Za-z0-9@\-_*]{1,10}")


def generate_passcode() -> str:
    """A random 10-character passcode Zoom accepts.

    Beyond the letter and digit the brief requires, it also holds an upper- and a lower-case
    letter and a special character, and no run of four equal or consecutive characters, so it
    passes the stricter passcode requirements an account admin may have switched on.
    Rejection sampling keeps the choice uniform among acceptable passcodes (~3 draws on average).
    """
    while True:
        candidate = "".join(secrets.choice(PASSCODE_ALPHABET) for _ in range(PASSCODE_LENGTH))
        if _strong_passcode(candidate):
            return candidate


def _strong_passcode(candidate: str) -> bool:
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "@-_*")
    if not all(any(c in chars for c in candidate) for chars in classes):
        return False
    for i in range(len(candidate) - 3):
        steps = {
            ord(b) - ord(a)
            for a, b in zip(candidate[i : i + 3], candidate[i + 1 : i + 4], strict=True)
        }
        if steps in ({0}, {1}, {-1}):
            return False
    return True


# Identifying information -----------------------------------------------------------------------

# A SIN: nine digits, optionally in 3-3-3 groups split by one kind of separator (space or dash),
# not part of a longer run of digits or digit groups (phone numbers, 10-11 digit meeting IDs).
_SIN = re.compile(r"(?<!\d)(?<!\d[ -])\d{3}([ -]?)\d{3}\1\d{3}(?![ -]?\d)")
# Nine digits labelled as something else are not a SIN, even when they pass the Luhn check.
_NOT_A_SIN_LABEL = re.compile(
    r"\b(?:(?:meeting|webinar|conference)\s*(?:id|number|no\.?|#)|phone|tel\.?|fax|passcode|pin)"
    r"\W{0,3}$",
    re.IGNORECASE,
)

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_FULL_DATE = (
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"  # 1990-04-12
    r"|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?!\d)"  # 12/04/1990, 12-04-90
    rf"|{_MONTH}\.?\s+\d{{1,2}}{_ORDINAL},?\s+\d{{4}}(?!\d)"  # April 12, 1990
    rf"|\d{{1,2}}{_ORDINAL}\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{4}}(?!\d))"  # 12 April 1990
)
_DAY_AND_MONTH = (
    r"(?:\d{1,2}[-/.]\d{1,2}(?![-/.]?\d)"  # 12/04
    rf"|{_MONTH}\.?\s+\d{{1,2}}{_ORDINAL}(?!\d)"  # April 12
    rf"|\d{{1,2}}{_ORDINAL}\s+(?:of\s+)?{_MONTH}\b)"  # 12 April
)
# Between a label and its date: "DOB 1990", "DOB: ", "born on ", "date of birth is ".
_LABEL_GAP = r"\s*(?:[:=(\-\u2013\u2014]\s*)?(?:(?:on|is|was)\s*:?\s+)?"
# An explicit label ("DOB", "date of birth", "birth date") makes even a day and month a birth
# date. "Born" and "birthday" also name anniversaries and parties, so they need a full date.
_BIRTH_DATE = re.compile(
    rf"\b(?:d\.?o\.?b\.?|date\s+of\s+birth|birth[\s-]?date){_LABEL_GAP}"
    rf"(?P<date>{_FULL_DATE}|{_DAY_AND_MONTH})"
    rf"|\b(?:born|birthday){_LABEL_GAP}(?P<weak_date>{_FULL_DATE})",
    re.IGNORECASE,
)

_SIN_KIND: Final = "a Social Insurance Number"
_BIRTH_DATE_KIND: Final = "a birth date"


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _identifying_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every SIN and labelled birth date in ``text``, in order."""
    spans: list[tuple[int, int, str]] = []
    for match in _BIRTH_DATE.finditer(text):
        group = "date" if match.group("date") is not None else "weak_date"
        spans.append((match.start(group), match.end(group), _BIRTH_DATE_KIND))
    for match in _SIN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if digits == "0" * 9 or not _luhn_valid(digits):
            continue
        if _NOT_A_SIN_LABEL.search(text[max(0, match.start() - 30) : match.start()]):
            continue
        if any(start < match.end() and match.start() < end for start, end, _ in spans):
            continue
        spans.append((match.start(), match.end(), _SIN_KIND))
    return sorted(spans)


def redact(text: str) -> str:
    """``text`` with every SIN and labelled birth date replaced by "[redacted]"."""
    pieces: list[str] = []
    position = 0
    for start, end, _ in _identifying_spans(text):
        pieces.append(text[position:start])
        pieces.append(REDACTED)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


# Evaluation ------------------------------------------------------------------------------------

_MISSING: Final = object()


@dataclass(frozen=True)
class _Unreadable:
    rule_id: str | None  # None: the meeting as a whole
    field: str
    expected: str
    actual: str


@dataclass(frozen=True)
class _Violation:
    finding: Finding
    fix: tuple[str, ...] | None  # the patch path to set; None: report only
    value: JSONScalar = None  # for the passcode, generated only when the patch is sent


_Outcome = _Violation | _Unreadable | None


@dataclass(frozen=True)
class _Assessment:
    meeting_id: str
    host_id: str | None
    host_email: str | None
    topic: str | None
    violations: tuple[_Violation, ...]
    unreadable: tuple[_Unreadable, ...]
    whole_meeting_unreadable: bool

    def findings(self) -> tuple[Finding, ...]:
        found = tuple(v.finding for v in self.violations)
        if self.unreadable:
            found += (_unreadable_finding(self.unreadable, self.whole_meeting_unreadable),)
        return found


def evaluate(
    meeting: Mapping[str, Any],
    profile: Profile,
    *,
    today: date,
    host_email: str | None = None,
    make_passcode: Callable[[], str] = generate_passcode,
) -> Evaluation:
    """Check ``meeting`` (GET /meetings/{id}) against ``profile``.

    The patch fixes every fixable finding at once, touches no field that is already compliant,
    and is empty in report mode, for an exempt meeting and for a compliant one. Recurring
    meetings need nothing special: a PATCH without ``occurrence_id`` updates the whole series.
    """
    assessment = _assess(meeting, profile)
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
    )


def verify(
    evaluation: Evaluation,
    reread_meeting: Mapping[str, Any],
    profile: Profile,
    *,
    today: date,
) -> tuple[list[Finding], list[Finding]]:
    """After the PATCH, which fixes the re-read meeting shows: (confirmed fixed, still failing).

    Only findings the patch tried to fix are considered. Confirmed ones are returned as they
    were (``actual`` is the value before); still-failing ones describe the re-read meeting.
    A passcode counts as fixed when the re-read one is non-empty, whatever its value.
    ``today`` is accepted for symmetry with ``evaluate``: exemptions do not apply to a re-read.
    """
    del today
    attempted = [f for f in evaluation.findings if f.fixable] if evaluation.patch else []
    if not attempted:
        return [], []
    after = _assess(reread_meeting, profile)
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


def _patch(violations: tuple[_Violation, ...], make_passcode: Callable[[], str]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for violation in violations:
        if violation.fix is None:
            continue
        value: JSONScalar = violation.value
        if violation.finding.rule_id == PASSCODE:
            value = make_passcode()
            # A bad injected generator must not send Zoom a passcode it rejects (or none at all).
            if not isinstance(value, str) or not _PASSCODE_SHAPE.fullmatch(value):
                raise ValueError("make_passcode returned a passcode Zoom would reject")
        *parents, leaf = violation.fix
        target = patch
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = value
    return patch


def _assess(meeting: Any, profile: Profile) -> _Assessment:
    if not isinstance(meeting, Mapping):
        problem = _Unreadable(None, "meeting", "a JSON object", _json_type(meeting))
        return _Assessment("", None, None, None, (), (problem,), True)
    meeting_id = _meeting_id(meeting.get("id", _MISSING))
    host_id = meeting.get("host_id")
    host_email = meeting.get("host_email")
    topic = meeting.get("topic")
    structural = _structural_problems(meeting, meeting_id)
    readable_id = meeting_id or ""
    readable_host_id = host_id if isinstance(host_id, str) and host_id else None
    readable_email = host_email if isinstance(host_email, str) and host_email else None
    redacted_topic = redact(topic) if isinstance(topic, str) else None
    if structural:
        return _Assessment(
            readable_id, readable_host_id, readable_email, redacted_topic, (), structural, True
        )
    settings: Mapping[str, Any] = meeting["settings"]
    violations: list[_Violation] = []
    unreadable: list[_Unreadable] = []
    for rule_id, check in _CHECKS.items():
        if not profile.enabled(rule_id):
            continue
        outcome = check(meeting, settings)
        if isinstance(outcome, _Violation):
            violations.append(outcome)
        elif isinstance(outcome, _Unreadable):
            unreadable.append(outcome)
    return _Assessment(
        readable_id,
        readable_host_id,
        readable_email,
        redacted_topic,
        tuple(violations),
        tuple(unreadable),
        False,
    )


def _meeting_id(value: Any) -> str | None:
    # GET returns an integer; some webhook payloads carry the ID as a string.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    return None


def _structural_problems(
    meeting: Mapping[str, Any], meeting_id: str | None
) -> tuple[_Unreadable, ...]:
    """What stops zoomguard from treating ``meeting`` as a Zoom meeting at all."""
    problems: list[_Unreadable] = []
    if meeting_id is None:
        problems.append(
            _Unreadable(None, "id", "a meeting ID", _json_type(meeting.get("id", _MISSING)))
        )
    meeting_type = meeting.get("type", _MISSING)
    if not (
        isinstance(meeting_type, int)
        and not isinstance(meeting_type, bool)
        and meeting_type in MEETING_TYPES
    ):
        shown = (
            str(meeting_type)
            if isinstance(meeting_type, int) and not isinstance(meeting_type, bool)
            else _json_type(meeting_type)
        )
        expected = "a meeting type: " + ", ".join(str(t) for t in sorted(MEETING_TYPES))
        problems.append(_Unreadable(None, "type", expected, shown))
    # Without settings (e.g. an item of the list endpoint, or a null) nothing can be confirmed,
    # and "fixing" every setting blindly could undo what the host set.
    settings = meeting.get("settings", _MISSING)
    if not isinstance(settings, Mapping):
        problems.append(_Unreadable(None, "settings", "a JSON object", _json_type(settings)))
    return tuple(problems)


def _json_type(value: Any) -> str:
    """What a value is, never the value itself: the field may hold a passcode or a SIN."""
    if value is _MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _unreadable_finding(problems: tuple[_Unreadable, ...], whole_meeting: bool) -> Finding:
    # One finding for all of them: the store keeps one open row per meeting and rule.
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
        reason=f"zoomguard could not read this meeting ({detail}), {consequence}. "
        f"A person should look at it. {_cite(_GUIDANCE_PRECAUTIONS)}",
        guidance=_GUIDANCE_PRECAUTIONS,
        fixable=False,
    )


def _cite(guidance: str) -> str:
    return f"The guidance says: \u201c{guidance}\u201d"


def _violation(
    rule_id: str,
    *,
    expected: JSONScalar,
    actual: JSONScalar,
    problem: str,
    fix: tuple[str, ...] | None,
    value: JSONScalar = None,
    field: str | None = None,
) -> _Violation:
    rule = RULES[rule_id]
    action = (
        "zoomguard can fix this."
        if fix is not None
        else "zoomguard does not change this itself: the host must."
    )
    return _Violation(
        Finding(
            rule_id=rule_id,
            field=rule.field if field is None else field,
            expected=expected,
            actual=actual,
            reason=f"{problem} {action} {_cite(rule.guidance)}",
            guidance=rule.guidance,
            fixable=fix is not None,
        ),
        fix,
        value,
    )


# Checks: one per rule, each returning None (compliant), a violation or an unreadable field.


def _check_passcode(meeting: Mapping[str, Any], settings: Mapping[str, Any]) -> _Outcome:
    password = meeting.get("password", _MISSING)
    if isinstance(password, str) and password:
        return None
    if password is not _MISSING and not isinstance(password, str):
        return _Unreadable(PASSCODE, "password", "a string", _json_type(password))
    # Never the passcode itself in a finding: "" (empty) or None (absent) is all we report.
    return _violation(
        PASSCODE,
        expected="a passcode",
        actual=None if password is _MISSING else "",
        problem="The meeting has no passcode, so anyone who gets the link can join.",
        fix=("password",),
    )


def _bool_setting_check(
    rule_id: str, key: str, wanted: bool, problem: str
) -> Callable[[Mapping[str, Any], Mapping[str, Any]], _Outcome]:
    def check(meeting: Mapping[str, Any], settings: Mapping[str, Any]) -> _Outcome:
        value = settings.get(key, _MISSING)
        if value is _MISSING:
            # Absent is not "off" for certain: we cannot confirm the rule holds, so set it.
            return _violation(
                rule_id,
                expected=wanted,
                actual=None,
                problem=f"The meeting's settings do not include {key}, so zoomguard cannot "
                f"confirm it is {'on' if wanted else 'off'}.",
                fix=("settings", key),
                value=wanted,
            )
        if not isinstance(value, bool):
            return _Unreadable(rule_id, f"settings.{key}", "true or false", _json_type(value))
        if value == wanted:
            return None
        return _violation(
            rule_id,
            expected=wanted,
            actual=value,
            problem=problem,
            fix=("settings", key),
            value=wanted,
        )

    return check


def _check_auto_recording(meeting: Mapping[str, Any], settings: Mapping[str, Any]) -> _Outcome:
    value = settings.get("auto_recording", _MISSING)
    if value == "none":
        return None
    if value is _MISSING:
        problem = "The meeting does not say whether it records automatically."
    elif isinstance(value, str):
        problem = f"The meeting records automatically ({value} recording) when it starts."
    else:
        return _Unreadable(
            NO_AUTO_RECORDING,
            "settings.auto_recording",
            'a string such as "none"',
            _json_type(value),
        )
    return _violation(
        NO_AUTO_RECORDING,
        expected="none",
        actual=None if value is _MISSING else value,
        problem=problem,
        fix=("settings", "auto_recording"),
        value="none",
    )


def _check_no_pmi(meeting: Mapping[str, Any], settings: Mapping[str, Any]) -> _Outcome:
    if meeting.get("type") == PMI_MEETING_TYPE:
        # The meeting *is* the host's personal room: no setting of it can change that.
        return _violation(
            NO_PMI,
            expected="a meeting with its own ID",
            actual=PMI_MEETING_TYPE,
            problem="This is the host's Personal Meeting ID room, a permanent link that everyone "
            "invited before can reuse.",
            fix=None,
        )
    return _check_use_pmi(meeting, settings)


_check_use_pmi = _bool_setting_check(
    NO_PMI,
    "use_pmi",
    False,
    "The meeting uses the host's Personal Meeting ID, a permanent link that everyone invited "
    "before can reuse.",
)


def _check_identifying_information(
    meeting: Mapping[str, Any], settings: Mapping[str, Any]
) -> _Outcome:
    flagged: list[tuple[str, str, list[str]]] = []  # (field, redacted text, kinds)
    for key in ("topic", "agenda"):
        text = meeting.get(key)
        if text is None:  # no text, nothing to find
            continue
        if not isinstance(text, str):
            return _Unreadable(IDENTIFYING_INFORMATION, key, "a string", _json_type(text))
        kinds = sorted({kind for _, _, kind in _identifying_spans(text)})
        if kinds:
            flagged.append((key, redact(text), kinds))
    if not flagged:
        return None
    found = "; ".join(f"the {key} holds {' and '.join(kinds)}" for key, _, kinds in flagged)
    if len(flagged) == 1:
        actual = flagged[0][1]
    else:
        actual = "\n".join(f"{key}: {text}" for key, text, _ in flagged)
    return _violation(
        IDENTIFYING_INFORMATION,
        expected="no SIN or birth date",
        actual=actual,
        problem=f"In this meeting {found} (shown here as {REDACTED}).",
        fix=None,
        field=", ".join(key for key, _, _ in flagged),  # only the fields that hold it
    )


_CHECKS: Final[Mapping[str, Callable[[Mapping[str, Any], Mapping[str, Any]], _Outcome]]] = (
    MappingProxyType(
        {
            PASSCODE: _check_passcode,
            WAITING_ROOM: _bool_setting_check(
                WAITING_ROOM,
                "waiting_room",
                True,
                "The waiting room is off, so people join without the host admitting them.",
            ),
            JOIN_BEFORE_HOST_OFF: _bool_setting_check(
                JOIN_BEFORE_HOST_OFF,
                "join_before_host",
                False,
                "Participants can join before the host.",
            ),
            NO_AUTO_RECORDING: _check_auto_recording,
            IDENTIFYING_INFORMATION: _check_identifying_information,
            MEETING_AUTHENTICATION: _bool_setting_check(
                MEETING_AUTHENTICATION,
                "meeting_authentication",
                True,
                "Anyone can join without signing in, so participants are not identified.",
            ),
            NO_PMI: _check_no_pmi,
        }
    )
)
