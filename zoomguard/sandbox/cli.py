"""``zoomguard sandbox``: run the local Zoom stand-in in the foreground."""

from __future__ import annotations

import shlex
import threading

import click

from zoomguard.sandbox.config import PLAN_RATES


@click.command("sandbox")
@click.option("--port", default=9901, show_default=True, help="Port on 127.0.0.1 (0 = any free).")
@click.option("--users", default=50, show_default=True, help="Users to generate.")
@click.option("--meetings", default=500, show_default=True, help="Meetings to generate.")
@click.option("--latency-ms", default=0.0, show_default=True, help="Added to every request.")
@click.option(
    "--plan",
    type=click.Choice(sorted(PLAN_RATES)),
    default="pro",
    show_default=True,
    help="Zoom plan whose per-second rate limits apply.",
)
@click.option(
    "--noncompliant",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Share of meetings generated noncompliant.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the generated data.")
@click.option("--webhook-url", default=None, help="Where to deliver signed webhook events.")
@click.option("--token-ttl", default=3600.0, show_default=True, help="Access token lifetime (s).")
def sandbox_command(
    port: int,
    users: int,
    meetings: int,
    latency_ms: float,
    plan: str,
    noncompliant: float,
    seed: int,
    webhook_url: str | None,
    token_ttl: float,
) -> None:
    """Run a local stand-in for Zoom's API, OAuth and webhooks until Ctrl-C."""
    # Imported here so `zoomguard --help` does not load the server.
    from zoomguard.sandbox.config import SandboxConfig
    from zoomguard.sandbox.server import SandboxServer

    config = SandboxConfig(
        port=port,
        users=users,
        meetings=meetings,
        latency_ms=latency_ms,
        plan=plan,
        noncompliant_share=noncompliant,
        seed=seed,
        webhook_url=webhook_url,
        token_ttl_seconds=token_ttl,
    )
    server = SandboxServer(config)
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc}") from None
    summary = server.state.summary()
    click.echo(
        f"# Zoom sandbox on {server.base_url}: {summary['users']} users, "
        f"{summary['meetings']} meetings ({summary['noncompliant_generated']} noncompliant), "
        f"plan {plan}",
        err=True,
    )
    for name, value in server.env().items():
        click.echo(f"export {name}={shlex.quote(value)}")
    click.echo(f"# control endpoints: {server.base_url}/_sandbox/state; Ctrl-C to stop", err=True)
    stopped = threading.Event()
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        click.echo("# stopping the sandbox", err=True)
    finally:
        server.stop()
