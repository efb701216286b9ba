"""The clock's jobs (zoomguard.runtime.jobs) and what they call: sweeps, alerts, inbox watch, token
renewal and the retention purge (zoomguard.service.maintenance), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select
from support.net import free_port
from support.smtp import SmtpTestServer
from support.store import TEST_SECRET_KEY

from zoomguard.config import Settings
from zoomguard.runtime.jobs import (
    Intervals,
    ServiceJobs,
    first_sweep_at,
    schedule_jobs,
    start_scheduler,
    stop_scheduler,
)
from zoomguard.runtime.metrics import ProcessMetrics
from zoomguard.sandbox import SandboxServer
from zoomguard.service.maintenance import (
    purge_expired,
    renew_expiring_tokens,
    renew_s2s_token,
    years_before,
)
from zoomguard.store import AccountRecord, Store, SweepCounts, make_engine
from zoomguard.store import inbox as inbox_store
from zoomguard.store.models import Alert, AuditEntry, Email, Finding, InboxEvent, UpdateCounter

# A small sandbox Zoom for these tests (the `sandbox` fixture of conftest.py).
pytestmark = pytest.mark.sandbox_config(users=3, meetings=12)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def settings_for(sandbox: SandboxServer | None = None, **overrides: str) -> Settings:
    env = dict(sandbox.env()) if sandbox is not None else {}
    env["ZOOMGUARD_SECRET_KEY"] = TEST_SECRET_KEY
    env.update(overrides)
    return Settings.from_env(env)


def jobs_for(settings: Settings, store: Store, **kwargs: object) -> ServiceJobs:
    return ServiceJobs(settings, store, metrics=ProcessMetrics(), **kwargs)  # type: ignore[arg-type]


def sample(metrics: ProcessMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def finish_sweep(store: Store, account_pk: int, finished: datetime) -> int:
    sweep_id = store.sweeps.start(account_pk, False, finished - timedelta(minutes=1))
    store.sweeps.finish(sweep_id, "completed", SweepCounts(), finished)
    return sweep_id


# --- the schedule --------------------------------------------------------------------------------


def test_the_schedule_has_every_job_at_its_interval(store: Store) -> None:
    settings = settings_for(
        ZOOMGUARD_SWEEP_INTERVAL_MINUTES="30", ZOOMGUARD_OUTBOX_INTERVAL_SECONDS="45"
    )
    scheduler = BackgroundScheduler(timezone=UTC)
    schedule_jobs(scheduler, jobs_for(settings, store), Intervals.from_settings(settings), now=NOW)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"sweep", "alerts", "inbox", "tokens", "retention"}
    intervals = {name: job.trigger.interval for name, job in jobs.items()}
    assert intervals == {
        "sweep": timedelta(minutes=30),
        "alerts": timedelta(seconds=45),
        "inbox": timedelta(minutes=5),
        "tokens": timedelta(minutes=5),
        "retention": timedelta(hours=24),
    }
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
    # Nothing swept yet: the first sweep is due at once.
    assert jobs["sweep"].next_run_time == NOW
    assert jobs["retention"].next_run_time == NOW + timedelta(minutes=1)


def test_first_sweep_waits_one_interval_after_the_last_completed_sweep(store: Store) -> None:
    hour = timedelta(hours=1)
    assert first_sweep_at(store, hour, NOW) == NOW  # no account yet
    first = store.accounts.save_s2s("acct-1", "client", "secret", now=NOW - timedelta(days=1))
    assert first_sweep_at(store, hour, NOW) == NOW  # never swept
    finish_sweep(store, first.id, NOW - timedelta(minutes=10))
    assert first_sweep_at(store, hour, NOW) == NOW + timedelta(minutes=50)
    second = store.accounts.save_s2s("acct-2", "client", "secret", now=NOW - timedelta(days=1))
    finish_sweep(store, second.id, NOW - timedelta(minutes=40))
    assert first_sweep_at(store, hour, NOW) == NOW + timedelta(minutes=20)  # the older one
    finish_sweep(store, second.id, NOW - timedelta(hours=3))  # an older row changes nothing
    assert first_sweep_at(store, hour, NOW) == NOW + timedelta(minutes=20)


# --- sweeps --------------------------------------------------------------------------------------


def test_the_sweep_job_sweeps_every_account_and_counts_zoom_calls(
    store: Store, sandbox: SandboxServer
) -> None:
    jobs = jobs_for(settings_for(sandbox), store)
    outcomes = jobs.sweep()
    assert list(outcomes.values()) == ["completed"]
    last = store.sweeps.last()
    assert last is not None
    assert last.status == "completed"
    assert last.counts.meetings == 12
    metrics = jobs.metrics
    assert sample(metrics, "zoomguard_process_sweeps_total", outcome="completed") == 1
    assert sample(metrics, "zoomguard_process_sweep_seconds_count") == 1
    light_calls = sample(metrics, "zoomguard_zoom_api_calls_total", category="light", status="200")
    zoom_requests = [r for r in sandbox.state.request_log() if r.path.startswith("/v2/")]
    assert light_calls >= 12
    total = sum(
        s.value
        for f in metrics.registry.collect()
        if f.name == "zoomguard_zoom_api_calls"
        for s in f.samples
        if s.name.endswith("_total")
    )
    assert total == len(zoom_requests)
    assert sample(metrics, "zoomguard_job_runs_total", job="sweep", outcome="ok") == 1


def test_an_account_another_process_is_sweeping_is_busy_not_a_failure(
    store: Store, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(sandbox)
    assert settings.zoom_account_id
    assert settings.zoom_client_id
    assert settings.zoom_client_secret
    account = store.accounts.save_s2s(
        settings.zoom_account_id, settings.zoom_client_id, settings.zoom_client_secret
    )
    assert store.leases.acquire(f"sweep:{account.id}", "other-host:1", 60, datetime.now(UTC))
    jobs = jobs_for(settings, store)
    with caplog.at_level(logging.INFO, logger="zoomguard.runtime.jobs"):
        assert jobs.sweep() == {account.id: "busy"}
    assert store.sweeps.last() is None  # no sweep row: the other process owns the sweep
    assert "busy (another process is sweeping it)" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sample(jobs.metrics, "zoomguard_process_sweeps_total", outcome="busy") == 1
    assert sample(jobs.metrics, "zoomguard_job_runs_total", job="sweep", outcome="ok") == 1


def test_the_sweep_job_without_any_account_says_so_and_carries_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = jobs_for(settings_for(), store)
    with caplog.at_level(logging.WARNING, logger="zoomguard.runtime.jobs"):
        assert jobs.sweep() == {}
    assert "no Zoom account" in caplog.text


def test_a_failing_job_is_logged_and_counted_never_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on a port just freed: every query fails with a StoreError.
    store = Store(make_engine(f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/none"))
    jobs = jobs_for(settings_for(), store)
    try:
        with caplog.at_level(logging.ERROR, logger="zoomguard.runtime.jobs"):
            assert jobs.check_inbox() is None
            assert jobs.purge() is None
    finally:
        store.close()
    assert "job inbox failed: database error" in caplog.text
    assert "job retention failed: database error" in caplog.text
    assert "Traceback" not in caplog.text
    assert sample(jobs.metrics, "zoomguard_job_runs_total", job="inbox", outcome="error") == 1
    assert sample(jobs.metrics, "zoomguard_job_runs_total", job="retention", outcome="error") == 1


# --- alerts and the inbox -----------------------------------------------------------------------


def test_the_alerts_job_composes_and_sends_the_sweeps_alerts(
    store: Store, sandbox: SandboxServer
) -> None:
    with SmtpTestServer() as smtp:
        jobs = jobs_for(settings_for(sandbox, ZOOMGUARD_SMTP_URL=smtp.url), store)
        jobs.sweep()
        result = jobs.deliver_alerts()
        assert result is not None
        assert result.sent >= 1
        assert result.pending == 0
        assert len(smtp.messages) == result.sent
    with store.transaction() as session:
        assert session.scalar(select(func.count()).where(Alert.email_id.is_(None))) == 0
        assert {e.status for e in store.outbox.list_emails(session=session)} == {"sent"}


def test_the_inbox_check_warns_when_no_worker_drains_it(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = jobs_for(settings_for(), store, clock=lambda: NOW)
    store.inbox.add_event(
        dedupe_key="a",
        event="meeting.updated",
        zoom_account_id=None,
        event_ts=None,
        body="{}",
        status=inbox_store.PENDING,
        now=NOW - timedelta(minutes=5),
    )
    check = jobs.check_inbox()
    assert check is not None
    assert not check.stuck
    store.inbox.add_event(
        dedupe_key="b",
        event="meeting.updated",
        zoom_account_id=None,
        event_ts=None,
        body="{}",
        status=inbox_store.PENDING,
        now=NOW - timedelta(minutes=20),
    )
    with caplog.at_level(logging.WARNING, logger="zoomguard.runtime.jobs"):
        check = jobs.check_inbox()
    assert check is not None
    assert check.stuck
    assert check.pending == 2
    assert "is a worker running?" in caplog.text


# --- token renewal -------------------------------------------------------------------------------


def s2s_account(store: Store, sandbox: SandboxServer) -> AccountRecord:
    config = sandbox.config
    return store.accounts.save_s2s(
        config.account_id, config.client_id, config.client_secret, api_url=sandbox.api_url
    )


def token_requests(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.state.request_log() if r.path == "/oauth/token")


def test_an_expiring_s2s_token_is_renewed_and_stored_encrypted(
    store: Store, sandbox: SandboxServer
) -> None:
    account = s2s_account(store, sandbox)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    store.accounts.save_token(account.id, "old-access-token", soon)
    jobs = jobs_for(settings_for(sandbox), store)

    result = jobs.renew_tokens()
    assert result is not None
    assert (result.renewed, result.failed) == (1, 0)
    stored = store.accounts.load_token(account.id)
    assert stored is not None
    token, expires_at, _refresh = stored
    assert token != "old-access-token"
    assert sandbox.state.tokens.lookup(token) is not None  # a token the sandbox issued
    assert expires_at > datetime.now(UTC) + timedelta(minutes=55)
    with store.transaction() as session:
        from zoomguard.store.models import Account

        row = session.get(Account, account.id)
        assert row is not None
        assert row.access_token_enc is not None
        assert token not in row.access_token_enc  # ciphertext, not the token

    # Fresh now: the next run asks Zoom for nothing.
    before = token_requests(sandbox)
    result = jobs.renew_tokens()
    assert result is not None
    assert (result.renewed, result.fresh) == (0, 1)
    assert token_requests(sandbox) == before


def test_two_processes_renewing_one_token_at_once_fetch_it_once(store: Store) -> None:
    account = store.accounts.save_s2s("acct", "client", "client-secret-value")
    store.accounts.save_token(account.id, "old", datetime.now(UTC) + timedelta(minutes=1))
    settings = settings_for()
    fetched: list[str] = []
    gate = threading.Barrier(2)

    def fetch(account_id: str, client_id: str, secret: str) -> tuple[str, datetime]:
        assert secret == "client-secret-value"
        fetched.append(threading.current_thread().name)
        time.sleep(0.3)  # the other renewer arrives while this one holds the row lock
        return f"token-{len(fetched)}", datetime.now(UTC) + timedelta(hours=1)

    results: dict[str, bool] = {}

    def renew() -> None:
        gate.wait()
        results[threading.current_thread().name] = renew_s2s_token(
            settings, store, account.id, fetch=fetch
        )

    threads = [threading.Thread(target=renew, name=f"renewer-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(fetched) == 1
    assert sorted(results.values()) == [False, True]
    stored = store.accounts.load_token(account.id)
    assert stored is not None
    assert stored[0] == "token-1"


def test_oauth_refresh_rotation_is_serialised_and_the_new_refresh_token_kept(
    store: Store, sandbox: SandboxServer
) -> None:
    config = sandbox.config
    owner = sandbox.state.add_user("owner@agency.example")
    refresh = sandbox.state.tokens.issue_refresh(config.oauth_client_id, owner["id"], "scope")
    account = store.accounts.save_oauth(
        "oauth-account",
        config.oauth_client_id,
        "expiring-access-token",
        datetime.now(UTC) + timedelta(minutes=2),
        refresh,
        api_url=sandbox.api_url,
    )
    settings = settings_for(sandbox)
    gate = threading.Barrier(3)
    results: list[object] = []

    def run() -> None:
        gate.wait()
        results.append(jobs_for(settings, store).renew_tokens())

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert token_requests(sandbox) == 1  # one refresh, the others found it done
    renewed = sum(getattr(r, "renewed", 0) for r in results)
    assert renewed == 1
    stored = store.accounts.load_token(account.id)
    assert stored is not None
    access, expires_at, new_refresh = stored
    assert new_refresh is not None
    assert new_refresh != refresh
    assert sandbox.state.tokens.lookup(access) is not None
    assert expires_at > datetime.now(UTC) + timedelta(minutes=30)
    # The rotated refresh token is the live one: Zoom (the sandbox) accepts it once more.
    assert sandbox.state.tokens.use_refresh(config.oauth_client_id, new_refresh) is not None
    assert sandbox.state.tokens.use_refresh(config.oauth_client_id, refresh) is None


def test_one_accounts_failure_does_not_stop_the_others(store: Store) -> None:
    soon = NOW + timedelta(minutes=3)
    failing = store.accounts.save_s2s("failing", "c", "s")
    working = store.accounts.save_s2s("working", "c", "s")
    fresh = store.accounts.save_s2s("fresh", "c", "s")
    store.accounts.save_s2s("no-token", "c", "s")
    store.accounts.save_token(failing.id, "t", soon)
    store.accounts.save_token(working.id, "t", soon)
    store.accounts.save_token(fresh.id, "t", NOW + timedelta(hours=1))
    seen: list[str] = []

    def renewer(account: AccountRecord) -> bool:
        seen.append(account.zoom_account_id)
        if account.zoom_account_id == "failing":
            from zoomguard.errors import ZoomAuthError

            raise ZoomAuthError("credentials rejected", status=400)
        return True

    result = renew_expiring_tokens(store, {"s2s": renewer}, clock=lambda: NOW)
    assert seen == ["failing", "working"]
    assert (result.renewed, result.failed, result.fresh, result.skipped) == (1, 1, 1, 1)


# --- retention -----------------------------------------------------------------------------------


def test_years_before_handles_leap_days() -> None:
    assert years_before(datetime(2028, 2, 29, tzinfo=UTC), 7) == datetime(2021, 2, 28, tzinfo=UTC)
    assert years_before(NOW, 7) == datetime(2019, 3, 2, 12, 0, tzinfo=UTC)


def add_event(store: Store, key: str, status: str, received: datetime) -> int:
    event_id, _ = store.inbox.add_event(
        dedupe_key=key,
        event="meeting.updated",
        zoom_account_id=None,
        event_ts=None,
        body='{"payload": {"object": {"topic": "Personal"}}}',
        status=inbox_store.PENDING,
        now=received,
    )
    if status != inbox_store.PENDING:
        claimed = store.inbox.claim_events("w", 1, received, 60)
        assert [c.id for c in claimed] == [event_id]
        if status == inbox_store.DONE:
            store.inbox.mark_done(event_id, received)
        else:
            store.inbox.mark_failed(event_id, "x", received, max_attempts=1)
    return event_id


def add_finding(store: Store, meeting: str, resolved: datetime | None) -> None:
    with store.transaction() as session:
        store.findings.upsert(
            account_pk=None,
            sweep_id=None,
            meeting_id=meeting,
            host_id=None,
            host_email="host@agency.example",
            topic=None,
            start_time=None,
            rule_id="waiting_room_on",
            field="settings.waiting_room",
            expected=True,
            actual=False,
            after=None,
            status="fixed",
            detail=None,
            now=NOW - timedelta(days=400),
            session=session,
        )
        if resolved is not None:
            store.findings.resolve_meeting(
                account_pk=None, meeting_id=meeting, now=resolved, session=session
            )


def add_email_with_alert(store: Store, key: str, sent: datetime | None) -> None:
    with store.transaction() as session:
        alert = store.outbox.record_alert(
            account_pk=None,
            sweep_id=None,
            delivery="digest",
            category="meeting.fixed",
            details={"host_email": "host@agency.example"},
            now=NOW - timedelta(days=200),
            session=session,
        )
        email = store.outbox.insert_email(
            message_id=f"<{key}@test>",
            kind="digest",
            recipients=["officer@agency.example"],
            subject="s",
            text_body="t",
            html_body="h",
            now=NOW - timedelta(days=200),
            session=session,
        )
        store.outbox.attach_alerts([alert], email, session=session)
        if sent is not None:
            store.outbox.mark_sent(email, now=sent, session=session)


def add_audit(store: Store, at: datetime) -> None:
    store.audit.append(
        account_pk=None,
        actor="sweep",
        action="meeting.update",
        target="meeting:1",
        before={},
        after={},
        confirmed=True,
        now=at,
    )


def test_the_retention_purge_deletes_only_what_is_past_its_time(store: Store) -> None:
    settings = settings_for(ZOOMGUARD_RETENTION_DAYS="90", ZOOMGUARD_AUDIT_RETENTION_YEARS="7")
    old, recent = NOW - timedelta(days=91), NOW - timedelta(days=89)
    old_done = add_event(store, "old-done", "done", old)
    add_event(store, "old-dead", "dead", old)
    recent_done = add_event(store, "recent-done", "done", recent)
    fresh_done = add_event(store, "fresh-done", "done", NOW - timedelta(days=1))
    old_pending = add_event(store, "old-pending", "pending", old)  # last: nothing claims it
    add_finding(store, "resolved-long-ago", old)
    add_finding(store, "resolved-recently", recent)
    add_finding(store, "still-open", None)
    add_email_with_alert(store, "sent-long-ago", old)
    add_email_with_alert(store, "sent-recently", recent)
    add_email_with_alert(store, "never-sent", None)
    add_audit(store, NOW - timedelta(days=7 * 366))
    add_audit(store, NOW - timedelta(days=7 * 365 - 5))
    store.budget.reserve(1, "host", (NOW - timedelta(days=8)).date(), 10)
    store.budget.reserve(1, "host", NOW.date(), 10)

    result = purge_expired(store, settings, NOW)
    assert (result.inbox_events, result.findings, result.emails, result.alerts) == (2, 1, 1, 1)
    assert (result.audit_entries, result.update_counters) == (1, 1)
    assert result.inbox_bodies == 1  # recent-done; fresh-done keeps its body for a week

    with store.transaction() as session:
        events = dict(session.execute(select(InboxEvent.id, InboxEvent.body)).all())
        meetings = set(session.scalars(select(Finding.meeting_id)))
        emails = set(session.scalars(select(Email.message_id)))
        alerts = session.scalar(select(func.count()).select_from(Alert))
        audit = session.scalar(select(func.count()).select_from(AuditEntry))
        counters = session.scalar(select(func.count()).select_from(UpdateCounter))
    assert set(events) == {old_pending, recent_done, fresh_done}
    assert old_done not in events
    assert events[old_pending] != ""  # unfinished work is never touched
    assert events[recent_done] == ""
    assert events[fresh_done] != ""
    assert meetings == {"resolved-recently", "still-open"}
    assert emails == {"<sent-recently@test>", "<never-sent@test>"}
    assert alerts == 2
    assert audit == 1
    assert counters == 1
    # Idempotent: a second run finds nothing more.
    assert purge_expired(store, settings, NOW).total == 0


# --- the scheduler for real -------------------------------------------------------------------


def test_the_scheduler_runs_the_jobs_and_stops_cleanly(
    store: Store, sandbox: SandboxServer
) -> None:
    jobs = jobs_for(settings_for(sandbox), store)
    intervals = Intervals(sweep=timedelta(seconds=1), alerts=timedelta(seconds=1))
    scheduler = start_scheduler(jobs, intervals)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            swept = sample(jobs.metrics, "zoomguard_job_runs_total", job="sweep", outcome="ok")
            sent = sample(jobs.metrics, "zoomguard_job_runs_total", job="alerts", outcome="ok")
            if swept >= 2 and sent >= 2:
                break
            time.sleep(0.1)
    finally:
        stop_scheduler(scheduler, jobs)
    assert not scheduler.running
    assert jobs.stop.is_set()
    assert swept >= 2
    assert sent >= 2
    assert sample(jobs.metrics, "zoomguard_job_runs_total", job="tokens", outcome="ok") == 1
    assert len(store.sweeps.recent(10, status="completed")) >= 2


def test_the_web_app_never_imports_the_scheduler() -> None:
    # gunicorn imports webhooks:create_app in every web worker: no scheduler may start there.
    code = (
        "import sys; from zoomguard.webhooks import create_app, health; "
        "print(sorted(m for m in sys.modules"
        " if m.startswith(('apscheduler', 'zoomguard.runtime.jobs'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_the_retention_job_marks_sweeps_of_dead_processes_interrupted(store: Store) -> None:
    account = store.accounts.save_s2s("gone", "client", "secret")
    orphan = store.sweeps.start(account.id, False, NOW - timedelta(hours=5), holder="dead-host:1")
    jobs = jobs_for(settings_for(), store, clock=lambda: NOW)
    assert jobs.purge() is not None
    sweep = store.sweeps.get(orphan)
    assert sweep is not None
    assert sweep.status == "interrupted"
