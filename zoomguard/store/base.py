"""Declarative base, engine set-up and the timestamp type shared by every table.

Nothing here touches a database at import time: engines are made by ``make_engine`` when a
caller asks for one.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, Connection, Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from zoomguard.errors import StoreError

# Explicit constraint names: Alembic can then compare and alter them identically on SQLite
# (which cannot name constraints after the fact) and PostgreSQL.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# How long a SQLite writer waits for another process's write lock. zoomguard's transactions last
# milliseconds, so a lock held for seconds means something is stuck (another program holding the
# file, a crashed editor): a command should then say so promptly rather than hang for half a minute.
SQLITE_BUSY_TIMEOUT_SECONDS = 5


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as naive
    UTC and given its ``tzinfo`` back when read. Naive datetimes are refused on the way in: they
    are always a bug (local time or UTC? nobody knows later).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: zoomguard stores UTC-aware timestamps")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def normalise_url(url: str | URL) -> URL:
    """The URL with a driver SQLAlchemy has installed: bare ``postgresql://`` means psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(
    url: str | URL, *, enforce_foreign_keys: bool = True, pre_ping: bool = True
) -> Engine:
    """An engine for SQLite or PostgreSQL, configured for several processes sharing one database.

    ``enforce_foreign_keys=False`` is for migrations only: SQLite batch migrations rebuild
    tables, which foreign key enforcement would turn into cascading failures.

    ``pre_ping=False`` (the webhook receiver) skips PostgreSQL's liveness SELECT before each
    checkout, a sixth of the receiver's database time. A connection that died meanwhile then
    fails its one request (503: Zoom delivers again) and SQLAlchemy discards the whole pool.
    """
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, enforce_foreign_keys=enforce_foreign_keys)
    if backend == "postgresql":
        # A connection dropped by a server restart or a NAT timeout is replaced, not reported.
        try:
            return create_engine(parsed, pool_pre_ping=pre_ping)
        except ModuleNotFoundError:
            raise StoreError(
                "PostgreSQL needs the psycopg driver: pip install 'zoomguard[postgres]'",
                reason="store_config",
            ) from None
    raise StoreError(
        f"unsupported database {parsed.drivername!r}: use sqlite:///path or postgresql+psycopg://",
        reason="store_config",
    )


def _sqlite_engine(url: URL, *, enforce_foreign_keys: bool) -> Engine:
    database = url.database or ""
    is_file = database not in ("", ":memory:") and not database.startswith("file:")
    if is_file:
        _check_sqlite_location(Path(database).expanduser())
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    pragmas = (
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}",
        # WAL: readers never block the writer and the writer never blocks readers.
        "PRAGMA journal_mode=WAL",
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives the
        # process crashing (what a 200 to Zoom promises against a killed worker); only a power
        # loss can take back the last commits. FULL's fsync per commit made the receiver's p99
        # follow the disk.
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA foreign_keys={'ON' if enforce_foreign_keys else 'OFF'}",
    )

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (which would not BEGIN before a
        # SELECT or a SAVEPOINT); SQLAlchemy's "begin" event below emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        except sqlite3.DatabaseError as error:
            # The first statement on a new connection is where SQLite notices that the file is
            # something else (a text file, a PostgreSQL dump): name the file, not a traceback.
            if "not a database" in str(error):
                raise StoreError(
                    f"{database} is not a SQLite database (check ZOOMGUARD_DATABASE_URL)",
                    reason="store_config",
                ) from None
            raise
        finally:
            cursor.close()

    def on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, waiting up to busy_timeout for it. A DEFERRED
        # transaction that reads and then writes fails at once with SQLITE_BUSY(_SNAPSHOT) when
        # another process wrote in between, without waiting: the busy timeout cannot help there.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def _check_sqlite_location(path: Path) -> None:
    """Make the database's directory, or say which directory cannot hold it.

    SQLite itself would only say "unable to open database file"; in WAL mode it also needs to
    create the -wal and -shm files beside the database, so the directory must be writable too.
    """
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            f"cannot create the database directory {directory} ({error.strerror or error}); "
            "check ZOOMGUARD_DATABASE_URL",
            reason="store_config",
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StoreError(
            f"the database directory {directory} is not writable; check ZOOMGUARD_DATABASE_URL",
            reason="store_config",
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(
            f"the database file {path} is not readable and writable; check ZOOMGUARD_DATABASE_URL",
            reason="store_config",
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: the store turns them into dataclasses afterwards.
    return sessionmaker(bind=engine, expire_on_commit=False)
