"""Identifying information in meeting text, found and redacted.

The guidance keeps identifying information out of video meetings ("e.g. SIN, birth date,
address, first and last name used together"); a meeting's topic and agenda reach every invitee,
so zoomguard looks there for:

- a Social Insurance Number (nine digits passing the Luhn check),           ``sin.py``
- a birth date (a date with a birth-date label),                             ``birthdate.py``
- a first and last name together (Faker's name lists),                       ``names.py``
- a street address or a Canadian postal code,                                ``addresses.py``
- a BC Personal Health Number (ten digits from 9, mod-11 check digit).       ``phn.py``

What is found is never repeated: a match is a kind and a span, and ``redact`` replaces each span
with "[redacted]" before the text reaches a finding, the audit log, a report or an email.

Pure like the rest of ``zoomguard.rules`` (no I/O, no clock), with one data dependency: the name
lists come from the Faker package (see ``names.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from zoomguard.rules.identifying.addresses import find_postal_codes, find_street_addresses
from zoomguard.rules.identifying.birthdate import find_birth_dates
from zoomguard.rules.identifying.match import (
    BIRTH_DATE,
    DESCRIPTIONS,
    FULL_NAME,
    KINDS,
    PHN,
    POSTAL_CODE,
    SIN,
    STREET_ADDRESS,
    IdentifyingMatch,
)
from zoomguard.rules.identifying.names import find_full_names
from zoomguard.rules.identifying.phn import find_phns
from zoomguard.rules.identifying.sin import find_sins

__all__ = [
    "BIRTH_DATE",
    "DESCRIPTIONS",
    "FULL_NAME",
    "KINDS",
    "PHN",
    "POSTAL_CODE",
    "REDACTED",
    "SIN",
    "STREET_ADDRESS",
    "IdentifyingMatch",
    "find_identifying",
    "identifying_spans",
    "redact",
]

REDACTED: Final = "[redacted]"

# In the order of KINDS: where two matches overlap, the earlier detector's wins.
_DETECTORS: Final[tuple[Callable[[str], list[IdentifyingMatch]], ...]] = (
    find_birth_dates,
    find_sins,
    find_phns,
    find_postal_codes,
    find_street_addresses,
    find_full_names,
)


def find_identifying(text: str) -> list[IdentifyingMatch]:
    """Every piece of identifying information in ``text``, in reading order, none overlapping."""
    kept: list[IdentifyingMatch] = []
    for detect in _DETECTORS:
        for match in detect(text):
            if not any(match.overlaps(other) for other in kept):
                kept.append(match)
    return sorted(kept)


def identifying_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, description) of each match: the shape the policy's finding is written from."""
    return [(match.start, match.end, match.description) for match in find_identifying(text)]


def redact(text: str) -> str:
    """``text`` with every piece of identifying information replaced by "[redacted]"."""
    pieces: list[str] = []
    position = 0
    for match in find_identifying(text):
        pieces.append(text[position : match.start])
        pieces.append(REDACTED)
        position = match.end
    pieces.append(text[position:])
    return "".join(pieces)
