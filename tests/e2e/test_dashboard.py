"""The dashboard through Flask's test client: signing in, roles, CSRF, cookies and headers,
connecting accounts (OAuth with PKCE and single-use state; Server-to-Server), refresh-token
rotation under the row lock, "run a sweep now", the CSV export, and `zoomguard user`."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select
from support.dashboard import (
    ADMIN,
    OFFICER,
    SECRET_KEY,
    WEBHOOK_SECRET,
    add_users,
    dashboard_app,
    db_url_of,
    sandbox_settings,
)
from support.sandbox_store import ACCOUNT_NAME, connect_account, sweep_account
from support.store import TEST_SECRET_KEY as STORE_TEST_SECRET_KEY
from support.webhooks import meeting_event, signed_headers

from zoomguard import service
from zoomguard.cli import ZoomGuardGroup
from zoomguard.cli.users import user_command
from zoomguard.config import Settings
from zoomguard.crypto import Vault
from zoomguard.errors import OAuthConnectError, UserError, ZoomAuthError
from zoomguard.formats import csv_safe
from zoomguard.rules import policy
from zoomguard.sandbox import SandboxServer
from zoomguard.service.baseline import BaselineRunner
from zoomguard.service.connect import (
    STATE_TTL,
    OAuthTokenProvider,
    begin_connect,
    complete_connect,
)
from zoomguard.store import (
    AccountRecord,
    FindingRecord,
    Store,
    SweepCounts,
    SweepRecord,
    downgrade,
    make_engine,
    upgrade,
)
from zoomguard.store.models import Account, OAuthState
from zoomguard.store.users import (
    hash_password,
    verify_password,
)
from zoomguard.webhooks.dashboard.compliance import (
    latest_completed,
    overview,
    token_health,
    trend_chart,
)

# A small sandbox Zoom for these tests (the `sandbox` fixture of conftest.py).
pytestmark = pytest.mark.sandbox_config(users=3, meetings=12, noncompliant_share=0.5, seed=11)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def settings(sandbox: SandboxServer, sqlite_store: Store) -> Settings:
    return sandbox_settings(sandbox, db_url_of(sqlite_store))


@pytest.fixture
def app(settings: Settings, sqlite_store: Store, fast_hashes: None) -> Iterator[Flask]:
    add_users(sqlite_store)
    flask_app = dashboard_app(settings, sqlite_store)
    yield flask_app
    flask_app.extensions["zoomguard"].launcher.join(30)


def csrf_of(client: FlaskClient, path: str = "/login") -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, who: tuple[str, str]) -> None:
    response = client.post(
        "/login", data={"csrf_token": csrf_of(client), "username": who[0], "password": who[1]}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def oauth_round_trip(client: FlaskClient) -> tuple[str, str]:
    """Start a connect in ``client``; the sandbox approves. Returns (callback path, state)."""
    start = client.post("/connect/oauth", data={"csrf_token": csrf_of(client, "/connect")})
    assert start.status_code == 303
    authorize = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert authorize.status_code == 302
    back = urlsplit(authorize.headers["Location"])
    return f"{back.path}?{back.query}", parse_qs(back.query)["state"][0]


# --- signing in ----------------------------------------------------------------------------------


def test_a_visitor_who_is_not_signed_in_sees_nothing(
    app: Flask, settings: Settings, sqlite_store: Store
) -> None:
    account = connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    sweep_account(settings, sqlite_store, account)
    topics = [f.topic for f in sqlite_store.findings.open() if f.topic]
    assert topics
    client = app.test_client()
    for path in ("/", "/findings.csv", "/connect", "/connect/oauth/callback?state=x&code=y"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")
        assert not any(topic in response.get_data(as_text=True) for topic in topics)
    for path in ("/sweeps", "/connect/oauth", "/connect/s2s", "/logout"):
        assert client.post(path).status_code in (400, 401), path
    assert not [a for a in sqlite_store.audit.recent(50) if a.actor == "dashboard"]


def test_the_webhook_endpoint_stays_open_to_zoom_without_a_session_or_csrf(app: Flask) -> None:
    body = meeting_event("meeting.created")
    client = app.test_client()
    response = client.post(
        "/webhooks/zoom", data=body, headers=signed_headers(body, secret=WEBHOOK_SECRET)
    )
    assert response.status_code == 200
    # Its own API-style headers are untouched by the dashboard's.
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_signing_in_and_out(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, ADMIN)
    page = client.get("/")
    assert page.status_code == 200
    assert "alice · Administrator" in page.get_data(as_text=True)
    token = CSRF.search(page.get_data(as_text=True))
    assert token
    assert client.post("/logout", data={"csrf_token": token.group(1)}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(app: Flask) -> None:
    client = app.test_client()
    for username, password in (("alice", "not her password"), ("nobody", "whatever it is")):
        response = client.post(
            "/login",
            data={"csrf_token": csrf_of(client), "username": username, "password": password},
        )
        assert response.status_code == 401
        assert "The username or password is not right." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_a_failed_sign_in_changes_nothing_stored_and_a_success_records_the_time(
    sqlite_store: Store, fast_hashes: None
) -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    sqlite_store.users.create("bob", "bob's long passphrase", "admin", now=start)
    for _ in range(10):
        assert sqlite_store.users.authenticate("bob", "wrong", now=start).user is None
    # No per-user lock in the store: the web process locks per (username, client address).
    later = start + timedelta(seconds=1)
    ok = sqlite_store.users.authenticate(" Bob ", "bob's long passphrase", now=later)
    assert ok.user is not None
    assert ok.user.locked_until is None
    assert ok.user.last_login_at == later


def test_passwords_are_stored_as_slow_salted_scrypt_hashes(sqlite_store: Store) -> None:
    user = sqlite_store.users.create("carol", "carol's long passphrase", "privacy_officer")
    with sqlite_store.transaction() as session:
        from zoomguard.store.models import DashboardUser

        stored = session.get(DashboardUser, user.id)
        assert stored is not None
        stored_hash = stored.password_hash
    assert stored_hash.startswith("scrypt$32768$8$1$")
    assert "carol's long passphrase" not in stored_hash
    assert verify_password("carol's long passphrase", stored_hash)
    assert not verify_password("carol's long passphrasE", stored_hash)
    assert hash_password("same") != hash_password("same")  # salted


def test_weak_or_duplicate_users_are_refused(sqlite_store: Store, fast_hashes: None) -> None:
    sqlite_store.users.create("dave", "dave's long passphrase", "admin")
    with pytest.raises(UserError, match="already exists"):
        sqlite_store.users.create("DAVE", "another long passphrase", "admin")
    with pytest.raises(UserError, match="at least 12"):
        sqlite_store.users.create("erin", "short", "admin")
    with pytest.raises(UserError, match="role"):
        sqlite_store.users.create("erin", "erin's long passphrase", "superuser")
    with pytest.raises(UserError, match="username"):
        sqlite_store.users.create("<script>", "erin's long passphrase", "admin")


def test_changing_a_password_ends_existing_sessions(app: Flask, sqlite_store: Store) -> None:
    client = app.test_client()
    sign_in(client, OFFICER)
    assert client.get("/").status_code == 200
    sqlite_store.users.set_password(OFFICER[0], "a brand new passphrase")
    assert client.get("/").status_code == 302


def test_next_after_sign_in_stays_on_this_site(app: Flask) -> None:
    for target, expected in (
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/?status=fixed", "/?status=fixed"),
    ):
        client = app.test_client()
        response = client.post(
            "/login",
            data={
                "csrf_token": csrf_of(client),
                "username": ADMIN[0],
                "password": ADMIN[1],
                "next": target,
            },
        )
        assert response.headers["Location"] == expected


# --- CSRF, cookies, headers ---------------------------------------------------------------------


def test_every_form_needs_the_sessions_csrf_token(app: Flask, sqlite_store: Store) -> None:
    client = app.test_client()
    missing = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert missing.status_code == 400
    assert client.get("/").status_code == 302  # not signed in
    sign_in(client, ADMIN)
    for path in ("/sweeps", "/connect/oauth", "/connect/s2s", "/logout"):
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data=data)
            assert response.status_code == 400, path
            assert "did not come from this site" in response.get_data(as_text=True)
    other = app.test_client()
    sign_in(other, OFFICER)
    stolen = csrf_of(other, "/")
    assert client.post("/logout", data={"csrf_token": stolen}).status_code == 400
    assert client.get("/").status_code == 200  # still signed in
    assert not [a for a in sqlite_store.audit.recent(50) if a.actor == "dashboard"]


def test_session_cookie_is_httponly_samesite_and_secure_by_default(
    settings: Settings, sqlite_store: Store, fast_hashes: None
) -> None:
    add_users(sqlite_store)
    strict = dashboard_app(settings, sqlite_store, insecure_cookies=False).test_client()
    cookie = strict.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie

    relaxed = dashboard_app(settings, sqlite_store, insecure_cookies=True)
    loopback = relaxed.test_client().get("/login", base_url="http://127.0.0.1:8000")
    assert "Secure" not in loopback.headers["Set-Cookie"]
    elsewhere = relaxed.test_client().get("/login", base_url="http://dashboard.example.org")
    assert "Secure" in elsewhere.headers["Set-Cookie"]
    https = relaxed.test_client().get("/login", base_url="https://127.0.0.1")
    assert "Secure" in https.headers["Set-Cookie"]


def test_pages_forbid_scripts_and_framing(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, ADMIN)
    for path in ("/", "/connect", "/login"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "<script" not in response.get_data(as_text=True)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"


def test_the_session_key_is_derived_and_not_the_encryption_key(app: Flask) -> None:
    assert app.secret_key == Vault(SECRET_KEY).signing_key()
    assert isinstance(app.secret_key, bytes)
    assert SECRET_KEY.encode() not in app.secret_key
    # Key rotation (new,old) keeps signing with the first key, as the Vault encrypts with it.
    assert Vault(f"{SECRET_KEY},older key material").signing_key() == app.secret_key


def test_without_a_secret_key_the_dashboard_is_off_and_webhooks_still_work(
    settings: Settings, sqlite_store: Store
) -> None:
    client = dashboard_app(settings.with_overrides(secret_key=None), sqlite_store).test_client()
    response = client.get("/")
    assert response.status_code == 503
    assert "ZOOMGUARD_SECRET_KEY" in response.get_data(as_text=True)
    body = meeting_event("meeting.created")
    assert (
        client.post(
            "/webhooks/zoom", data=body, headers=signed_headers(body, secret=WEBHOOK_SECRET)
        ).status_code
        == 200
    )


# --- roles ---------------------------------------------------------------------------------------


def test_a_privacy_officer_reads_and_exports_but_cannot_connect_or_sweep(
    app: Flask, settings: Settings, sqlite_store: Store
) -> None:
    connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    client = app.test_client()
    sign_in(client, OFFICER)
    page = client.get("/").get_data(as_text=True)
    assert "Run a sweep now" not in page
    assert "Connect Zoom account" not in page
    token = CSRF.search(page)
    assert token
    assert client.get("/connect").status_code == 403
    assert client.post("/sweeps", data={"csrf_token": token.group(1)}).status_code == 403
    assert client.post("/connect/oauth", data={"csrf_token": token.group(1)}).status_code == 403
    assert client.get("/findings.csv").status_code == 200
    assert sqlite_store.sweeps.recent() == []


def test_events_for_an_unknown_account_are_shown_to_the_officer(
    app: Flask, sqlite_store: Store
) -> None:
    event_id, _ = sqlite_store.inbox.add_event(
        dedupe_key="unknown-1",
        event="recording.started",
        zoom_account_id="not-connected",
        event_ts=None,
        body="{}",
        status="pending",
        now=datetime.now(UTC),
    )
    claimed = sqlite_store.inbox.claim_events("test", 10, datetime.now(UTC), 60)
    assert [item.id for item in claimed] == [event_id]
    assert sqlite_store.inbox.mark_done(
        event_id,
        datetime.now(UTC),
        worker_id="test",
        status="unknown_account",
        note="Zoom account not-connected is not connected",
    )
    client = app.test_client()
    sign_in(client, OFFICER)
    page = client.get("/").get_data(as_text=True)
    section = page[page.index('id="unknown-heading"') :].split("</section>")[0]
    assert "recording.started" in section
    assert "Zoom account not-connected is not connected" in section


# --- connecting accounts -------------------------------------------------------------------------


def test_connect_with_zoom_uses_pkce_and_stores_the_tokens_encrypted(
    app: Flask, sqlite_store: Store, sandbox: SandboxServer
) -> None:
    client = app.test_client()
    sign_in(client, ADMIN)
    start = client.post("/connect/oauth", data={"csrf_token": csrf_of(client, "/connect")})
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["client_id"] == [sandbox.config.oauth_client_id]
    assert query["redirect_uri"] == ["http://localhost/connect/oauth/callback"]
    state = query["state"][0]
    with sqlite_store.transaction() as session:
        [pending] = session.scalars(select(OAuthState)).all()
        assert pending.state_hash != state  # only a hash of it is kept
        assert pending.expires_at - pending.created_at == STATE_TTL

    authorize = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(authorize.headers["Location"])
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302
    assert done.headers["Location"] == "/"
    [account] = sqlite_store.accounts.list_all()
    assert (account.auth_type, account.zoom_account_id) == ("oauth", sandbox.config.account_id)
    assert account.has_access_token
    assert account.has_refresh_token
    stored = sqlite_store.accounts.load_token(account.id)
    assert stored is not None
    access, _, refresh = stored
    with sqlite_store.transaction() as session:
        row = session.get(Account, account.id)
        assert row is not None
        assert access not in (row.access_token_enc or "")
        assert refresh is not None
        assert refresh not in (row.refresh_token_enc or "")
        assert session.scalars(select(OAuthState)).all() == []
    page = client.get("/").get_data(as_text=True)
    assert "Connected Zoom account" in page
    assert access not in page
    assert refresh not in page
    [connect] = [a for a in sqlite_store.audit.recent(10) if a.action == "account.connect"]
    assert connect.actor == "dashboard"
    assert "by alice" in (connect.detail or "")


def test_connect_with_zoom_refuses_an_app_that_lacks_a_scope_and_names_it(
    app: Flask, sqlite_store: Store, sandbox: SandboxServer
) -> None:
    list_meetings = "meeting:read:list_meetings:admin"
    sandbox.config.scopes = " ".join(s for s in sandbox.config.scopes.split() if s != list_meetings)
    client = app.test_client()
    sign_in(client, ADMIN)
    start = client.post("/connect/oauth", data={"csrf_token": csrf_of(client, "/connect")})
    authorize = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(authorize.headers["Location"])
    page = client.get(f"{back.path}?{back.query}", follow_redirects=True).get_data(as_text=True)
    assert list_meetings in page
    assert "(for sweep)" in page
    assert sqlite_store.accounts.list_all() == []


def test_the_oauth_state_works_once(app: Flask, sqlite_store: Store) -> None:
    client = app.test_client()
    sign_in(client, ADMIN)
    callback, _ = oauth_round_trip(client)
    assert client.get(callback).headers["Location"] == "/"
    replay = client.get(callback, follow_redirects=True)
    assert "unknown or was already used" in replay.get_data(as_text=True)
    assert len(sqlite_store.accounts.list_all()) == 1
    forged = client.get("/connect/oauth/callback?state=made-up&code=abc", follow_redirects=True)
    assert "unknown or was already used" in forged.get_data(as_text=True)


def test_the_oauth_state_belongs_to_the_browser_that_started_it(
    app: Flask, sqlite_store: Store
) -> None:
    victim, attacker = app.test_client(), app.test_client()
    sign_in(victim, ADMIN)
    sign_in(attacker, ADMIN)
    callback, _ = oauth_round_trip(attacker)
    # The attacker's code and state, delivered in the victim's signed-in browser:
    response = victim.get(callback, follow_redirects=True)
    assert "started in another browser session" in response.get_data(as_text=True)
    assert sqlite_store.accounts.list_all() == []
    # ...and the state is spent: the attacker cannot use it either.
    again = attacker.get(callback, follow_redirects=True)
    assert "already used" in again.get_data(as_text=True)


def test_the_oauth_state_expires_after_ten_minutes(
    settings: Settings, sqlite_store: Store, sandbox: SandboxServer
) -> None:
    started = datetime.now(UTC)
    url = begin_connect(
        settings, sqlite_store, redirect_uri="http://127.0.0.1/cb", binding="b", user_id=None,
        now=started,
    )  # fmt: skip
    approved = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    query = parse_qs(urlsplit(approved).query)
    with pytest.raises(OAuthConnectError, match="10 minutes"):
        complete_connect(
            settings,
            sqlite_store,
            redirect_uri="http://127.0.0.1/cb",
            state=query["state"][0],
            code=query["code"][0],
            error=None,
            binding="b",
            connected_by="test",
            now=started + STATE_TTL + timedelta(seconds=1),
        )
    assert sqlite_store.accounts.list_all() == []


def test_zoom_refusing_consent_is_reported_and_nothing_is_stored(
    app: Flask, sqlite_store: Store
) -> None:
    client = app.test_client()
    sign_in(client, ADMIN)
    _, state = oauth_round_trip(client)
    response = client.get(
        f"/connect/oauth/callback?state={state}&error=access_denied", follow_redirects=True
    )
    assert "access was denied" in response.get_data(as_text=True)
    assert sqlite_store.accounts.list_all() == []


def test_server_to_server_credentials_are_checked_before_they_are_saved(
    app: Flask, sqlite_store: Store, sandbox: SandboxServer
) -> None:
    client = app.test_client()
    sign_in(client, ADMIN)
    form = {
        "csrf_token": csrf_of(client, "/connect"),
        "account_id": sandbox.config.account_id,
        "client_id": sandbox.config.client_id,
        "client_secret": "not-the-secret-SENTINEL",
        "name": "Agency",
    }
    refused = client.post("/connect/s2s", data=form)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Zoom did not accept these credentials" in text
    assert "not-the-secret-SENTINEL" not in text
    assert sandbox.config.account_id in text  # the rest of the form is kept
    assert sqlite_store.accounts.list_all() == []

    accepted = client.post(
        "/connect/s2s", data={**form, "client_secret": sandbox.config.client_secret}
    )
    assert accepted.status_code == 302
    [account] = sqlite_store.accounts.list_all()
    assert (account.auth_type, account.name) == ("s2s", "Agency")
    page = client.get("/").get_data(as_text=True)
    assert sandbox.config.client_secret not in page
    assert "Agency" in page


def test_several_accounts_can_be_connected(
    app: Flask, settings: Settings, sqlite_store: Store
) -> None:
    connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    sqlite_store.accounts.save_s2s("OTHERACCOUNT", "other-client", "other-secret", name="Other")
    client = app.test_client()
    sign_in(client, ADMIN)
    page = client.get("/").get_data(as_text=True)
    assert "Agency account" in page
    assert "Other" in page
    assert '<select name="account">' in page  # the findings can be filtered by account


# --- refresh tokens rotate under the row lock -----------------------------------------------------


def _connected_oauth_account(settings: Settings, store: Store) -> AccountRecord:
    url = begin_connect(
        settings, store, redirect_uri="http://127.0.0.1/cb", binding="b", user_id=None
    )
    query = parse_qs(
        urlsplit(requests.get(url, allow_redirects=False, timeout=10).headers["Location"]).query
    )
    return complete_connect(
        settings,
        store,
        redirect_uri="http://127.0.0.1/cb",
        state=query["state"][0],
        code=query["code"][0],
        error=None,
        binding="b",
        connected_by="test",
    )


def _expire_stored_access_token(store: Store, account_pk: int) -> None:
    with store.transaction() as session:
        row = session.get(Account, account_pk)
        assert row is not None
        row.access_token_expires_at = datetime.now(UTC) - timedelta(seconds=1)


def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(
    store: Store, sandbox: SandboxServer
) -> None:
    """``store`` runs on SQLite and PostgreSQL. Two providers stand for two processes: without
    the row lock both would present the same refresh token and one would be refused."""
    # The store fixture encrypts with its own key: the token provider must use the same one.
    settings = sandbox_settings(sandbox, db_url_of(store), secret_key=STORE_TEST_SECRET_KEY)
    account = _connected_oauth_account(settings, store)
    before = store.accounts.load_token(account.id)
    assert before is not None
    _expire_stored_access_token(store, account.id)
    sandbox.config.latency_ms = 150  # both are surely in flight together
    marker = len(sandbox.state.request_log())
    providers = [OAuthTokenProvider(settings, store, account.id) for _ in range(2)]
    tokens: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(providers))

    def take(provider: OAuthTokenProvider) -> None:
        barrier.wait()
        try:
            tokens.append(provider.token())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(p,)) for p in providers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sandbox.config.latency_ms = 0
    assert errors == []
    assert len(set(tokens)) == 1
    token_requests = [r for r in sandbox.state.request_log(marker) if r.path == "/oauth/token"]
    assert [r.status for r in token_requests] == [200]
    assert sum(p.refresh_count for p in providers) == 1
    after = store.accounts.load_token(account.id)
    assert after is not None
    assert after[0] == tokens[0]
    assert after[2] != before[2]  # rotated
    # The old refresh token is dead at Zoom: rotation really happened there too.
    dead = requests.post(
        sandbox.oauth_url + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": before[2]},
        auth=(sandbox.config.oauth_client_id, sandbox.config.oauth_client_secret),
        timeout=10,
    )
    assert dead.status_code == 400


def test_a_refused_refresh_token_is_forgotten_and_the_dashboard_says_reconnect(
    settings: Settings, sqlite_store: Store, sandbox: SandboxServer
) -> None:
    account = _connected_oauth_account(settings, sqlite_store)
    sqlite_store.accounts.save_token(
        account.id, "stale-access", datetime.now(UTC) - timedelta(minutes=1), "revoked-refresh"
    )
    with pytest.raises(ZoomAuthError) as caught:
        OAuthTokenProvider(settings, sqlite_store, account.id).token()
    assert caught.value.reason == "oauth_invalid_grant"
    assert "revoked-refresh" not in str(caught.value)
    reloaded = sqlite_store.accounts.get(account.id)
    assert reloaded is not None
    assert not reloaded.has_refresh_token
    ok, text = token_health(reloaded, datetime.now(UTC))
    assert not ok
    assert "connect again" in text


def test_an_oauth_account_is_swept_with_its_own_renewing_token(
    settings: Settings, sqlite_store: Store, sandbox: SandboxServer
) -> None:
    from zoomguard.service import client_for_account

    account = _connected_oauth_account(settings, sqlite_store)
    before = sqlite_store.accounts.load_token(account.id)
    assert before is not None
    sandbox.state.expire_tokens()  # Zoom says 124 to the stored token: renew once, go on
    client = client_for_account(settings, sqlite_store, account)
    with client:
        result = service.Sweeper(
            settings, sqlite_store, client, account, profile=policy.default_profile()
        ).run()
    assert result.status == "completed"
    assert result.counts.meetings == 12
    after = sqlite_store.accounts.load_token(account.id)
    assert after is not None
    assert (after[0], after[2]) != (before[0], before[2])  # renewed, refresh token rotated


def test_an_account_removed_in_zoom_shows_as_removed_and_cannot_be_swept(
    app: Flask, settings: Settings, sqlite_store: Store
) -> None:
    account = connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    sqlite_store.accounts.deauthorize(account.zoom_account_id, datetime.now(UTC))
    client = app.test_client()
    sign_in(client, ADMIN)
    page = client.get("/").get_data(as_text=True)
    assert "Removed from Zoom" in page
    assert "Sweep this account" not in page
    token = csrf_of(client, "/")
    response = client.post("/sweeps", data={"csrf_token": token, "account": str(account.id)})
    assert response.status_code == 404
    assert sqlite_store.sweeps.recent() == []


def test_the_account_s_data_centre_regions_are_shown_after_a_baseline(
    app: Flask, settings: Settings, sqlite_store: Store, sandbox: SandboxServer
) -> None:
    account = connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    client = app.test_client()
    sign_in(client, ADMIN)
    assert "Data-centre regions" not in client.get("/").get_data(as_text=True)  # not read yet
    sandbox.state.settings.account["data_center_regions"] = ["US", "DE"]
    report_only = policy.load_profile('mode = "report"')
    with service.client_for_account(settings, sqlite_store, account) as zoom:
        BaselineRunner(
            settings, sqlite_store, zoom, account, profile=report_only, recordings=False
        ).run()
    page = client.get("/").get_data(as_text=True)
    assert "Data-centre regions for meetings: US, DE (Canada&#39;s not included" in page
    stored = sqlite_store.accounts.get(account.id)
    assert stored is not None
    assert stored.data_center_regions == ("US", "DE")


# --- run a sweep now ---------------------------------------------------------------------------


def test_run_a_sweep_now_starts_it_in_the_background_and_records_who_asked(
    app: Flask, settings: Settings, sqlite_store: Store
) -> None:
    account = connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    client = app.test_client()
    sign_in(client, ADMIN)
    response = client.post("/sweeps", data={"csrf_token": csrf_of(client, "/")})
    assert response.status_code == 302
    assert app.extensions["zoomguard"].launcher.join(30)
    [done] = sqlite_store.sweeps.recent(account_pk=account.id)
    assert done.status == "completed"
    assert done.counts.meetings == 12
    [asked] = [a for a in sqlite_store.audit.recent(50) if a.action == "sweep.request"]
    assert (asked.actor, asked.detail, asked.after) == (
        "dashboard",
        "requested by alice",
        {"dry_run": False},
    )
    page = client.get("/").get_data(as_text=True)
    for finding in sqlite_store.findings.open():
        assert finding.meeting_id in page


def test_a_sweep_held_elsewhere_is_not_started_twice(
    app: Flask, settings: Settings, sqlite_store: Store
) -> None:
    account = connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    sqlite_store.leases.acquire(f"sweep:{account.id}", "clock-host:1", 60, datetime.now(UTC))
    client = app.test_client()
    sign_in(client, ADMIN)
    response = client.post(
        "/sweeps", data={"csrf_token": csrf_of(client, "/")}, follow_redirects=True
    )
    assert "already running (started by the scheduler" in response.get_data(as_text=True)
    app.extensions["zoomguard"].launcher.join(5)
    assert sqlite_store.sweeps.recent() == []


def test_a_dry_run_from_the_dashboard_changes_nothing_in_zoom(
    app: Flask, settings: Settings, sqlite_store: Store, sandbox: SandboxServer
) -> None:
    connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    client = app.test_client()
    sign_in(client, ADMIN)
    marker = len(sandbox.state.request_log())
    client.post("/sweeps", data={"csrf_token": csrf_of(client, "/"), "dry_run": "1"})
    assert app.extensions["zoomguard"].launcher.join(30)
    [done] = sqlite_store.sweeps.recent()
    assert done.dry_run
    assert done.counts.patches == 0
    assert not [r for r in sandbox.state.request_log(marker) if r.method == "PATCH"]


# --- the CSV export -------------------------------------------------------------------------------


def test_csv_export_has_the_filtered_open_findings_and_defuses_formulas(
    app: Flask, settings: Settings, sqlite_store: Store
) -> None:
    account = connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    sweep_account(settings, sqlite_store, account)
    sqlite_store.findings.upsert(
        account_pk=account.id,
        sweep_id=None,
        meeting_id="999",
        host_id="h",
        host_email="host@example.org",
        topic='=HYPERLINK("http://evil.example","click")',
        start_time=None,
        rule_id="identifying_information",
        field="topic",
        expected=None,
        actual="x",
        after=None,
        status="reported",
        detail=None,
        now=datetime.now(UTC),
    )
    client = app.test_client()
    sign_in(client, OFFICER)
    every = client.get("/findings.csv")
    assert every.mimetype == "text/csv"
    assert "attachment" in every.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(every.get_data(as_text=True))))
    assert len(rows) == len(sqlite_store.findings.open())
    [hostile] = [r for r in rows if r["meeting"] == "999"]
    assert hostile["topic"].startswith("'=HYPERLINK")

    only = client.get("/findings.csv?rule=identifying_information&status=attention")
    filtered = list(csv.DictReader(io.StringIO(only.get_data(as_text=True))))
    assert {r["rule"] for r in filtered} == {"identifying_information"}
    assert len(filtered) == len(
        [
            f
            for f in sqlite_store.findings.open(rule_id="identifying_information")
            if f.status in ("failed", "reported")
        ]
    )


def test_the_dashboard_filters_findings_by_rule_and_status(
    app: Flask, settings: Settings, sqlite_store: Store
) -> None:
    account = connect_account(settings, sqlite_store, name=ACCOUNT_NAME)
    sweep_account(settings, sqlite_store, account)
    findings = sqlite_store.findings.open()
    statuses = {f.status for f in findings}
    assert "fixed" in statuses
    client = app.test_client()
    sign_in(client, OFFICER)
    for status in ("fixed", "reported", "failed"):
        page = client.get(f"/?status={status}").get_data(as_text=True)
        for finding in findings:
            assert (f"ID {finding.meeting_id}" in page) == any(
                f.meeting_id == finding.meeting_id and f.status == status for f in findings
            )
        if status not in statuses:
            assert "No open finding matches these filters" in page
    rule = findings[0].rule_id
    page = client.get(f"/?rule={rule}").get_data(as_text=True)
    for finding in findings:
        assert (f"ID {finding.meeting_id}" in page) == any(
            f.meeting_id == finding.meeting_id and f.rule_id == rule for f in findings
        )


# --- the numbers ---------------------------------------------------------------------------------


def _sweep(
    pk: int, account: int, minutes: int, meetings: int, compliant: int, status: str = "completed"
) -> SweepRecord:
    start = datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(minutes=minutes)
    return SweepRecord(
        id=pk,
        account_id=account,
        started_at=start,
        finished_at=start + timedelta(minutes=1),
        status=status,
        dry_run=False,
        counts=SweepCounts(
            meetings=meetings, compliant=compliant, noncompliant=meetings - compliant
        ),
        error=None,
        holder=None,
    )


def _finding(meeting: str, rule: str, status: str, account: int = 1) -> FindingRecord:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    return FindingRecord(
        id=0, account_id=account, sweep_id=None, meeting_id=meeting, host_id=None,
        host_email=None, topic=None, start_time=None, rule_id=rule, field="f", expected=None,
        actual=None, after=None, status=status, detail=None, first_seen=now, last_seen=now,
        resolved_at=None,
    )  # fmt: skip


def test_overview_counts_meetings_by_rule_and_compliance_now() -> None:
    sweeps = [_sweep(1, 1, 0, 10, 4), _sweep(2, 1, 60, 10, 6), _sweep(3, 2, 5, 10, 10)]
    sweeps.append(_sweep(4, 1, 120, 0, 0, status="failed"))  # neither latest nor counted
    latest = latest_completed(sweeps)
    assert {pk: s.id for pk, s in latest.items()} == {1: 2, 2: 3}
    findings = [
        _finding("a", "waiting_room", "fixed"),
        _finding("a", "passcode", "failed"),
        _finding("b", "passcode", "reported"),
        _finding("c", "identifying_information", "exempt"),
    ]
    result = overview(latest, findings, ["passcode", "waiting_room"])
    assert result.meetings == 20
    assert result.compliant_as_found == pytest.approx(16 / 20)
    assert result.noncompliant_meetings_now == 3  # a, b, c (the fixed finding does not count)
    assert result.compliant_now == pytest.approx(17 / 20)
    assert result.open_needing_action == 2
    by_rule = {r.rule_id: r for r in result.rules}
    assert list(by_rule) == ["passcode", "waiting_room", "identifying_information"]
    assert (by_rule["passcode"].needs_action, by_rule["passcode"].fixed) == (2, 0)
    assert by_rule["waiting_room"].compliant_now == 1.0
    assert by_rule["identifying_information"].exempt == 1
    assert by_rule["passcode"].guidance == "Participants use a password to access a meeting."


def test_trend_chart_plots_each_completed_sweep_oldest_first() -> None:
    sweeps = [_sweep(2, 1, 60, 10, 10), _sweep(1, 1, 0, 10, 5), _sweep(3, 1, 90, 0, 0)]
    chart = trend_chart(sweeps, {1: "Agency"})
    assert [p.value for p in chart.points] == [0.5, 1.0]
    first, last = chart.points
    assert first.x == chart.left
    assert last.x == chart.right
    assert last.y == chart.top  # 100% at the top
    assert first.y == pytest.approx((chart.top + chart.bottom) / 2)
    assert "Agency" in last.label
    single = trend_chart(sweeps[:1], {})
    assert single.points[0].x == pytest.approx((chart.left + chart.right) / 2)


def test_csv_safe_defuses_formula_cells_only() -> None:
    assert csv_safe("=1+1") == "'=1+1"
    assert csv_safe("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe("Team meeting") == "Team meeting"
    assert csv_safe(3) == 3


# --- `zoomguard user` ----------------------------------------------------------------------------


def _cli(store: Store, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, Any]:
    group = ZoomGuardGroup("zoomguard")
    group.add_command(user_command)
    monkeypatch.setenv("ZOOMGUARD_DATABASE_URL", db_url_of(store))
    monkeypatch.setenv("ZOOMGUARD_SECRET_KEY", SECRET_KEY)
    return CliRunner(), group


def test_user_add_prompts_twice_and_creates_a_user_who_can_sign_in(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch, fast_hashes: None
) -> None:
    runner, group = _cli(sqlite_store, monkeypatch)
    added = runner.invoke(
        group, ["user", "add", "Frank", "--role", "admin"],
        input="frank's long passphrase\nfrank's long passphrase\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "user frank created (Administrator)" in added.output
    assert "frank's long passphrase" not in added.output
    assert sqlite_store.users.authenticate("frank", "frank's long passphrase").user is not None

    again = runner.invoke(
        group, ["user", "add", "frank", "--password-stdin"], input="x" * 20 + "\n"
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    short = runner.invoke(group, ["user", "add", "gina", "--password-stdin"], input="short\n")
    assert short.exit_code == 1
    assert "at least 12" in short.output

    listed = runner.invoke(group, ["user", "list"])
    assert "frank" in listed.output
    assert "Administrator" in listed.output
    assert "scrypt" not in listed.output


def test_user_password_role_and_remove(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch, fast_hashes: None
) -> None:
    runner, group = _cli(sqlite_store, monkeypatch)
    sqlite_store.users.create("hana", "hana's long passphrase", "privacy_officer")
    changed = runner.invoke(
        group, ["user", "password", "hana", "--password-stdin"], input="hana's newer passphrase\n"
    )
    assert changed.exit_code == 0, changed.output
    assert sqlite_store.users.authenticate("hana", "hana's newer passphrase").user is not None
    promoted = runner.invoke(group, ["user", "role", "hana", "admin"])
    assert "Administrator" in promoted.output
    removed = runner.invoke(group, ["user", "remove", "hana"])
    assert removed.exit_code == 0
    assert sqlite_store.users.authenticate("hana", "hana's newer passphrase").user is None


# --- the migration -------------------------------------------------------------------------------


def test_migration_0002_adds_and_removes_the_dashboard_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        assert {"dashboard_users", "oauth_states"} <= names
        columns = {c["name"] for c in inspect(engine).get_columns("dashboard_users")}
        assert {"username", "password_hash", "role", "failed_logins", "locked_until"} <= columns
    finally:
        engine.dispose()
    downgrade(url, "0001")
    engine = make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        assert not {"dashboard_users", "oauth_states"} & names
        assert "accounts" in names
    finally:
        engine.dispose()
