"""A sweep against a failing Zoom: what fails is not checked, the rest goes on (issue 16, 8 and 10).

- a meeting whose calls fail after the retries is counted as not checked and the sweep ends
  ``completed_with_errors``, naming how many; the next sweep checks it;
- ``failed`` only when Zoom cannot be reached at all (the user list itself fails);
- the sweep lease is renewed while the sweep runs, so a second sweep is refused however long the
  first one takes.

The sweeps run in-process against the sandbox on loopback.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from support.sandbox_store import COMPLIANT, SandboxStore, sandbox_store
from support.store import sqlite_url

from zoomguard import service
from zoomguard.cli import main
from zoomguard.config import Settings
from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.service import sweep as sweep_module
from zoomguard.store.models import Alert


@dataclass
class Setup(SandboxStore):
    ids: list[int] = field(default_factory=list)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with SandboxServer(SandboxConfig()) as sandbox:
        alice = sandbox.state.add_user("alice@agency.example")
        ids = [
            sandbox.state.add_meeting(
                alice, topic=f"Meeting {n}", settings={**COMPLIANT, "waiting_room": False}
            )["id"]
            for n in range(4)
        ]
        with sandbox_store(
            sandbox,
            sqlite_url(tmp_path / "faults.db"),
            Setup,
            # One retry: the failing meeting is given up on in about a second, not a minute.
            env_changes={"ZOOMGUARD_MAX_RETRIES": "1"},
            check_credentials=True,
        ) as opened:
            opened.ids = ids
            yield opened


def test_a_meeting_zoom_keeps_failing_is_not_checked_and_the_sweep_goes_on(setup: Setup) -> None:
    broken = setup.ids[1]
    setup.sandbox.state.fail_once("GET", f"/v2/meetings/{broken}", status=500, times=2)

    result = setup.sweep()

    assert result.status == "completed_with_errors"
    assert result.counts.not_checked == 1
    assert result.counts.fixed == 3  # every other meeting was checked and fixed
    assert result.error is not None
    assert result.error.startswith("1 meeting(s)")
    stored = setup.store.sweeps.get(result.sweep_id)
    assert stored is not None
    assert (stored.status, stored.counts.not_checked) == ("completed_with_errors", 1)

    again = setup.sweep()
    assert (again.status, again.counts.not_checked, again.counts.fixed) == ("completed", 0, 1)


def test_the_cli_exits_1_naming_how_many_were_not_checked(setup: Setup) -> None:
    setup.sandbox.state.fail_once("GET", f"/v2/meetings/{setup.ids[0]}", status=502, times=2)

    outcome = CliRunner().invoke(main, ["sweep"], env=setup.env)

    assert outcome.exit_code == 1, outcome.output
    assert "completed_with_errors" in outcome.output
    assert "1 meeting(s) or meeting list(s) not checked" in outcome.output


def test_a_sweep_fails_only_when_zoom_cannot_be_reached_at_all(setup: Setup) -> None:
    setup.sandbox.state.fail_once("GET", "/v2/users", status=503, times=2)

    result = setup.sweep()

    assert result.status == "failed"
    assert result.counts.meetings == 0


def test_the_sweep_lease_is_renewed_while_the_sweep_runs(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lease of 0.6 s, renewed every 0.2 s; every request takes 0.5 s (the meetings are read
    # one after another at one thread), so the sweep lasts several leases, well past the 2 s
    # watched below even though its token is fetched during its bookkeeping.
    monkeypatch.setattr(sweep_module, "SWEEP_LEASE_SECONDS", 0.6)
    setup.sandbox.config.latency_ms = 500
    setup.settings = Settings.from_env({**setup.env, "ZOOMGUARD_CONCURRENCY": "1"})
    results: list[service.SweepResult] = []
    first = threading.Thread(target=lambda: results.append(setup.sweep()))
    lease = f"sweep:{setup.account.id}"
    store = setup.store
    first.start()
    refused = 0
    try:
        while store.leases.holder(lease, datetime.now(UTC)) is None and first.is_alive():
            time.sleep(0.01)
        deadline = time.monotonic() + 2.0  # over three leases
        while time.monotonic() < deadline and first.is_alive():
            # Another clock (a process of its own) asks for the account: refused every time.
            assert not store.leases.acquire(lease, "another-clock", 0.6, datetime.now(UTC))
            refused += 1
            time.sleep(0.1)
    finally:
        first.join(60)
    assert refused >= 15
    assert [r.status for r in results] == ["completed"]
    assert store.leases.holder(lease, datetime.now(UTC)) is None  # released at the end


def test_with_30_percent_500s_and_10_percent_drops_every_change_is_audited_and_alerted_once(
    tmp_path: Path,
) -> None:
    with SandboxServer(SandboxConfig(error_rate=0.3, drop_rate=0.1, seed=16)) as sandbox:
        alice = sandbox.state.add_user("alice@agency.example")
        meetings = [
            sandbox.state.add_meeting(
                alice, topic=f"Meeting {n}", settings={**COMPLIANT, "waiting_room": False}
            )["id"]
            for n in range(12)
        ]
        with sandbox_store(
            sandbox,
            sqlite_url(tmp_path / "random.db"),
            Setup,
            env_changes={"ZOOMGUARD_MAX_RETRIES": "2"},  # some meetings do run out of retries
        ) as setup:
            store = setup.store
            faulty = [setup.sweep() for _ in range(2)]
            sandbox.config.error_rate = sandbox.config.drop_rate = 0.0
            clean = setup.sweep()

            assert all(r.status in ("completed", "completed_with_errors") for r in faulty), [
                (r.status, r.error) for r in faulty
            ]
            assert (clean.status, clean.counts.noncompliant) == ("completed", 0)
            applied = Counter(
                r.path.rsplit("/", 1)[1]
                for r in sandbox.state.request_log()
                if r.method == "PATCH" and r.status == 204
            )
            assert applied == Counter(str(m) for m in meetings)  # each fixed once in Zoom
            changes = [
                entry.target
                for entry in store.audit.recent(100)
                if entry.action == "meeting.update"
            ]
            assert sorted(changes) == sorted(f"meeting:{m}" for m in meetings)
            assert store.audit.unfinished(before=datetime.now(UTC)) == []
            with store.transaction() as session:
                fixed_alerts = sorted(
                    alert.details["meeting_id"]
                    for alert in session.scalars(select(Alert))
                    if alert.category == "meeting.fixed"
                )
            assert fixed_alerts == sorted(str(m) for m in meetings)
