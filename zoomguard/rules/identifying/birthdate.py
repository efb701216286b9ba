"""Birth dates: a date counts only when a label says it is one ("DOB", "date de naissance").

A date alone is a meeting date, a deadline, an anniversary: without the label it says nothing
about a person.
"""

from __future__ import annotations

import re
from typing import Final

from zoomguard.rules.identifying.match import BIRTH_DATE, IdentifyingMatch

_MONTH: Final = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
    r"|janv(?:ier)?|f[ée]v(?:rier)?|mars|avr(?:il)?|mai|juin|juil(?:let)?|ao[uû]t"
    r"|sept(?:embre)?|octobre|novembre|d[ée]c(?:embre)?)"
)
_ORDINAL: Final = r"(?:st|nd|rd|th|er)?"
_FULL_DATE: Final = (
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"  # 1990-04-12
    r"|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?!\d)"  # 12/04/1990, 12-04-90
    rf"|{_MONTH}\.?\s+\d{{1,2}}{_ORDINAL},?\s+\d{{4}}(?!\d)"  # April 12, 1990
    rf"|\d{{1,2}}{_ORDINAL}\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{4}}(?!\d))"  # 12 avril 1990
)
_DAY_AND_MONTH: Final = (
    r"(?:\d{1,2}[-/.]\d{1,2}(?![-/.]?\d)"  # 12/04
    rf"|{_MONTH}\.?\s+\d{{1,2}}{_ORDINAL}(?!\d)"  # April 12
    rf"|\d{{1,2}}{_ORDINAL}\s+(?:of\s+)?{_MONTH}\b)"  # 12 April, 1er avril
)
# Between a label and its date: "DOB 1990", "DOB: ", "born on ", "date of birth is ", "né le ".
_LABEL_GAP: Final = r"\s*(?:[:=(\-\u2013\u2014]\s*)?(?:(?:on|is|was|le)\s*:?\s+)?"
# An explicit label ("DOB", "date of birth", "birth date", "date de naissance", "DDN") makes even
# a day and month a birth date. "Born", "né(e)" and "birthday" also name anniversaries and
# parties, so they need a full date.
_BIRTH_DATE: Final = re.compile(
    rf"\b(?:d\.?o\.?b\.?|date\s+of\s+birth|birth[\s-]?date|date\s+de\s+naissance|ddn){_LABEL_GAP}"
    rf"(?P<date>{_FULL_DATE}|{_DAY_AND_MONTH})"
    rf"|\b(?:born|birthday|n\u00e9e?\b|anniversaire){_LABEL_GAP}(?P<weak_date>{_FULL_DATE})",
    re.IGNORECASE,
)


def find_birth_dates(text: str) -> list[IdentifyingMatch]:
    matches: list[IdentifyingMatch] = []
    for match in _BIRTH_DATE.finditer(text):
        group = "date" if match.group("date") is not None else "weak_date"
        matches.append(IdentifyingMatch(match.start(group), match.end(group), BIRTH_DATE))
    return matches
