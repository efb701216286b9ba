"""Which occurrences of a recurring meeting a sweep reads.

Zoom does not say which occurrences have settings of their own, and reading every occurrence
of a daily meeting at every sweep would cost a request each. So each sweep reads, for each
recurring meeting (the series' GET lists only upcoming occurrences, with
``show_previous_occurrences`` off, the first first):

- the **next** occurrence (the one about to happen);
- every **remembered** occurrence still upcoming: one a ``meeting.updated`` with
  ``scope: "single"`` named, or one a sweep read that differed from its series
  (``store.occurrences``); remembered ones that have ended or were deleted (no longer listed)
  are forgotten;
- **one more in rotation**: the first upcoming occurrence after the meeting's cursor that is
  not read already (wrapping round to the start), and the cursor moves to it.

The cost is at most 2 + (remembered) requests per recurring meeting per sweep, and an
occurrence k places down the list is read within k sweeps even if no event announced its
settings (by the rotation, or as the next one), so every occurrence is read at least once
before it happens while sweeps run more often than the meeting recurs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zoomguard.errors import ZoomGuardError
from zoomguard.rules import policy
from zoomguard.service.clients import Clock
from zoomguard.store import Store
from zoomguard.store.occurrences import KnownOccurrences

log = logging.getLogger(__name__)

# Recurring meetings with a fixed time: the only type whose occurrences have their own settings.
RECURRING_WITH_OCCURRENCES = 8


@dataclass(frozen=True)
class OccurrencePlan:
    read: tuple[str, ...]  # in this order: the next, the remembered, the rotation's
    forget: frozenset[str]  # remembered occurrences no longer upcoming
    cursor: str | None  # the rotation's occurrence (the new cursor), None: unchanged


NO_OCCURRENCES = OccurrencePlan((), frozenset(), None)


def upcoming_occurrences(meeting: Mapping[str, Any]) -> list[str]:
    """The ids of the recurring meeting's upcoming occurrences, the next first."""
    if meeting.get("type") != RECURRING_WITH_OCCURRENCES:
        return []
    found: list[str] = []
    for occurrence in meeting.get("occurrences") or ():
        if not isinstance(occurrence, Mapping) or occurrence.get("status") == "deleted":
            continue
        occurrence_id = occurrence.get("occurrence_id")
        if isinstance(occurrence_id, str) and occurrence_id and occurrence_id not in found:
            found.append(occurrence_id)
    return found


def plan_occurrences(meeting: Mapping[str, Any], known: KnownOccurrences) -> OccurrencePlan:
    """What this sweep reads of the meeting's occurrences (see the module's docstring)."""
    upcoming = upcoming_occurrences(meeting)
    forget = known.remembered - set(upcoming)
    if not upcoming:
        return OccurrencePlan((), forget, None)
    chosen = [upcoming[0], *(o for o in upcoming[1:] if o in known.remembered)]
    others = [o for o in upcoming if o not in chosen]
    rotated: str | None = None
    if others:
        start = upcoming.index(known.cursor) if known.cursor in upcoming else -1
        later = [o for o in others if upcoming.index(o) > start]
        rotated = later[0] if later else others[0]
        chosen.append(rotated)
    return OccurrencePlan(tuple(chosen), forget, rotated)


def differs_from_series(occurrence: Mapping[str, Any], series: Mapping[str, Any]) -> bool:
    """True when the occurrence holds a setting an occurrence can have of its own at a value
    other than its series'."""
    own, theirs = occurrence.get("settings"), series.get("settings")
    if not isinstance(own, Mapping) or not isinstance(theirs, Mapping):
        return False
    return any(key in own and own[key] != theirs.get(key) for key in policy.OCCURRENCE_SETTINGS)


class CursorMoves:
    """A sweep's rotation cursor moves, kept in memory and written ``batch`` at a time and once
    more when the sweep ends (``write``), not in a transaction of their own per recurring
    meeting. A crash loses at most the unwritten ones, which costs nothing but repeating a
    rotation read: for those meetings the next sweep reads again the occurrence this one read
    in rotation. Thread-safe."""

    def __init__(self, store: Store, account_pk: int, clock: Clock, *, batch: int = 200) -> None:
        self._store = store
        self._account_pk = account_pk
        self._clock = clock
        self._batch = batch
        self._pending: dict[str, str] = {}  # meeting id -> occurrence id
        self._lock = threading.Lock()

    def move(self, meeting_id: str, occurrence_id: str) -> None:
        """Note a move; write the batch once ``batch`` moves have gathered."""
        with self._lock:
            self._pending[meeting_id] = occurrence_id
            if len(self._pending) < self._batch:
                return
            moves, self._pending = self._pending, {}
        self._store.occurrences.move_cursors(self._account_pk, moves, now=self._clock())

    def write(self) -> None:
        """Write the moves not yet written. A failure only repeats rotation reads next time,
        so it is logged, not raised (the sweep's outcome does not depend on it)."""
        with self._lock:
            moves, self._pending = self._pending, {}
        try:
            self._store.occurrences.move_cursors(self._account_pk, moves, now=self._clock())
        except ZoomGuardError as exc:
            log.warning("sweep: %d occurrence cursor(s) not saved: %s", len(moves), exc)
