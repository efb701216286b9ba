"""The `zoomguard` command behaves like a click program, and bad configuration is one line.

``--help`` on every command exits 0; a usage mistake prints click's usage line and exits 2; only
a real bug says "please report it"; a bad variable or database names what to fix and exits 1.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from zoomguard.cli import ZoomGuardGroup, main
from zoomguard.config import SMTP_SCHEMES
from zoomguard.notify.smtp import _SCHEMES as smtp_schemes_by_security
from zoomguard.store import base as store_base
from zoomguard.store.base import SQLITE_BUSY_TIMEOUT_SECONDS

SECRET_KEY = "a test passphrase, never used in production"


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand of the group, as the words that name it."""
    # list_commands/get_command, not group.commands: the group imports most commands lazily.
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from command_paths(command, path)


ALL_COMMANDS = list(command_paths(main))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No zoomguard or Zoom variable from the outside; a working directory of our own."""
    for name in list(os.environ):
        if name.startswith(("ZOOM", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZOOMGUARD_SECRET_KEY", SECRET_KEY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(main, args, env=env, prog_name="zoomguard")


def one_error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# click's own outcomes ---------------------------------------------------------------------------


def test_every_command_is_covered() -> None:
    # Guards the parametrisation below: a command registered elsewhere still shows up here.
    names = {" ".join(path) for path in ALL_COMMANDS}
    assert {"sweep", "report", "db upgrade", "user add", "worker", "clock", "demo"} <= names
    assert {"sandbox", "baseline", "connect", "run", "user list"} <= names


@pytest.mark.parametrize("path", [(), *ALL_COMMANDS], ids=lambda p: " ".join(p) or "zoomguard")
def test_help_exits_0_on_every_command(path: tuple[str, ...], clean_env: Path) -> None:
    result = run([*path, "--help"])
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.startswith(f"Usage: {' '.join(('zoomguard', *path))}")
    assert "unexpected error" not in result.output + result.stderr


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_an_unknown_option_is_a_usage_error_on_every_command(
    path: tuple[str, ...], clean_env: Path
) -> None:
    result = run([*path, "--no-such-option"])
    assert result.exit_code == 2, result.output + result.stderr
    assert result.stderr.startswith(f"Usage: {' '.join(('zoomguard', *path))}")
    assert "Error: No such option '--no-such-option'." in result.stderr
    assert "please report it" not in result.stderr


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["bogus"], "Error: No such command 'bogus'."),
        (["report", "--format", "xml"], "Error: Invalid value for '--format': 'xml'"),
        (["user", "add"], "Error: Missing argument 'USERNAME'."),
        (["db", "bogus"], "Error: No such command 'bogus'."),
        (["baseline", "--lookback-days", "0"], "Error: Invalid value for '--lookback-days'"),
    ],
)
def test_usage_mistakes_print_the_usage_line_and_exit_2(
    args: list[str], error: str, clean_env: Path
) -> None:
    result = run(args)
    assert result.exit_code == 2, result.output + result.stderr
    assert result.stderr.startswith("Usage: ")
    assert error in result.stderr
    assert "please report it" not in result.stderr


def test_version_exits_0(clean_env: Path) -> None:
    result = run(["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("zoomguard, version ")


def test_only_a_real_bug_says_please_report_it() -> None:
    group = ZoomGuardGroup("zoomguard")

    @group.command()
    def broken() -> None:
        raise KeyError("a bug")

    result = CliRunner().invoke(group, ["broken"])
    assert result.exit_code == 1
    assert result.stderr == "zoomguard: unexpected error (KeyError: 'a bug'); please report it\n"


def test_a_declined_prompt_is_click_abort_not_a_bug() -> None:
    group = ZoomGuardGroup("zoomguard")

    @group.command()
    def confirm() -> None:
        click.confirm("Really?", abort=True)

    result = CliRunner().invoke(group, ["confirm"], input="n\n")
    assert result.exit_code == 1
    assert "Aborted!" in result.stderr
    assert "please report it" not in result.stderr


def test_the_installed_command_answers_help_and_usage_mistakes(clean_env: Path) -> None:
    # The real entry point, in a process of its own, from a folder that is not the checkout.
    command = [sys.executable, "-m", "zoomguard"]
    helped = subprocess.run([*command, "sweep", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "--dry-run" in helped.stdout
    assert helped.stderr == ""
    bogus = subprocess.run([*command, "bogus"], capture_output=True, text=True)
    assert bogus.returncode == 2
    assert bogus.stderr.startswith("Usage: ")
    assert "Error: No such command 'bogus'." in bogus.stderr


# Bad configuration: one line naming what to fix, exit 1 ------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "ZOOMGUARD_DATABASE_URL",
            "not a url",
            "zoomguard: ZOOMGUARD_DATABASE_URL is not a database URL (expected "
            "sqlite:///path/to/zoomguard.db or postgresql+psycopg://user:pw@host/db)",
        ),
        (
            "DATABASE_URL",
            "mysql://user:secret@db.example/zoomguard",
            "zoomguard: DATABASE_URL names an unsupported database 'mysql' "
            "(use sqlite or postgresql)",
        ),
        (
            "ZOOMGUARD_LOG_LEVEL",
            "LOUD",
            "zoomguard: ZOOMGUARD_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, "
            "got 'LOUD'",
        ),
        (
            "ZOOMGUARD_SMTP_URL",
            "http://user:secret@mail.example",
            "zoomguard: ZOOMGUARD_SMTP_URL must start with one of smtp://, smtp+starttls://, "
            "smtps://, smtp+ssl://; got scheme 'http'",
        ),
    ],
)
@pytest.mark.parametrize("command", [["report"], ["sweep"], ["db", "upgrade"]], ids=" ".join)
def test_a_bad_variable_is_one_line_naming_it(
    variable: str, value: str, line: str, command: list[str], clean_env: Path
) -> None:
    result = run(command, **{variable: value})
    assert result.exit_code == 1
    assert one_error_line(result) == line
    assert "secret" not in result.stderr  # a URL's password is never repeated


def test_config_and_the_smtp_sender_accept_the_same_schemes() -> None:
    assert set(SMTP_SCHEMES) == set(smtp_schemes_by_security)


def test_a_file_that_is_not_a_database_is_named(clean_env: Path) -> None:
    notes = clean_env / "notes.txt"
    notes.write_text("this is a text file, not a database\n", encoding="utf-8")
    result = run(["report"], ZOOMGUARD_DATABASE_URL=f"sqlite:///{notes}")
    assert result.exit_code == 1
    assert one_error_line(result) == (
        f"zoomguard: {notes} is not a SQLite database (check ZOOMGUARD_DATABASE_URL)"
    )


def test_a_database_directory_that_cannot_be_made_is_named(clean_env: Path) -> None:
    # A file where the directory should be: refused even for root, unlike a chmod.
    blocker = clean_env / "blocker"
    blocker.write_text("", encoding="utf-8")
    url = f"sqlite:///{blocker}/data/zoomguard.db"
    result = run(["db", "upgrade"], ZOOMGUARD_DATABASE_URL=url)
    assert result.exit_code == 1
    assert one_error_line(result) == (
        f"zoomguard: cannot create the database directory {blocker}/data (Not a directory); "
        "check ZOOMGUARD_DATABASE_URL"
    )


def test_a_database_directory_that_cannot_be_written_is_named(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_only = clean_env / "read-only"
    read_only.mkdir(mode=0o555)
    if os.geteuid() == 0:
        # Root may write anywhere (CI runs as root): answer as the kernel would for anyone else.
        real_access = os.access

        def access(path: str | os.PathLike[str], mode: int) -> bool:
            if Path(path) == read_only and mode & os.W_OK:
                return False
            return real_access(path, mode)

        monkeypatch.setattr(store_base.os, "access", access)
    result = run(["report"], ZOOMGUARD_DATABASE_URL=f"sqlite:///{read_only}/zoomguard.db")
    assert result.exit_code == 1
    assert one_error_line(result) == (
        f"zoomguard: the database directory {read_only} is not writable; "
        "check ZOOMGUARD_DATABASE_URL"
    )


@pytest.mark.slow
def test_a_locked_sqlite_database_gives_up_within_seconds(clean_env: Path) -> None:
    database = clean_env / "zoomguard.db"
    url = f"sqlite:///{database}"
    assert run(["db", "upgrade"], ZOOMGUARD_DATABASE_URL=url).exit_code == 0
    # Another program holds the write lock and does not let go while the command runs.
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()
    timer = threading.Timer(SQLITE_BUSY_TIMEOUT_SECONDS * 4, released.set)
    timer.start()
    try:
        result = run(["report"], ZOOMGUARD_DATABASE_URL=url)
    finally:
        timer.cancel()
        holder.rollback()
        holder.close()
    assert not released.is_set(), "the command waited far longer than the busy timeout"
    assert result.exit_code == 1
    assert one_error_line(result) == (
        "zoomguard: database error: the SQLite database is locked; another process held its "
        f"write lock for more than {SQLITE_BUSY_TIMEOUT_SECONDS} s "
        "(is another zoomguard command stuck?)"
    )
