"""BC Personal Health Numbers: ten digits starting with 9, ending in a mod-11 check digit.

The check digit, as the BC Client Registry conformance standard defines it (and as python-stdnum's
``stdnum.ca.bc_phn`` implements it): weight digits 2 to 9 by 2, 4, 8, 5, 10, 9, 7, 3, add up each
product modulo 11, and the check digit is (11 - that sum) modulo 11; a body whose check would be
10 is never issued. Example: 9698 658 215 is valid, 9698 648 215 is not.
"""

from __future__ import annotations

import re
from typing import Final

from zoomguard.rules.identifying.match import PHN, IdentifyingMatch, labelled_as_something_else

_WEIGHTS: Final = (2, 4, 8, 5, 10, 9, 7, 3)
# Written as one run of ten digits or in BC's 4-3-3 groups ("9698 658 215"), never in a phone
# number's 3-3-4 groups: 905-555-0123 is a phone number in Ontario, whatever its check digit.
_PHN: Final = re.compile(r"(?<!\d)(?<!\d[ -])9\d{3}([ -]?)\d{3}\1\d{3}(?![ -]?\d)")


def phn_valid(digits: str) -> bool:
    """Whether ten digits are a well-formed BC PHN (leading 9, right check digit)."""
    if len(digits) != 10 or not digits.isdigit() or digits[0] != "9":
        return False
    pairs = zip(digits[1:9], _WEIGHTS, strict=True)
    total = sum(int(digit) * weight % 11 for digit, weight in pairs)
    return (11 - total) % 11 == int(digits[9])


def find_phns(text: str) -> list[IdentifyingMatch]:
    matches: list[IdentifyingMatch] = []
    for match in _PHN.finditer(text):
        if not phn_valid(re.sub(r"\D", "", match.group())):
            continue
        if labelled_as_something_else(text, match.start()):
            continue
        matches.append(IdentifyingMatch(match.start(), match.end(), PHN))
    return matches
