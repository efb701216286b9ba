"""What a sweep writes, on SQLite and PostgreSQL, over real HTTP against the sandbox: the sweep's
per-meeting writes run as Core statements on a connection (``Store.core_transaction``) and the
rotation cursors are written in batches, so this checks the records themselves: one audit entry
per PATCH and no intent left, one alert per finding first seen, an unchanged report not alerted
again, findings updated in place sweep after sweep, and every recurring meeting's cursor saved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from support.sandbox_store import ACCOUNT_NAME, SandboxStore, sandbox_store

from zoomguard.sandbox import SandboxConfig, SandboxServer
from zoomguard.service import sweep as sweep_module
from zoomguard.service.clients import Clock
from zoomguard.service.occurrences import CursorMoves
from zoomguard.store import Store
from zoomguard.store.models import Alert, AuditEntry

RECURRING = 8


class Rig(SandboxStore):
    def count(self, model: type[Alert] | type[AuditEntry]) -> int:
        with self.store.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def rig(db_url: str) -> Iterator[Rig]:
    config = SandboxConfig(users=3, meetings=90, noncompliant_share=0.5, seed=20240909)
    with (
        SandboxServer(config) as sandbox,
        sandbox_store(
            sandbox, db_url, Rig, check_credentials=True, account_name=ACCOUNT_NAME
        ) as opened,
    ):
        yield opened


def test_two_sweeps_write_each_record_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each recurring meeting with more than one upcoming occurrence moves its cursor once per
    # sweep; a batch of all but one of them is written mid-sweep, the last one at the end.
    recurring = [
        m
        for m in rig.sandbox.state.meetings.values()
        if m.get("type") == RECURRING and len(m.get("occurrences") or ()) > 1
    ]
    assert len(recurring) >= 3

    def batches(store: Store, account_pk: int, clock: Clock) -> CursorMoves:
        return CursorMoves(store, account_pk, clock, batch=len(recurring) - 1)

    monkeypatch.setattr(sweep_module, "CursorMoves", batches)
    started = datetime.now(UTC) - timedelta(seconds=1)

    first = rig.sweep()

    assert first.status == "completed", first.error
    counts = first.counts
    assert counts.patches > 0
    assert counts.fixed > 0
    assert counts.reported > 0
    # One settled audit entry per PATCH; no intent left behind.
    assert rig.store.audit.unfinished(before=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert rig.store.audit.count(account_pk=rig.account.id) == counts.patches
    assert rig.count(AuditEntry) == counts.patches
    # Every finding is new, so every one is alerted once.
    findings = counts.fixed + counts.failed + counts.reported + counts.exempt
    assert rig.count(Alert) == findings
    reported = {
        (f.meeting_id, f.rule_id): f
        for f in rig.store.findings.open(account_pk=rig.account.id, status="reported")
    }
    assert len(reported) == counts.reported
    # Every recurring meeting's cursor was saved, in the mid-sweep batch or at the end.
    known = rig.store.occurrences.known(rig.account.id)
    assert {k for k, v in known.items() if v.cursor} == {str(m["id"]) for m in recurring}

    second = rig.sweep()

    assert second.status == "completed", second.error
    assert second.counts.patches == 0  # the first sweep fixed what it could
    # The report-only findings are seen again: updated in place, not alerted again.
    assert rig.count(Alert) == findings
    again = {
        (f.meeting_id, f.rule_id): f
        for f in rig.store.findings.open(account_pk=rig.account.id, status="reported")
    }
    assert again.keys() == reported.keys()
    for key, finding in again.items():
        assert finding.id == reported[key].id
        assert finding.first_seen == reported[key].first_seen
        assert finding.last_seen > reported[key].last_seen >= started
        assert finding.sweep_id == second.sweep_id
    # What the first sweep fixed was resolved by the second, which did not see it.
    assert rig.store.findings.open(account_pk=rig.account.id, status="fixed") == []
