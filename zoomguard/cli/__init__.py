"""The `zoomguard` command: the click group and its database, connect, sweep and report commands.

Every command reads Settings once, turns any ZoomGuardError into one line on stderr and exit
status 1 (no traceback), and treats Ctrl-C / SIGTERM as "finish what is in flight, then stop".
click's own outcomes stay click's: ``--help`` exits 0, a usage mistake prints the usage line and
exits 2. The other command modules (baseline, demo, service, users, and the sandbox's) share
zoomguard.cli.common and are registered here by name, imported only when their command runs, so
a sweep starts without loading what it does not use; none of them imports this module.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import click

from zoomguard import formats as reporting
from zoomguard.cli.common import (
    deliver_alerts,
    fail,
    imports_without_gc,
    load_settings,
    open_store,
    prepare_alerts,
    stop_on_signals,
)
from zoomguard.errors import ZoomGuardError


class ZoomGuardGroup(click.Group):
    """Turns our errors into one line and exit 1, never a traceback.

    ``lazy_commands`` names commands by ``"module:attribute"``; a module is imported only when
    its command runs or is listed (``--help``), so ``zoomguard sweep`` does not load the
    sandbox, the demo or the web and scheduler processes.
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy_commands:
            module, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return command

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # The process ends when the command returns. Python's finalisation then runs garbage
        # collections over every object imports created (SQLAlchemy's alone made that 0.4 s
        # of a sweep's 0.5 s after its last answer); frozen, they are not walked, and every
        # object is still released by reference counting. Registered once per process.
        atexit.unregister(gc.freeze)
        atexit.register(gc.freeze)
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            # click's own outcomes, which click's main() reports the way every click program
            # does: --help and --version (Exit 0), usage mistakes (usage line, exit 2), a
            # declined prompt (Abort). They are not zoomguard bugs.
            raise
        except ZoomGuardError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted")
        except Exception as exc:
            from sqlalchemy.exc import OperationalError, ProgrammingError

            from zoomguard.store.base import SQLITE_BUSY_TIMEOUT_SECONDS

            if isinstance(exc, OperationalError | ProgrammingError):
                reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
                if reason == "database is locked":
                    fail(
                        "database error: the SQLite database is locked; another process held "
                        f"its write lock for more than {SQLITE_BUSY_TIMEOUT_SECONDS} s "
                        "(is another zoomguard command stuck?)"
                    )
                fail(f"database error: {reason}")
            # A bug, not bad input: still one line for the user; the traceback goes to the log
            # at DEBUG level (ZOOMGUARD_LOG_LEVEL=DEBUG) for whoever reports it.
            logging.getLogger("zoomguard.cli").debug("unexpected error", exc_info=True)
            first = str(exc).splitlines()[0] if str(exc) else ""
            fail(f"unexpected error ({type(exc).__name__}: {first}); please report it")


# The commands of the other command modules (they share zoomguard.cli.common and never import
# this module).
_LAZY_COMMANDS = {
    "baseline": "zoomguard.cli.baseline:baseline_command",
    "clock": "zoomguard.cli.service:clock",
    "demo": "zoomguard.cli.demo:demo_command",
    "run": "zoomguard.cli.service:run",
    "sandbox": "zoomguard.sandbox.cli:sandbox_command",
    "user": "zoomguard.cli.users:user_command",
    "worker": "zoomguard.cli.service:worker",
}


@click.group(cls=ZoomGuardGroup, lazy_commands=_LAZY_COMMANDS)
@click.version_option(package_name="zoomguard")
def main() -> None:
    """Keep a Zoom account inside the agency's privacy guidance."""


# --- database ------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or upgrade the database schema (Alembic)."""
    from zoomguard.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@main.group("secrets")
def secrets_group() -> None:
    """Stored secrets (ZOOMGUARD_SECRET_KEY)."""


