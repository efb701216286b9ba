"""Alembic environment of zoomguard: targets zoomguard.store.models' Base.metadata.

The database URL comes from the Alembic config (set by zoomguard.store.migrate.upgrade) or
else from Settings.from_env().database_url. SQLite migrations run in batch mode, since SQLite
cannot ALTER most things in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from zoomguard.config import Settings
from zoomguard.store.base import make_engine, normalise_url
from zoomguard.store.models import Base

target_metadata = Base.metadata


def _database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    return url or Settings.from_env().database_url


def _configure(connection: Connection | None, url: str) -> None:
    is_sqlite = normalise_url(url).get_backend_name() == "sqlite"
    if connection is None:
        context.configure(
            url=url,
            literal_binds=True,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
        )
    else:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
        )


def run_migrations_offline() -> None:
    url = normalise_url(_database_url()).render_as_string(hide_password=False)
    _configure(None, url)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _database_url()
    # Foreign keys off on SQLite: batch mode rebuilds tables, which enforcement would break.
    engine = make_engine(url, enforce_foreign_keys=False)
    try:
        with engine.connect() as connection:
            _configure(connection, url)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
