"""Named leases: one holder at a time (a sweep of an account, a baseline run), with expiry.

Each call commits on its own and takes no ``session``: a lease taken inside a longer
transaction would be invisible to other processes until that transaction ended.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update

from zoomguard.store.database import Database, rowcount, upsert_insert
from zoomguard.store.models import Lease


class Leases:
    def __init__(self, db: Database) -> None:
        self._db = db

    def acquire(self, name: str, holder: str, ttl_seconds: float, now: datetime) -> bool:
        """Take the lease if it is free, expired or already ours. Exactly one racer wins."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        expires_at = now + timedelta(seconds=ttl_seconds)
        with self._db.transaction() as session:
            insert = upsert_insert(session, Lease).values(
                name=name, holder=holder, expires_at=expires_at
            )
            stmt = insert.on_conflict_do_update(
                index_elements=[Lease.name],
                set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
                where=or_(Lease.expires_at <= now, Lease.holder == holder),
            ).returning(Lease.name)
            return session.execute(stmt).first() is not None

    def renew(self, name: str, holder: str, ttl_seconds: float, now: datetime) -> bool:
        """Extend a lease we hold; False if it was taken over (stop working then)."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        stmt = (
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=now + timedelta(seconds=ttl_seconds))
            .execution_options(synchronize_session=False)
        )
        with self._db.transaction() as session:
            return rowcount(session.execute(stmt)) == 1

    def release(self, name: str, holder: str) -> bool:
        """Give the lease up if we still hold it; someone else's lease is left alone."""
        stmt = (
            delete(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .execution_options(synchronize_session=False)
        )
        with self._db.transaction() as session:
            return rowcount(session.execute(stmt)) == 1

    def holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease right now (None when free or expired)."""
        with self._db.transaction() as session:
            row = session.get(Lease, name)
            if row is None or row.expires_at <= now:
                return None
            return row.holder