@secrets_group.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret under the first key of ZOOMGUARD_SECRET_KEY.

    Put the new Fernet key first and the old key (or old passphrase) after it, comma-separated,
    run this, then remove the old key.
    """
    store = open_store(load_settings())
    try:
        count = store.reencrypt_secrets()
    finally:
        store.close()
    click.echo(f"{count} stored secrets re-encrypted under the first key; older keys may go")


# --- connect -------------------------------------------------------------------------------


@main.command()
@click.option("--account-id", help="Zoom account ID (default: ZOOM_ACCOUNT_ID)")
@click.option("--client-id", help="Server-to-Server app client ID (default: ZOOM_CLIENT_ID)")
@click.option(
    "--client-secret",
    help="Server-to-Server app client secret (default: ZOOM_CLIENT_SECRET; prefer the variable)",
)
@click.option("--name", help="A name for this account in reports")
def connect(
    account_id: str | None, client_id: str | None, client_secret: str | None, name: str | None
) -> None:
    """Register a Server-to-Server OAuth app: checks it, then stores it encrypted."""
    from zoomguard import service

    settings = load_settings()
    account_id = account_id or settings.zoom_account_id
    client_id = client_id or settings.zoom_client_id
    client_secret = client_secret or settings.zoom_client_secret
    missing = [
        n
        for n, v in (
            ("ZOOM_ACCOUNT_ID", account_id),
            ("ZOOM_CLIENT_ID", client_id),
            ("ZOOM_CLIENT_SECRET", client_secret),
        )
        if not v
    ]
    if missing:
        fail(f"missing {', '.join(missing)} (set them or pass --account-id/--client-id/...)")
    assert account_id
    assert client_id
    assert client_secret
    store = open_store(settings)
    account = service.connect_s2s(
        settings,
        store,
        account_id=account_id,
        client_id=client_id,
        client_secret=client_secret,
        name=name,
    )
    click.echo(f"connected Zoom account {account.zoom_account_id} (credentials stored encrypted)")


# --- sweep ---------------------------------------------------------------------------------


def _progress_printer() -> Callable[[Any], None] | None:
    if not sys.stderr.isatty():
        return None
    last = [0.0]
    lock = threading.Lock()

    def show(progress: Any) -> None:
        now = time.monotonic()
        with lock:
            if now - last[0] < 0.2:
                return
            last[0] = now
        click.echo(
            f"\r  users {progress.users}  meetings {progress.meetings}  "
            f"fixed {progress.fixed}  failed {progress.failed}  reported {progress.reported}",
            err=True,
            nl=False,
        )

    return show


@main.command()
@click.option("--dry-run", is_flag=True, help="Evaluate and report; change nothing in Zoom.")
@click.option("--account", "zoom_account_id", help="Sweep only this connected Zoom account ID.")
def sweep(dry_run: bool, zoom_account_id: str | None) -> None:
    """Inspect every scheduled meeting of every user and fix what the policy allows."""
    with imports_without_gc():
        from zoomguard.service import clients

    settings = load_settings()
    store = open_store(settings)
    accounts = clients.accounts_to_sweep(settings, store, zoom_account_id)
    # The first account's token is on its way (read from the database, or fetched) while the
    # rules, the enforcer and the alerts are imported: their tenth of a second of start-up
    # overlaps the token's round trip instead of coming before it.
    first_client = clients.client_for_account(settings, store, accounts[0])
    first_client.warm_token()
    try:
        with imports_without_gc():
            from zoomguard import service

        profile = service.load_profile(settings)  # a bad policy file stops the sweep here
    except BaseException:
        first_client.close()
        raise
    failures: list[str] = []
    with stop_on_signals() as stop:
        for index, account in enumerate(accounts):
            client = (
                first_client if index == 0 else service.client_for_account(settings, store, account)
            )
            with client:
                result = service.Sweeper(
                    settings,
                    store,
                    client,
                    account,
                    profile=profile,
                    dry_run=dry_run,
                    actor="cli" if dry_run else "sweep",
                    stop=stop,
                    on_progress=_progress_printer(),
                    prepare=(prepare_alerts,),
                ).run()
            if sys.stderr.isatty():
                click.echo("", err=True)
            if result.status != "failed" or result.counts.meetings:
                click.echo(_summary(result, dry_run))
            if result.status != "completed":
                failures.append(
                    f"sweep of {account.zoom_account_id} {result.status}: {result.error}"
                )
            if stop.is_set():
                break
    deliver_alerts(settings, store)
    if failures:
        fail("; ".join(failures))


def _summary(result: Any, dry_run: bool) -> str:
    c = result.counts
    rows = [
        ("account", result.account.zoom_account_id),
        ("status", result.status + (" (dry run: nothing changed)" if dry_run else "")),
        ("users", c.users),
        ("meetings checked", c.meetings),
        ("webinars checked", c.webinars),
        ("compliant", c.compliant),
        ("noncompliant", c.noncompliant),
        ("findings fixed", c.fixed),
        ("findings not fixed", c.failed),
        ("findings reported only", c.reported),
        ("findings exempt", c.exempt),
        ("meetings and webinars updated (PATCH)", c.patches),
        ("skipped (deleted or unreadable)", result.skipped),
        ("seconds", f"{result.seconds:.1f}"),
    ]
    table = reporting.table(("sweep", "value"), rows)
    # A note is a sentence: below the table, where it is not cut to the column's width.
    return f"{table}\nNote: {result.note}" if result.note else table


# --- report --------------------------------------------------------------------------------


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    help="Rows to list of recent changes, dead events and unsent alerts.",
)
def report(fmt: str, limit: int) -> None:
    """Open findings, recent changes, dead events and unsent alerts."""
    from zoomguard.cli.report import build_report, render_report

    settings = load_settings()
    store = open_store(settings)
    click.echo(render_report(build_report(store, settings, limit=limit), fmt))
