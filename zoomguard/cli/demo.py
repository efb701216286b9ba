"""`zoomguard demo`: the whole path in one command, on a fresh install, with nothing configured.

It starts the sandbox (a local stand-in for Zoom) on a free loopback port, connects to it as agency
IT would, sweeps, shows what was found and fixed and the email the privacy officer would receive,
sweeps again to show that a compliant account is left alone, and says how to point zoomguard at a
real account. Its database lives in a temporary directory unless --keep is given.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from cryptography.fernet import Fernet

from zoomguard import formats as reporting

REAL_ACCOUNT_HELP = """\
To run zoomguard against your own Zoom account:
  1. In the Zoom App Marketplace, create a Server-to-Server OAuth app with the scopes listed in
     the README ("Zoom app setup"), and note its Account ID, Client ID and Client secret.
  2. export ZOOM_ACCOUNT_ID=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=...
     export ZOOMGUARD_SECRET_KEY=...   (a Fernet key; see README, Configuration)
  3. zoomguard connect && zoomguard sweep --dry-run     (reports only; then drop --dry-run)"""


@click.command("demo")
@click.option("--users", default=8, show_default=True, help="Users in the sandbox account.")
@click.option("--meetings", default=60, show_default=True, help="Scheduled meetings in all.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated account.")
@click.option("--keep", is_flag=True, help="Keep the demo database and print where it is.")
def demo_command(users: int, meetings: int, seed: int, keep: bool) -> None:
    """Run zoomguard end to end against a local Zoom sandbox (no Zoom account needed)."""
    workdir = Path(tempfile.mkdtemp(prefix="zoomguard-demo-"))
    try:
        _run_demo(workdir, users=users, meetings=meetings, seed=seed)
    finally:
        if keep:
            click.echo(f"\nDemo database kept: sqlite:///{workdir / 'demo.db'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_demo(workdir: Path, *, users: int, meetings: int, seed: int) -> None:
    from zoomguard import notify, service
    from zoomguard.config import Settings
    from zoomguard.sandbox import SandboxConfig, SandboxServer
    from zoomguard.store import Store
    from zoomguard.store.migrate import upgrade

    began = time.monotonic()
    config = SandboxConfig(users=users, meetings=meetings, noncompliant_share=0.3, seed=seed)
    with SandboxServer(config) as sandbox:
        env = dict(sandbox.env())
        env["ZOOMGUARD_DATABASE_URL"] = f"sqlite:///{workdir / 'demo.db'}"
        env["ZOOMGUARD_SECRET_KEY"] = Fernet.generate_key().decode()
        # The demo ignores the caller's environment on purpose: same result for everyone.
        settings = Settings.from_env(env)
        click.secho("zoomguard demo", bold=True)
        click.echo(
            f"  sandbox Zoom account on {sandbox.base_url} ({users} users, {meetings} meetings)"
        )
        upgrade(settings.database_url)
        store = Store.open(settings)
        assert settings.zoom_account_id
        assert settings.zoom_client_id
        assert settings.zoom_client_secret
        account = service.connect_s2s(
            settings,
            store,
            account_id=settings.zoom_account_id,
            client_id=settings.zoom_client_id,
            client_secret=settings.zoom_client_secret,
            name="Sandbox agency",
        )
        click.echo("  connected with Server-to-Server OAuth; credentials stored encrypted\n")

        profile = service.load_profile(settings)
        first = _sweep(settings, store, account, profile)
        click.secho("1. First sweep", bold=True)
        click.echo(_indent(_sweep_table(first)))
        click.echo()
        click.secho("2. What zoomguard found and did", bold=True)
        click.echo(_indent(_findings_table(store)))
        click.echo()

        notify.compose_pending(store, settings, service.utcnow())
        emails = store.outbox.list_emails(limit=20)
        click.secho(
            f"3. What the privacy officer receives ({len(emails)} email(s); no SMTP configured, "
            "so they wait in the local outbox)",
            bold=True,
        )
        for email in emails[:2]:
            click.echo(_indent(f"Subject: {email.subject}\nTo: {', '.join(email.recipients)}"))
            click.echo(_indent(_first_lines(email.text_body, 40)))
            click.echo()

        second = _sweep(settings, store, account, profile)
        click.secho("4. Second sweep: a compliant account is left alone", bold=True)
        click.echo(
            _indent(
                f"meetings checked {second.counts.meetings}, meetings updated "
                f"{second.counts.patches}, still noncompliant {second.counts.noncompliant}"
                " (report-only findings stay open for a person)"
            )
        )
        click.echo()
    click.echo(f"Demo finished in {time.monotonic() - began:.1f} s.\n")
    click.echo(REAL_ACCOUNT_HELP)


def _sweep(settings: Any, store: Any, account: Any, profile: Any) -> Any:
    from zoomguard import service

    client = service.client_for_account(settings, store, account)
    with client:
        return service.Sweeper(settings, store, client, account, profile=profile).run()


def _sweep_table(result: Any) -> str:
    c = result.counts
    rows = [
        ("meetings checked", c.meetings),
        ("compliant", c.compliant),
        ("noncompliant", c.noncompliant),
        ("fixed", c.fixed),
        ("not fixed", c.failed),
        ("reported for a person", c.reported),
        ("meetings updated", c.patches),
        ("seconds", f"{result.seconds:.1f}"),
    ]
    return reporting.table(("", "count"), rows)


def _findings_table(store: Any) -> str:
    from zoomguard.cli.report import findings_rows

    headers, rows = findings_rows(store.findings.including_resolved()[:15])
    return reporting.table(headers, rows, max_width=36)


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _first_lines(text: str, count: int) -> str:
    lines = text.splitlines()
    more = len(lines) - count
    return "\n".join(lines[:count] + ([f"... ({more} more lines)"] if more > 0 else []))
