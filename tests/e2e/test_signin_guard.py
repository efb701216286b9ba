"""Sign-in bounds: one hash at a time (429 + Retry-After), attempt limits per address and
overall, lockout per (username, client address), one answer for unknown, wrong and locked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.dashboard import ADMIN, add_users, dashboard_app, db_url_of, sandbox_settings

from zoomguard.sandbox import SandboxServer
from zoomguard.store import Store
from zoomguard.store import users as dashboard_users
from zoomguard.webhooks.dashboard.auth import SIGNIN_REFUSED, signin_guard
from zoomguard.webhooks.dashboard.signin_guard import (
    ATTEMPTS_PER_ADDRESS,
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    SignInGuard,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ATTACKER = "203.0.113.7"
COLLEAGUE = "198.51.100.20"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the guard on its own --------------------------------------------------------------------


def test_attempts_per_address_are_limited_and_other_addresses_go_on() -> None:
    clock = FakeClock()
    guard = SignInGuard(clock=clock, attempts_per_address=3, attempts_overall=100)
    assert [guard.admit(ATTACKER) for _ in range(3)] == [None, None, None]
    clock.now += 10
    assert guard.admit(ATTACKER) == 50  # the oldest attempt leaves the 60 s window in 50 s
    assert guard.admit(COLLEAGUE) is None
    clock.now += 50
    assert guard.admit(ATTACKER) is None


def test_attempts_overall_are_limited_whatever_the_address() -> None:
    guard = SignInGuard(clock=FakeClock(), attempts_per_address=100, attempts_overall=4)
    assert [guard.admit(f"10.0.0.{n}") for n in range(4)] == [None] * 4
    assert guard.admit("10.0.0.99") == 60


def test_lockout_is_per_username_and_address_and_runs_out() -> None:
    clock = FakeClock()
    guard = SignInGuard(clock=clock)
    for _ in range(MAX_FAILED_LOGINS - 1):
        guard.record_failure("alice", ATTACKER)
    assert not guard.is_locked("alice", ATTACKER)
    guard.record_failure("alice", ATTACKER)
    assert guard.is_locked("alice", ATTACKER)
    assert not guard.is_locked("alice", COLLEAGUE)
    assert not guard.is_locked("bob", ATTACKER)
    clock.now += LOCKOUT_SECONDS + 1
    assert not guard.is_locked("alice", ATTACKER)
    guard.record_failure("alice", ATTACKER)  # counts afresh after a lockout ran out
    assert not guard.is_locked("alice", ATTACKER)


def test_the_hash_slot_admits_one_at_a_time() -> None:
    guard = SignInGuard()
    with guard.hash_slot() as first:
        assert first
        with guard.hash_slot() as second:
            assert not second
    with guard.hash_slot() as again:
        assert again


# --- through the login page --------------------------------------------------------------------


@pytest.fixture
def app(sandbox: SandboxServer, sqlite_store: Store, fast_hashes: None) -> Iterator[Flask]:
    add_users(sqlite_store)
    flask_app = dashboard_app(sandbox_settings(sandbox, db_url_of(sqlite_store)), sqlite_store)
    yield flask_app
    flask_app.extensions["zoomguard"].launcher.join(30)


def client_at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def post_login(
    client: FlaskClient, username: str, password: str
) -> tuple[int, str, dict[str, str]]:
    match = CSRF.search(client.get("/login").get_data(as_text=True))
    assert match
    response = client.post(
        "/login", data={"csrf_token": match.group(1), "username": username, "password": password}
    )
    return response.status_code, response.get_data(as_text=True), dict(response.headers)


def refusal(page: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', page)
    assert found, page
    return found.group(1)


def test_an_attacker_locks_an_admin_out_only_from_the_attacker_s_own_address(app: Flask) -> None:
    attacker = client_at(app, ATTACKER)
    for _ in range(MAX_FAILED_LOGINS):
        status, _, _ = post_login(attacker, ADMIN[0], "a wrong guess here")
        assert status == 401
    # Even the right password is refused from the attacker's address now...
    status, _, _ = post_login(attacker, ADMIN[0], ADMIN[1])
    assert status == 401
    # ...while the admin signs in from anywhere else.
    status, _, headers = post_login(client_at(app, COLLEAGUE), ADMIN[0], ADMIN[1])
    assert status == 302, headers


def test_unknown_wrong_and_locked_names_get_the_same_answer_and_the_same_hash(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = client_at(app, ATTACKER)
    for _ in range(MAX_FAILED_LOGINS):
        post_login(attacker, ADMIN[0], "a wrong guess here")
    hashes: list[str] = []
    real_verify = dashboard_users.verify_password

    def counting_verify(password: str, encoded: str) -> bool:
        hashes.append(encoded)
        return real_verify(password, encoded)

    monkeypatch.setattr(dashboard_users, "verify_password", counting_verify)
    answers = [
        post_login(attacker, ADMIN[0], ADMIN[1]),  # locked here, right password
        post_login(attacker, "nobody-at-all", "some password"),  # unknown name
        post_login(client_at(app, COLLEAGUE), ADMIN[0], "wrong again!"),  # wrong password
    ]
    assert {status for status, _, _ in answers} == {401}
    assert {refusal(page) for _, page, _ in answers} == {SIGNIN_REFUSED}
    # Every one of them paid for one scrypt hash, so timing does not single out the locked name.
    assert len(hashes) == 3
    assert all(encoded.startswith("scrypt$") for encoded in hashes)


def test_a_sign_in_while_another_is_hashed_is_answered_429_with_retry_after(app: Flask) -> None:
    client = client_at(app, COLLEAGUE)
    with app.app_context(), signin_guard().hash_slot() as holding:
        assert holding
        status, _, headers = post_login(client, ADMIN[0], ADMIN[1])
    assert status == 429
    assert headers["Retry-After"] == "1"
    status, _, _ = post_login(client, ADMIN[0], ADMIN[1])
    assert status == 302


def test_too_many_attempts_from_one_address_are_answered_429(app: Flask) -> None:
    attacker = client_at(app, ATTACKER)
    statuses = [
        post_login(attacker, f"guess{n}", "a guessed password")[0]
        for n in range(ATTEMPTS_PER_ADDRESS)
    ]
    assert set(statuses) == {401}
    status, _, headers = post_login(attacker, "guess-more", "a guessed password")
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    status, _, _ = post_login(client_at(app, COLLEAGUE), ADMIN[0], ADMIN[1])
    assert status == 302
