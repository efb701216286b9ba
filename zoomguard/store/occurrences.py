"""What zoomguard remembers about the occurrences of recurring meetings between sweeps: the
upcoming occurrences known to have settings of their own, and each meeting's rotation cursor
(``zoomguard.service.occurrences`` decides what to read with them)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from zoomguard.store.database import Database, Executor, dialect_insert, table_of, upsert_insert
from zoomguard.store.models import OccurrenceCursor, RememberedOccurrence


@dataclass(frozen=True)
class KnownOccurrences:
    """One recurring meeting as the store knows it."""

    remembered: frozenset[str] = frozenset()
    cursor: str | None = None  # the occurrence the last sweep read in rotation


NOTHING_KNOWN = KnownOccurrences()


_CURSORS = table_of(OccurrenceCursor)


class Occurrences:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Built once (so compiled once); run with many rows at a time (executemany).
        insert = dialect_insert(db.dialect_name, _CURSORS)
        self._move_cursor = insert.on_conflict_do_update(
            index_elements=[_CURSORS.c.account_id, _CURSORS.c.meeting_id],
            set_={
                "occurrence_id": insert.excluded.occurrence_id,
                "updated_at": insert.excluded.updated_at,
            },
        )

    def known(self, account_pk: int) -> Mapping[str, KnownOccurrences]:
        """Every recurring meeting of the account with remembered occurrences or a cursor, by
        meeting id (two queries, once per sweep)."""
        with self._db.transaction() as session:
            remembered: dict[str, set[str]] = {}
            for meeting_id, occurrence_id in session.execute(
                select(RememberedOccurrence.meeting_id, RememberedOccurrence.occurrence_id).where(
                    RememberedOccurrence.account_id == account_pk
                )
            ):
                remembered.setdefault(meeting_id, set()).add(occurrence_id)
            cursors: dict[str, str] = {
                meeting_id: occurrence_id
                for meeting_id, occurrence_id in session.execute(
                    select(OccurrenceCursor.meeting_id, OccurrenceCursor.occurrence_id).where(
                        OccurrenceCursor.account_id == account_pk
                    )
                )
            }
        return {
            meeting_id: KnownOccurrences(
                frozenset(remembered.get(meeting_id, ())), cursors.get(meeting_id)
            )
            for meeting_id in remembered.keys() | cursors.keys()
        }

    def remember(
        self,
        account_pk: int,
        meeting_id: str,
        occurrence_id: str,
        *,
        noted_by: str,
        now: datetime,
        session: Executor | None = None,
    ) -> None:
        """Remember an occurrence with settings of its own (again: a no-op)."""
        with self._db.joined_core(session) as s:
            stmt = (
                upsert_insert(s, RememberedOccurrence)
                .values(
                    account_id=account_pk,
                    meeting_id=meeting_id,
                    occurrence_id=occurrence_id,
                    noted_by=noted_by,
                    noted_at=now,
                )
                .on_conflict_do_nothing()
            )
            s.execute(stmt)

    def forget(
        self,
        account_pk: int,
        meeting_id: str,
        occurrence_ids: Collection[str] | None = None,
        *,
        session: Executor | None = None,
    ) -> None:
        """Forget occurrences that ended or were deleted; ``None``: the whole meeting (its
        remembered occurrences and its cursor), as when it is deleted."""
        remembered = delete(RememberedOccurrence).where(
            RememberedOccurrence.account_id == account_pk,
            RememberedOccurrence.meeting_id == meeting_id,
        )
        with self._db.joined_core(session) as s:
            if occurrence_ids is None:
                s.execute(remembered)
                s.execute(
                    delete(OccurrenceCursor).where(
                        OccurrenceCursor.account_id == account_pk,
                        OccurrenceCursor.meeting_id == meeting_id,
                    )
                )
            elif occurrence_ids:
                s.execute(
                    remembered.where(RememberedOccurrence.occurrence_id.in_(list(occurrence_ids)))
                )

    def move_cursor(
        self,
        account_pk: int,
        meeting_id: str,
        occurrence_id: str,
        *,
        now: datetime,
        session: Executor | None = None,
    ) -> None:
        self.move_cursors(account_pk, {meeting_id: occurrence_id}, now=now, session=session)

    def move_cursors(
        self,
        account_pk: int,
        cursors: Mapping[str, str],
        *,
        now: datetime,
        session: Executor | None = None,
    ) -> None:
        """Set the rotation cursors of many meetings (meeting id -> occurrence id) in one
        statement run for every row (a sweep gathers them and writes them in batches)."""
        if not cursors:
            return
        rows = [
            {
                "account_id": account_pk,
                "meeting_id": meeting_id,
                "occurrence_id": occurrence_id,
                "updated_at": now,
            }
            for meeting_id, occurrence_id in cursors.items()
        ]
        with self._db.joined_core(session) as s:
            s.execute(self._move_cursor, rows)
