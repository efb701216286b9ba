"""Meeting passcodes zoomguard sets: for a meeting without one, and for a PMI room.

An account (or a group, or a user) may require more of a passcode than Zoom's basics:
``meeting_password_requirement`` in the meeting settings, read with ``PasscodeRequirement``.
The default passcode meets every requirement but "numbers only"; ``passcode_maker`` makes
passcodes that meet the one given.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

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


def acceptable_passcode(value: Any) -> bool:
    """Whether Zoom would take ``value`` as a passcode (guards an injected generator)."""
    return isinstance(value, str) and _PASSCODE_SHAPE.fullmatch(value) is not None


def _strong_passcode(candidate: str) -> bool:
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "@-_*")
    if not all(any(c in chars for c in candidate) for chars in classes):
        return False
    return not _has_run(candidate)


@dataclass(frozen=True)
class PasscodeRequirement:
    """What the host's meeting passcodes must be (``meeting_password_requirement``).

    Only what changes the passcode zoomguard makes is kept: "numbers only". Every passcode
    zoomguard makes has Zoom's maximum length (10), so it meets any minimum length, and
    ``generate_passcode`` puts letters of both cases, a digit and a special character in each,
    with no run of four consecutive characters (the strictest ``consecutive_characters_length``
    allows three)."""

    numbers_only: bool = False

    @classmethod
    def from_settings(cls, requirement: Any) -> PasscodeRequirement:
        """From the JSON object Zoom returns; anything unreadable counts as no requirement."""
        if not isinstance(requirement, Mapping):
            return cls()
        return cls(numbers_only=requirement.get("only_allow_numeric") is True)


def numeric_passcode(length: int = PASSCODE_LENGTH) -> str:
    """Random digits with no run of four equal or consecutive ones ("1234", "7777")."""
    while True:
        candidate = "".join(secrets.choice(string.digits) for _ in range(length))
        if not _has_run(candidate):
            return candidate


def passcode_maker(requirement: PasscodeRequirement) -> Callable[[], str]:
    """A generator of passcodes that meet ``requirement`` (Zoom's maximum length is 10)."""
    if requirement.numbers_only:
        return numeric_passcode
    return generate_passcode


def _has_run(candidate: str) -> bool:
    for i in range(len(candidate) - 3):
        steps = {
            ord(b) - ord(a)
            for a, b in zip(candidate[i : i + 3], candidate[i + 1 : i + 4], strict=True)
        }
        if steps in ({0}, {1}, {-1}):
            return True
    return False
