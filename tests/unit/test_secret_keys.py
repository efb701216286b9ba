"""ZOOMGUARD_SECRET_KEY (issue #16, item 4): the encrypting key is a random Fernet key; what an
older key or an old passphrase encrypted still opens, and `zoomguard secrets rotate` moves every
stored secret under the first key so that the old one can go."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, text
from support.store import TEST_SECRET_KEY

from zoomguard.cli import main
from zoomguard.crypto import Vault
from zoomguard.errors import SecretKeyError
from zoomguard.service.events.stored_body import from_store, to_store
from zoomguard.store import Store

OLD_PASSPHRASE = "the passphrase this deployment used before"
VAULT = Vault(TEST_SECRET_KEY)


def legacy_passphrase_token(passphrase: str, plaintext: str) -> str:
    """Ciphertext as zoomguard made it from a passphrase before (unsalted HKDF)."""
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"zoomguard secrets at rest v1"
    ).derive(passphrase.encode())
    return Fernet(base64.urlsafe_b64encode(derived)).encrypt(plaintext.encode()).decode()


def stored_under_old_keys(store: Store, db_engine: Engine) -> tuple[int, int]:
    """acct-1 under the old Fernet key (secret and both tokens), acct-2 under an old passphrase."""
    first = store.accounts.save_s2s("acct-1", "client-1", "secret-1")
    store.inbox.add_event(
        dedupe_key="k1",
        event="meeting.updated",
        zoom_account_id="acct-1",
        event_ts=None,
        body=to_store({"event": "meeting.updated", "payload": {"object": {"id": 7}}}, VAULT),
        status="pending",
        now=first.created_at,
    )
    store.accounts.save_token(first.id, "access-1", first.created_at, refresh_token="refresh-1")
    second = store.accounts.save_s2s("acct-2", "client-2", "placeholder")
    with db_engine.begin() as connection:
        connection.execute(
            text("UPDATE accounts SET client_secret_enc = :value WHERE id = :id"),
            {"value": legacy_passphrase_token(OLD_PASSPHRASE, "secret-2"), "id": second.id},
        )
    return first.id, second.id


def test_a_passphrase_is_refused_as_the_encrypting_key(db_engine: Engine) -> None:
    with pytest.raises(SecretKeyError, match="secrets rotate"):
        Vault(OLD_PASSPHRASE)
    with pytest.raises(SecretKeyError, match="neither a Fernet key"):
        Vault(f"{Fernet.generate_key().decode()},too short")


def test_rotation_moves_every_secret_under_the_new_key(store: Store, db_engine: Engine) -> None:
    first, second = stored_under_old_keys(store, db_engine)
    new_key = Fernet.generate_key().decode()
    only_new = Store(db_engine, Vault(new_key))
    with pytest.raises(SecretKeyError):
        only_new.accounts.s2s_credentials(first)

    during = Store(db_engine, Vault(f"{new_key},{TEST_SECRET_KEY},{OLD_PASSPHRASE}"))
    # Before rotating, both old keys still open what they encrypted.
    assert during.accounts.s2s_credentials(second) == ("acct-2", "client-2", "secret-2")
    assert during.reencrypt_secrets() == 5

    assert only_new.accounts.s2s_credentials(first) == ("acct-1", "client-1", "secret-1")
    assert only_new.accounts.s2s_credentials(second) == ("acct-2", "client-2", "secret-2")
    token = only_new.accounts.load_token(first)
    assert token is not None
    assert (token[0], token[2]) == ("access-1", "refresh-1")
    [item] = only_new.inbox.claim_events("w", 10, datetime.now(UTC), 60)
    assert from_store(item.body, only_new.db.vault) == {
        "event": "meeting.updated",
        "payload": {"object": {"id": 7}},
    }


def test_rotation_changes_nothing_when_a_secret_opens_with_no_key(
    store: Store, db_engine: Engine
) -> None:
    stored_under_old_keys(store, db_engine)
    with db_engine.connect() as connection:
        before = connection.execute(text("SELECT client_secret_enc FROM accounts")).all()
    missing_passphrase = Store(
        db_engine, Vault(f"{Fernet.generate_key().decode()},{TEST_SECRET_KEY}")
    )
    with pytest.raises(SecretKeyError):
        missing_passphrase.reencrypt_secrets()
    with db_engine.connect() as connection:
        assert connection.execute(text("SELECT client_secret_enc FROM accounts")).all() == before


def test_the_cli_rotates(store: Store, db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = stored_under_old_keys(store, db_engine)
    new_key = Fernet.generate_key().decode()
    url = db_engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("ZOOMGUARD_DATABASE_URL", url)
    monkeypatch.setenv("ZOOMGUARD_SECRET_KEY", f"{new_key},{TEST_SECRET_KEY},{OLD_PASSPHRASE}")
    result = CliRunner().invoke(main, ["secrets", "rotate"])
    assert result.exit_code == 0, result.output
    assert "5 stored secrets re-encrypted" in result.output
    assert Store(db_engine, Vault(new_key)).accounts.s2s_credentials(first)[2] == "secret-1"
