"""`zoomguard user ...`: the people who may sign in to the dashboard.

Registered in zoomguard/cli/__init__.py with ``main.add_command(user_command)``. Passwords are
asked for at a hidden prompt (twice), or read from the first line of standard input with
``--password-stdin`` for scripts; they are never taken as a command-line argument, which other
users of the machine could read from the process list.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from zoomguard.cli.common import open_store
from zoomguard.config import Settings
from zoomguard.errors import UserError
from zoomguard.store import Store
from zoomguard.store import users as dashboard_users
from zoomguard.store.users import ROLE_TITLES, ROLES


def _store() -> Store:
    return open_store(Settings.from_env())


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise UserError("no password on standard input")
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


_ROLE_OPTION = click.option(
    "--role",
    type=click.Choice(ROLES),
    default="privacy_officer",
    show_default=True,
    help="admin: connect accounts, run sweeps; privacy_officer: read and export.",
)
_STDIN_OPTION = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@click.group("user")
def user_command() -> None:
    """Dashboard users (sign-in for IT and the privacy officer)."""


@user_command.command("add")
@click.argument("username")
@_ROLE_OPTION
@_STDIN_OPTION
def add(username: str, role: str, password_stdin: bool) -> None:
    """Create a dashboard user."""
    dashboard_users.normalise_username(username)  # refuse a bad name before asking
    password = _read_password(password_stdin)
    dashboard_users.check_password_strength(password)
    user = _store().users.create(username, password, role)
    click.echo(f"user {user.username} created ({ROLE_TITLES[user.role]})")


@user_command.command("password")
@click.argument("username")
@_STDIN_OPTION
def password(username: str, password_stdin: bool) -> None:
    """Set a new password (also lifts a lockout and signs the user out everywhere)."""
    store = _store()
    new_password = _read_password(password_stdin)
    user = store.users.set_password(username, new_password)
    click.echo(f"password of {user.username} changed")


@user_command.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def role(username: str, role: str) -> None:
    """Change a user's role."""
    user = _store().users.set_role(username, role)
    click.echo(f"user {user.username} is now {ROLE_TITLES[user.role]}")


@user_command.command("remove")
@click.argument("username")
def remove(username: str) -> None:
    """Delete a dashboard user."""
    _store().users.delete(username)
    click.echo(f"user {dashboard_users.normalise_username(username)} removed")


@user_command.command("list")
def list_() -> None:
    """List dashboard users (never their passwords)."""
    from zoomguard import formats as reporting

    found = _store().users.list_users()
    now = datetime.now(UTC)
    if not found:
        click.echo("no dashboard users: create one with `zoomguard user add NAME --role admin`")
        return
    rows = [
        (
            u.username,
            ROLE_TITLES.get(u.role, u.role),
            u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "never",
            u.locked_until.strftime("locked until %H:%M UTC")
            if u.locked_until and u.locked_until > now
            else "",
        )
        for u in found
    ]
    click.echo(reporting.table(("user", "role", "last sign-in", "state"), rows))


__all__ = ["UserError", "user_command"]
