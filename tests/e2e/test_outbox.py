"""The alert outbox on SQLite and PostgreSQL, delivering to a real SMTP server on loopback.

Each test runs once per backend (store_fixtures): alerts are recorded in the transaction of their
finding, composed into emails (one per immediate alert, one digest per finished sweep), and
flushed; the SMTP server counts what it accepted, so "exactly once" is measured, not assumed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from support.net import free_port
from support.smtp import MemorySender, ScriptedHandler, SmtpTestServer

from zoomguard import notify
from zoomguard.config import Settings
from zoomguard.errors import DeliveryError, StoreError
from zoomguard.notify import categories as cat
from zoomguard.notify import outbox as notify_outbox
from zoomguard.notify.smtp import SendResult
from zoomguard.rules import policy
from zoomguard.store import EmailRecord, Store, SweepCounts
from zoomguard.store.models import Alert, Email
from zoomguard.store.records import DigestScope

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PASSCODE = "Zq7Rt9Wk"
TOPIC = "Case review, SIN 046 454 286"
REDACTED_TOPIC = policy.redact(TOPIC)
OFFICER = "officer@agency.example"
FROM = "zoomguard@agency.example"


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"alert_to": (OFFICER,), "alert_from": FROM}
    base.update(overrides)
    return Settings(**base)


def rule_details(rule_id: str, **overrides: Any) -> dict[str, Any]:
    rule = policy.RULES[rule_id]
    base: dict[str, Any] = {
        "meeting_id": "81234567890",
        "topic": REDACTED_TOPIC,
        "host_email": "host@agency.example",
        "start_time": "2026-03-03T17:00:00Z",
        "rule_id": rule_id,
        "rule": rule.title,
        "guidance": rule.guidance,
        "reason": f"{rule.field} breaks the rule",
        "changes": [],
        "confirmed": None,
        "failure": None,
        "officer_action": None,
    }
    base.update(overrides)
    return base


PASSCODE_FIXED = rule_details(
    policy.PASSCODE,
    # The service masks the passcode; this one slips through on purpose: the outbox must scrub.
    changes=[{"field": "password", "before": "", "after": PASSCODE}],
    confirmed=True,
)
WAITING_ROOM_FIXED = rule_details(
    policy.WAITING_ROOM,
    changes=[{"field": "settings.waiting_room", "before": False, "after": True}],
    confirmed=True,
)
IDENTIFYING_REPORTED = rule_details(
    policy.IDENTIFYING_INFORMATION, meeting_id="89999999999", host_email="other@agency.example"
)
FIX_FAILED = rule_details(
    policy.JOIN_BEFORE_HOST_OFF,
    meeting_id="87777777777",
    changes=[{"field": "settings.join_before_host", "before": True, "after": True}],
    confirmed=False,
    failure="the re-read still shows join_before_host on (locked by the account?)",
)
RECORDING = rule_details(
    policy.NO_AUTO_RECORDING,
    meeting_id="86666666666",
    changes=[{"field": "recording", "before": "recording", "after": "stopped"}],
    confirmed=True,
)


def add_account(store: Store) -> int:
    return store.accounts.save_s2s("acct-1", "client-1", "client-secret-value", name="Agency").id


def record(
    store: Store,
    *,
    account: int | None,
    sweep: int | None,
    category: str,
    details: dict[str, Any],
    now: datetime = T0,
    delivery: str | None = None,
) -> int:
    with store.transaction() as session:
        return store.outbox.record_alert(
            session=session,
            account_pk=account,
            sweep_id=sweep,
            delivery=delivery or notify.delivery_for(category),
            category=category,
            details=details,
            now=now,
        )


def sweep_with_violations(store: Store, *, finish: bool = True) -> tuple[int, int]:
    """A sweep that fixed two rules on one meeting, reported a third, failed a fourth and saw a
    recording: 3 digest alerts and 2 immediate ones."""
    account = add_account(store)
    sweep = store.sweeps.start(account, dry_run=False, now=T0)
    record(store, account=account, sweep=sweep, category=cat.MEETING_FIXED, details=PASSCODE_FIXED)
    record(
        store, account=account, sweep=sweep, category=cat.MEETING_FIXED, details=WAITING_ROOM_FIXED
    )
    record(
        store,
        account=account,
        sweep=sweep,
        category=cat.MEETING_IDENTIFYING_INFORMATION,
        details=IDENTIFYING_REPORTED,
    )
    record(store, account=account, sweep=sweep, category=cat.MEETING_FIX_FAILED, details=FIX_FAILED)
    record(store, account=account, sweep=sweep, category=cat.RECORDING_STARTED, details=RECORDING)
    if finish:
        finish_sweep(store, sweep)
    return account, sweep


def finish_sweep(store: Store, sweep: int) -> None:
    counts = SweepCounts(users=3, meetings=40, compliant=37, noncompliant=3, fixed=2, failed=1)
    store.sweeps.finish(sweep, "completed", counts, T0 + timedelta(minutes=2))


def emails(store: Store) -> list[EmailRecord]:
    return sorted(store.outbox.list_emails(limit=1000), key=lambda e: e.id)


def alerts_without_email(store: Store) -> int:
    with store.transaction() as session:
        return int(
            session.execute(
                select(func.count(Alert.id)).where(Alert.email_id.is_(None))
            ).scalar_one()
        )


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def sender_for(server: SmtpTestServer) -> notify.SmtpSender:
    sender = notify.sender_from_settings(settings(smtp_url=server.url))
    assert sender is not None
    return sender


def assert_delivered_exactly_once(store: Store, server: SmtpTestServer) -> None:
    received_ids = [str(m["Message-ID"]).strip() for m in server.messages]
    assert len(received_ids) == len(set(received_ids)), "a message was delivered twice"
    rows = emails(store)
    assert sorted(received_ids) == sorted(e.message_id for e in rows)
    assert all(e.status == "sent" for e in rows)


# --- recording alerts ----------------------------------------------------------------------


def test_record_alert_scrubs_and_belongs_to_the_callers_transaction(store: Store) -> None:
    account = add_account(store)
    alert_id = record(
        store, account=account, sweep=None, category=cat.MEETING_FIXED, details=PASSCODE_FIXED
    )
    with store.transaction() as session:
        row = session.get(Alert, alert_id)
        assert row is not None
        assert row.delivery == "digest"
        assert row.category == cat.MEETING_FIXED
        assert row.details["changes"] == [{"field": "password", "before": "", "after": "(hidden)"}]
        assert row.created_at == T0
        assert row.email_id is None
    # A finding that rolls back takes its alert with it.

    def finding_fails() -> None:
        with store.transaction() as session:
            store.outbox.record_alert(
                session=session,
                account_pk=account,
                sweep_id=None,
                delivery="immediate",
                category=cat.RECORDING_STARTED,
                details=RECORDING,
                now=T0,
            )
            raise RuntimeError("the finding could not be written")

    with pytest.raises(RuntimeError):
        finding_fails()
    assert alerts_without_email(store) == 1
    with pytest.raises(ValueError, match="delivery"):
        record(store, account=account, sweep=None, category="x", details={}, delivery="someday")


# --- composing ------------------------------------------------------------------------------


def test_running_sweep_sends_immediates_now_and_its_digest_when_finished(store: Store) -> None:
    _, sweep = sweep_with_violations(store, finish=False)
    s = settings(smtp_url="smtp://mail.agency.example")
    assert notify.compose_pending(store, s, T0 + timedelta(minutes=1)) == 2
    assert [e.kind for e in emails(store)] == ["immediate", "immediate"]
    assert alerts_without_email(store) == 3
    assert notify.compose_pending(store, s, T0 + timedelta(minutes=1)) == 0
    finish_sweep(store, sweep)
    assert notify.compose_pending(store, s, T0 + timedelta(minutes=3)) == 1
    assert notify.compose_pending(store, s, T0 + timedelta(minutes=4)) == 0
    rows = emails(store)
    assert [e.kind for e in rows] == ["immediate", "immediate", "digest"]
    assert alerts_without_email(store) == 0
    assert all(e.recipients == [OFFICER] and e.status == "pending" for e in rows)
    assert all(e.last_error is None for e in rows)
    assert len({e.message_id for e in rows}) == 3
    assert all(e.message_id.endswith("@agency.example>") for e in rows)
    digest = rows[2]
    assert digest.subject == f"[zoomguard: Agency] Digest for sweep {sweep}: 3 alerts in 2 meetings"
    assert "Checked 40 meetings of 3 users" in digest.text_body


def test_a_sweep_that_never_finishes_still_gets_its_digest(store: Store) -> None:
    sweep_with_violations(store, finish=False)
    s = settings()
    assert notify.compose_pending(store, s, T0, stale_sweep_seconds=3600) == 2
    assert notify.compose_pending(store, s, T0 + timedelta(hours=1), stale_sweep_seconds=3600) == 1
    assert alerts_without_email(store) == 0


def test_webhook_alerts_wait_for_company_then_share_one_digest(store: Store) -> None:
    account = add_account(store)
    for minute in (0, 5):
        record(
            store,
            account=account,
            sweep=None,
            category=cat.MEETING_FIXED,
            details=WAITING_ROOM_FIXED,
            now=T0 + timedelta(minutes=minute),
        )
    record(store, account=account, sweep=None, category=cat.EVENT_DEAD, details={"event": "x"})
    s = settings()
    # The dead event cannot wait; the two fixes wait until the oldest is 15 minutes old.
    assert notify.compose_pending(store, s, T0 + timedelta(minutes=14)) == 1
    assert [e.kind for e in emails(store)] == ["immediate"]
    assert notify.compose_pending(store, s, T0 + timedelta(minutes=15)) == 1
    digest = emails(store)[1]
    assert digest.kind == "digest"
    assert digest.subject == "[zoomguard: Agency] Digest for Zoom events: 2 alerts in 1 meeting"
    assert alerts_without_email(store) == 0


def test_compose_applies_a_redactor_to_topics(store: Store) -> None:
    account = add_account(store)
    record(
        store,
        account=account,
        sweep=None,
        category=cat.RECORDING_STARTED,
        details={**RECORDING, "topic": TOPIC},
    )
    notify.compose_pending(store, settings(), T0, redact=policy.redact)
    [email] = emails(store)
    for body in (email.text_body, email.html_body):
        assert "046 454 286" not in body
        assert REDACTED_TOPIC in body


def compose_by_hand(store: Store, message_id: str, alert_ids: list[int]) -> None:
    with store.transaction() as session:
        email_id = store.outbox.insert_email(
            message_id=message_id,
            kind="digest",
            recipients=[OFFICER],
            subject="s",
            text_body="t",
            html_body="h",
            now=T0,
            session=session,
        )
        store.outbox.attach_alerts(alert_ids, email_id, session=session)


def test_two_composers_never_compose_one_alert_twice(store: Store) -> None:
    sweep_with_violations(store)
    with store.transaction() as session:
        alert_ids = list(session.scalars(select(Alert.id).where(Alert.email_id.is_(None))))
    compose_by_hand(store, "<a@x>", alert_ids[:2])
    with pytest.raises(StoreError) as caught:
        compose_by_hand(store, "<b@x>", alert_ids)
    assert caught.value.reason == "outbox_race"
    # The losing email rolled back with its attach; the alerts it did not win stay free.
    assert [e.message_id for e in emails(store)] == ["<a@x>"]
    assert alerts_without_email(store) == len(alert_ids) - 2


def test_concurrent_compose_creates_each_email_once(store: Store) -> None:
    sweep_with_violations(store)
    s = settings()
    barrier = threading.Barrier(3)
    created: list[int] = []

    def compose() -> None:
        barrier.wait()
        created.append(notify.compose_pending(store, s, T0 + timedelta(minutes=5)))

    threads = [threading.Thread(target=compose) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created) == 3
    assert sorted(e.kind for e in emails(store)) == ["digest", "immediate", "immediate"]
    assert alerts_without_email(store) == 0


def test_host_notices_only_when_enabled(store: Store) -> None:
    sweep_with_violations(store)
    notify.compose_pending(store, settings(), T0 + timedelta(minutes=5))
    assert "host_notice" not in {e.kind for e in emails(store)}

    with store.transaction() as session:
        session.execute(delete(Alert))
        session.execute(delete(Email))
    sweep = store.sweeps.start(None, dry_run=False, now=T0)
    for details in (PASSCODE_FIXED, WAITING_ROOM_FIXED):
        record(store, account=None, sweep=sweep, category=cat.MEETING_FIXED, details=details)
    record(store, account=None, sweep=sweep, category=cat.MEETING_REPORTED, details=FIX_FAILED)
    finish_sweep(store, sweep)
    notify.compose_pending(store, settings(notify_hosts=True), T0 + timedelta(minutes=5))
    notices = [e for e in emails(store) if e.kind == "host_notice"]
    assert len(notices) == 1
    [notice] = notices
    assert notice.recipients == ["host@agency.example"]
    assert "settings.waiting_room: off → on" in notice.text_body
    assert "87777777777" not in notice.text_body  # reported, not changed: not the host's news
    assert PASSCODE not in notice.text_body + notice.html_body + notice.subject


def bulk_alerts(
    store: Store, *, account: int | None, sweep: int | None, rows: list[tuple[str, dict[str, Any]]]
) -> None:
    """Inserts (category, details) alerts in one statement: fast enough for tens of thousands."""
    with store.transaction() as session:
        session.execute(
            insert(Alert),
            [
                {
                    "account_id": account,
                    "sweep_id": sweep,
                    "delivery": notify.delivery_for(category),
                    "category": category,
                    "details": details,
                    "created_at": T0,
                }
                for category, details in rows
            ],
        )


def alerts_in(store: Store, email_id: int) -> int:
    with store.transaction() as session:
        return int(
            session.execute(
                select(func.count(Alert.id)).where(Alert.email_id == email_id)
            ).scalar_one()
        )


def test_a_sweep_with_more_than_ten_thousand_alerts_still_gets_exactly_one_digest(
    store: Store,
) -> None:
    account = add_account(store)
    sweep = store.sweeps.start(account, dry_run=False, now=T0)
    fixed = [
        (
            cat.MEETING_FIXED,
            {**WAITING_ROOM_FIXED, "meeting_id": str(81000000000 + n // 4), "rule_id": f"r{n % 4}"},
        )
        for n in range(10_000)
    ]
    reported = [
        (cat.MEETING_REPORTED, {**IDENTIFYING_REPORTED, "meeting_id": str(89000000000 + n)})
        for n in range(50)
    ]
    # The urgent ones come last, so only the bounded selection can bring them into the details.
    bulk_alerts(store, account=account, sweep=sweep, rows=[*fixed, *reported])
    record(store, account=account, sweep=sweep, category=cat.RECORDING_STARTED, details=RECORDING)
    finish_sweep(store, sweep)

    assert notify.compose_pending(store, settings(), T0 + timedelta(minutes=5)) == 2
    assert notify.compose_pending(store, settings(), T0 + timedelta(minutes=6)) == 0
    assert alerts_without_email(store) == 0
    [digest] = [e for e in emails(store) if e.kind == "digest"]
    assert digest.subject == (
        f"[zoomguard: Agency] Digest for sweep {sweep}: 10050 alerts in 2550 meetings"
    )
    assert alerts_in(store, digest.id) == 10_050
    text = digest.text_body
    assert "Meeting corrected: 10000" in text
    assert "Meeting breaks a rule (reported, not changed): 50" in text
    # The details stop at the 300 most urgent: all 50 reported, then the first 250 fixed.
    assert text.count("    Result: ") == 300
    assert "... and 9750 more alerts" in text
    assert "9750 more alerts" in digest.html_body
    assert all(f"Meeting {89000000000 + n}" in text for n in range(50))
    assert "Meeting 81000000000" in text
    assert "Meeting 81000002499" not in text


def test_concurrent_composers_of_a_large_digest_make_one_email(store: Store) -> None:
    account = add_account(store)
    sweep = store.sweeps.start(account, dry_run=False, now=T0)
    rows = [
        (cat.MEETING_FIXED, {**WAITING_ROOM_FIXED, "meeting_id": str(81000000000 + n)})
        for n in range(3000)
    ]
    bulk_alerts(store, account=account, sweep=sweep, rows=rows)
    finish_sweep(store, sweep)
    barrier = threading.Barrier(3)
    created: list[int] = []

    def compose() -> None:
        barrier.wait()
        created.append(notify.compose_pending(store, settings(), T0 + timedelta(minutes=5)))

    threads = [threading.Thread(target=compose) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(created) == [0, 0, 1]
    [digest] = emails(store)
    assert alerts_in(store, digest.id) == 3000
    assert digest.subject.endswith(": 3000 alerts in 3000 meetings")


def test_compose_pages_through_every_alert_in_one_call(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify_outbox, "IMMEDIATE_PAGE_SIZE", 2)
    monkeypatch.setattr(notify_outbox, "DIGEST_PAGE_SIZE", 2)
    account, sweep = sweep_with_violations(store, finish=False)
    for n in range(3):
        record(
            store,
            account=account,
            sweep=None,
            category=cat.RECORDING_STARTED,
            details={**RECORDING, "meeting_id": str(86000000001 + n)},
        )
    extra = [
        (cat.MEETING_FIXED, {**PASSCODE_FIXED, "meeting_id": str(82000000000 + n)})
        for n in range(4)
    ]
    bulk_alerts(store, account=account, sweep=sweep, rows=extra)
    finish_sweep(store, sweep)
    # 2 + 3 immediates over three pages, and one digest of 3 + 4 alerts over four pages.
    assert notify.compose_pending(store, settings(), T0 + timedelta(minutes=5)) == 6
    assert alerts_without_email(store) == 0
    [digest] = [e for e in emails(store) if e.kind == "digest"]
    assert digest.subject.endswith(f"sweep {sweep}: 7 alerts in 6 meetings")
    assert alerts_in(store, digest.id) == 7


def test_webhook_digests_are_per_account_including_alerts_of_no_account(store: Store) -> None:
    account = add_account(store)
    other = store.accounts.save_s2s("acct-2", "client-2", "secret-2", name="Other").id
    for owner in (account, other, None, account):
        record(
            store, account=owner, sweep=None, category=cat.MEETING_FIXED, details=WAITING_ROOM_FIXED
        )
    assert notify.compose_pending(store, settings(), T0 + timedelta(minutes=15)) == 3
    subjects = sorted(e.subject for e in emails(store))
    assert subjects == [
        "[zoomguard: Agency] Digest for Zoom events: 2 alerts in 1 meeting",
        "[zoomguard: Other] Digest for Zoom events: 1 alert in 1 meeting",
        "[zoomguard] Digest for Zoom events: 1 alert in 1 meeting",
    ]
    assert alerts_without_email(store) == 0


def compose_digest_by_hand(
    store: Store, message_id: str, scope: DigestScope, *, expected: int
) -> int:
    with store.transaction() as session:
        email_id = store.outbox.insert_email(
            message_id=message_id,
            kind="digest",
            recipients=[OFFICER],
            subject="s",
            text_body="t",
            html_body="h",
            now=T0,
            session=session,
        )
        store.outbox.attach_digest(scope, email_id, expected=expected, session=session)
    return email_id


def test_a_digest_takes_only_the_alerts_seen_when_it_was_planned(store: Store) -> None:
    account, sweep = sweep_with_violations(store)
    with store.transaction() as session:
        [plan] = store.outbox.pending_digests(session=session)
    assert plan.scope == DigestScope(sweep_id=sweep, account_id=None, max_id=plan.scope.max_id)
    assert plan.count == 3
    assert plan.sweep_finished_at == T0 + timedelta(minutes=2)
    late = record(
        store, account=account, sweep=sweep, category=cat.MEETING_FIXED, details=PASSCODE_FIXED
    )
    assert late > plan.scope.max_id
    with store.transaction() as session:
        streamed = [
            a.id
            for a in store.outbox.stream_digest_alerts(plan.scope, page_size=2, session=session)
        ]
        immediates = store.outbox.uncomposed_immediates(session=session)
    assert len(streamed) == 3
    assert late not in streamed
    assert len(immediates) == 2
    assert not set(streamed) & {i.id for i in immediates}

    email_id = compose_digest_by_hand(store, "<d@x>", plan.scope, expected=3)
    assert alerts_in(store, email_id) == 3
    with store.transaction() as session:
        assert store.outbox.get_uncomposed_alert(streamed[0], session=session) is None
        assert store.outbox.get_uncomposed_alert(late, session=session) is not None
        # The late alert waits for a digest of its own.
        [later] = store.outbox.pending_digests(session=session)
    assert later.count == 1
    assert later.scope.max_id == late


def test_attaching_a_digest_fails_when_another_composer_took_some_of_its_alerts(
    store: Store,
) -> None:
    sweep_with_violations(store)
    with store.transaction() as session:
        [plan] = store.outbox.pending_digests(session=session)
        streamed = list(store.outbox.stream_digest_alerts(plan.scope, session=session))
    compose_by_hand(store, "<a@x>", [streamed[0].id])
    with pytest.raises(StoreError) as caught:
        compose_digest_by_hand(store, "<b@x>", plan.scope, expected=len(streamed))
    assert caught.value.reason == "outbox_race"
    # Rolled back: the losing email is gone and the two alerts it did not get are still free.
    assert [e.message_id for e in emails(store)] == ["<a@x>"]
    with store.transaction() as session:
        [rest] = store.outbox.pending_digests(session=session)
    assert rest.count == len(streamed) - 1


# --- delivering ---------------------------------------------------------------------------


def test_a_sweep_yields_one_digest_and_the_immediates_each_delivered_once(
    store: Store, smtp: SmtpTestServer
) -> None:
    _, sweep = sweep_with_violations(store)
    s = settings(smtp_url=smtp.url)
    assert notify.compose_pending(store, s, T0 + timedelta(minutes=5)) == 3
    result = notify.flush_outbox(store, sender_for(smtp), T0 + timedelta(minutes=5))
    assert result == notify.FlushResult(sent=3, failed=0, pending=0)
    assert notify.flush_outbox(store, sender_for(smtp), T0 + timedelta(hours=5)).sent == 0
    assert len(smtp.received) == 3
    assert_delivered_exactly_once(store, smtp)

    kinds = {
        m["X-Zoomguard-Kind"]: m for m in smtp.messages if m["X-Zoomguard-Kind"] != "immediate"
    }
    digest = kinds["digest"]
    assert (
        digest["Subject"] == f"[zoomguard: Agency] Digest for sweep {sweep}: 3 alerts in 2 meetings"
    )
    assert digest["From"] == FROM
    assert digest["To"] == OFFICER
    assert digest.get_content_type() == "multipart/alternative"
    text_part = digest.get_body(("plain",))
    html_part = digest.get_body(("html",))
    assert isinstance(text_part, EmailMessage)
    assert isinstance(html_part, EmailMessage)
    text, html = text_part.get_content(), html_part.get_content()
    for body in (text, html):
        assert REDACTED_TOPIC in body
        assert "046 454 286" not in body
        assert "89999999999" in body
        assert "81234567890" in body
        assert "host@agency.example" in body
    assert f'"{policy.RULES[policy.PASSCODE].guidance}"' in text
    assert policy.RULES[policy.PASSCODE].guidance in html
    assert "settings.waiting_room: off → on" in text
    assert "<code>settings.waiting_room</code>: off &rarr; on" in html
    assert "re-reading it from Zoom confirms the change" in text

    immediates = [m for m in smtp.messages if m["X-Zoomguard-Kind"] == "immediate"]
    subjects = sorted(m["Subject"] for m in immediates)
    assert subjects == [
        "[zoomguard: Agency] A meeting is being recorded: meeting 86666666666",
        "[zoomguard: Agency] Meeting could not be corrected: meeting 87777777777",
    ]
    for received in smtp.received:
        assert PASSCODE.encode() not in received.raw
        assert b"client-secret-value" not in received.raw


def test_refused_data_is_retried_with_backoff_and_delivered_once(store: Store) -> None:
    sweep_with_violations(store)
    now = T0 + timedelta(minutes=5)
    with SmtpTestServer(ScriptedHandler(refuse_data=2)) as server:
        notify.compose_pending(store, settings(smtp_url=server.url), now)
        sender = sender_for(server)
        first = notify.flush_outbox(store, sender, now)
        # Two refusals (451 to DATA) do not stop the flush: the third email goes through.
        assert first == notify.FlushResult(sent=1, failed=2, pending=2)
        waiting = [e for e in emails(store) if e.status == "pending"]
        assert all(e.attempts == 1 and "451" in (e.last_error or "") for e in waiting)
        assert all(e.next_attempt_at == now + timedelta(seconds=60) for e in waiting)
        # Not due yet: nothing is sent early.
        assert notify.flush_outbox(store, sender, now + timedelta(seconds=59)).sent == 0
        later = notify.flush_outbox(store, sender, now + timedelta(seconds=60))
        assert later == notify.FlushResult(sent=2, failed=0, pending=0)
        assert server.handler.refused == ["DATA", "DATA"]
        assert len(server.received) == 3
        assert_delivered_exactly_once(store, server)
        assert all(e.last_error is None for e in emails(store))


def test_refused_recipient_then_accepted(store: Store) -> None:
    account = add_account(store)
    record(store, account=account, sweep=None, category=cat.RECORDING_STARTED, details=RECORDING)
    handler = ScriptedHandler(refuse_rcpt=3, refuse_code="550 5.7.1 Relaying denied")
    with SmtpTestServer(handler) as server:
        notify.compose_pending(store, settings(smtp_url=server.url), T0)
        sender = sender_for(server)
        now = T0
        for expected_delay in (60, 120, 240):
            result = notify.flush_outbox(store, sender, now)
            assert result == notify.FlushResult(sent=0, failed=1, pending=1)
            [email] = emails(store)
            # A permanent refusal is recorded but retried all the same: never dropped.
            assert "550 5.7.1 Relaying denied" in (email.last_error or "")
            assert email.next_attempt_at == now + timedelta(seconds=expected_delay)
            now = email.next_attempt_at
        assert notify.flush_outbox(store, sender, now).sent == 1
        [email] = emails(store)
        assert email.status == "sent"
        assert email.attempts == 4
        assert email.sent_at == now
        assert len(server.received) == 1
        assert server.messages[0]["Message-ID"] == email.message_id


def test_server_down_then_started_loses_nothing(store: Store) -> None:
    sweep_with_violations(store)
    port = free_port()
    url = f"smtp://127.0.0.1:{port}?timeout=5"
    s = settings(smtp_url=url)
    notify.compose_pending(store, s, T0)
    message_ids = {e.message_id for e in emails(store)}
    sender = notify.sender_from_settings(s)
    down = notify.flush_outbox(store, sender, T0)
    # Unreachable: one attempt, and the flush stops instead of timing out once per email.
    assert down == notify.FlushResult(sent=0, failed=1, pending=3)
    tried = [e for e in emails(store) if e.attempts]
    assert len(tried) == 1
    assert "Connection refused" in (tried[0].last_error or "")
    status = notify.outbox_status(store, T0 + timedelta(hours=2), 3600)
    assert status.pending == 3
    assert status.overdue == 3
    assert not status.local_only

    with SmtpTestServer(port=port) as server:
        up = notify.flush_outbox(store, sender, T0 + timedelta(minutes=1))
        assert up == notify.FlushResult(sent=3, failed=0, pending=0)
        assert {m["Message-ID"] for m in server.messages} == message_ids
        assert_delivered_exactly_once(store, server)
    assert notify.outbox_status(store, T0 + timedelta(hours=2), 3600).pending == 0


def test_partly_refused_recipients_are_not_sent_twice(store: Store) -> None:
    account = add_account(store)
    record(store, account=account, sweep=None, category=cat.EVENT_DEAD, details={"event": "e"})
    s = settings(alert_to=("gone@agency.example", OFFICER))
    with SmtpTestServer(ScriptedHandler(refuse_rcpt=1, refuse_code="550 No such user")) as server:
        notify.compose_pending(store, s.with_overrides(smtp_url=server.url), T0)
        assert notify.flush_outbox(store, sender_for(server), T0).sent == 1
        assert notify.flush_outbox(store, sender_for(server), T0 + timedelta(days=1)).sent == 0
        assert len(server.received) == 1
        assert server.received[0].rcpt_tos == (OFFICER,)
    [email] = emails(store)
    assert email.status == "sent"
    assert (
        email.last_error
        == "accepted, but the server refused gone@agency.example (550 No such user)"
    )


class SlowSender:
    """Counts sends and takes its time, so that concurrent flushers overlap."""

    def __init__(self) -> None:
        self.from_addr = FROM
        self.description = "slow"
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> SendResult:
        time.sleep(0.02)
        with self._lock:
            self.sent.append(str(message["Message-ID"]))
        return SendResult()


def test_concurrent_flushers_send_each_email_once(store: Store) -> None:
    account = add_account(store)
    for n in range(12):
        record(
            store,
            account=account,
            sweep=None,
            category=cat.RECORDING_STARTED,
            details={**RECORDING, "meeting_id": str(86000000000 + n)},
        )
    notify.compose_pending(store, settings(), T0)
    sender = SlowSender()
    barrier = threading.Barrier(3)
    results: list[notify.FlushResult] = []

    def flush() -> None:
        barrier.wait()
        results.append(notify.flush_outbox(store, sender, T0))

    threads = [threading.Thread(target=flush) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in results) == 12
    assert len(sender.sent) == 12
    assert len(set(sender.sent)) == 12
    assert all(e.status == "sent" and e.attempts == 1 for e in emails(store))


def test_claim_is_exclusive_and_expires(store: Store) -> None:
    add_account(store)
    record(store, account=None, sweep=None, category=cat.EVENT_DEAD, details={"event": "e"})
    notify.compose_pending(store, settings(), T0)
    [email] = emails(store)
    until = T0 + timedelta(minutes=10)
    with store.transaction() as session:
        assert store.outbox.claim_email(email.id, now=T0, until=until, session=session)
    with store.transaction() as session:
        assert not store.outbox.claim_email(email.id, now=T0, until=until, session=session)
    # A flusher that died mid-send gives the email back when its claim runs out.
    with store.transaction() as session:
        assert store.outbox.claim_email(
            email.id, now=until, until=until + timedelta(minutes=10), session=session
        )
    assert emails(store)[0].attempts == 2


def test_a_flush_stops_at_max_attempts(store: Store) -> None:
    account = add_account(store)
    for _ in range(3):
        record(store, account=account, sweep=None, category=cat.EVENT_DEAD, details={"e": 1})
    notify.compose_pending(store, settings(), T0)
    fake = MemorySender(from_addr=FROM)
    assert notify.flush_outbox(store, fake, T0, max_attempts=2) == notify.FlushResult(2, 0, 1)
    assert notify.flush_outbox(store, fake, T0) == notify.FlushResult(1, 0, 0)
    assert len(fake.sent) == 3


def test_an_unexpected_sender_error_is_retried_and_does_not_stop_the_flush(store: Store) -> None:
    account = add_account(store)
    for _ in range(2):
        record(store, account=account, sweep=None, category=cat.EVENT_DEAD, details={"e": 1})
    notify.compose_pending(store, settings(), T0)
    fake = MemorySender(from_addr=FROM, fail=[UnicodeEncodeError("ascii", "é", 0, 1, "nope")])
    assert notify.flush_outbox(store, fake, T0) == notify.FlushResult(sent=1, failed=1, pending=1)
    [waiting] = store.outbox.list_emails(status="pending")
    assert (waiting.last_error or "").startswith("UnicodeEncodeError")
    assert waiting.next_attempt_at == T0 + timedelta(seconds=60)
    assert notify.flush_outbox(store, fake, waiting.next_attempt_at).sent == 1


def test_a_long_flush_stops_before_its_claims_could_expire(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = add_account(store)
    for _ in range(3):
        record(store, account=account, sweep=None, category=cat.EVENT_DEAD, details={"e": 1})
    notify.compose_pending(store, settings(), T0)
    clock = iter([0.0, 10.0, 200.0, 400.0, 401.0])
    monkeypatch.setattr("zoomguard.notify.outbox.monotonic", lambda: next(clock))
    fake = MemorySender(from_addr=FROM)
    # Claims last 600 s: the third email (at 400 s > 300 s) is left for the next flush.
    result = notify.flush_outbox(store, fake, T0, claim_seconds=600)
    assert result == notify.FlushResult(sent=2, failed=0, pending=1)


def test_backoff_is_capped(store: Store) -> None:
    add_account(store)
    record(store, account=None, sweep=None, category=cat.EVENT_DEAD, details={"event": "e"})
    notify.compose_pending(store, settings(), T0)
    failures: list[Exception] = [DeliveryError("451 busy", code=451) for _ in range(12)]
    fake = MemorySender(from_addr=FROM, fail=failures)
    now = T0
    delays = []
    for _ in range(12):
        notify.flush_outbox(store, fake, now)
        [email] = emails(store)
        delays.append((email.next_attempt_at - now).total_seconds())
        now = email.next_attempt_at
    assert delays[:7] == [60, 120, 240, 480, 960, 1920, 3600]
    assert set(delays[7:]) == {3600}
    assert notify.flush_outbox(store, fake, now).sent == 1


# --- no SMTP: the local outbox ----------------------------------------------------------------


def test_without_smtp_emails_stay_in_the_local_outbox(store: Store) -> None:
    sweep_with_violations(store)
    s = settings()  # no smtp_url
    assert notify.sender_from_settings(s) is None
    notify.compose_pending(store, s, T0 + timedelta(minutes=5))
    assert notify.flush_outbox(store, None, T0 + timedelta(minutes=5)) == notify.FlushResult(
        sent=0, failed=0, pending=3
    )
    pending = store.outbox.list_emails(status="pending")
    assert len(pending) == 3
    assert all(e.last_error == notify.NO_SMTP_NOTE and e.attempts == 0 for e in pending)
    assert store.outbox.list_emails(status="sent") == []
    assert len(store.outbox.list_emails(limit=2)) == 2
    # Newest first.
    listed = store.outbox.list_emails()
    assert [e.id for e in listed] == sorted((e.id for e in listed), reverse=True)

    status = notify.outbox_status(store, T0 + timedelta(minutes=30), warn_seconds=3600)
    assert status.pending == 3
    assert status.local_only
    assert status.overdue == 0
    assert status.oldest_pending_age_seconds == 25 * 60
    assert status.waiting_alerts == 0
    later = notify.outbox_status(store, T0 + timedelta(hours=2), warn_seconds=3600)
    assert later.overdue == 3
    assert not notify.outbox_status(store, T0, 3600, smtp_configured=True).local_only


def test_outbox_status_counts_alerts_still_waiting_for_their_digest(store: Store) -> None:
    sweep_with_violations(store, finish=False)
    notify.compose_pending(store, settings(), T0 + timedelta(minutes=1))
    status = notify.outbox_status(store, T0 + timedelta(minutes=10), warn_seconds=3600)
    assert status.pending == 2
    assert status.waiting_alerts == 3
    assert status.oldest_waiting_alert_age_seconds == 600
    assert status.oldest_pending_age_seconds == 540
