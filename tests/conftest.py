"""Shared fixtures. Module-specific ones live in *_fixtures.py beside the tests that need them."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ("store_fixtures",)


def pytest_configure(config: pytest.Config) -> None:
    # CI sets ZOOMGUARD_REQUIRE_POSTGRES=1: a missing server must fail the run, not skip tests.
    if os.environ.get("ZOOMGUARD_REQUIRE_POSTGRES") == "1" and not os.environ.get(
        "ZOOMGUARD_TEST_POSTGRES_URL"
    ):
        raise pytest.UsageError(
            "ZOOMGUARD_REQUIRE_POSTGRES=1 but ZOOMGUARD_TEST_POSTGRES_URL is not set"
        )
