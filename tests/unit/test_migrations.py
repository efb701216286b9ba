"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from zoomguard.errors import StoreError
from zoomguard.store import Base, current_revision, downgrade, ensure_current, make_engine, upgrade
from zoomguard.store.migrate import alembic_config, head_revisions

SCHEMA_TABLES = {
    "accounts",
    "sweeps",
    "findings",
    "audit_log",
    "update_counters",
    "leases",
    "inbox_events",
    "alerts",
    "emails",
    "dashboard_users",
    "oauth_states",
    "dashboard_sessions",
    "remembered_occurrences",
    "occurrence_cursors",
}


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_the_models_define_the_nine_tables_of_the_schema() -> None:
    assert set(Base.metadata.tables) == SCHEMA_TABLES


def test_upgrade_builds_exactly_the_models_schema(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        assert tables(engine) == SCHEMA_TABLES | {"alembic_version"}
        assert differences(engine) == []
        assert current_revision(engine) in head_revisions()
        ensure_current(engine)
    finally:
        engine.dispose()


def test_the_comparison_notices_a_schema_that_drifted(empty_db_url: str) -> None:
    # Guards the test above: a missing index and a missing column must show up as differences.
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url, enforce_foreign_keys=False)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX uq_findings_open_account_id_meeting_id_rule_id"))
            connection.execute(text("ALTER TABLE leases DROP COLUMN expires_at"))
        found = {(diff[0], getattr(diff[1], "name", None)) for diff in differences(engine)}
        assert ("add_index", "uq_findings_open_account_id_meeting_id_rule_id") in found
        assert any(kind == "add_column" for kind, _ in found)
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table_and_upgrade_works_again(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    downgrade(empty_db_url, "base")
    engine = make_engine(empty_db_url)
    try:
        assert tables(engine) <= {"alembic_version"}
        assert current_revision(engine) is None
        with pytest.raises(StoreError, match="not initialised"):
            ensure_current(engine)
        upgrade(empty_db_url)
        assert differences(engine) == []
        ensure_current(engine)
    finally:
        engine.dispose()


def test_ensure_current_names_the_fix_for_an_empty_database(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert current_revision(engine) is None
        with pytest.raises(StoreError, match="run `zoomguard db upgrade`") as raised:
            ensure_current(engine)
        assert raised.value.reason == "store_not_current"
    finally:
        engine.dispose()


def test_ensure_current_refuses_an_unknown_revision(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
        with pytest.raises(StoreError, match="newer version"):
            ensure_current(engine)
    finally:
        engine.dispose()


def test_upgrade_works_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'nested' / 'zoomguard.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        ensure_current(engine)
    finally:
        engine.dispose()


def test_env_falls_back_to_the_configured_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("ZOOMGUARD_DATABASE_URL", url)
    command.upgrade(alembic_config(), "head")  # no URL in the config: env.py reads Settings
    engine = make_engine(url)
    try:
        ensure_current(engine)
    finally:
        engine.dispose()


def test_offline_sql_for_postgresql() -> None:
    output = io.StringIO()
    config = alembic_config("postgresql+psycopg://u:p@127.0.0.1/db")
    config.output_buffer = output
    command.upgrade(config, "head", sql=True)
    sql = output.getvalue()
    assert "CREATE TABLE inbox_events" in sql
    assert "id BIGSERIAL NOT NULL" in sql
    assert "WHERE resolved_at IS NULL" in sql
