"""Storage: SQLAlchemy 2 models, engine set-up, Alembic migrations and the Store facade.

Importing this package touches no database; ``Store.open(settings)`` does, and refuses a
database that ``zoomguard db upgrade`` has not brought to the current schema.
"""

from zoomguard.store.base import Base, UTCDateTime, make_engine, session_factory
from zoomguard.store.core import (
    AccountRecord,
    AuditRecord,
    FindingRecord,
    Store,
    SweepCounts,
    SweepRecord,
)
from zoomguard.store.migrate import current_revision, downgrade, ensure_current, upgrade

__all__ = [
    "AccountRecord",
    "AuditRecord",
    "Base",
    "FindingRecord",
    "Store",
    "SweepCounts",
    "SweepRecord",
    "UTCDateTime",
    "current_revision",
    "downgrade",
    "ensure_current",
    "make_engine",
    "session_factory",
    "upgrade",
]
