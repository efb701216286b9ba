"""The shared session factory every repository of the store works through.

``Database`` owns the engine's sessions and the one rule of the store's calling style: a method
given ``session`` joins the caller's transaction (and never commits it); without one it runs in
its own short transaction. The helpers below are shared by the repositories.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Table, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from zoomguard.crypto import Vault
from zoomguard.errors import SecretKeyError, StoreError
from zoomguard.store.base import session_factory

# What a repository method written as Core statements runs them on: the caller's ORM session
# (its transaction) or a Core connection in a transaction (``Database.core_transaction``).
Executor = Session | Connection


def _unavailable(error: exc.DBAPIError) -> StoreError:
    # Unreachable server, locked file, dropped connection: the database cannot be used. The
    # message names the driver's error only, never the statement or its parameters.
    detail = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    return StoreError(f"database error: {detail}", reason="store_unavailable")


@contextmanager
def _usable() -> Iterator[None]:
    """Raise the driver's "the database cannot be used" errors, at any point of a transaction
    (its begin, its statements, its commit), as one ``StoreError``."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise _unavailable(error) from error


class Database:
    """An engine, its sessions and (when a secret key is configured) the vault. Thread-safe."""

    def __init__(self, engine: Engine, vault: Vault | None = None) -> None:
        self.engine = engine
        self._vault = vault
        self._sessions = session_factory(engine)
        # On SQLite every transaction begins IMMEDIATE, taking the database's one write lock.
        # This process's threads queue for it here, each woken as soon as the previous one
        # commits, rather than in SQLite's busy handler, which sleeps in steps of up to 100 ms
        # and is not fair: with a sweep's 16 threads on a busy machine one thread could wait
        # past the busy timeout ("database is locked": a 2,000-meeting sweep failed so about
        # one run in four). Other processes still meet the busy handler. Reentrant, as before:
        # a nested transaction of the same thread waits on SQLite, not on itself.
        self._write_queue: AbstractContextManager[Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with _usable(), self._write_queue, self._sessions.begin() as session:
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for hot paths that need no ORM session (the
        webhook receiver's single INSERT); same commit/rollback and error rules as
        ``transaction``."""
        with _usable(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def core_transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction, queued behind this process's other writers on
        SQLite as ``transaction`` is: for the sweep's per-meeting writes, where the ORM's unit of
        work, identity map and flush bought nothing and cost a fifth of the sweep's CPU."""
        with _usable(), self._write_queue, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def joined_core(self, executor: Executor | None) -> Iterator[Executor]:
        """The caller's session or connection when given (its transaction decides), else a new
        Core transaction: for repository methods written as Core statements, which run the same
        on either."""
        if isinstance(executor, Session):
            # A Core statement does not autoflush: objects the caller added to its session are
            # written first, in order, as the ORM flush these methods used to do wrote them.
            executor.flush()
            yield executor
        elif executor is not None:
            yield executor
        else:
            with self.core_transaction() as own:
                yield own

    @property
    def dialect_name(self) -> str:
        """ "sqlite" or "postgresql": which spelling of a backend-specific statement to use."""
        return str(self.engine.dialect.name)

    @contextmanager
    def joined(self, session: Session | None) -> Iterator[Session]:
        """The caller's session when given (its transaction decides), else a new transaction."""
        if session is not None:
            yield session
        else:
            with self.transaction() as own:
                yield own

    @property
    def vault(self) -> Vault | None:
        """The vault, or None when no secret key is configured."""
        return self._vault

    def require_vault(self) -> Vault:
        if self._vault is None:
            raise SecretKeyError(
                "ZOOMGUARD_SECRET_KEY is not set: zoomguard will not store or read Zoom "
                "credentials unencrypted. Generate one with: python -c 'from cryptography.fernet "
                "import Fernet; print(Fernet.generate_key().decode())'"
            )
        return self._vault


def rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def inserted_id(result: Any) -> int:
    """The integer primary key of the row a single-row INSERT wrote."""
    key = cast(CursorResult[Any], result).inserted_primary_key
    if key is None or key[0] is None:
        raise StoreError("the database did not report the new row's key")
    return int(key[0])


def upsert_insert(executor: Executor, entity: Any) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT support for the executor's backend (both spell it the same)."""
    dialect = executor.dialect if isinstance(executor, Connection) else executor.get_bind().dialect
    if dialect.name == "postgresql":
        return postgresql.insert(entity)
    return sqlite.insert(entity)


def dialect_insert(dialect_name: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT support for a backend named by ``Database.dialect_name``, for
    statements built once per store (their compiled form is then cached and reused)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def table_of(model: type[Any]) -> Table:
    """The Core table of a mapped class, for statements that need no ORM (Core statements on a
    table skip the ORM's compile and execution plugins, on a session as on a connection)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def as_utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def aggregate_utc(value: datetime | str | None) -> datetime | None:
    """An aggregate's timestamp (min, max) as aware UTC: aggregates bypass the column type, so
    SQLite hands back a naive UTC datetime or a string."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
