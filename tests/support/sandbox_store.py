"""The sandbox Zoom's account connected to a migrated store: the set-up of the e2e tests that
run the service in-process against the sandbox on loopback (sweeps, the worker's drain,
reconciliation, occurrences, the report).

A test module subclasses ``SandboxStore`` for its own helpers and opens it in its fixture, on a
new SQLite file or on the ``db_url`` fixture's database (SQLite or PostgreSQL)::

    with SandboxServer(SandboxConfig()) as sandbox:
        ...  # users and meetings the account starts with
        with sandbox_store(sandbox, sqlite_url(tmp_path / "x.db"), Rig) as rig:
            yield rig

A test that opens its own store and settings (the dashboard's) connects the sandbox's account
with ``connect_account`` and sweeps it with ``sweep_account``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Event
from typing import Any, TypeVar

from sqlalchemy import select

from support.store import TEST_SECRET_KEY
from zoomguard import service
from zoomguard.config import Settings
from zoomguard.sandbox import SandboxServer
from zoomguard.store import AccountRecord, Store, upgrade
from zoomguard.store.models import Alert, AuditEntry

# A meeting's settings that break no rule (the sandbox host's defaults aside).
COMPLIANT = {"waiting_room": True, "join_before_host": False, "auto_recording": "none"}
# The name the tests that show or check an account's name connect it under.
ACCOUNT_NAME = "Agency account"


def connect_account(
    settings: Settings, store: Store, *, check_credentials: bool = True, name: str | None = None
) -> AccountRecord:
    """The account of ``settings``' ZOOM_ACCOUNT_ID/ZOOM_CLIENT_ID/ZOOM_CLIENT_SECRET (the
    sandbox's, from ``SandboxServer.env()``), saved in ``store``.

    ``check_credentials``: connect it as ``zoomguard connect`` does (a token and a page of users
    asked of the sandbox); otherwise its credentials are stored as given, and the sandbox is not
    asked anything yet.
    """
    assert settings.zoom_account_id
    assert settings.zoom_client_id
    assert settings.zoom_client_secret
    if check_credentials:
        return service.connect_s2s(
            settings,
            store,
            account_id=settings.zoom_account_id,
            client_id=settings.zoom_client_id,
            client_secret=settings.zoom_client_secret,
            name=name,
        )
    return store.accounts.save_s2s(
        settings.zoom_account_id,
        settings.zoom_client_id,
        settings.zoom_client_secret,
        name=name,
        api_url=settings.zoom_api_url,
    )


def sweep_account(
    settings: Settings, store: Store, account: AccountRecord, *, stop: Event | None = None
) -> service.SweepResult:
    """One sweep of ``account``, as the scheduler runs it."""
    profile = service.load_profile(settings)
    with service.client_for_account(settings, store, account) as client:
        return service.Sweeper(settings, store, client, account, profile=profile, stop=stop).run()


@dataclass
class SandboxStore:
    sandbox: SandboxServer
    # The environment the settings were read from: give it to a CLI command run in the test.
    env: dict[str, str]
    settings: Settings
    store: Store
    account: AccountRecord

    def sweep(self, *, stop: Event | None = None) -> service.SweepResult:
        """One sweep of the account, as the scheduler runs it."""
        return sweep_account(self.settings, self.store, self.account, stop=stop)

    def add_event(self, name: str, obj: dict[str, Any]) -> int:
        """A webhook event about the account, stored pending as the receiver stores it."""
        account_id = self.settings.zoom_account_id
        body = {"event": name, "payload": {"account_id": account_id, "object": obj}}
        event_id, _ = self.store.inbox.add_event(
            dedupe_key=f"{name}:{obj.get('uuid') or obj['id']}",
            event=name,
            zoom_account_id=account_id,
            event_ts=None,
            body=json.dumps(body),
            status="pending",
            now=service.utcnow(),
        )
        return event_id

    def completed_recording(self) -> tuple[int, dict[str, Any]]:
        """A recording.completed event (its inbox id) of a new meeting whose cloud recording has
        just completed, and that meeting with the recording's ``uuid``."""
        state = self.sandbox.state
        host = state.add_user("host@agency.example")
        meeting = state.add_meeting(host, topic="Case conference", settings=COMPLIANT)
        state.start_meeting(meeting["id"])
        recording = state.complete_recording(meeting["id"])
        obj = {"id": meeting["id"], "uuid": recording.uuid, "recording_count": 1}
        return self.add_event("recording.completed", obj), {"uuid": recording.uuid, **meeting}

    def audit(self) -> list[AuditEntry]:
        with self.store.transaction() as session:
            rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
            session.expunge_all()
            return rows

    def alerts(self) -> list[Alert]:
        with self.store.transaction() as session:
            rows = list(session.scalars(select(Alert).order_by(Alert.id)))
            session.expunge_all()
            return rows


Opened = TypeVar("Opened", bound=SandboxStore)


@contextmanager
def sandbox_store(
    sandbox: SandboxServer,
    database_url: str,
    rig: type[Opened],
    *,
    env_changes: Mapping[str, str] | None = None,
    check_credentials: bool = False,
    account_name: str | None = None,
) -> Iterator[Opened]:
    """``rig`` over the database at ``database_url`` (migrated to head first: nothing is done
    where it already is), with the sandbox's account connected by ``connect_account``
    (``check_credentials``, ``account_name``). ``env_changes`` are added to the environment.
    """
    env = dict(sandbox.env())
    env["ZOOMGUARD_DATABASE_URL"] = database_url
    env["ZOOMGUARD_SECRET_KEY"] = TEST_SECRET_KEY
    env.update(env_changes or {})
    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    store = Store.open(settings)
    try:
        account = connect_account(
            settings, store, check_credentials=check_credentials, name=account_name
        )
        yield rig(sandbox, env, settings, store, account)
    finally:
        store.close()
