"""Health (/healthz) and metrics (/metrics), computed from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from support.net import free_port

from zoomguard.config import Settings
from zoomguard.runtime.health import check_health, sweep_overdue_after
from zoomguard.runtime.metrics import (
    DatabaseCollector,
    ProcessMetrics,
    process_metrics,
    render_metrics,
)
from zoomguard.store import Store, SweepCounts, make_engine
from zoomguard.store import inbox as inbox_store
from zoomguard.webhooks import create_app
from zoomguard.webhooks.health import PROCESS_METRICS

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SETTINGS = Settings(
    zoom_webhook_secret_token="health-test-webhook-secret",
    smtp_url="smtp://mail.example.org:25",
    sweep_interval_minutes=60,
    alert_unsent_warn_seconds=3600,
)


def at(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def add_account(store: Store, zoom_id: str = "acct-1", *, created: datetime) -> int:
    return store.accounts.save_s2s(zoom_id, "client", "secret-value", now=created).id


def add_sweep(
    store: Store, account_pk: int, *, finished: datetime, status: str = "completed"
) -> int:
    sweep_id = store.sweeps.start(account_pk, False, finished - timedelta(minutes=2))
    store.sweeps.finish(sweep_id, status, SweepCounts(meetings=5, fixed=2), finished)
    return sweep_id


def add_event(store: Store, n: int, *, received: datetime) -> int:
    event_id, _ = store.inbox.add_event(
        dedupe_key=f"health-{n}",
        event="meeting.updated",
        zoom_account_id=None,
        event_ts=None,
        body="{}",
        status=inbox_store.PENDING,
        now=received,
    )
    return event_id


def kill_event(store: Store, event_id: int) -> None:
    claimed = store.inbox.claim_events("test", 100, NOW, 60)
    assert event_id in [item.id for item in claimed]
    for item in claimed:
        if item.id == event_id:
            store.inbox.mark_failed(item.id, "boom", NOW, max_attempts=1, worker_id="test")
        else:
            store.inbox.release_claims([item.id], worker_id="test")


def add_email(store: Store, *, created: datetime) -> None:
    with store.transaction() as session:
        store.outbox.insert_email(
            message_id=f"<{created.timestamp()}@test>",
            kind="digest",
            recipients=["officer@example.org"],
            subject="digest",
            text_body="text",
            html_body="<p>html</p>",
            now=created,
            session=session,
        )


def unreachable_store() -> Store:
    # Nothing listens on a port we just freed: connecting fails at once.
    return Store(make_engine(f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/none"))


# --- check_health ----------------------------------------------------------------------------


def test_a_fresh_deployment_is_healthy(store: Store) -> None:
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    assert report.ok
    assert [c.name for c in report.checks] == [
        "database",
        "sweeps",
        "sweep_coverage",
        "accounts",
        "inbox",
        "outbox",
        "unknown_accounts",
        "dead_events",
    ]
    document = report.as_dict()
    assert document["status"] == "ok"
    assert document["checks"]["sweeps"]["accounts"] == 0


def test_sweeps_are_overdue_after_two_intervals_and_grace(store: Store) -> None:
    limit = sweep_overdue_after(SETTINGS)
    assert limit == timedelta(hours=2, minutes=15)
    account = add_account(store, created=at(days=3))
    # Connected long ago and never swept: overdue.
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    assert not report.ok
    sweeps = report.check("sweeps")
    assert sweeps is not None
    assert not sweeps.ok
    assert sweeps.values["overdue_accounts"] == 1

    add_sweep(store, account, finished=at(hours=2, minutes=14))
    assert check_health(store, SETTINGS, clock=lambda: NOW).ok
    later = NOW + timedelta(minutes=2)
    stale = check_health(store, SETTINGS, clock=lambda: later)
    assert not stale.ok
    check = stale.check("sweeps")
    assert check is not None
    assert check.values["oldest_last_sweep_age_seconds"] == pytest.approx(
        (limit + timedelta(minutes=1)).total_seconds()
    )
    # A failed sweep does not count as swept.
    add_sweep(store, account, finished=later, status="failed")
    assert not check_health(store, SETTINGS, clock=lambda: later).ok


def test_a_newly_connected_account_is_not_overdue_before_its_first_sweep(store: Store) -> None:
    add_account(store, created=at(minutes=30))
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    assert report.ok, report.as_dict()


def test_an_undrained_inbox_fails_but_events_waiting_for_a_retry_do_not(store: Store) -> None:
    add_event(store, 1, received=at(minutes=5))
    assert check_health(store, SETTINGS, clock=lambda: NOW).ok
    # A failed event waits out its backoff: due in the future, not a backlog.
    claimed = store.inbox.claim_events("w", 10, NOW, 60)
    store.inbox.mark_failed(claimed[0].id, "later", NOW, max_attempts=5)
    assert check_health(store, SETTINGS, clock=lambda: NOW).ok

    add_event(store, 2, received=at(minutes=16))
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    assert not report.ok
    inbox = report.check("inbox")
    assert inbox is not None
    assert inbox.values["pending"] == 2
    assert inbox.values["oldest_due_seconds"] == pytest.approx(16 * 60)


def test_dead_events_are_reported_without_failing(store: Store) -> None:
    event_id = add_event(store, 1, received=at(minutes=1))
    kill_event(store, event_id)
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    assert report.ok
    dead = report.check("dead_events")
    assert dead is not None
    assert dead.values["count"] == 1
    assert "zoomguard report" in dead.detail


def test_an_incomplete_last_sweep_fails_with_its_cause(store: Store) -> None:
    account_pk = add_account(store, created=at(hours=3))
    add_sweep(store, account_pk, finished=at(minutes=30))
    sweep_id = add_sweep(store, account_pk, finished=at(minutes=5), status="incomplete")
    cause = "cannot list meetings: the Zoom app lacks the scope meeting:read:list_meetings:admin"
    store.sweeps.finish(sweep_id, "incomplete", SweepCounts(), at(minutes=5), error=cause)
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    coverage = report.check("sweep_coverage")
    assert coverage is not None
    assert not coverage.ok
    assert not report.ok
    assert "meeting:read:list_meetings:admin" in coverage.detail
    assert "acct-1" not in coverage.detail  # /healthz is public: no account identity
    add_sweep(store, account_pk, finished=at(minutes=1))  # a complete sweep clears it
    assert check_health(store, SETTINGS, clock=lambda: NOW).ok


def test_a_deauthorized_account_fails_the_accounts_check(store: Store) -> None:
    add_account(store, created=at(hours=1))
    assert check_health(store, SETTINGS, clock=lambda: NOW).ok
    store.accounts.deauthorize("acct-1", NOW)
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    accounts = report.check("accounts")
    assert accounts is not None
    assert not accounts.ok
    assert accounts.values == {"deauthorized": 1}


def test_events_for_an_unknown_account_are_counted(store: Store) -> None:
    event_id = add_event(store, 1, received=at(minutes=1))
    claimed = store.inbox.claim_events("test", 100, NOW, 60)
    assert [item.id for item in claimed] == [event_id]
    assert store.inbox.mark_done(
        event_id, NOW, worker_id="test", status=inbox_store.UNKNOWN_ACCOUNT, note="not connected"
    )
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    unknown = report.check("unknown_accounts")
    assert unknown is not None
    assert unknown.values["count"] == 1
    assert [e.id for e in store.inbox.unknown_account_events()] == [event_id]


def test_unsent_alert_emails_fail_only_when_smtp_is_configured(store: Store) -> None:
    add_email(store, created=at(hours=2))
    report = check_health(store, SETTINGS, clock=lambda: NOW)
    outbox = report.check("outbox")
    assert outbox is not None
    assert not outbox.ok
    assert outbox.values["overdue"] == 1
    local = check_health(store, SETTINGS.with_overrides(smtp_url=None), clock=lambda: NOW)
    assert local.ok


def test_an_unreachable_database_is_the_only_check() -> None:
    store = unreachable_store()
    try:
        report = check_health(store, SETTINGS, clock=lambda: NOW)
    finally:
        store.close()
    assert not report.ok
    assert not report.database_ok
    assert [c.name for c in report.checks] == ["database"]
    assert "database error" in report.checks[0].detail
    assert "nobody:x" not in report.checks[0].detail


# --- /healthz and /metrics ---------------------------------------------------------------------


def client_for(store: Store, *, process_metrics_on: bool = False) -> FlaskClient:
    app = create_app(SETTINGS, store, clock=NOW.timestamp)
    app.config[PROCESS_METRICS] = process_metrics_on
    app.testing = True
    return app.test_client()


def test_healthz_answers_200_or_503_with_the_checks_as_json(store: Store) -> None:
    client = client_for(store)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    body: Any = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "detail": "reachable"}

    add_event(store, 1, received=at(hours=1))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["inbox"]["ok"] is False


def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    store = unreachable_store()
    try:
        response = client_for(store).get("/healthz")
    finally:
        store.close()
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["ok"] is False


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_are_computed_from_the_database(store: Store) -> None:
    account = add_account(store, created=at(days=1))
    add_sweep(store, account, finished=at(minutes=10))
    for n in range(3):
        add_event(store, n, received=at(minutes=1))
    kill_event(store, 1)
    add_email(store, created=at(minutes=1))
    with store.transaction() as session:
        store.findings.upsert(
            account_pk=account,
            sweep_id=None,
            meeting_id="123",
            host_id=None,
            host_email=None,
            topic=None,
            start_time=None,
            rule_id="waiting_room_on",
            field="settings.waiting_room",
            expected=True,
            actual=False,
            after=True,
            status="fixed",
            detail=None,
            now=NOW,
            session=session,
        )
        store.audit.append(
            account_pk=account,
            actor="sweep",
            action="meeting.update",
            target="meeting:123",
            before={},
            after={},
            confirmed=True,
            now=NOW,
            session=session,
        )

    response = client_for(store).get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    values = samples(response.get_data(as_text=True))
    assert values[("zoomguard_database_up", ())] == 1
    assert values[("zoomguard_inbox_events", (("status", "pending"),))] == 2
    assert values[("zoomguard_inbox_events", (("status", "dead"),))] == 1
    assert values[("zoomguard_inbox_events", (("status", "done"),))] == 0
    assert values[("zoomguard_findings", (("state", "open"), ("status", "fixed")))] == 1
    changes = (("action", "meeting.update"), ("actor", "sweep"), ("confirmed", "true"))
    assert values[("zoomguard_changes_total", changes)] == 1
    assert values[("zoomguard_sweeps", (("status", "completed"),))] == 1
    account_label = (("account", str(account)),)
    assert values[("zoomguard_sweep_last_duration_seconds", account_label)] == 120
    assert values[("zoomguard_sweep_last_completed_timestamp_seconds", account_label)] == (
        at(minutes=10).timestamp()
    )
    assert values[("zoomguard_emails", (("kind", "digest"), ("status", "pending")))] == 1
    # The web app under gunicorn leaves its per-process counters out.
    assert not any(name.startswith("zoomguard_zoom_api") for name, _ in values)


def test_process_counters_join_the_database_metrics_when_asked(store: Store) -> None:
    process_metrics().zoom_api_calls.labels(category="light", status="429").inc(0)
    text = client_for(store, process_metrics_on=True).get("/metrics").get_data(as_text=True)
    assert "zoomguard_zoom_api_calls_total" in text
    assert "zoomguard_inbox_events" in text


def test_observed_client_stats_count_calls_and_429s() -> None:
    metrics = ProcessMetrics()
    stats = metrics.client_stats({})
    stats.record_call("light", 200)
    stats.record_call("light", 429)
    stats.record_call("medium", 429)
    assert stats.snapshot()["calls"] == {"light": {"200": 1, "429": 1}, "medium": {"429": 1}}
    value = metrics.registry.get_sample_value
    assert value("zoomguard_zoom_api_calls_total", {"category": "light", "status": "429"}) == 1
    assert value("zoomguard_zoom_api_rate_limited_total", {"category": "light"}) == 1
    assert value("zoomguard_zoom_api_rate_limited_total", {"category": "medium"}) == 1


def test_database_metrics_say_down_when_the_database_is_unreachable() -> None:
    store = unreachable_store()
    try:
        families = list(DatabaseCollector(store, clock=lambda: NOW).collect())
        text = render_metrics(store).decode()
    finally:
        store.close()
    assert [f.name for f in families] == ["zoomguard_database_up"]
    assert families[0].samples[0].value == 0
    assert "zoomguard_database_up 0.0" in text


def test_metrics_need_the_bearer_token_when_one_is_set(store: Store) -> None:
    token = "metrics-token-for-tests-0123456789"
    app = create_app(Settings(zoom_webhook_secret_token="s", metrics_token=token), store)
    client = app.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "zoomguard_" not in refused.get_data(as_text=True)
    for wrong in ("Bearer nope", f"Basic {token}", token, f"Bearer {token}x"):
        assert client.get("/metrics", headers={"Authorization": wrong}).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200
    assert "zoomguard_" in allowed.get_data(as_text=True)
    # Without a token configured, /metrics stays open (for a scraper on a private network).
    assert client_for(store).get("/metrics").status_code == 200
    assert Settings.from_env({"ZOOMGUARD_METRICS_TOKEN": token}).metrics_token == token
