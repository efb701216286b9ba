"""Shared fixtures. Module-specific ones live in *_fixtures.py beside the tests that need them.

postgres_server provides the session's PostgreSQL server (and fails a ZOOMGUARD_REQUIRE_POSTGRES=1
run that has none); store_fixtures the per-test databases on SQLite and PostgreSQL.
"""

from __future__ import annotations

pytest_plugins = ("postgres_server", "store_fixtures")
