"""The Store facade on SQLite and PostgreSQL (see store_fixtures for the backends)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, exc, text

from zoomguard.config import Settings
from zoomguard.crypto import Vault
from zoomguard.errors import SecretKeyError, StoreError
from zoomguard.store import Store, SweepCounts, make_engine, upgrade
from zoomguard.store.models import Finding

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = date(2026, 3, 2)
SECRET = "s2s-client-secret-value"
T = TypeVar("T")


def raw(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql), params).all())


def race(workers: int, fn: Callable[[int], T]) -> list[T]:
    """Runs ``fn(i)`` on ``workers`` threads released at the same instant; returns results."""
    barrier = threading.Barrier(workers)
    results: list[T | None] = [None] * workers
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = fn(i)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return [r for r in results if r is not None]


def add_account(store: Store, zoom_id: str = "acct-1") -> int:
    return store.accounts.save_s2s(zoom_id, "client-1", SECRET, name="Org").id


def finding(store: Store, session: Any = None, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "account_pk": None,
        "sweep_id": None,
        "meeting_id": "111",
        "host_id": "host-1",
        "host_email": "host@example.org",
        "topic": "Weekly",
        "start_time": "2026-03-03T10:00:00Z",
        "rule_id": "waiting_room",
        "field": "settings.waiting_room",
        "expected": True,
        "actual": False,
        "after": None,
        "status": "reported",
        "detail": None,
        "now": T0,
    }
    values.update(overrides)
    if session is not None:
        return store.findings.upsert(**values, session=session)
    with store.transaction() as own:
        return store.findings.upsert(**values, session=own)


# --- accounts and secrets ------------------------------------------------------------------


def test_client_secret_is_encrypted_at_rest_and_never_in_the_record(
    store: Store, db_engine: Engine
) -> None:
    record = store.accounts.save_s2s("acct-1", "client-1", SECRET, name="Org", api_url="http://x")

    [(stored,)] = raw(db_engine, "SELECT client_secret_enc FROM accounts")
    assert SECRET not in stored
    assert Vault("wk4tOvHVrPW_QS--NR96rLzAJ9b1Cs0zm-uonY1xVrU=").decrypt(stored) == SECRET
    assert SECRET not in repr(record)
    assert record.has_client_secret
    assert (record.zoom_account_id, record.client_id, record.name) == ("acct-1", "client-1", "Org")
    assert store.accounts.s2s_credentials(record) == ("acct-1", "client-1", SECRET)
    assert store.accounts.s2s_credentials(record.id) == ("acct-1", "client-1", SECRET)


def test_saving_an_account_again_updates_the_same_row(store: Store) -> None:
    first = store.accounts.save_s2s("acct-1", "client-1", SECRET, name="Org", now=T0)
    second = store.accounts.save_s2s("acct-1", "client-2", "new-secret", now=T0 + timedelta(1))

    assert second.id == first.id
    assert second.client_id == "client-2"
    assert second.name == "Org"  # None keeps the stored name
    assert second.created_at == T0
    assert second.updated_at == T0 + timedelta(1)
    assert [a.id for a in store.accounts.list_all()] == [first.id]
    assert store.accounts.s2s_credentials(second) == ("acct-1", "client-2", "new-secret")
    assert store.accounts.by_zoom_id("acct-1") == second
    assert store.accounts.get(first.id) == second
    assert store.accounts.by_zoom_id("other") is None
    assert store.accounts.get(first.id + 100) is None


def test_concurrent_registrations_of_one_account_share_one_row(store: Store) -> None:
    records = race(4, lambda i: store.accounts.save_s2s("acct-1", "client-1", SECRET))
    assert len({r.id for r in records}) == 1
    assert len(store.accounts.list_all()) == 1


def test_without_a_secret_key_credentials_are_neither_saved_nor_read(
    store: Store, store_without_key: Store
) -> None:
    with pytest.raises(SecretKeyError):
        store_without_key.accounts.save_s2s("acct-1", "client-1", SECRET)
    assert store_without_key.accounts.list_all() == []

    account = store.accounts.save_s2s("acct-1", "client-1", SECRET)
    store.accounts.save_token(account.id, "token", T0)
    with pytest.raises(SecretKeyError):
        store_without_key.accounts.s2s_credentials(account)
    with pytest.raises(SecretKeyError):
        store_without_key.accounts.load_token(account.id)
    with pytest.raises(SecretKeyError):
        store_without_key.accounts.save_token(account.id, "token-2", T0)
    # Non-secret reads still work without a key.
    assert store_without_key.accounts.get(account.id) == store.accounts.get(account.id)


def test_a_different_key_cannot_read_the_stored_secret(store: Store, db_engine: Engine) -> None:
    account = store.accounts.save_s2s("acct-1", "client-1", SECRET)
    other = Store(db_engine, Vault("28EOIFuOwzTNogU9YQX0I1SDgFWQFF0e2bRuMG2GWl8="))
    with pytest.raises(SecretKeyError):
        other.accounts.s2s_credentials(account)


def test_tokens_round_trip_encrypted(store: Store, db_engine: Engine) -> None:
    pk = add_account(store)
    assert store.accounts.load_token(pk) is None

    store.accounts.save_token(pk, "access-1", T0, refresh_token="refresh-1")
    assert store.accounts.load_token(pk) == ("access-1", T0, "refresh-1")
    [(access_enc, refresh_enc)] = raw(
        db_engine, "SELECT access_token_enc, refresh_token_enc FROM accounts"
    )
    assert "access-1" not in access_enc
    assert "refresh-1" not in refresh_enc

    # A refresh token of None keeps the stored one.
    store.accounts.save_token(pk, "access-2", T0 + timedelta(hours=1))
    assert store.accounts.load_token(pk) == ("access-2", T0 + timedelta(hours=1), "refresh-1")
    record = store.accounts.get(pk)
    assert record is not None
    assert record.has_access_token
    assert record.access_token_expires_at == T0 + timedelta(hours=1)


def test_new_credentials_drop_the_cached_token_and_same_ones_keep_it(store: Store) -> None:
    pk = add_account(store)
    store.accounts.save_token(pk, "access-1", T0)

    store.accounts.save_s2s("acct-1", "client-1", SECRET)
    assert store.accounts.load_token(pk) == ("access-1", T0, None)

    store.accounts.save_s2s("acct-1", "client-1", "rotated-secret")
    assert store.accounts.load_token(pk) is None


def test_oauth_account_keeps_tokens_not_a_client_secret(store: Store) -> None:
    record = store.accounts.save_oauth("acct-9", "oauth-app", "access", T0, "refresh")

    assert record.auth_type == "oauth"
    assert not record.has_client_secret
    assert record.has_refresh_token
    assert store.accounts.load_token(record.id) == ("access", T0, "refresh")
    with pytest.raises(StoreError, match="no stored client secret"):
        store.accounts.s2s_credentials(record)


def test_deauthorize_purges_secrets_tokens_findings_and_occurrences_but_keeps_the_audit(
    store: Store, db_engine: Engine
) -> None:
    pk = add_account(store, "acct-1")
    other = add_account(store, "acct-2")
    store.accounts.save_token(pk, "access", T0, refresh_token="refresh")
    finding(store, account_pk=pk)
    kept = finding(store, account_pk=other)
    with store.transaction() as session:
        store.audit.append(
            account_pk=pk,
            actor="sweep",
            action="meeting.update",
            target="meeting:111",
            before={"waiting_room": False},
            after={"waiting_room": True},
            confirmed=True,
            now=T0,
            session=session,
        )
    for account_pk in (pk, other):
        store.occurrences.remember(account_pk, "555", "1700000000000", noted_by="event", now=T0)
        store.occurrences.move_cursor(account_pk, "555", "1700000000000", now=T0)

    record = store.accounts.deauthorize("acct-1", T0 + timedelta(hours=1))

    assert record is not None
    assert record.status == "deauthorized"
    assert not record.has_client_secret
    assert not record.has_access_token
    assert not record.has_refresh_token
    assert raw(
        db_engine,
        "SELECT client_secret_enc, access_token_enc, refresh_token_enc, access_token_expires_at "
        "FROM accounts WHERE id = :pk",
        pk=pk,
    ) == [(None, None, None, None)]
    assert [f.id for f in store.findings.including_resolved()] == [kept]
    # Its remembered occurrences and rotation cursors go too; the other account's stay.
    assert store.occurrences.known(pk) == {}
    assert raw(db_engine, "SELECT account_id FROM remembered_occurrences") == [(other,)]
    assert raw(db_engine, "SELECT account_id FROM occurrence_cursors") == [(other,)]
    assert [a.account_id for a in store.audit.recent()] == [pk]
    assert [a.id for a in store.accounts.list_all()] == [other]
    assert [a.id for a in store.accounts.list_all(active_only=False)] == [pk, other]
    with pytest.raises(StoreError):
        store.accounts.s2s_credentials(pk)
    assert store.accounts.load_token(pk) is None
    assert store.accounts.deauthorize("unknown", T0) is None


def test_saving_a_deauthorized_account_again_reactivates_it(store: Store) -> None:
    pk = add_account(store)
    store.accounts.deauthorize("acct-1", T0)
    again = store.accounts.save_s2s("acct-1", "client-1", SECRET)
    assert (again.id, again.status, again.active) == (pk, "active", True)


# --- sweeps --------------------------------------------------------------------------------


def test_sweep_lifecycle_and_listing(store: Store) -> None:
    pk = add_account(store)
    first = store.sweeps.start(pk, False, T0, holder="host:1")
    counts = SweepCounts(users=2, meetings=5, compliant=3, noncompliant=2, fixed=1, patches=1)
    store.sweeps.finish(first, "completed", counts, T0 + timedelta(minutes=3))
    second = store.sweeps.start(pk, True, T0 + timedelta(hours=1))
    unowned = store.sweeps.start(None, True, T0 + timedelta(hours=2))

    done = store.sweeps.get(first)
    assert done is not None
    assert (done.status, done.counts, done.dry_run, done.holder) == (
        "completed",
        counts,
        False,
        "host:1",
    )
    assert done.finished_at == T0 + timedelta(minutes=3)
    last = store.sweeps.last(pk)
    assert last is not None
    assert (last.id, last.status, last.dry_run, last.counts) == (
        second,
        "running",
        True,
        SweepCounts(),
    )
    last_any = store.sweeps.last()
    assert last_any is not None
    assert last_any.id == unowned
    completed = store.sweeps.last(pk, status="completed")
    assert completed is not None
    assert completed.id == first
    assert [s.id for s in store.sweeps.recent(10)] == [unowned, second, first]
    assert [s.id for s in store.sweeps.recent(1, account_pk=pk)] == [second]
    with pytest.raises(ValueError, match="cannot finish"):
        store.sweeps.finish(second, "running", SweepCounts(), T0)
    with pytest.raises(LookupError):
        store.sweeps.finish(9999, "failed", SweepCounts(), T0)


def test_running_sweeps_of_dead_holders_become_interrupted(store: Store) -> None:
    pk = add_account(store, "acct-1")
    other = add_account(store, "acct-2")
    assert store.leases.acquire("sweep:live", "alive", 600, T0)
    assert store.leases.acquire("sweep:dead", "dead", 60, T0)
    dead = store.sweeps.start(pk, False, T0, holder="dead")
    alive = store.sweeps.start(pk, False, T0, holder="alive")
    anonymous = store.sweeps.start(pk, False, T0)
    elsewhere = store.sweeps.start(other, False, T0, holder="dead")
    finished = store.sweeps.start(pk, False, T0, holder="dead")
    store.sweeps.finish(finished, "completed", SweepCounts(), T0)

    later = T0 + timedelta(minutes=5)  # the "dead" lease has expired, "alive" has not
    assert store.sweeps.mark_stale_running(later, account_pk=pk) == 2

    def status(sweep_id: int) -> str | None:
        record = store.sweeps.get(sweep_id)
        return None if record is None else record.status

    assert status(dead) == "interrupted"
    assert status(anonymous) == "interrupted"
    assert status(alive) == "running"
    assert status(elsewhere) == "running"  # another account
    assert status(finished) == "completed"
    interrupted = store.sweeps.get(dead)
    assert interrupted is not None
    assert interrupted.finished_at == later
    assert interrupted.error

    assert store.sweeps.mark_stale_running(later) == 1  # every account: now `elsewhere`
    assert status(elsewhere) == "interrupted"


# --- findings ------------------------------------------------------------------------------


def test_upsert_updates_the_open_finding_and_keeps_first_seen(store: Store) -> None:
    pk = add_account(store)
    sweep1 = store.sweeps.start(pk, False, T0)
    sweep2 = store.sweeps.start(pk, False, T0 + timedelta(days=1))

    first = finding(store, account_pk=pk, sweep_id=sweep1, now=T0)
    again = finding(
        store,
        account_pk=pk,
        sweep_id=sweep2,
        status="fixed",
        after=True,
        topic="Weekly (renamed)",
        now=T0 + timedelta(days=1),
    )
    other_rule = finding(store, account_pk=pk, sweep_id=sweep2, rule_id="passcode")

    assert again == first
    assert other_rule != first
    [row, _] = store.findings.open(account_pk=pk)
    assert (row.id, row.status, row.after, row.sweep_id, row.topic) == (
        first,
        "fixed",
        True,
        sweep2,
        "Weekly (renamed)",
    )
    assert (row.first_seen, row.last_seen) == (T0, T0 + timedelta(days=1))
    assert row.is_open

    # A webhook (no sweep) keeps the sweep that last saw it.
    finding(store, account_pk=pk, sweep_id=None, now=T0 + timedelta(days=2))
    [row, _] = store.findings.open(account_pk=pk)
    assert row.sweep_id == sweep2


def test_json_values_and_aware_timestamps_round_trip(store: Store) -> None:
    local = timezone(timedelta(hours=2))
    fid = finding(
        store,
        expected={"enabled": True, "types": ["a", "b"]},
        actual=None,
        after=[1, 2],
        now=datetime(2026, 3, 2, 11, 0, tzinfo=local),
    )
    [row] = store.findings.including_resolved()
    assert row.id == fid
    assert (row.expected, row.actual, row.after) == (
        {"enabled": True, "types": ["a", "b"]},
        None,
        [1, 2],
    )
    assert row.first_seen == T0
    assert row.first_seen.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(exc.StatementError, match="naive datetime"):
        store.sweeps.start(None, False, datetime(2026, 3, 2, 9, 0))


def test_resolve_findings_not_seen_by_a_completed_sweep(store: Store) -> None:
    pk = add_account(store, "acct-1")
    other = add_account(store, "acct-2")
    old_sweep = store.sweeps.start(pk, False, T0)
    gone = finding(store, account_pk=pk, sweep_id=old_sweep, meeting_id="gone", now=T0)
    still = finding(store, account_pk=pk, sweep_id=old_sweep, meeting_id="still", now=T0)
    elsewhere = finding(store, account_pk=other, meeting_id="gone", now=T0)

    started = T0 + timedelta(days=1)
    sweep = store.sweeps.start(pk, False, started)
    finding(store, account_pk=pk, sweep_id=sweep, meeting_id="still", now=started)
    # Seen by a webhook while the sweep ran: not stale even though the sweep never touched it.
    webhook = finding(store, account_pk=pk, meeting_id="new", now=started + timedelta(minutes=1))
    finished = started + timedelta(minutes=5)
    with store.transaction() as session:
        assert store.findings.resolve_not_seen(pk, sweep, finished, session=session) == 1

    resolved = {f.id: f.resolved_at for f in store.findings.including_resolved()}
    assert resolved == {gone: finished, still: None, elsewhere: None, webhook: None}
    assert {f.id for f in store.findings.open(account_pk=pk)} == {still, webhook}

    # The meeting breaks the rule again: a new open finding, the resolved one is history.
    reopened = finding(store, account_pk=pk, meeting_id="gone", now=finished)
    assert reopened != gone
    assert len(store.findings.including_resolved(account_pk=pk)) == 4

    with pytest.raises(LookupError):
        store.findings.resolve_not_seen(other, sweep, finished)


def test_resolve_one_meetings_findings(store: Store) -> None:
    pk = add_account(store)
    keep = finding(store, account_pk=pk, rule_id="passcode")
    drop = finding(store, account_pk=pk, rule_id="waiting_room")
    other_meeting = finding(store, account_pk=pk, meeting_id="222")

    n = store.findings.resolve_meeting(
        account_pk=pk, meeting_id="111", now=T0, keep_rules={"passcode"}
    )
    assert n == 1
    assert {f.id for f in store.findings.open()} == {keep, other_meeting}
    assert drop not in {f.id for f in store.findings.open()}
    assert store.findings.resolve_meeting(account_pk=pk, meeting_id="111", now=T0) == 1
    assert {f.id for f in store.findings.open()} == {other_meeting}


def test_open_findings_filters(store: Store) -> None:
    pk = add_account(store)
    a = finding(store, account_pk=pk, rule_id="waiting_room", status="fixed")
    b = finding(store, account_pk=pk, rule_id="passcode", status="failed")
    c = finding(store, account_pk=None, rule_id="passcode", status="failed")

    assert [f.id for f in store.findings.open()] == [a, b, c]
    assert [f.id for f in store.findings.open(account_pk=pk)] == [a, b]
    assert [f.id for f in store.findings.open(rule_id="passcode")] == [b, c]
    assert [f.id for f in store.findings.open(account_pk=pk, status="failed")] == [b]
    with pytest.raises(ValueError, match="unknown finding status"):
        finding(store, status="bogus")


def test_the_database_refuses_a_second_open_finding(store: Store) -> None:
    pk = add_account(store)
    finding(store, account_pk=pk)

    def duplicate(resolved_at: datetime | None) -> None:
        with store.transaction() as session:
            session.add(
                Finding(
                    account_id=pk,
                    meeting_id="111",
                    rule_id="waiting_room",
                    field="f",
                    expected=True,
                    actual=False,
                    status="reported",
                    first_seen=T0,
                    last_seen=T0,
                    resolved_at=resolved_at,
                )
            )

    with pytest.raises(exc.IntegrityError):
        duplicate(None)
    duplicate(T0)  # resolved history rows may repeat
    assert len(store.findings.including_resolved()) == 2


def test_concurrent_upserts_of_one_finding_leave_one_open_row(store: Store) -> None:
    pk = add_account(store)
    ids = race(6, lambda i: finding(store, account_pk=pk, now=T0 + timedelta(seconds=i)))

    assert len(set(ids)) == 1
    [row] = store.findings.open()
    assert row.id == ids[0]


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    pk = add_account(store)

    def write_then_fail() -> None:
        with store.transaction() as session:
            finding(store, session, account_pk=pk)
            store.audit.append(
                account_pk=pk,
                actor="sweep",
                action="meeting.update",
                target="meeting:111",
                before={},
                after={},
                confirmed=None,
                now=T0,
                session=session,
            )
            raise RuntimeError("the alert could not be written")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert store.findings.including_resolved() == []
    assert store.audit.recent() == []


def test_a_failed_core_transaction_writes_nothing(store: Store) -> None:
    # The sweep's per-meeting writes run on a Core connection: the same all-or-nothing rule.
    pk = add_account(store)
    sweep_id = store.sweeps.start(pk, False, T0)

    def write_then_fail() -> None:
        with store.core_transaction() as connection:
            store.budget.reserve(pk, "host-1", DAY, 10, session=connection)
            intent = store.audit.begin(
                account_pk=pk,
                actor="sweep",
                action="meeting.update",
                target="meeting:111",
                before={},
                intended={"settings.waiting_room": True},
                now=T0,
                session=connection,
            )
            assert store.audit.complete(intent, after={}, confirmed=True, session=connection)
            finding(store, connection, account_pk=pk, sweep_id=sweep_id)
            store.outbox.record_alert(
                account_pk=pk,
                sweep_id=sweep_id,
                delivery="digest",
                category="fixed",
                details={"meeting_id": "111"},
                now=T0,
                session=connection,
            )
            store.occurrences.move_cursors(pk, {"555": "1700000000000"}, now=T0, session=connection)
            raise RuntimeError("the process is stopping")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert store.findings.including_resolved() == []
    assert store.audit.unfinished(before=T0 + timedelta(days=1)) == []
    assert store.budget.used(pk, "host-1", DAY) == 0
    assert store.occurrences.known(pk) == {}
    assert store.outbox.pending_digests() == []


def test_findings_without_an_account_are_updated_in_place_and_reopened_after_resolving(
    store: Store,
) -> None:
    # NULLs are distinct in the open-findings index, so these rows take their own path.
    first = finding(store, account_pk=None, now=T0)
    again = finding(store, account_pk=None, status="fixed", now=T0 + timedelta(hours=1))
    assert again == first
    [row] = store.findings.open()
    assert (row.status, row.first_seen, row.last_seen) == ("fixed", T0, T0 + timedelta(hours=1))

    store.findings.resolve_meeting(account_pk=None, meeting_id="111", now=T0 + timedelta(hours=2))
    reopened = finding(store, account_pk=None, now=T0 + timedelta(hours=3))
    assert reopened != first
    assert [f.id for f in store.findings.open()] == [reopened]
    assert len(store.findings.including_resolved()) == 2


def test_a_resolved_finding_seen_again_opens_a_new_row(store: Store) -> None:
    pk = add_account(store)
    first = finding(store, account_pk=pk, now=T0)
    assert store.findings.open_statuses(pk, "111") == {"waiting_room": "reported"}
    store.findings.resolve_meeting(account_pk=pk, meeting_id="111", now=T0 + timedelta(hours=1))
    assert store.findings.open_statuses(pk, "111") == {}

    reopened = finding(store, account_pk=pk, status="fixed", now=T0 + timedelta(hours=2))
    assert reopened != first
    [row] = store.findings.open(account_pk=pk)
    assert (row.id, row.status, row.first_seen) == (reopened, "fixed", T0 + timedelta(hours=2))


def test_cursor_moves_are_written_many_at_a_time_and_replace_earlier_ones(store: Store) -> None:
    pk = add_account(store)
    store.occurrences.move_cursor(pk, "555", "1", now=T0)
    store.occurrences.move_cursors(pk, {"555": "2", "666": "7", "777": "9"}, now=T0)
    store.occurrences.move_cursors(pk, {}, now=T0)  # nothing to write: no transaction at all

    known = store.occurrences.known(pk)
    assert {meeting: k.cursor for meeting, k in known.items()} == {
        "555": "2",
        "666": "7",
        "777": "9",
    }


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(exc.IntegrityError):
        store.sweeps.start(12345, False, T0)


# --- audit ---------------------------------------------------------------------------------


def test_audit_entries_are_appended_and_listed_newest_first(store: Store) -> None:
    pk = add_account(store)
    ids = []
    for i in range(3):
        with store.transaction() as session:
            ids.append(
                store.audit.append(
                    account_pk=pk if i else None,
                    actor="cli",
                    action="settings.update",
                    target=f"account:{i}",
                    before={"n": i},
                    after={"n": i + 1},
                    confirmed=bool(i % 2),
                    detail="why" if i == 2 else None,
                    now=T0 + timedelta(minutes=i),
                    session=session,
                )
            )

    entries = store.audit.recent()
    assert [e.id for e in entries] == ids[::-1]
    newest = entries[0]
    assert (newest.actor, newest.action, newest.target, newest.before, newest.after) == (
        "cli",
        "settings.update",
        "account:2",
        {"n": 2},
        {"n": 3},
    )
    assert (newest.confirmed, newest.detail, newest.at) == (False, "why", T0 + timedelta(minutes=2))
    assert [e.id for e in store.audit.recent(limit=2)] == ids[:0:-1]
    assert [e.id for e in store.audit.recent(account_pk=pk)] == ids[:0:-1]
    assert not [name for name in dir(Store) if "audit" in name and name.startswith(("upd", "del"))]


# --- daily update budget -------------------------------------------------------------------


def test_update_budget_is_counted_per_host_and_day(store: Store) -> None:
    pk = add_account(store)
    assert [store.budget.reserve(pk, "host-1", DAY, 2) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert store.budget.used(pk, "host-1", DAY) == 2
    assert store.budget.reserve(pk, "host-2", DAY, 2)
    assert store.budget.reserve(pk, "host-1", DAY + timedelta(days=1), 2)
    assert not store.budget.reserve(pk, "host-3", DAY, 0)
    assert store.budget.used(pk, "host-3", DAY) == 0

    assert store.budget.release(pk, "host-1", DAY)
    assert store.budget.used(pk, "host-1", DAY) == 1
    with store.transaction() as session:
        assert store.budget.reserve(pk, "host-1", DAY, 2, session=session)
    assert store.budget.used(pk, "host-1", DAY) == 2
    assert not store.budget.release(pk, "nobody", DAY)


def test_concurrent_reservations_never_exceed_the_budget(store: Store) -> None:
    pk = add_account(store)
    budget = 5

    def take_three(_: int) -> int:
        return sum(store.budget.reserve(pk, "host-1", DAY, budget) for _ in range(3))

    taken = race(8, take_three)
    assert sum(taken) == budget
    assert store.budget.used(pk, "host-1", DAY) == budget


# --- leases --------------------------------------------------------------------------------


def test_lease_is_exclusive_until_it_expires_or_is_released(store: Store) -> None:
    assert store.leases.acquire("sweep:1", "a", 60, T0)
    assert store.leases.holder("sweep:1", T0) == "a"
    assert not store.leases.acquire("sweep:1", "b", 60, T0 + timedelta(seconds=30))
    assert store.leases.acquire("sweep:1", "a", 60, T0 + timedelta(seconds=30))  # ours: extended
    assert not store.leases.acquire("sweep:1", "b", 60, T0 + timedelta(seconds=89))
    assert store.leases.acquire("sweep:1", "b", 60, T0 + timedelta(seconds=90))  # expired
    assert store.leases.holder("sweep:1", T0 + timedelta(seconds=91)) == "b"

    assert not store.leases.renew("sweep:1", "a", 60, T0 + timedelta(seconds=100))
    assert store.leases.renew("sweep:1", "b", 600, T0 + timedelta(seconds=100))
    assert not store.leases.acquire("sweep:1", "a", 60, T0 + timedelta(seconds=200))

    assert not store.leases.release("sweep:1", "a")  # not a's to release
    assert store.leases.holder("sweep:1", T0 + timedelta(seconds=200)) == "b"
    assert store.leases.release("sweep:1", "b")
    assert store.leases.holder("sweep:1", T0 + timedelta(seconds=200)) is None
    assert store.leases.acquire("sweep:1", "a", 60, T0 + timedelta(seconds=200))
    assert store.leases.acquire("sweep:2", "b", 60, T0 + timedelta(seconds=200))


def test_two_holders_racing_for_a_lease_exactly_one_wins(store: Store) -> None:
    for round_ in range(5):
        name = f"sweep:{round_}"
        wins = race(2, lambda i, name=name: store.leases.acquire(name, f"holder-{i}", 60, T0))
        assert sorted(wins) == [False, True], wins
        winner = store.leases.holder(name, T0)
        assert winner in ("holder-0", "holder-1")


def test_racing_for_an_expired_lease_exactly_one_wins(store: Store) -> None:
    assert store.leases.acquire("sweep:x", "old", 1, T0)
    later = T0 + timedelta(minutes=1)
    wins = race(4, lambda i: store.leases.acquire("sweep:x", f"new-{i}", 60, later))
    assert sum(wins) == 1


# --- opening the store ---------------------------------------------------------------------


def test_open_refuses_a_database_that_was_not_upgraded(empty_db_url: str) -> None:
    settings = Settings(database_url=empty_db_url, secret_key=None)
    with pytest.raises(StoreError, match="zoomguard db upgrade") as raised:
        Store.open(settings)
    assert raised.value.reason == "store_not_current"

    upgrade(empty_db_url)
    store = Store.open(settings)
    try:
        store.ping()
        assert store.accounts.list_all() == []
        with pytest.raises(SecretKeyError):
            store.accounts.save_s2s("acct-1", "client-1", SECRET)
    finally:
        store.close()


def test_open_with_a_secret_key_can_store_credentials(db_url: str) -> None:
    key = Fernet.generate_key().decode()
    store = Store.open(Settings(database_url=db_url, secret_key=key))
    try:
        account = store.accounts.save_s2s("acct-1", "client-1", SECRET)
        assert store.accounts.s2s_credentials(account)[2] == SECRET
    finally:
        store.close()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "still" / "zoomguard.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            pragmas = [
                connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
        assert pragmas == ["wal", 1, 5000]  # a held lock is reported within seconds
        assert path.exists()
    finally:
        engine.dispose()


def test_postgres_urls_use_psycopg_and_other_databases_are_refused() -> None:
    for url in ("postgresql://u:p@127.0.0.1/db", "postgres://u:p@127.0.0.1/db"):
        engine = make_engine(url)
        assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
        engine.dispose()
    with pytest.raises(StoreError, match="unsupported database"):
        make_engine("mysql://u:p@127.0.0.1/db")


def test_an_unusable_database_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    engine = make_engine(f"sqlite:///{tmp_path / 'a-directory.db'}")
    try:
        with pytest.raises(StoreError, match="database error") as raised:
            Store(engine).ping()
        assert raised.value.reason == "store_unavailable"
        with pytest.raises(StoreError, match="cannot be reached"):
            Store.open(Settings(database_url=f"sqlite:///{tmp_path / 'a-directory.db'}"))
    finally:
        engine.dispose()
