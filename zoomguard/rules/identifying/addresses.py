"""Street addresses and Canadian postal codes.

A street address is a civic number, a street name and a street type ("1234 Douglas Street",
"204-1550 W 8th Ave", "1234, rue Sainte-Catherine Ouest"), or a post-office box. A postal code is
Canada Post's A1A 1A1, with the letters Canada Post uses: never D, F, I, O, Q or U, and W or Z
never first.
"""

from __future__ import annotations

import re
from typing import Final

from zoomguard.rules.identifying.match import (
    POSTAL_CODE,
    STREET_ADDRESS,
    IdentifyingMatch,
)

_FIRST_LETTER: Final = "ABCEGHJKLMNPRSTVXY"
_OTHER_LETTER: Final = "ABCEGHJKLMNPRSTVWXYZ"
_POSTAL_CODE: Final = re.compile(
    rf"(?<![\w-])[{_FIRST_LETTER}]\d[{_OTHER_LETTER}][ -]?\d[{_OTHER_LETTER}]\d(?![\w-])",
    re.IGNORECASE,
)

_ENGLISH_STREET_TYPE: Final = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Boulevard|Blvd|Way|Crescent|Cres|Place|Pl"
    r"|Court|Ct|Lane|Ln|Highway|Hwy|Terrace|Parkway|Pkwy|Trail|Circle|Cir|Close|Gate|Mews"
    r"|Row|Grove)"
)
_DIRECTION: Final = r"(?:North|South|East|West|N|S|E|W|NE|NW|SE|SW)"
# A civic number, perhaps with a unit before it: "1234", "204-1234", "#204 1234", "Unit 5, 12".
_CIVIC_NUMBER: Final = (
    r"(?:(?:(?:Unit|Suite|Apt\.?|Apartment|#)\s*\d{1,5}[A-Za-z]?\s*[-,]?\s*)|\d{1,5}[A-Za-z]?-)?"
    r"\d{1,6}[A-Za-z]?(?![\w])"
)
# A street name: capitalised words ("Douglas", "Kingsway", "Jean-Talon") or a numbered street
# ("8th"), perhaps after a direction ("W 8th").
_NAME_WORD: Final = r"(?:[A-Z][\w'\u2019.-]*|\d{1,3}(?:st|nd|rd|th))"
_ENGLISH_ADDRESS: Final = (
    rf"{_CIVIC_NUMBER}\s+(?:{_DIRECTION}\.?\s+)?{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}"
    rf"\s+{_ENGLISH_STREET_TYPE}\b\.?(?:\s+{_DIRECTION}\b\.?)?"
)
_FRENCH_STREET_TYPE: Final = (
    r"(?:rue|avenue|av\.|boulevard|boul\.|bd|chemin|ch\.|route|rang|place|all[ée]e|impasse"
    r"|mont[ée]e|c[ôo]te|promenade|croissant|terrasse|carr[ée]|quai)"
)
_FRENCH_ADDRESS: Final = (
    rf"\d{{1,6}}[A-Za-z]?,?\s+(?i:{_FRENCH_STREET_TYPE})\s+"
    r"(?:(?:de\s+la|de\s+l['\u2019]|du|des|de|d['\u2019])\s*)?"
    r"[A-Z\u00c0-\u00dd][\w'\u2019-]*(?:\s+[A-Z\u00c0-\u00dd][\w'\u2019-]*){0,3}"
)
_PO_BOX: Final = r"(?:P\.?\s?O\.?\s+Box|(?i:case\s+postale))\s+\d{1,6}\b"
_STREET_ADDRESS: Final = re.compile(
    rf"(?<![\w$.,-])(?:{_ENGLISH_ADDRESS}|{_FRENCH_ADDRESS})|\b{_PO_BOX}"
)
# A number that counts things or names a part is not a civic number: "Top 10 Main Street
# restaurants" is unlikely, but "Phase 2 Drive Thru" or "Q3 Way Forward" are meeting titles.
_NOT_A_CIVIC_NUMBER: Final = re.compile(
    r"\b(?:phase|step|part|level|floor|room|salle|module|session|week|semaine|day|jour|top|q"
    r"|no\.?|number|num[ée]ro|chapter|section|item|point|bill|projet|project|version|v)\W{0,2}$",
    re.IGNORECASE,
)


def find_postal_codes(text: str) -> list[IdentifyingMatch]:
    return [
        IdentifyingMatch(match.start(), match.end(), POSTAL_CODE)
        for match in _POSTAL_CODE.finditer(text)
    ]


def find_street_addresses(text: str) -> list[IdentifyingMatch]:
    matches: list[IdentifyingMatch] = []
    for match in _STREET_ADDRESS.finditer(text):
        if _NOT_A_CIVIC_NUMBER.search(text[max(0, match.start() - 12) : match.start()]):
            continue
        matches.append(IdentifyingMatch(match.start(), match.end(), STREET_ADDRESS))
    return matches
