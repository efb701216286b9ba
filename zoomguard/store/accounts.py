"""Zoom accounts zoomguard is connected to, and their encrypted credentials and tokens.

Secrets are encrypted with ``zoomguard.crypto.Vault`` before they reach the database; without a
secret key, saving or reading credentials raises ``SecretKeyError``, never falls back to plaintext.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, exc, select
from sqlalchemy.orm import Session

from zoomguard.crypto import Vault
from zoomguard.errors import SecretKeyError, StoreError
from zoomguard.store.database import Database, as_utc, utcnow
from zoomguard.store.models import (
    ACCOUNT_ACTIVE,
    ACCOUNT_DEAUTHORIZED,
    AUTH_OAUTH,
    AUTH_S2S,
    Account,
    Finding,
    OccurrenceCursor,
    RememberedOccurrence,
)
from zoomguard.store.records import AccountRecord, account_record


def _secret_matches(vault: Vault, stored: str | None, plaintext: str) -> bool:
    if stored is None:
        return False
    try:
        return vault.decrypt(stored) == plaintext
    except SecretKeyError:
        return False  # encrypted under a key we no longer have: treat it as different


class Accounts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save_s2s(
        self,
        zoom_account_id: str,
        client_id: str,
        client_secret: str,
        name: str | None = None,
        api_url: str | None = None,
        *,
        now: datetime | None = None,
    ) -> AccountRecord:
        """Register or update a Server-to-Server account; its secret is stored encrypted.

        Saving (re)activates the account. A cached access token is dropped when the client id
        or secret changed, since it belongs to the old credentials. ``name``/``api_url`` of None
        keep the stored value.
        """
        vault = self._db.require_vault()
        secret_enc = vault.encrypt(client_secret)

        def apply(row: Account) -> None:
            if row.client_id != client_id or not _secret_matches(
                vault, row.client_secret_enc, client_secret
            ):
                row.access_token_enc = None
                row.access_token_expires_at = None
                row.refresh_token_enc = None
            row.auth_type = AUTH_S2S
            row.client_id = client_id
            row.client_secret_enc = secret_enc

        return self._upsert(zoom_account_id, name, api_url, now or utcnow(), apply)

    def save_oauth(
        self,
        zoom_account_id: str,
        client_id: str,
        access_token: str,
        expires_at: datetime,
        refresh_token: str,
        name: str | None = None,
        api_url: str | None = None,
        *,
        now: datetime | None = None,
    ) -> AccountRecord:
        """Register or update an account connected through the user-authorised OAuth app."""
        vault = self._db.require_vault()
        access_enc, refresh_enc = vault.encrypt(access_token), vault.encrypt(refresh_token)

        def apply(row: Account) -> None:
            row.auth_type = AUTH_OAUTH
            row.client_id = client_id
            row.client_secret_enc = None  # the OAuth app's secret lives in Settings, not here
            row.access_token_enc = access_enc
            row.access_token_expires_at = expires_at
            row.refresh_token_enc = refresh_enc

        return self._upsert(zoom_account_id, name, api_url, now or utcnow(), apply)

    def _upsert(
        self,
        zoom_account_id: str,
        name: str | None,
        api_url: str | None,
        now: datetime,
        apply: Callable[[Account], None],
    ) -> AccountRecord:
        try:
            return self._upsert_once(zoom_account_id, name, api_url, now, apply)
        except exc.IntegrityError:
            # Another process registered the same account between our SELECT and INSERT; this
            # time the SELECT finds its row.
            return self._upsert_once(zoom_account_id, name, api_url, now, apply)

    def _upsert_once(
        self,
        zoom_account_id: str,
        name: str | None,
        api_url: str | None,
        now: datetime,
        apply: Callable[[Account], None],
    ) -> AccountRecord:
        with self._db.transaction() as session:
            row = session.scalars(
                select(Account).where(Account.zoom_account_id == zoom_account_id).with_for_update()
            ).first()
            if row is None:
                row = Account(zoom_account_id=zoom_account_id, created_at=now)
                session.add(row)
            apply(row)
            row.status = ACCOUNT_ACTIVE
            row.updated_at = now
            if name is not None:
                row.name = name
            if api_url is not None:
                row.api_url = api_url
            session.flush()
            return account_record(row)

    def get(self, pk: int, *, session: Session | None = None) -> AccountRecord | None:
        with self._db.joined(session) as s:
            row = s.get(Account, pk)
            return None if row is None else account_record(row)

    def by_zoom_id(
        self, zoom_account_id: str, *, session: Session | None = None
    ) -> AccountRecord | None:
        with self._db.joined(session) as s:
            row = s.scalars(
                select(Account).where(Account.zoom_account_id == zoom_account_id)
            ).first()
            return None if row is None else account_record(row)

    def list_all(
        self, active_only: bool = True, *, session: Session | None = None
    ) -> list[AccountRecord]:
        query = select(Account).order_by(Account.id)
        if active_only:
            query = query.where(Account.status == ACCOUNT_ACTIVE)
        with self._db.joined(session) as s:
            return [account_record(row) for row in s.scalars(query)]

    def name(self, pk: int | None, *, session: Session | None = None) -> str | None:
        """The account's display name (None for no account, an unknown one or no name)."""
        if pk is None:
            return None
        with self._db.joined(session) as s:
            return s.execute(select(Account.name).where(Account.id == pk)).scalar()

    def lock(self, pk: int, *, session: Session) -> AccountRecord | None:
        """The account, its row locked (``SELECT ... FOR UPDATE``) until ``session``'s
        transaction ends: one process at a time renews its token."""
        row = session.scalars(select(Account).where(Account.id == pk).with_for_update()).first()
        return None if row is None else account_record(row)

    def s2s_credentials(
        self, account: AccountRecord | int, *, session: Session | None = None
    ) -> tuple[str, str, str]:
        """(Zoom account id, client id, client secret), decrypted, for the token request."""
        vault = self._db.require_vault()
        pk = account if isinstance(account, int) else account.id
        with self._db.joined(session) as s:
            row = s.get(Account, pk)
            if row is None:
                raise LookupError(f"no account with id {pk}")
            if row.client_secret_enc is None:
                raise StoreError(
                    f"account {row.zoom_account_id} has no stored client secret "
                    f"({row.status}, {row.auth_type}): run `zoomguard connect` again",
                    reason="no_credentials",
                )
            return row.zoom_account_id, row.client_id, vault.decrypt(row.client_secret_enc)

    def save_token(
        self,
        account_pk: int,
        access_token: str,
        expires_at: datetime,
        refresh_token: str | None = None,
        *,
        session: Session | None = None,
        now: datetime | None = None,
    ) -> None:
        """Store an access token (and a refresh token when given; None keeps the stored one)."""
        vault = self._db.require_vault()
        with self._db.joined(session) as s:
            row = s.get(Account, account_pk)
            if row is None:
                raise LookupError(f"no account with id {account_pk}")
            row.access_token_enc = vault.encrypt(access_token)
            row.access_token_expires_at = expires_at
            if refresh_token is not None:
                row.refresh_token_enc = vault.encrypt(refresh_token)
            row.updated_at = now or utcnow()
            s.flush()

    def load_token(
        self, account_pk: int, *, session: Session | None = None
    ) -> tuple[str, datetime, str | None] | None:
        """(access token, expiry, refresh token or None), decrypted; None if none is stored."""
        vault = self._db.require_vault()
        with self._db.joined(session) as s:
            row = s.get(Account, account_pk)
            if row is None or row.access_token_enc is None or row.access_token_expires_at is None:
                return None
            refresh = (
                None if row.refresh_token_enc is None else vault.decrypt(row.refresh_token_enc)
            )
            return (
                vault.decrypt(row.access_token_enc),
                as_utc(row.access_token_expires_at),
                refresh,
            )

    def refresh_token(self, account_pk: int, *, session: Session | None = None) -> str | None:
        """The stored OAuth refresh token, decrypted; None when there is none."""
        vault = self._db.require_vault()
        with self._db.joined(session) as s:
            row = s.get(Account, account_pk)
            if row is None or row.refresh_token_enc is None:
                return None
            return vault.decrypt(row.refresh_token_enc)

    def save_data_center_regions(
        self,
        account_pk: int,
        regions: Sequence[str],
        now: datetime,
        *,
        session: Session | None = None,
    ) -> None:
        """The account's data-centre regions as just read from Zoom (shown on the dashboard)."""
        with self._db.joined(session) as s:
            row = s.get(Account, account_pk)
            if row is None:
                raise LookupError(f"no account with id {account_pk}")
            row.data_center_regions = list(regions)
            row.data_center_regions_read_at = now
            s.flush()

    def forget_tokens(self, account_pk: int, *, session: Session | None = None) -> None:
        """Drop the stored access and refresh tokens (Zoom refused the refresh token for good):
        the dashboard then shows the account as needing a reconnect."""
        with self._db.joined(session) as s:
            row = s.get(Account, account_pk)
            if row is None:
                raise LookupError(f"no account with id {account_pk}")
            row.refresh_token_enc = None
            row.access_token_enc = None
            row.access_token_expires_at = None
            s.flush()

    def deauthorize(
        self, zoom_account_id: str, now: datetime, *, session: Session | None = None
    ) -> AccountRecord | None:
        """The app was removed from the account: purge its secrets, tokens, findings and what
        it remembers of the account's recurring meetings (remembered occurrences and rotation
        cursors: meeting ids of an account zoomguard no longer sees, kept for nothing).

        The account row stays (status ``deauthorized``) so the audit log keeps pointing at it;
        the audit log itself is never touched. None if the account is unknown.
        """
        with self._db.joined(session) as s:
            row = s.scalars(
                select(Account).where(Account.zoom_account_id == zoom_account_id).with_for_update()
            ).first()
            if row is None:
                return None
            row.status = ACCOUNT_DEAUTHORIZED
            row.client_secret_enc = None
            row.access_token_enc = None
            row.access_token_expires_at = None
            row.refresh_token_enc = None
            row.updated_at = now
            for table in (Finding, RememberedOccurrence, OccurrenceCursor):
                s.execute(
                    delete(table)
                    .where(table.account_id == row.id)
                    .execution_options(synchronize_session="fetch")
                )
            s.flush()
            return account_record(row)
