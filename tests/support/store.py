"""Database fixtures: every store test runs on SQLite and on PostgreSQL.

Use from a test module with ``pytest_plugins = ("store_fixtures",)`` or import them into
``conftest.py``. The PostgreSQL variant runs on the session's ``postgres_server`` (tests/
postgres_server.py: ``ZOOMGUARD_TEST_POSTGRES_URL``, else a throwaway server of the session's
own) and is skipped only where no PostgreSQL server binaries are installed.

Each test gets a clean database. ``empty_db_url`` is a new SQLite file under ``tmp_path`` or a
new PostgreSQL schema (selected through ``search_path``, dropped afterwards). ``db_url`` is
migrated to head by the real migrations; to keep the suite fast the migrations run once per
session and backend: SQLite tests get a copy of the migrated file, PostgreSQL tests share one
migrated schema whose tables are emptied (TRUNCATE ... RESTART IDENTITY) before each test. A test
that changes the schema itself must use ``empty_db_url``.

Fixtures: ``db_backend`` ("sqlite" | "postgresql"), ``empty_db_url`` (nothing created),
``db_url`` (migrated to head, no rows), ``db_engine``, ``store`` (with a Vault),
``store_without_key``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from zoomguard.store import Base, make_engine, upgrade

TEST_SECRET_KEY = "a test passphrase, never used in production"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own; dropped on exit."""
    schema = f"zg_test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def empty_all_tables(url: str) -> None:
    """Deletes every row of every zoomguard table and restarts the id sequences."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            # A connection leaked by an earlier test would block TRUNCATE forever: fail instead.
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


class MigratedDatabases:
    """One database per backend migrated to head, made on first use, kept for the session."""

    def __init__(self, directory: Path, postgres_server: Callable[[], str]) -> None:
        self._directory = directory
        self._postgres_server = postgres_server
        self._sqlite: Path | None = None
        self._postgres: str | None = None
        self._cleanup = ExitStack()

    def sqlite_file(self) -> Path:
        if self._sqlite is None:
            path = self._directory / "migrated.db"
            upgrade(sqlite_url(path))
            self._sqlite = path
        return self._sqlite

    def postgres_url(self) -> str:
        if self._postgres is None:
            url = self._cleanup.enter_context(postgres_schema(self._postgres_server()))
            upgrade(url)
            self._postgres = url
        return self._postgres

    def close(self) -> None:
        self._cleanup.close()
