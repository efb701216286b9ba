"""notify without a database: SMTP URLs, categories, scrubbing, rendering, and the SMTP sender
against a real server on loopback (plain, login, STARTTLS, implicit TLS, refusals, down)."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from support.net import free_port
from support.smtp import (
    MemorySender,
    ScriptedHandler,
    SmtpTestServer,
    TlsFiles,
    make_self_signed,
)

from zoomguard import notify
from zoomguard.config import Settings
from zoomguard.errors import ConfigError, DeliveryError
from zoomguard.masking import scrub, scrub_details
from zoomguard.notify import categories as cat
from zoomguard.notify import render
from zoomguard.notify.render import AlertRecord, SweepSummary, alert_view
from zoomguard.notify.smtp import SmtpConfig, SmtpSender, parse_smtp_url
from zoomguard.rules import policy
from zoomguard.store import EmailRecord

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PASSCODE = "Zq7Rt9Wk"
GUIDANCE_PASSWORD = policy.RULES[policy.PASSCODE].guidance
GUIDANCE_RECORDING = policy.RULES[policy.NO_AUTO_RECORDING].guidance
GUIDANCE_WAITING = policy.RULES[policy.WAITING_ROOM].guidance


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_self_signed(tmp_path_factory.mktemp("tls"))


def message(subject: str = "hello") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "zoomguard@agency.example"
    m["To"] = "officer@agency.example"
    m["Subject"] = subject
    m.set_content("body")
    return m


# --- ZOOMGUARD_SMTP_URL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "security", "port"),
    [
        ("smtp://mail.example.org", "plain", 25),
        ("smtp+starttls://mail.example.org", "starttls", 587),
        ("smtps://mail.example.org", "ssl", 465),
        ("SMTP+STARTTLS://mail.example.org:2525", "starttls", 2525),
        ("smtps://mail.example.org:4650/", "ssl", 4650),
    ],
)
def test_smtp_url_schemes_and_default_ports(url: str, security: str, port: int) -> None:
    config = parse_smtp_url(url)
    assert (config.host, config.security, config.port) == ("mail.example.org", security, port)
    assert config.username is None
    assert config.password is None


def test_smtp_url_user_and_password_are_url_decoded() -> None:
    config = parse_smtp_url(
        "smtp+starttls://alerts%40agency.example:p%40ss%3Aw%2Frd%20x@mail.example.org:587"
        "?timeout=7.5&helo=zoomguard.agency.example"
    )
    assert config.username == "alerts@agency.example"
    assert config.password == "p@ss:w/rd x"
    assert config.timeout == 7.5
    assert config.helo == "zoomguard.agency.example"
    # Neither the repr nor the display form carries the password.
    assert "p@ss" not in repr(config)
    assert "p@ss" not in config.display
    assert config.display == "smtp+starttls://alerts@agency.example@mail.example.org:587"


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2secret@mail.example.org",
        "mail.example.org:25",
        "smtp://user:hunter2secret@",
        "smtp://user:hunter2secret@mail.example.org:notaport",
        "smtp://user:hunter2secret@mail.example.org:99999",
        "smtp://:hunter2secret@mail.example.org",
        "smtp://user:hunter2secret@mail.example.org/inbox",
        "smtp://user:hunter2secret@mail.example.org?verify=no",
        "smtp://user:hunter2secret@mail.example.org?timeout=soon",
        "smtp://user:hunter2secret@mail.example.org?timeout=0",
    ],
)
def test_malformed_smtp_url_names_the_variable_not_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_smtp_url(url)
    assert "ZOOMGUARD_SMTP_URL" in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


def test_sender_from_settings() -> None:
    assert notify.sender_from_settings(Settings()) is None
    sender = notify.sender_from_settings(
        Settings(smtp_url="smtps://u:pw@mail.example.org", alert_from="zg@agency.example")
    )
    assert isinstance(sender, SmtpSender)
    assert sender.from_addr == "zg@agency.example"
    assert sender.config.security == "ssl"
    assert sender.config.port == 465
    with pytest.raises(ConfigError, match="ZOOMGUARD_SMTP_URL"):
        notify.sender_from_settings(Settings(smtp_url="ftp://x"))


def test_officer_recipients_default_to_the_guidance_address() -> None:
    assert notify.officer_recipients(Settings()) == ("PrivacyOfficerCLBC@gov.bc.ca",)
    configured = Settings(alert_to=("a@agency.example", "b@agency.example"))
    assert notify.officer_recipients(configured) == ("a@agency.example", "b@agency.example")


# --- categories -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "category",
    [
        cat.RECORDING_STARTED,
        cat.RECORDING_COMPLETED,
        cat.MEETING_FIX_FAILED,
        cat.MEETING_UPDATE_CAP,
        cat.EVENT_DEAD,
    ],
)
def test_what_cannot_wait_is_immediate(category: str) -> None:
    assert notify.delivery_for(category) == "immediate"


@pytest.mark.parametrize(
    "category",
    [
        cat.MEETING_FIXED,
        cat.MEETING_REPORTED,
        cat.MEETING_EXEMPT,
        cat.MEETING_IDENTIFYING_INFORMATION,
        cat.SETTINGS_BASELINE,
        "something.new",
    ],
)
def test_the_rest_waits_for_the_digest(category: str) -> None:
    assert notify.delivery_for(category) == "digest"


def test_immediate_categories_are_configurable() -> None:
    only_fixed = frozenset({cat.MEETING_FIXED})
    assert notify.delivery_for(cat.MEETING_FIXED, only_fixed) == "immediate"
    assert notify.delivery_for(cat.RECORDING_STARTED, only_fixed) == "digest"
    assert notify.parse_immediate_categories(None) == cat.DEFAULT_IMMEDIATE
    assert notify.parse_immediate_categories("none") == frozenset()
    assert notify.parse_immediate_categories("meeting.fixed; event.dead") == {
        cat.MEETING_FIXED,
        cat.EVENT_DEAD,
    }
    with pytest.raises(ConfigError, match=r"ZOOMGUARD_ALERT_IMMEDIATE.*recording\.stated"):
        notify.parse_immediate_categories("recording.stated")


# --- scrubbing ------------------------------------------------------------------------------


def test_scrub_masks_every_secret_and_keeps_what_is_safe() -> None:
    details = {
        "meeting_id": "81234567890",
        "password": PASSCODE,
        "H323_Password": "998877",
        "nested": {"access_token": "eyJabc.def", "client_secret": "s3cr3t", "ok": "fine"},
        "list": [{"passcode": "654321"}, {"pwd": "x1"}],
        "changes": [
            {"field": "password", "before": "", "after": PASSCODE},
            {"field": "settings.waiting_room", "before": False, "after": True},
            {"field": "embed_password_in_join_link", "before": True, "after": False},
            {"field": "pmi_password", "before": "(none)", "after": "(set)"},
        ],
        "join_url": f"https://zoom.us/j/81234567890?pwd={PASSCODE}&from=addon",
        "note": "see https://x.example/cb?token=abc123 now",
        "secret_count": 3,
    }
    clean = scrub_details(details)
    flat = repr(clean)
    for secret in (PASSCODE, "998877", "eyJabc", "s3cr3t", "654321", "x1", "abc123"):
        assert secret not in flat
    assert clean["nested"]["ok"] == "fine"
    assert clean["changes"][0] == {"field": "password", "before": "", "after": "(hidden)"}
    # Booleans cannot hold a secret and say something the officer needs.
    assert clean["changes"][1] == {"field": "settings.waiting_room", "before": False, "after": True}
    assert clean["changes"][2]["before"] is True
    assert clean["changes"][2]["after"] is False
    # Masks a caller already applied are kept: "(none) → (set)" says what happened.
    assert clean["changes"][3] == {"field": "pmi_password", "before": "(none)", "after": "(set)"}
    assert clean["join_url"] == "https://zoom.us/j/81234567890?pwd=(hidden)&from=addon"
    assert clean["secret_count"] == "(hidden)"
    # The input is left alone.
    assert details["password"] == PASSCODE


def test_scrub_details_makes_values_json_safe() -> None:
    clean = scrub_details({"when": T0, "ids": (1, 2)})
    assert clean == {"when": str(T0), "ids": [1, 2]}
    assert scrub(None) is None


# --- rendering ------------------------------------------------------------------------------


def details(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "meeting_id": "81234567890",
        "topic": policy.redact("Case review, SIN 046 454 286"),
        "host_email": "host@agency.example",
        "start_time": "2026-03-03T17:00:00Z",
        "rule_id": policy.WAITING_ROOM,
        "rule": policy.RULES[policy.WAITING_ROOM].title,
        "guidance": GUIDANCE_WAITING,
        "reason": "the waiting room is off",
        "changes": [{"field": "settings.waiting_room", "before": False, "after": True}],
        "confirmed": True,
        "failure": None,
        "officer_action": None,
    }
    base.update(overrides)
    return base


def alert(alert_id: int, category: str, **overrides: Any) -> AlertRecord:
    return AlertRecord(
        id=alert_id,
        category=category,
        details=details(**overrides),
        created_at=T0,
        delivery=notify.delivery_for(category),
    )


def test_immediate_email_tells_what_was_wrong_done_and_left() -> None:
    recording = alert(
        1,
        cat.RECORDING_STARTED,
        rule_id=policy.NO_AUTO_RECORDING,
        rule=policy.RULES[policy.NO_AUTO_RECORDING].title,
        guidance=GUIDANCE_RECORDING,
        reason="a cloud recording started",
        changes=[{"field": "recording", "before": "recording", "after": "stopped"}],
        confirmed=True,
    )
    email = notify.render_immediate(recording, account_name="Agency")
    assert email.subject == "[zoomguard: Agency] A meeting is being recorded: meeting 81234567890"
    for part in (email.text, email.html):
        assert "81234567890" in part
        assert "host@agency.example" in part
        assert "2026-03-03T17:00:00Z" in part
        assert "The meeting is not recorded automatically" in part
        assert "Ask the host why the meeting was recorded" in part
        assert "046 454 286" not in part
        assert "Case review, SIN [redacted]" in part
    assert f'"{GUIDANCE_RECORDING}"' in email.text
    assert "recording: recording → stopped" in email.text
    assert "re-reading it from Zoom confirms the change" in email.text
    # The guidance's own en dash survives into the HTML (autoescape does not mangle it).
    assert "Video calls or conference calls are not recorded \u2013 CLBC staff" in email.html
    assert "<code>recording</code>: recording &rarr; stopped" in email.html
    # The topic never goes in the subject.
    assert "Case review" not in email.subject


def test_failed_fix_says_why_and_what_the_officer_should_do() -> None:
    failed = alert(
        2,
        cat.MEETING_FIX_FAILED,
        changes=[{"field": "settings.waiting_room", "before": False, "after": False}],
        confirmed=False,
        failure="Zoom answered 400: the setting is locked by the account",
        officer_action="Unlock the waiting room setting for the group, then re-run a sweep.",
    )
    email = notify.render_immediate(failed)
    assert email.subject == "[zoomguard] Meeting could not be corrected: meeting 81234567890"
    for part in (email.text, email.html):
        assert "zoomguard could not correct this: Zoom answered 400" in part
        assert "Unlock the waiting room setting for the group" in part


def test_a_reason_that_quotes_the_guidance_is_not_repeated() -> None:
    reason = f"The waiting room is off. The guidance says: \u201c{GUIDANCE_WAITING}\u201d"
    email = notify.render_immediate(alert(7, cat.MEETING_FIXED, reason=reason))
    assert email.text.count(GUIDANCE_WAITING) == 1
    assert "What was wrong: The waiting room is off.\n" in email.text


def test_missing_officer_action_falls_back_per_category() -> None:
    view = alert_view(alert(3, cat.MEETING_UPDATE_CAP, officer_action=None, changes=[]))
    assert view.officer_action is not None
    assert "00:00 UTC" in view.officer_action
    assert alert_view(alert(4, cat.MEETING_FIXED)).officer_action is None


def test_html_is_escaped_and_text_is_not() -> None:
    hostile = alert(5, cat.MEETING_REPORTED, topic='<script>alert("x")</script> & co', changes=[])
    email = notify.render_immediate(hostile)
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in email.html
    assert '<script>alert("x")</script> & co' in email.text


def test_passcodes_never_reach_a_rendered_email() -> None:
    leaky = alert(
        6,
        cat.MEETING_FIXED,
        rule_id=policy.PASSCODE,
        rule=policy.RULES[policy.PASSCODE].title,
        guidance=GUIDANCE_PASSWORD,
        changes=[{"field": "password", "before": "", "after": PASSCODE}],
        password=PASSCODE,
        join_url=f"https://zoom.us/j/81234567890?pwd={PASSCODE}",
        settings={"meeting_passcode": PASSCODE, "token": "tok-123456"},
    )
    for email in (
        notify.render_immediate(leaky),
        notify.render_digest([leaky]),
        notify.render_host_notice("host@agency.example", [leaky]),
    ):
        for part in (email.subject, email.text, email.html):
            assert PASSCODE not in part
            assert "tok-123456" not in part
    text = notify.render_immediate(leaky).text
    assert "password: (empty) → (hidden)" in text


def test_digest_groups_by_meeting_and_counts_by_category() -> None:
    alerts = [
        alert(10, cat.MEETING_FIXED),
        alert(
            11,
            cat.MEETING_FIXED,
            rule_id=policy.PASSCODE,
            rule=policy.RULES[policy.PASSCODE].title,
            guidance=GUIDANCE_PASSWORD,
            changes=[{"field": "password", "before": "", "after": "********"}],
        ),
        alert(
            12,
            cat.MEETING_IDENTIFYING_INFORMATION,
            meeting_id="89999999999",
            topic="Intake [redacted]",
            changes=[],
            confirmed=None,
        ),
        alert(
            13,
            cat.SETTINGS_BASELINE,
            meeting_id=None,
            topic=None,
            host_email=None,
            target="account acct-1",
            locked_before=False,
        ),
    ]
    sweep = SweepSummary(
        id=42,
        started_at=T0,
        finished_at=T0 + timedelta(minutes=3),
        status="completed",
        users=5,
        meetings=120,
        compliant=117,
        noncompliant=3,
        fixed=2,
        reported=1,
    )
    email = notify.render_digest(alerts, sweep=sweep, account_name="Agency")
    assert email.subject == "[zoomguard: Agency] Digest for sweep 42: 4 alerts in 2 meetings"
    text = email.text
    assert text.count("Meeting 81234567890") == 1
    assert text.count("Meeting 89999999999") == 1
    assert "Account-wide" in text
    # Keys the template does not know are still shown, with readable names.
    assert "Target: account acct-1" in text
    assert "Locked before: off" in text
    assert "Meeting corrected: 2" in text
    assert "Possible identifying information in a meeting: 1" in text
    assert "Checked 120 meetings of 5 users: 117 compliant, 3 not." in text
    assert "finished 2026-03-02 15:03 UTC" in text
    # The report-only finding comes before the fixed meeting: worst first.
    assert text.index("Meeting 89999999999") < text.index("Meeting 81234567890")
    assert f'"{GUIDANCE_PASSWORD}"' in text
    assert f'"{GUIDANCE_WAITING}"' in text
    assert "settings.waiting_room: off → on" in text
    assert "Nothing was changed: zoomguard reports this for a person to handle." in text
    assert "<h3" in email.html
    assert email.html.count("Meeting 81234567890") == 1


def test_a_huge_digest_details_the_worst_and_counts_the_rest() -> None:
    fixed = [alert(100 + n, cat.MEETING_FIXED, meeting_id=str(81000000000 + n)) for n in range(5)]
    reported = alert(200, cat.MEETING_REPORTED, meeting_id="89000000000", changes=[])
    email = notify.render_digest([*fixed, reported], max_detailed=2)
    assert email.subject == "[zoomguard] Digest for Zoom events: 6 alerts in 6 meetings"
    for part in (email.text, email.html):
        assert "Meeting corrected" in part
        assert "Meeting 89000000000" in part  # the most urgent is shown in full
        assert "Meeting 81000000000" in part
        assert "Meeting 81000000001" not in part
        assert "4 more alerts" in part
    assert "Meeting corrected: 5" in email.text
    assert "Meeting breaks a rule (reported, not changed): 1" in email.text


def test_digest_builder_keeps_the_most_urgent_whatever_the_order() -> None:
    categories = [
        cat.MEETING_FIXED,
        cat.MEETING_REPORTED,
        cat.MEETING_EXEMPT,
        cat.SETTINGS_BASELINE,
    ]
    alerts = [
        alert(
            n,
            categories[n % 4],
            meeting_id=None if n % 4 == 3 else str(81000000000 + n % 10),
        )
        for n in range(1, 41)
    ]
    expected = sorted(alerts, key=lambda a: (render.category_rank(a.category), a.id))[:7]
    for order in (alerts, list(reversed(alerts)), alerts[1::2] + alerts[::2]):
        builder = render.DigestBuilder(max_detailed=7)
        for item in order:
            builder.add(item)
        content = builder.content()
        assert content.total == 40
        assert [a.id for a in content.detailed] == [a.id for a in expected]
        assert dict(content.category_counts) == {c: 10 for c in categories}
        assert content.meetings == 10  # meetings 81000000000..9; the account-wide alerts: none
    # Reported alerts are the most urgent of these four categories, and there are ten.
    assert [a.category for a in expected] == [cat.MEETING_REPORTED] * 7
    # Rendering the folded content (here folded in another order) is rendering the alerts.
    assert render.render_digest_content(content) == notify.render_digest(alerts, max_detailed=7)


def test_host_notice_lists_only_changes_made() -> None:
    fixed = alert(20, cat.MEETING_FIXED)
    reported = alert(21, cat.MEETING_REPORTED, meeting_id="80000000000", changes=[])
    plans = notify.render.host_notices([fixed, reported])
    assert [(p.host_email, [a.id for a in p.alerts]) for p in plans] == [
        ("host@agency.example", [20])
    ]
    notice = notify.render_host_notice(
        "host@agency.example", plans[0].alerts, officer="privacy@agency.example"
    )
    assert notice.subject == (
        "[zoomguard] Privacy settings changed on your Zoom meeting 81234567890"
    )
    assert "settings.waiting_room: off → on" in notice.text
    assert GUIDANCE_WAITING in notice.text
    assert "privacy@agency.example" in notice.text
    assert "privacy@agency.example" in notice.html
    assert "80000000000" not in notice.text


def test_build_message_is_multipart_alternative_with_stable_headers() -> None:
    record = EmailRecord(
        id=1,
        message_id="<123.zoomguard.digest@agency.example>",
        kind="digest",
        recipients=["a@agency.example", "b@agency.example"],
        subject="[zoomguard] Digest",
        text_body="plain → text\n",
        html_body="<p>html</p>\n",
        status="pending",
        attempts=0,
        next_attempt_at=T0,
        created_at=T0,
        last_attempt_at=None,
        sent_at=None,
        last_error=None,
    )
    built = notify.build_message(record, "zoomguard@agency.example")
    assert built.get_content_type() == "multipart/alternative"
    assert built["Message-ID"] == "<123.zoomguard.digest@agency.example>"
    assert built["To"] == "a@agency.example, b@agency.example"
    assert built["Auto-Submitted"] == "auto-generated"
    assert built["Date"] == "Mon, 02 Mar 2026 15:00:00 +0000"
    text = built.get_body(("plain",))
    html = built.get_body(("html",))
    assert text is not None
    assert html is not None
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content() == "plain → text\n"
    assert html.get_content() == "<p>html</p>\n"


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [notify.backoff_delay(n, base=60, cap=3600).total_seconds() for n in range(1, 9)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert notify.backoff_delay(10_000, base=60, cap=3600).total_seconds() == 3600


# --- the SMTP sender against a real server ----------------------------------------------


def test_plain_smtp_with_login() -> None:
    with SmtpTestServer(username="alerts@agency.example", password="p@ss:word") as server:
        sender = SmtpSender.from_url(server.url, from_addr="zoomguard@agency.example")
        assert "p%40ss" not in sender.description
        assert "p@ss" not in sender.description
        result = sender.send(message())
        assert result.refused == {}
        assert server.logins == ["alerts@agency.example"]
        [received] = server.received
        assert received.mail_from == "zoomguard@agency.example"
        assert received.rcpt_tos == ("officer@agency.example",)
        assert received.message["Subject"] == "hello"


def test_wrong_password_is_a_delivery_error_without_the_password() -> None:
    with SmtpTestServer(username="alerts", password="right-password") as server:
        url = server.url.replace("right-password", "wrong-password")
        with pytest.raises(DeliveryError) as caught:
            SmtpSender.from_url(url).send(message())
        assert caught.value.code == 535
        assert caught.value.connection
        assert "wrong-password" not in str(caught.value)
        assert server.received == []


def test_starttls_with_login_verifies_the_certificate(tls: TlsFiles) -> None:
    with SmtpTestServer(username="u", password="pw", tls=tls, starttls=True) as server:
        assert server.url.startswith("smtp+starttls://")
        SmtpSender.from_url(server.url, ssl_context=server.client_context()).send(message())
        assert server.logins == ["u"]
        assert len(server.received) == 1
        # The system trust store does not know the self-signed certificate: refused.
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            SmtpSender.from_url(server.url).send(message())
        assert len(server.received) == 1


def test_starttls_required_by_the_server_but_not_used_fails(tls: TlsFiles) -> None:
    with SmtpTestServer(tls=tls, starttls=True) as server:
        plain_url = server.url.replace("smtp+starttls://", "smtp://")
        with pytest.raises(DeliveryError) as caught:
            SmtpSender.from_url(plain_url).send(message())
        assert caught.value.code == 530
        assert server.received == []


def test_implicit_tls_with_login(tls: TlsFiles) -> None:
    with SmtpTestServer(username="u", password="pw", tls=tls, implicit_tls=True) as server:
        assert server.url.startswith("smtps://")
        SmtpSender.from_url(server.url, ssl_context=server.client_context()).send(message())
        assert server.logins == ["u"]
        assert len(server.received) == 1


def test_refused_data_is_a_temporary_failure_then_accepted() -> None:
    with SmtpTestServer(ScriptedHandler(refuse_data=1)) as server:
        sender = SmtpSender.from_url(server.url)
        with pytest.raises(DeliveryError) as caught:
            sender.send(message())
        assert caught.value.code == 451
        assert not caught.value.permanent
        assert not caught.value.connection
        sender.send(message())
        assert server.handler.refused == ["DATA"]
        assert len(server.received) == 1


def test_refused_recipient_is_a_permanent_failure() -> None:
    handler = ScriptedHandler(refuse_rcpt=1, refuse_code="550 5.1.1 No such user")
    with SmtpTestServer(handler) as server:
        with pytest.raises(DeliveryError) as caught:
            SmtpSender.from_url(server.url).send(message())
        assert caught.value.permanent
        assert caught.value.code == 550
        assert "officer@agency.example (550" in str(caught.value)
        assert server.received == []


def test_one_refused_recipient_of_two_is_reported_not_raised() -> None:
    with SmtpTestServer(ScriptedHandler(refuse_rcpt=1, refuse_code="550 No such user")) as server:
        two = message()
        del two["To"]
        two["To"] = "gone@agency.example, officer@agency.example"
        result = SmtpSender.from_url(server.url).send(two)
        assert result.refused == {"gone@agency.example": (550, "No such user")}
        assert server.received[0].rcpt_tos == ("officer@agency.example",)


def test_server_down_is_a_connection_error() -> None:
    sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=free_port(), timeout=2))
    with pytest.raises(DeliveryError) as caught:
        sender.send(message())
    assert caught.value.connection
    assert "Connection refused" in str(caught.value)


def test_a_failing_quit_does_not_undo_a_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_quit(self: smtplib.SMTP) -> tuple[int, bytes]:
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(smtplib.SMTP, "quit", broken_quit)
    with SmtpTestServer() as server:
        assert SmtpSender.from_url(server.url).send(message()).refused == {}
        assert len(server.received) == 1


def test_memory_sender_fake_satisfies_the_protocol(tmp_path: Path) -> None:
    fake = MemorySender(fail=[DeliveryError("down", connection=True)])
    sender: notify.Sender = fake
    with pytest.raises(DeliveryError):
        sender.send(message())
    sender.send(message("second"))
    assert [m["Subject"] for m in fake.sent] == ["second"]
