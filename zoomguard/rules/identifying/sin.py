"""Social Insurance Numbers: nine digits that pass the Luhn check and are not labelled otherwise."""

from __future__ import annotations

import re
from typing import Final

from zoomguard.rules.identifying.match import SIN, IdentifyingMatch, labelled_as_something_else

# Nine digits, optionally in 3-3-3 groups split by one kind of separator (space or dash), not
# part of a longer run of digits or digit groups (phone numbers, 10-11 digit meeting IDs).
_SIN: Final = re.compile(r"(?<!\d)(?<!\d[ -])\d{3}([ -]?)\d{3}\1\d{3}(?![ -]?\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def find_sins(text: str) -> list[IdentifyingMatch]:
    matches: list[IdentifyingMatch] = []
    for match in _SIN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if digits == "0" * 9 or not luhn_valid(digits):
            continue
        if labelled_as_something_else(text, match.start()):
            continue
        matches.append(IdentifyingMatch(match.start(), match.end(), SIN))
    return matches
