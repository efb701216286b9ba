"""Storage: SQLAlchemy 2 models, engine set-up, Alembic migrations and the Store facade.

One module per kind of data (``accounts``, ``sweeps``, ``findings``, ``audit``, ``budget``,
``leases``, ``inbox``, ``outbox``, ``users``, ``sessions``, ``oauth_states``, ``retention``,
``stats``), each a small repository class over the shared ``Database`` (``database.py``), composed
by ``Store`` (``facade.py``) as ``store.findings``, ``store.inbox`` and so on; ``records.py`` holds
the frozen dataclasses they hand out. One calling style, chosen because most callers already held a
``Store`` and some writes must commit together: every repository method that may be part of a
larger transaction takes a keyword-only ``session`` (from ``store.transaction()``) and joins it
without committing; without one it runs in its own short transaction. Methods that must commit on
their own (leases, inbox claims) take none. SQL lives only in this package.

Importing this package touches no database; ``Store.open(settings)`` does, and refuses a
database that ``zoomguard db upgrade`` has not brought to the current schema.
"""

from zoomguard.store.base import Base, UTCDateTime, make_engine, session_factory
from zoomguard.store.facade import Store
from zoomguard.store.migrate import current_revision, downgrade, ensure_current, upgrade
from zoomguard.store.records import (
    AccountRecord,
    AuditRecord,
    EmailRecord,
    FindingRecord,
    InboxItem,
    InboxRecord,
    LoginResult,
    SweepCounts,
    SweepRecord,
    UserRecord,
)

__all__ = [
    "AccountRecord",
    "AuditRecord",
    "Base",
    "EmailRecord",
    "FindingRecord",
    "InboxItem",
    "InboxRecord",
    "LoginResult",
    "Store",
    "SweepCounts",
    "SweepRecord",
    "UTCDateTime",
    "UserRecord",
    "current_revision",
    "downgrade",
    "ensure_current",
    "make_engine",
    "session_factory",
    "upgrade",
]
