"""What the inbox keeps of a webhook body, and the vault that seals it (issue #16, items 1, 4)."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from zoomguard.crypto import Vault
from zoomguard.errors import SecretKeyError, UnusableEvent
from zoomguard.service.events.stored_body import from_store, minimise, to_store

KEY = Fernet.generate_key().decode()
PASSCODE = "Zq8pW3xkT"


def meeting_body() -> dict[str, object]:
    return {
        "event": "meeting.updated",
        "event_ts": 1,
        "download_token": "token-xyz",
        "payload": {
            "account_id": "acct",
            "object": {
                "id": 5,
                "topic": "Intake 046 454 286",
                "agenda": "notes",
                "password": PASSCODE,
                "pstn_password": PASSCODE,
                "h323_password": PASSCODE,
                "encrypted_password": PASSCODE,
                "start_url": "https://zoom.us/s/5?zak=host-token",
                "join_url": f"https://zoom.us/j/5?pwd={PASSCODE}&uname=x",
                "settings": {"waiting_room": False},
                "recording_files": [{"id": "f", "recording_play_passcode": PASSCODE}],
            },
            "old_object": {"id": 5, "password": PASSCODE},
        },
    }


def test_minimise_drops_passcodes_tokens_and_url_passcodes_at_any_depth() -> None:
    kept = minimise(meeting_body(), keep_free_text=True)
    text = json.dumps(kept)
    assert PASSCODE not in text
    assert "token-xyz" not in text
    assert "host-token" not in text
    obj = kept["payload"]["object"]
    assert obj["join_url"] == "https://zoom.us/j/5?uname=x"
    assert obj["topic"] == "Intake 046 454 286"  # kept, to be sealed
    assert obj["settings"] == {"waiting_room": False}
    assert kept["payload"]["old_object"] == {"id": 5}


def test_minimise_without_a_key_drops_free_text_too() -> None:
    obj = minimise(meeting_body(), keep_free_text=False)["payload"]["object"]
    assert "topic" not in obj
    assert "agenda" not in obj
    assert obj["id"] == 5


def test_stored_body_is_sealed_and_reads_back_minimised() -> None:
    vault = Vault(KEY)
    stored = to_store(meeting_body(), vault)
    assert stored.startswith("g1.")
    assert "Intake" not in stored
    body = from_store(stored, vault)
    assert body["payload"]["object"]["topic"] == "Intake 046 454 286"
    assert "password" not in body["payload"]["object"]
    with pytest.raises(SecretKeyError):
        from_store(stored, None)
    with pytest.raises(SecretKeyError):
        from_store(stored, Vault(Fernet.generate_key().decode()))


def test_bodies_stored_in_clear_before_the_change_still_read() -> None:
    assert from_store('{"event": "x"}', None) == {"event": "x"}
    with pytest.raises(UnusableEvent):
        from_store("[1]", None)


def test_sealed_data_opens_after_a_key_rotation() -> None:
    old = Fernet.generate_key().decode()
    sealed = Vault(old).seal(b"body")
    token = Vault(old).encrypt("secret")
    rotated = Vault(f"{KEY},{old}")
    assert rotated.unseal(sealed) == b"body"
    assert rotated.decrypt(token) == "secret"
    assert Vault(KEY).decrypt(rotated.reencrypt(token)) == "secret"


def test_a_passphrase_is_refused_as_the_encrypting_key_with_how_to_make_one() -> None:
    with pytest.raises(SecretKeyError, match=r"Fernet\.generate_key"):
        Vault("a long enough passphrase for the old rule")


def test_an_old_passphrase_still_decrypts_after_a_new_key() -> None:
    # What the old derivation (HKDF of the passphrase) encrypted, made the way it was made.
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    passphrase = "a long enough passphrase for the old rule"
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"zoomguard secrets at rest v1"
    ).derive(passphrase.encode())
    old_token = Fernet(base64.urlsafe_b64encode(derived)).encrypt(b"client secret").decode()
    vault = Vault(f"{KEY},{passphrase}")
    assert vault.decrypt(old_token) == "client secret"
    assert Vault(KEY).decrypt(vault.reencrypt(old_token)) == "client secret"


def test_the_signing_key_is_not_an_encryption_key_and_follows_the_first_key() -> None:
    vault = Vault(KEY)
    assert vault.signing_key() != base64_key(KEY)
    assert Vault(f"{KEY},{Fernet.generate_key().decode()}").signing_key() == vault.signing_key()
    assert Vault(Fernet.generate_key().decode()).signing_key() != vault.signing_key()


def base64_key(key: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(key)


# --- the raw text, stored as it came when there is nothing to remove -------------------------


def test_a_body_with_nothing_to_remove_is_sealed_as_it_came() -> None:
    vault = Vault(KEY)
    raw = '{"event": "meeting.updated", "payload": {"object": {"id": 5, "topic": "Intake"}}}'
    stored = to_store(json.loads(raw), vault, raw_text=raw)
    assert vault.unseal(stored) == raw.encode()  # the same bytes: no re-serialisation
    assert from_store(stored, vault) == json.loads(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # the dropped names, however they are spelled in the text
        json.dumps(meeting_body()),
        '{"event": "meeting.updated", "payload": {"object": {"passw\\u006frd": "Zq8pW3xkT"}}}',
        '{"event":"recording.completed","download_token":"Zq8pW3xkT"}',
        '{"event": "meeting.updated", "payload": {"object": {"start_url": "https://zoom.us/s/1"}}}',
        # a passcode inside a URL
        '{"event": "meeting.updated", "payload": {"object": {"join_url": "https://z/j/1?pwd=Zq8pW3xkT"}}}',
    ],
)
def test_a_body_with_something_to_remove_is_minimised_despite_its_raw_text(raw: str) -> None:
    vault = Vault(KEY)
    stored_text = vault.unseal(to_store(json.loads(raw), vault, raw_text=raw)).decode()
    assert stored_text != raw
    assert "Zq8pW3xkT" not in stored_text
    assert "password" not in stored_text
    assert "start_url" not in stored_text


def test_without_a_key_a_topic_in_the_raw_text_is_still_dropped() -> None:
    raw = '{"event":"meeting.updated","payload":{"object":{"id":5,"topic":"Intake","x":"y"}}}'
    stored = to_store(json.loads(raw), None, raw_text=raw)
    assert json.loads(stored) == {
        "event": "meeting.updated",
        "payload": {"object": {"id": 5, "x": "y"}},
    }
    plain = '{"event":"meeting.updated","payload":{"object":{"id":5}}}'
    assert to_store(json.loads(plain), None, raw_text=plain) == plain
