"""Alembic, driven from code: ``zoomguard db upgrade`` and the start-up schema check.

The migration scripts ship inside the ``migrations`` package, found through its import path, so
this works from any working directory and from an installed wheel.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, exc

from zoomguard.errors import StoreError

UPGRADE_HINT = "run `zoomguard db upgrade`"


def migrations_dir() -> Path:
    # Found as package data, not imported: the migration scripts import the store's models, so
    # the store importing them back would be a cycle. They ship as a real folder in the wheel.
    return Path(str(resources.files("zoomguard.migrations"))).resolve()


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration of zoomguard; ``url`` overrides ZOOMGUARD_DATABASE_URL."""
    directory = migrations_dir()
    config = Config(str(directory / "alembic.ini"))
    config.set_main_option("script_location", str(directory))
    if url is not None:
        # The ini file is read with ConfigParser interpolation: a literal % must be doubled
        # (percent-encoded passwords and PostgreSQL ``options`` contain them).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> set[str]:
    return set(_scripts().get_heads())


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    heads = _current_heads(engine)
    return heads[0] if heads else None


def _current_heads(engine: Engine) -> tuple[str, ...]:
    try:
        with engine.connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())
    except (exc.OperationalError, exc.InterfaceError) as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(
            f"database {where} cannot be reached: {detail}", reason="store_unavailable"
        ) from error


def ensure_current(engine: Engine) -> None:
    """StoreError unless the database schema is exactly what this zoomguard expects."""
    current = set(_current_heads(engine))
    scripts = _scripts()
    wanted = set(scripts.get_heads())
    if current == wanted:
        return
    known = {script.revision for script in scripts.walk_revisions()}
    if not current:
        message = f"database is not initialised: {UPGRADE_HINT}"
    elif current - known:
        unknown = ", ".join(sorted(current - known))
        message = (
            f"database is at revision {unknown}, unknown to this zoomguard: it was migrated by "
            "a newer version; upgrade zoomguard"
        )
    else:
        at, needs = ", ".join(sorted(current)), ", ".join(sorted(wanted))
        message = f"database is not up to date (at {at}, needs {needs}): {UPGRADE_HINT}"
    raise StoreError(message, reason="store_not_current")
