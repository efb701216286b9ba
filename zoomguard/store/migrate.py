"""Alembic, driven from code: ``zoomguard db upgrade`` and the start-up schema check.

The migration scripts ship inside the ``migrations`` package, found through its import path, so
this works from any working directory and from an installed wheel.

Alembic is imported only when there is work for it: a database already at head is recognised by
reading ``alembic_version`` and the scripts' own ``revision`` lines, which saves a command about
0.3 s of start-up (loading Alembic and its script directory).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, exc, text

from zoomguard.errors import StoreError
from zoomguard.store.base import make_engine

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

UPGRADE_HINT = "run `zoomguard db upgrade`"


def migrations_dir() -> Path:
    # Found as package data, not imported: the migration scripts import the store's models, so
    # the store importing them back would be a cycle. They ship as a real folder in the wheel.
    return Path(str(resources.files("zoomguard.migrations"))).resolve()


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration of zoomguard; ``url`` overrides ZOOMGUARD_DATABASE_URL."""
    from alembic.config import Config

    directory = migrations_dir()
    config = Config(str(directory / "alembic.ini"))
    config.set_main_option("script_location", str(directory))
    if url is not None:
        # The ini file is read with ConfigParser interpolation: a literal % must be doubled
        # (percent-encoded passwords and PostgreSQL ``options`` contain them).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# The lines Alembic's script template writes: revision: str = "0002", down_revision: ... = ...
_REVISION_LINE = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION_LINE = re.compile(r"^down_revision\s*(?::[^=]*)?=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


def script_heads() -> set[str] | None:
    """The head revisions, read from the scripts' revision lines without loading Alembic;
    None when a script does not follow the template (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (migrations_dir() / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION_LINE.search(source)
        down = _DOWN_REVISION_LINE.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    return (revisions - parents) or None


def _stored_heads(engine: Engine) -> set[str]:
    """The revisions in ``alembic_version``; empty when it cannot be read (Alembic reports
    why, on the slow path)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return {str(value) for value in rows.scalars()}
    except exc.DBAPIError:
        return set()


def _at_head(engine: Engine) -> bool:
    stored = _stored_heads(engine)
    return bool(stored) and stored == script_heads()


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the schema to ``revision``; nothing to load or lock when already at head."""
    if revision == "head":
        engine = make_engine(url)
        try:
            if _at_head(engine):
                return
        finally:
            engine.dispose()
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> set[str]:
    return set(_scripts().get_heads())


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    heads = _current_heads(engine)
    return heads[0] if heads else None


def _current_heads(engine: Engine) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

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
    if _at_head(engine):
        return
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
