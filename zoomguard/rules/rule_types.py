"""What a per-meeting rule is made of: its check's outcomes, its fix, and the rule record.

The catalog (``zoomguard.rules.meeting_rules``) declares every rule with these parts; the
evaluation (``zoomguard.rules.policy``) runs the checks and joins the fixes into one PATCH body.
Kept apart from both so that neither imports the other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

JSONScalar = str | int | bool | None

# A field absent from the meeting, told apart from a field that is null.
MISSING: Final = object()


@dataclass(frozen=True)
class Violation:
    """The meeting breaks the rule. ``actual`` is already redacted and never a passcode."""

    expected: JSONScalar
    actual: JSONScalar  # None: the field is absent from the meeting
    problem: str  # one or two sentences: what is wrong, in plain language
    # False when the rule's fix cannot help this meeting (e.g. a PMI room): the host must act.
    fixable: bool = True
    field: str | None = None  # the field(s) at fault when narrower than the rule's own
    # The paths of the rule's fix this meeting needs (None: all of them), so a PATCH never
    # touches a field that already complies.
    fix_paths: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Unreadable:
    """A field the check needs holds something zoomguard cannot judge; never the value itself."""

    field: str
    expected: str
    actual: str  # what the value is ("a number", "null"), see ``json_type``


Outcome = Violation | Unreadable | None  # None: the meeting complies

# ``meeting_security.waiting_room_settings.participants_to_place_in_waiting_room`` of a user's
# settings: whom the waiting room holds in a meeting that follows the host's own setting.
WAITING_ROOM_PLACES_EVERYONE: Final = 0
WAITING_ROOM_PLACES: Final[Mapping[int, str]] = {
    0: "everyone",
    1: "only users not in the account",
    2: "only users not in the account and not in the allowed domains",
}


@dataclass(frozen=True)
class HostSettings:
    """What the host's own settings say, for a rule whose meeting defers to them.

    The service reads them (``GET /users/{id}/settings?option=meeting_security``, the value in
    force for that host: the account's, the group's or the user's own) and passes them in, so
    the rules stay pure. None: not known (not read, or the read failed); a rule then takes the
    stricter reading.
    """

    waiting_room_places: int | None = None


UNKNOWN_HOST: Final = HostSettings()

# (meeting, its settings, what the host's own settings say)
Check = Callable[[Mapping[str, Any], Mapping[str, Any], HostSettings], Outcome]


@dataclass(frozen=True)
class Fix:
    """A rule's part of the single PATCH body: the value it sets at one dotted path."""

    path: str  # e.g. "settings.waiting_room"
    value: JSONScalar = None
    # The value is a fresh passcode, made only when the patch is built (never stored here).
    new_passcode: bool = False
    # Further (dotted path, value) pairs the same fix sets, e.g. the waiting room's options.
    also: tuple[tuple[str, JSONScalar], ...] = ()

    def assignments(self) -> tuple[tuple[str, JSONScalar], ...]:
        """Every (dotted path, value) the fix sets, its own first."""
        return ((self.path, self.value), *self.also)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A rule findings are filed under: what it guarantees and which guidance it comes from."""

    id: str
    title: str  # plain language, for emails and reports
    guidance: str  # the sentence of the guidance the rule comes from (guidance_quotes)
    field: str  # the meeting field(s) it reads (dotted paths, comma-separated)
    fix: Fix | None = None  # None: report only, zoomguard never changes it
    advice: str | None = None  # what the privacy officer should do about a finding

    @property
    def fixable(self) -> bool:
        return self.fix is not None


@dataclass(frozen=True, kw_only=True)
class MeetingRule(Rule):
    """A rule a policy file can switch: its default, its check, and how the README shows it."""

    default: bool  # on in the built-in profile
    check: Check
    checks_text: str  # "zoomguard checks" (markdown), in the README and the default policy file
    fix_text: str  # "fix", likewise


def json_type(value: Any) -> str:
    """What a value is, never the value itself: the field may hold a passcode or a SIN."""
    if value is MISSING:
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


def setting_must_be(key: str, wanted: bool, problem: str) -> Check:
    """The check of a boolean meeting setting (``settings.<key>``) that must equal ``wanted``."""

    def check(
        meeting: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings
    ) -> Outcome:
        value = settings.get(key, MISSING)
        if value is MISSING:
            # Absent is not "off" for certain: we cannot confirm the rule holds, so set it.
            return Violation(
                expected=wanted,
                actual=None,
                problem=f"The meeting's settings do not include {key}, so zoomguard cannot "
                f"confirm it is {'on' if wanted else 'off'}.",
            )
        if not isinstance(value, bool):
            return Unreadable(f"settings.{key}", "true or false", json_type(value))
        if value == wanted:
            return None
        return Violation(expected=wanted, actual=value, problem=problem)

    return check


def passcode_required(noun: str) -> Check:
    """The check that a meeting or webinar (``noun``) has a passcode (top-level ``password``)."""

    def check(item: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings) -> Outcome:
        password = item.get("password", MISSING)
        if isinstance(password, str) and password:
            return None
        if password is not MISSING and not isinstance(password, str):
            return Unreadable("password", "a string", json_type(password))
        # Never the passcode itself in a finding: "" (empty) or None (absent) is all we report.
        return Violation(
            expected="a passcode",
            actual=None if password is MISSING else "",
            problem=f"The {noun} has no passcode, so anyone who gets the link can join.",
        )

    return check


def no_auto_recording(noun: str) -> Check:
    """The check that a meeting or webinar (``noun``) does not record when it starts."""

    def check(item: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings) -> Outcome:
        value = settings.get("auto_recording", MISSING)
        if value == "none":
            return None
        if value is MISSING:
            problem = f"The {noun} does not say whether it records automatically."
        elif isinstance(value, str):
            problem = f"The {noun} records automatically ({value} recording) when it starts."
        else:
            return Unreadable(
                "settings.auto_recording", 'a string such as "none"', json_type(value)
            )
        return Violation(
            expected="none", actual=None if value is MISSING else value, problem=problem
        )

    return check


def ai_companion_off(key: str, problem: str) -> Check:
    """An AI Companion auto-start setting (``settings.<key>``) that must be false.

    Unlike the other boolean settings, absent counts as off: Zoom leaves these fields out of
    meetings (and of webinars, whose document has none today) on accounts without AI Companion,
    and there is then nothing that could start. Setting them anyway would spend a PATCH on every
    such meeting at every sweep.
    """
    must_be_false = setting_must_be(key, False, problem)

    def check(item: Mapping[str, Any], settings: Mapping[str, Any], host: HostSettings) -> Outcome:
        if key not in settings:
            return None
        return must_be_false(item, settings, host)

    return check
