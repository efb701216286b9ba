"""Dashboard sessions (``dashboard_sessions``): one row per signed-in browser.

The browser's cookie carries a random session id; the table keeps only its SHA-256, the user and
when it expires. Every dashboard request looks the session up, so deleting the row (sign out,
"sign out everywhere", a password change, the user deleted) ends it at once, whatever copies of
the cookie exist.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from zoomguard.store.database import Database, as_utc_or_none, rowcount
from zoomguard.store.models import DashboardSession, DashboardUser
from zoomguard.store.records import UserRecord, user_record

_SESSION_ID_BYTES = 32


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class DashboardSessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, user_id: int, *, now: datetime, lifetime: timedelta) -> str:
        """A new session for ``user_id``; returns its id, for the cookie only. Expired sessions
        of anyone are purged on the way."""
        session_id = secrets.token_urlsafe(_SESSION_ID_BYTES)
        with self._db.transaction() as session:
            session.execute(
                delete(DashboardSession)
                .where(DashboardSession.expires_at <= now)
                .execution_options(synchronize_session=False)
            )
            session.add(
                DashboardSession(
                    id_hash=_hash(session_id),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return session_id

    def user_for(self, session_id: str, *, now: datetime) -> UserRecord | None:
        """The user of a live session; None when it is unknown, ended or expired."""
        query = (
            select(DashboardSession.expires_at, DashboardUser)
            .join(DashboardUser, DashboardUser.id == DashboardSession.user_id)
            .where(DashboardSession.id_hash == _hash(session_id))
        )
        with self._db.transaction() as session:
            row = session.execute(query).first()
            if row is None:
                return None
            expires_at = as_utc_or_none(row[0])
            if expires_at is None or expires_at <= now:
                return None
            return user_record(row[1])

    def end(self, session_id: str) -> bool:
        """Sign this session out; False if it was not live."""
        with self._db.transaction() as session:
            result = session.execute(
                delete(DashboardSession)
                .where(DashboardSession.id_hash == _hash(session_id))
                .execution_options(synchronize_session=False)
            )
            return rowcount(result) == 1

    def end_all(self, user_id: int) -> int:
        """Sign the user out everywhere; how many sessions were ended."""
        with self._db.transaction() as session:
            result = session.execute(
                delete(DashboardSession)
                .where(DashboardSession.user_id == user_id)
                .execution_options(synchronize_session=False)
            )
            return rowcount(result)
