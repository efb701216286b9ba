"""The sandbox Zoom's account connected to a new, migrated SQLite store: the set-up of the e2e
tests that run the service in-process against the sandbox on loopback (sweeps, the worker's
drain, reconciliation, the report).

A test module subclasses ``SandboxStore`` for its own helpers and opens it in its fixture::

    with SandboxServer(SandboxConfig()) as sandbox:
        ...  # users and meetings the account starts with
        with sandbox_store(sandbox, tmp_path / "x.db", Rig) as rig:
            yield rig
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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
        profile = service.load_profile(self.settings)
        with service.client_for_account(self.settings, self.store, self.account) as client:
            return service.Sweeper(
                self.settings, self.store, client, self.account, profile=profile, stop=stop
            ).run()

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
    database: Path,
    rig: type[Opened],
    *,
    env_changes: Mapping[str, str] | None = None,
    check_credentials: bool = False,
) -> Iterator[Opened]:
    """``rig`` over a new SQLite database at ``database``, migrated, with the sandbox's account.

    ``check_credentials``: connect the account as ``zoomguard connect`` does (a token and a page
    of users asked of the sandbox); otherwise its credentials are stored as given, and the
    sandbox is not asked anything yet. ``env_changes`` are added to the environment.
    """
    env = dict(sandbox.env())
    env["ZOOMGUARD_DATABASE_URL"] = f"sqlite:///{database}"
    env["ZOOMGUARD_SECRET_KEY"] = TEST_SECRET_KEY
    env.update(env_changes or {})
    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    store = Store.open(settings)
    try:
        assert settings.zoom_account_id
        assert settings.zoom_client_id
        assert settings.zoom_client_secret
        if check_credentials:
            account = service.connect_s2s(
                settings,
                store,
                account_id=settings.zoom_account_id,
                client_id=settings.zoom_client_id,
                client_secret=settings.zoom_client_secret,
            )
        else:
            account = store.accounts.save_s2s(
                settings.zoom_account_id,
                settings.zoom_client_id,
                settings.zoom_client_secret,
                api_url=settings.zoom_api_url,
            )
        yield rig(sandbox, env, settings, store, account)
    finally:
        store.close()
