"""The account's meeting passcode requirement (``meeting_password_requirement``), as Zoom holds
a meeting's passcode to it on every create and PATCH.

Kept apart from zoomguard's own passcode generator on purpose: the sandbox checks what Zoom's
documents say, so a generator that misreads them is caught.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Mapping
from typing import Any

# Every field of ``meeting_password_requirement`` (accounts and users OpenAPI documents), with
# the value of an account that has set no requirement.
REQUIREMENT_DEFAULTS: dict[str, Any] = {
    "length": 0,
    "have_letter": False,
    "have_number": False,
    "have_special_character": False,
    "have_upper_and_lower_characters": False,
    "only_allow_numeric": False,
    "consecutive_characters_length": 0,  # 0, or 4-8: at most n-1 consecutive characters
    "weak_enhance_detection": False,
}
CONSECUTIVE_LENGTHS = (0, 4, 5, 6, 7, 8)
SPECIAL = frozenset("@-_*")


def requirement_problem(field_path: str, value: Any) -> str | None:
    """Why a requirement object in a settings PATCH is invalid; None when it is valid."""
    if not isinstance(value, Mapping):
        return f"Invalid field: {field_path}."
    for key, item in value.items():
        default = REQUIREMENT_DEFAULTS.get(key)
        if default is None:
            continue  # Zoom ignores fields it does not know
        if isinstance(default, bool) != isinstance(item, bool) or not isinstance(
            item, type(default)
        ):
            return f"Invalid field: {field_path}.{key}."
    if value.get("consecutive_characters_length", 0) not in CONSECUTIVE_LENGTHS:
        return f"Invalid field: {field_path}.consecutive_characters_length."
    return None


def _longest_consecutive(passcode: str) -> int:
    """The longest run of ascending consecutive characters ("abc", "123")."""
    longest = run = 1 if passcode else 0
    for before, after in itertools.pairwise(passcode):
        run = run + 1 if ord(after) - ord(before) == 1 else 1
        longest = max(longest, run)
    return longest


def passcode_problem(passcode: str, requirement: Mapping[str, Any]) -> str | None:
    """Why ``passcode`` breaks ``requirement``; None when it meets it (or is empty: whether a
    passcode is required at all is another setting)."""
    if not passcode:
        return None
    rule = {**REQUIREMENT_DEFAULTS, **requirement}
    if rule["only_allow_numeric"] and not passcode.isdigit():
        return "The passcode may only contain numbers."
    if len(passcode) < rule["length"]:
        return f"The passcode must be at least {rule['length']} characters."
    if rule["have_letter"] and not any(c in string.ascii_letters for c in passcode):
        return "The passcode must contain a letter."
    if rule["have_number"] and not any(c.isdigit() for c in passcode):
        return "The passcode must contain a number."
    if rule["have_special_character"] and not any(c in SPECIAL for c in passcode):
        return "The passcode must contain a special character."
    if rule["have_upper_and_lower_characters"] and (
        passcode.lower() == passcode or passcode.upper() == passcode
    ):
        return "The passcode must contain upper and lower case letters."
    limit = rule["consecutive_characters_length"]
    if limit and _longest_consecutive(passcode) >= limit:
        return f"The passcode may hold at most {limit - 1} consecutive characters."
    return None
