"""Re-encrypt every stored secret under the first ZOOMGUARD_SECRET_KEY (``zoomguard secrets
rotate``), so that older keys, and passphrases from before Fernet keys were required, can be
removed from the setting."""

from __future__ import annotations

from sqlalchemy import select

from zoomguard.crypto import SEALED_PREFIX
from zoomguard.store.database import Database
from zoomguard.store.models import Account, InboxEvent, OAuthState

# Every column holding Vault ciphertext, by table (models.py names them *_enc).
_ACCOUNT_COLUMNS = ("client_secret_enc", "access_token_enc", "refresh_token_enc")


def reencrypt_secrets(db: Database) -> int:
    """Re-encrypt every stored secret with the first key; how many values were rewritten.

    One transaction: a value that no key opens raises ``SecretKeyError`` and nothing changes.
    """
    vault = db.require_vault()
    rewritten = 0
    with db.transaction() as session:
        for account in session.scalars(select(Account).with_for_update()):
            for column in _ACCOUNT_COLUMNS:
                value = getattr(account, column)
                if value:
                    setattr(account, column, vault.reencrypt(value))
                    rewritten += 1
        for pending in session.scalars(select(OAuthState).with_for_update()):
            pending.code_verifier_enc = vault.reencrypt(pending.code_verifier_enc)
            rewritten += 1
        # Webhook bodies not yet handled (settled ones are blanked): sealed again, so that an
        # event received before the rotation can still be handled after the old key is gone.
        sealed = select(InboxEvent).where(InboxEvent.body.startswith(SEALED_PREFIX))
        for event in session.scalars(sealed.with_for_update()):
            event.body = vault.seal(vault.unseal(event.body))
            rewritten += 1
    return rewritten
