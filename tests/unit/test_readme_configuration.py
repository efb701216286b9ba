"""The README's configuration table names every variable zoomguard and its Procfile read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _configuration_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Configuration")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def _variables_read() -> set[str]:
    config = (ROOT / "zoomguard" / "config.py").read_text(encoding="utf-8")
    names = set(re.findall(r'reader\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', config))
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8")
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", procfile))
    return names


def test_every_variable_read_is_in_the_readme_table() -> None:
    names = _variables_read()
    assert {"ZOOMGUARD_DATABASE_URL", "ZOOMGUARD_SECRET_KEY", "PORT"} <= names, "the scan works"
    section = _configuration_section()
    missing = sorted(name for name in names if f"`{name}`" not in section)
    assert missing == []
