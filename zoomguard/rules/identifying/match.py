"""What every detector returns: the kind of identifying information and where it sits.

A match carries its span, never a copy of the matched text, so nothing downstream can repeat it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

SIN: Final = "sin"
BIRTH_DATE: Final = "birth_date"
FULL_NAME: Final = "full_name"
STREET_ADDRESS: Final = "street_address"
POSTAL_CODE: Final = "postal_code"
PHN: Final = "phn"

# Every kind, in the order in which overlapping matches win (``find_identifying``): a labelled
# birth date beats the digits inside it being read as a SIN, a street address beats a name inside
# it ("12 Jean Talon Street" is an address, not Jean Talon).
KINDS: Final = (BIRTH_DATE, SIN, PHN, POSTAL_CODE, STREET_ADDRESS, FULL_NAME)

# How a finding names each kind ("the topic holds a birth date and a postal code").
DESCRIPTIONS: Final = MappingProxyType(
    {
        SIN: "a Social Insurance Number",
        BIRTH_DATE: "a birth date",
        FULL_NAME: "a first and last name",
        STREET_ADDRESS: "a street address",
        POSTAL_CODE: "a postal code",
        PHN: "a Personal Health Number",
    }
)


@dataclass(frozen=True, order=True)
class IdentifyingMatch:
    """One piece of identifying information: ``text[start:end]`` is it."""

    start: int
    end: int
    kind: str

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind]

    def overlaps(self, other: IdentifyingMatch) -> bool:
        return self.start < other.end and other.start < self.end


# Digits labelled as something else are not a SIN or a health number, even when they pass the
# check digit: meeting IDs are 9 to 11 digits, and phone numbers and passcodes are digits too.
NOT_AN_IDENTIFIER_LABEL: Final = re.compile(
    r"\b(?:(?:meeting|webinar|conference|r[ée]union)\s*(?:id|number|no\.?|#|num[ée]ro)"
    r"|(?:id|num[ée]ro)\s+(?:de\s+)?(?:la\s+)?r[ée]union"
    r"|phone|t[ée]l\.?|t[ée]l[ée]phone|fax|passcode|pin|code\s+secret)"
    r"\W{0,3}$",
    re.IGNORECASE,
)


def labelled_as_something_else(text: str, start: int) -> bool:
    """Whether the digits at ``start`` follow a label that says they are not a person's number."""
    return NOT_AN_IDENTIFIER_LABEL.search(text[max(0, start - 30) : start]) is not None
