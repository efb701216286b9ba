"""Start-up: a command loads only what it needs, and a database at head skips Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from zoomguard.store.migrate import head_revisions, script_heads, upgrade


def loaded_after(code: str) -> set[str]:
    """The module names loaded after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return set(output.split())


def test_the_command_line_does_not_load_the_sandbox_server_or_alembic() -> None:
    loaded = loaded_after("import zoomguard.cli")
    assert "zoomguard.sandbox.server" not in loaded
    assert "zoomguard.sandbox.app" not in loaded
    assert "alembic" not in loaded
    assert "authlib" not in loaded


def test_a_sweep_loads_neither_the_other_commands_nor_what_only_its_end_needs() -> None:
    # What `zoomguard sweep` imports before its first request: the sweep's own modules; not
    # the sandbox, the demo, the web or scheduler processes, user OAuth (Authlib), or the
    # email templates (Jinja2, loaded in the background during the sweep).
    loaded = loaded_after(
        "from zoomguard.cli import main\n"
        "from zoomguard.cli.common import load_settings, open_store\n"
        "main.get_command(None, 'sweep')\n"
        "from zoomguard import service\n"
        "service.Sweeper, service.load_profile"
    )
    assert "zoomguard.service.sweep" in loaded
    for unwanted in (
        "zoomguard.sandbox.cli",
        "zoomguard.cli.demo",
        "zoomguard.cli.service",
        "zoomguard.cli.users",
        "authlib",
        "jinja2",
        "flask",
        "apscheduler",
        "faker",
    ):
        assert unwanted not in loaded, unwanted


def test_the_sandbox_package_still_gives_its_classes() -> None:
    loaded = loaded_after("from zoomguard.sandbox import SandboxServer, SandboxConfig")
    assert "zoomguard.sandbox.server" in loaded


def test_heads_read_from_the_scripts_are_alembics() -> None:
    assert script_heads() == head_revisions()


def test_a_database_at_head_is_not_handed_to_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'z.db'}"
    upgrade(url)
    loaded = loaded_after(
        f"from zoomguard.store.migrate import upgrade, ensure_current\n"
        f"from zoomguard.store import make_engine\n"
        f"upgrade({url!r})\nensure_current(make_engine({url!r}))"
    )
    assert "alembic" not in loaded
