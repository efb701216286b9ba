"""`zoomguard demo`: the whole path in one command, on a fresh install, with nothing configured.

It starts the sandbox (a local stand-in for Zoom) on a free loopback port, connects to it as agency
IT would, sweeps, shows what was found and fixed; brings up the webhook receiver and a worker and
has a host start a cloud recording, which zoomguard stops (the time it took is printed); applies
the account baseline and shows which settings are now locked; shows the emails the privacy officer
would receive; sweeps again to show that a compliant account is left alone; and says how to point
zoomguard at a real account. Whatever it shortens, it says how much it left out and that
``--all`` shows everything. Its database lives in a temporary directory unless --keep is given.

The sandbox, the receiver and the worker are imported inside the command: other commands should
not pay for them at start-up.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
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

# What the demo prints without --all; whatever is left out is counted on screen.
FINDINGS_SHOWN = 15
EMAILS_PRINTED = 2
EMAIL_LINES_SHOWN = 40
SHOW_ALL = "`zoomguard demo --all`"


@click.command("demo")
@click.option("--users", default=8, show_default=True, help="Users in the sandbox account.")
@click.option("--meetings", default=60, show_default=True, help="Scheduled meetings in all.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated account.")
@click.option("--keep", is_flag=True, help="Keep the demo database and print where it is.")
@click.option(
    "--all", "show_all", is_flag=True, help="Print every finding and every email in full."
)
def demo_command(users: int, meetings: int, seed: int, keep: bool, show_all: bool) -> None:
    """Run zoomguard end to end against a local Zoom sandbox (no Zoom account needed)."""
    workdir = Path(tempfile.mkdtemp(prefix="zoomguard-demo-"))
    try:
        _run_demo(workdir, users=users, meetings=meetings, seed=seed, show_all=show_all)
    finally:
        if keep:
            click.echo(f"\nDemo database kept: sqlite:///{workdir / 'demo.db'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_demo(workdir: Path, *, users: int, meetings: int, seed: int, show_all: bool) -> None:
    from zoomguard import service
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
        click.echo(_indent(_findings_table(store, show_all)))
        click.echo()

        click.secho("3. In real time: a host starts a cloud recording", bold=True)
        click.echo(_indent(_live_recording(settings, store, sandbox)))
        click.echo()

        click.secho("4. Account baseline: the account's own settings, set and locked", bold=True)
        click.echo(_indent(_baseline(settings, store, account, profile)))
        click.echo()

        _print_emails(settings, store, show_all)

        second = _sweep(settings, store, account, profile)
        click.secho("6. Second sweep: a compliant account is left alone", bold=True)
        click.echo(
            _indent(
                f"meetings checked {second.counts.meetings}, meetings updated "
                f"{second.counts.patches}, still noncompliant {second.counts.noncompliant}"
                " (report-only findings stay open for a person)"
            )
        )
        click.echo()
        store.close()
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


def _findings_table(store: Any, show_all: bool) -> str:
    from zoomguard.cli.report import findings_rows

    findings = store.findings.including_resolved()
    shown = findings if show_all else findings[:FINDINGS_SHOWN]
    headers, rows = findings_rows(shown)
    text = reporting.table(headers, rows, max_width=36)
    left_out = len(findings) - len(shown)
    if left_out:
        text += (
            f"\n... {left_out} more finding(s) not shown ({len(findings)} in all): "
            f"{SHOW_ALL} lists every one"
        )
    return text


def _live_recording(settings: Any, store: Any, sandbox: Any) -> str:
    from zoomguard.cli.demo_live import live_service, stop_a_live_recording
    from zoomguard.rules import policy

    # The first meeting hosted by the account owner, who created the app: Zoom lets only a
    # meeting's host or alternative host stop its recording, and a Server-to-Server app acts as
    # its creator. Compliant or not, any such meeting will do.
    state = sandbox.state
    owned = [mid for mid, m in state.meetings.items() if m["host_id"] == state.owner_id]
    meeting_id = (
        owned[0] if owned else state.add_meeting(state.owner_id, topic="Team check-in")["id"]
    )
    with live_service(settings, store, sandbox) as live:
        lines = [
            f"webhook receiver on {live.receiver_url} ("
            + ("answered Zoom's URL validation" if live.url_validated else "URL validation FAILED")
            + ") and one inbox worker, the processes the Procfile runs",
        ]
        stopped = stop_a_live_recording(sandbox, meeting_id)
    lines.append(
        f'meeting {stopped.meeting_id} "{policy.redact(stopped.topic)}": '
        f"{stopped.host_email} started a cloud recording"
    )
    lines.append(
        f"zoomguard stopped the recording {stopped.seconds * 1000:.0f} ms after it started "
        "(webhook, inbox, worker, Zoom's stop call; timed by the sandbox)"
    )
    stop_entry = next(
        (
            a
            for a in store.audit.recent(limit=10)
            if a.action == "recording.stop" and a.target == f"meeting:{meeting_id}"
        ),
        None,
    )
    if stop_entry is not None:
        confirmed = "confirmed by Zoom" if stop_entry.confirmed else "NOT confirmed by Zoom"
        lines.append(f"audit log: recording.stop on meeting:{meeting_id}, {confirmed}")
    return "\n".join(lines)


def _baseline(settings: Any, store: Any, account: Any, profile: Any) -> str:
    from zoomguard import service
    from zoomguard.rules import baseline as bl
    from zoomguard.service.baseline import BaselineRunner

    with service.client_for_account(settings, store, account) as client:
        result = BaselineRunner(settings, store, client, account, profile=profile).run()
    own = [s for s in result.settings if s.level == bl.ACCOUNT]
    # The Zoom setting's own name and values (cloud_recording: on -> off), and in plain words
    # what keeping it at the guidance's value guarantees.
    rows = [
        (
            s.item_id,
            _setting_value(s.actual),
            _setting_value(_now(s)),
            _lock_change(s),
            s.item.title,
        )
        for s in own
    ]
    headers = ("Zoom setting", "was", "now", "locked", "so that")
    lines = [reporting.table(headers, rows, max_width=60)]
    locked = [s for s in own if s.enforcement == "locked at the source"]
    lockable = [s for s in own if s.item.lockable]
    lines.append(
        f"now locked at the account level, so no group or user can change them: "
        f"{len(locked)} of {len(lockable)} settings Zoom can lock"
    )
    unlockable = [s.item_id for s in own if not s.item.lockable and s.item.portal is None]
    if unlockable:
        lines.append(
            "Zoom offers no lock for these, so they are repaired after the fact: "
            + ", ".join(unlockable)
        )
    lines.extend(
        f"FOR A PERSON {s.item_id}: {s.detail}"
        for s in own
        if s.item.portal is not None and s.status == bl.REPORTED
    )
    below = [s for s in result.deviations if s.level != bl.ACCOUNT]
    targets = {s.target for s in below}
    fixed = sum(1 for s in below if s.status == bl.FIXED)
    lines.append(
        f"groups and users that deviated: {len(targets)} ({len(below)} setting(s), {fixed} fixed)"
    )
    found = len(result.recordings)
    trashed = sum(1 for r in result.recordings if r.action in ("trashed", "deleted"))
    lines.append(
        f"existing cloud recordings within the look-back: {found}"
        + (f" ({trashed} removed)" if found else "")
    )
    lines.extend(
        f"NOT FIXED {s.target} {s.item_id}: {s.detail}"
        for s in result.settings
        if s.status == bl.FAILED
    )
    lines.extend(f"ERROR {error}" for error in result.errors)
    return "\n".join(lines)


def _now(setting: Any) -> Any:
    return setting.after if setting.after is not None else setting.actual


def _setting_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "(none)" if value is None else str(value)


def _lock_change(setting: Any) -> str:
    def one(value: bool | None) -> str:
        return "-" if value is None else ("yes" if value else "no")

    before, after = setting.locked_before, setting.locked_after
    return one(before) if after is None or after == before else f"{one(before)} -> {one(after)}"


def _print_emails(settings: Any, store: Any, show_all: bool) -> None:
    from zoomguard import notify, service

    now = service.utcnow()
    notify.compose_pending(store, settings, now)
    outbox = notify.outbox_status(store, now, settings.alert_unsent_warn_seconds)
    # In the order they were composed (list_emails gives the newest first).
    emails = list(reversed(store.outbox.list_emails(status="pending", limit=outbox.pending)))
    click.secho(
        f"5. What the privacy officer receives ({len(emails)} email(s); no SMTP configured, "
        "so they wait in the local outbox)",
        bold=True,
    )
    click.echo(_indent("\n".join(f"{n}. {e.subject}" for n, e in enumerate(emails, 1))))
    if outbox.waiting_alerts:
        click.echo(
            _indent(
                f"and {outbox.waiting_alerts} alert(s) not yet in an email: webhook and baseline "
                f"alerts are gathered for up to {settings.alert_digest_seconds:.0f} s into one "
                "digest"
            )
        )
    click.echo()
    printed = emails if show_all else emails[:EMAILS_PRINTED]
    for email in printed:
        click.echo(_indent(f"Subject: {email.subject}\nTo: {', '.join(email.recipients)}"))
        lines = email.text_body.splitlines()
        click.echo(_indent(_first_lines(lines, len(lines) if show_all else EMAIL_LINES_SHOWN)))
        click.echo()
    if len(printed) < len(emails):
        click.echo(
            _indent(
                f"{len(emails) - len(printed)} more email(s) not printed: {SHOW_ALL} prints "
                "every email in full"
            )
        )
        click.echo()


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _first_lines(lines: Sequence[str], count: int) -> str:
    more = len(lines) - count
    tail = [f"... {more} more line(s) of this email: {SHOW_ALL} prints it in full"]
    return "\n".join([*lines[:count], *(tail if more > 0 else [])])
