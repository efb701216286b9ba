"""Identifying information in meeting text: SINs and labelled birth dates, found and redacted.

The guidance keeps identifying information out of video meetings; a meeting's topic and agenda
reach every invitee, so zoomguard looks there. A SIN counts only when it passes the Luhn check
and is not labelled as something else (a meeting ID, a phone number); a date counts only when it
is labelled as a birth date. What is found is never repeated: ``redact`` replaces it.
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "[redacted]"
SIN_KIND: Final = "a Social Insurance Number"
BIRTH_DATE_KIND: Final = "a birth date"

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


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def identifying_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every SIN and labelled birth date in ``text``, in order."""
    spans: list[tuple[int, int, str]] = []
    for match in _BIRTH_DATE.finditer(text):
        group = "date" if match.group("date") is not None else "weak_date"
        spans.append((match.start(group), match.end(group), BIRTH_DATE_KIND))
    for match in _SIN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if digits == "0" * 9 or not _luhn_valid(digits):
            continue
        if _NOT_A_SIN_LABEL.search(text[max(0, match.start() - 30) : match.start()]):
            continue
        if any(start < match.end() and match.start() < end for start, end, _ in spans):
            continue
        spans.append((match.start(), match.end(), SIN_KIND))
    return sorted(spans)


def redact(text: str) -> str:
    """``text`` with every SIN and labelled birth date replaced by "[redacted]"."""
    pieces: list[str] = []
    position = 0
    for start, end, _ in identifying_spans(text):
        pieces.append(text[position:start])
        pieces.append(REDACTED)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
