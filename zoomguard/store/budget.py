"""The per-host daily update budget: Zoom allows 100 meeting updates per host per UTC day, and
zoomguard reserves one before each PATCH so that concurrent sweeps never exceed it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from zoomguard.store.database import Database, Executor, dialect_insert, rowcount, table_of
from zoomguard.store.models import UpdateCounter

_COUNTERS = table_of(UpdateCounter)


class UpdateBudget:
    def __init__(self, db: Database) -> None:
        self._db = db
        # Built once: a PATCH's reservation is on the sweep's per-meeting path.
        insert = dialect_insert(db.dialect_name, _COUNTERS).values(
            account_id=bindparam("p_account"),
            host_id=bindparam("p_host"),
            day=bindparam("p_day"),
            count=1,
        )
        self._reserve = insert.on_conflict_do_update(
            index_elements=[_COUNTERS.c.account_id, _COUNTERS.c.host_id, _COUNTERS.c.day],
            set_={"count": _COUNTERS.c.count + 1},
            where=_COUNTERS.c.count < bindparam("p_budget"),
        ).returning(_COUNTERS.c.count)

    def reserve(
        self,
        account_pk: int,
        host_id: str,
        day: date,
        budget: int,
        *,
        session: Executor | None = None,
    ) -> bool:
        """Take one of the host's ``budget`` PATCHes for ``day``; False when none is left.

        One statement does the check and the increment, so concurrent callers (threads or
        processes) can never take more than the budget between them: PostgreSQL re-checks the
        WHERE against the row it waited for, SQLite runs writers one at a time.
        """
        if budget <= 0:
            return False
        params = {"p_account": account_pk, "p_host": host_id, "p_day": day, "p_budget": budget}
        with self._db.joined_core(session) as s:
            return s.execute(self._reserve, params).first() is not None

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
