"""The per-host daily update budget: Zoom allows 100 meeting updates per host per UTC day, and
zoomguard reserves one before each PATCH so that concurrent sweeps never exceed it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.orm import Session

from zoomguard.store.database import Database, rowcount, upsert_insert
from zoomguard.store.models import UpdateCounter


class UpdateBudget:
    def __init__(self, db: Database) -> None:
        self._db = db

    def reserve(
        self,
        account_pk: int,
        host_id: str,
        day: date,
        budget: int,
        *,
        session: Session | None = None,
    ) -> bool:
        """Take one of the host's ``budget`` PATCHes for ``day``; False when none is left.

        One statement does the check and the increment, so concurrent callers (threads or
        processes) can never take more than the budget between them: PostgreSQL re-checks the
        WHERE against the row it waited for, SQLite runs writers one at a time.
        """
        if budget <= 0:
            return False
        with self._db.joined(session) as s:
            insert = upsert_insert(s, UpdateCounter).values(
                account_id=account_pk, host_id=host_id, day=day, count=1
            )
            stmt = insert.on_conflict_do_update(
                index_elements=[UpdateCounter.account_id, UpdateCounter.host_id, UpdateCounter.day],
                set_={"count": UpdateCounter.count + 1},
                where=UpdateCounter.count < budget,
            ).returning(UpdateCounter.count)
            return s.execute(stmt).first() is not None

    def release(
        self, account_pk: int, host_id: str, day: date, *, session: Session | None = None
    ) -> bool:
        """Give back a reserved update whose PATCH was never sent. False if none was held."""
        stmt = (
            update(UpdateCounter)
            .where(
                UpdateCounter.account_id == account_pk,
                UpdateCounter.host_id == host_id,
                UpdateCounter.day == day,
                UpdateCounter.count > 0,
            )
            .values(count=UpdateCounter.count - 1)
            .execution_options(synchronize_session=False)
        )
        with self._db.joined(session) as s:
            return rowcount(s.execute(stmt)) == 1

    def used(self, account_pk: int, host_id: str, day: date) -> int:
        with self._db.transaction() as session:
            row = session.get(UpdateCounter, (account_pk, host_id, day))
            return 0 if row is None else row.count
