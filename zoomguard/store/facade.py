"""``Store``: one connected database and its repositories, one per kind of data.

``store.accounts``, ``store.sweeps``, ``store.findings``, ``store.audit``, ``store.budget``,
``store.leases``, ``store.inbox``, ``store.outbox``, ``store.users``, ``store.sessions``,
``store.retention``, ``store.stats`` and ``store.occurrences`` share the store's
``Database``; ``store.transaction()`` opens a transaction that any of them joins when given
its ``session``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from zoomguard.config import Settings
from zoomguard.crypto import Vault
from zoomguard.store.accounts import Accounts
from zoomguard.store.audit import AuditLog
from zoomguard.store.base import make_engine
from zoomguard.store.budget import UpdateBudget
from zoomguard.store.database import Database
from zoomguard.store.findings import Findings
from zoomguard.store.inbox import Inbox
from zoomguard.store.leases import Leases
from zoomguard.store.migrate import ensure_current
from zoomguard.store.oauth_states import OAuthStates
from zoomguard.store.occurrences import Occurrences
from zoomguard.store.outbox import Outbox
from zoomguard.store.rekey import reencrypt_secrets
from zoomguard.store.retention import Retention
from zoomguard.store.sessions import DashboardSessions
from zoomguard.store.stats import Stats
from zoomguard.store.sweeps import Sweeps
from zoomguard.store.users import DashboardUsers


class Store:
    """Thread-safe: every repository call uses its own session unless given one."""

    def __init__(self, engine: Engine, vault: Vault | None = None) -> None:
        self.engine = engine
        self.db = Database(engine, vault)
        self.accounts = Accounts(self.db)
        self.sweeps = Sweeps(self.db)
        self.findings = Findings(self.db)
        self.audit = AuditLog(self.db)
        self.budget = UpdateBudget(self.db)
        self.leases = Leases(self.db)
        self.inbox = Inbox(self.db)
        self.outbox = Outbox(self.db)
        self.users = DashboardUsers(self.db)
        self.sessions = DashboardSessions(self.db)
        self.oauth_states = OAuthStates(self.db)
        self.retention = Retention(self.db)
        self.stats = Stats(self.db)
        self.occurrences = Occurrences(self.db)

    @classmethod
    def open(cls, settings: Settings, *, pre_ping: bool = True) -> Store:
        """Connect to ``settings.database_url``; StoreError if it is not migrated to head.
        ``pre_ping``: see ``make_engine``."""
        engine = make_engine(settings.database_url, pre_ping=pre_ping)
        try:
            ensure_current(engine)
            vault = Vault(settings.secret_key) if settings.secret_key else None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, vault)

    def reencrypt_secrets(self) -> int:
        """Every stored secret re-encrypted under the first key (see ``store.rekey``)."""
        return reencrypt_secrets(self.db)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Raises StoreError when the database cannot be reached (for health checks)."""
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))

    def transaction(self) -> AbstractContextManager[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        return self.db.transaction()

    def core_transaction(self) -> AbstractContextManager[Connection]:
        """A Core connection in one transaction, queued with this process's other writers on
        SQLite (see ``Database.core_transaction``); the repositories' Core-written methods
        (findings, audit, budget, outbox alerts, occurrences) join it as ``session``."""
        return self.db.core_transaction()

    def connection(self) -> AbstractContextManager[Connection]:
        """A Core connection in one transaction (see ``Database.connection``)."""
        return self.db.connection()


__all__ = ["Store"]
