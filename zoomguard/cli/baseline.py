"""`zoomguard baseline`: set and lock the account's own settings, and clean out recordings.

Registered by ``zoomguard.cli`` (``main.add_command(baseline_command)``). Like ``sweep`` it reads
Settings once, works on every connected account (or one), stops cleanly on Ctrl-C / SIGTERM,
turns the officer's alerts into emails, and exits 1 when a setting could not be fixed or a
group or user could not be read, so a scheduler notices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from zoomguard.cli.common import deliver_alerts, open_store, stop_on_signals
from zoomguard.config import Settings
from zoomguard.errors import ZoomGuardError

if TYPE_CHECKING:
    from zoomguard.rules.policy import Profile
    from zoomguard.store import Store


@click.command("baseline")
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing in Zoom.")
@click.option(
    "--recordings/--no-recordings",
    default=True,
    show_default=True,
    help="Also find existing cloud recordings and apply ZOOMGUARD_RECORDING_ACTION to them.",
)
@click.option(
    "--lookback-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="How many days back to look for cloud recordings "
    "[default: the policy's baseline.recordings_lookback_days, 30].",
)
@click.option("--account", "zoom_account_id", help="Only this connected Zoom account ID.")
def baseline_command(
    dry_run: bool, recordings: bool, lookback_days: int | None, zoom_account_id: str | None
) -> None:
    """Set the account's settings to the privacy baseline and lock them; remove recordings."""
    from zoomguard import service

    settings = Settings.from_env()
    profile = service.load_profile(settings)
    store = open_store(settings)
    try:
        problems = _run(
            settings, store, profile, dry_run, recordings, lookback_days, zoom_account_id
        )
    finally:
        store.close()
    if problems:
        raise ZoomGuardError("; ".join(problems), reason="baseline_incomplete")


def _run(
    settings: Settings,
    store: Store,
    profile: Profile,
    dry_run: bool,
    recordings: bool,
    lookback_days: int | None,
    zoom_account_id: str | None,
) -> list[str]:
    """Every account in turn; the problems to report (empty when all is well)."""
    from zoomguard import service
    from zoomguard.rules import baseline as bl
    from zoomguard.service.baseline import BaselineRunner

    accounts = service.accounts_to_sweep(settings, store, zoom_account_id)
    problems: list[str] = []
    with stop_on_signals() as stop:
        for account in accounts:
            client = service.client_for_account(settings, store, account)
            with client:
                result = BaselineRunner(
                    settings,
                    store,
                    client,
                    account,
                    profile=profile,
                    dry_run=dry_run,
                    recordings=recordings,
                    lookback_days=lookback_days,
                    actor="cli" if dry_run else "baseline",
                    stop=stop,
                ).run()
            click.echo(bl.render_summary(result))
            failed = result.count(bl.FAILED) + sum(
                1 for r in result.recordings if r.action == "failed"
            )
            if failed or result.errors:
                problems.append(
                    f"baseline of {account.zoom_account_id}: {failed} not fixed, "
                    f"{len(result.errors)} could not be read"
                )
            if stop.is_set():
                break
    deliver_alerts(settings, store)
    return problems
