"""The layout the project promises newcomers: small modules, layers that point one way.

The layers and the no-cycle rule are import-linter contracts in pyproject.toml; running them here
as well means `pytest` alone catches an import that breaks them, not only `.ci/run`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_FOLDERS = ("zoomguard", "webhooks", "migrations")
MAX_LINES = 600


def _product_modules() -> list[Path]:
    modules: list[Path] = []
    for folder in PRODUCT_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            # zoomguard/webhooks and zoomguard/migrations are links to the top-level folders.
            if path.resolve().is_relative_to(ROOT / "zoomguard") and path.parts[
                len(ROOT.parts) + 1
            ] in ("webhooks", "migrations"):
                continue
            modules.append(path)
    return modules


def test_no_product_module_is_over_600_lines() -> None:
    modules = _product_modules()
    assert len(modules) > 100, "the walk found the modules"
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
