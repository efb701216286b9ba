"""Dashboard sessions end when their user signs out (issue #16, item 3): the cookie carries a
server-side session id, so a copy of it taken before sign-out opens nothing afterwards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from support.dashboard import ADMIN, SECRET_KEY, WEBHOOK_SECRET, add_users, dashboard_app

from zoomguard.config import Settings
from zoomguard.crypto import Vault
from zoomguard.service import utcnow
from zoomguard.store import Store
from zoomguard.store.models import DashboardSession
from zoomguard.webhooks.dashboard.auth import SESSION_COOKIE_NAME

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(sqlite_store: Store, fast_hashes: None) -> Iterator[Flask]:
    add_users(sqlite_store)
    settings = Settings(
        secret_key=SECRET_KEY,
        zoom_webhook_secret_token=WEBHOOK_SECRET,
        database_url=sqlite_store.engine.url.render_as_string(hide_password=False),
    )
    flask_app = dashboard_app(settings, sqlite_store)
    yield flask_app
    flask_app.extensions["zoomguard"].launcher.join(30)


def csrf_of(client: FlaskClient, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/login",
        data={"csrf_token": csrf_of(client, "/login"), "username": ADMIN[0], "password": ADMIN[1]},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def captured_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(SESSION_COOKIE_NAME)
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    thief = app.test_client()
    thief.set_cookie(SESSION_COOKIE_NAME, value)
    return thief


def test_a_cookie_captured_before_sign_out_is_refused(app: Flask) -> None:
    client = signed_in(app)
    stolen = captured_cookie(client)
    token = csrf_of(client, "/")
    # While the session lives, the copy works: the test below can fail.
    assert with_cookie(app, stolen).get("/").status_code == 200

    assert client.post("/logout", data={"csrf_token": token}).status_code == 302

    thief = with_cookie(app, stolen)
    response = thief.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    # Nor can the copy start a sweep, even with the session's CSRF token.
    assert with_cookie(app, stolen).post("/sweeps", data={"csrf_token": token}).status_code == 401


def test_sign_out_everywhere_ends_every_session_of_the_user(
    app: Flask, sqlite_store: Store
) -> None:
    laptop, phone = signed_in(app), signed_in(app)
    other_user = app.test_client()
    other_user.post(
        "/login",
        data={
            "csrf_token": csrf_of(other_user, "/login"),
            "username": "priya",
            "password": "priya's long passphrase",
        },
    )
    assert phone.get("/").status_code == 200
    response = laptop.post("/logout/everywhere", data={"csrf_token": csrf_of(laptop, "/")})
    assert response.status_code == 302
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 302
    assert other_user.get("/").status_code == 200  # someone else's session is untouched
    with sqlite_store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DashboardSession)) == 1


def test_sessions_expire_and_a_password_change_ends_them(app: Flask, sqlite_store: Store) -> None:
    [alice] = [u for u in sqlite_store.users.list_users() if u.username == ADMIN[0]]
    session_id = sqlite_store.sessions.start(alice.id, now=utcnow(), lifetime=timedelta(hours=1))
    assert sqlite_store.sessions.user_for(session_id, now=utcnow()) == alice
    later = utcnow() + timedelta(hours=1, seconds=1)
    assert sqlite_store.sessions.user_for(session_id, now=later) is None
    assert sqlite_store.sessions.user_for("not a session", now=utcnow()) is None

    client = signed_in(app)
    sqlite_store.users.set_password(ADMIN[0], "a brand new passphrase")
    assert client.get("/").status_code == 302


def test_the_cookie_is_signed_with_a_key_derived_from_the_random_first_key(app: Flask) -> None:
    assert app.secret_key == Vault(SECRET_KEY).signing_key()
    assert isinstance(app.secret_key, bytes)
    assert SECRET_KEY.encode() not in app.secret_key
