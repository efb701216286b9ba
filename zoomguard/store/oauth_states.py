"""Pending OAuth connects (``oauth_states``): stored when the browser leaves for Zoom, consumed
once when it comes back. Only hashes of the state and browser binding are stored; the PKCE
verifier arrives here already encrypted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select

from zoomguard.store.database import Database
from zoomguard.store.models import OAuthState


@dataclass(frozen=True)
class PendingConnect:
    binding_hash: str
    code_verifier_enc: str
    expires_at: datetime


class OAuthStates:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        *,
        state_hash: str,
        binding_hash: str,
        code_verifier_enc: str,
        user_id: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store one pending connect; expired connects of anyone are purged on the way."""
        with self._db.transaction() as session:
            session.execute(
                delete(OAuthState)
                .where(OAuthState.expires_at <= now)
                .execution_options(synchronize_session=False)
            )
            session.add(
                OAuthState(
                    state_hash=state_hash,
                    binding_hash=binding_hash,
                    code_verifier_enc=code_verifier_enc,
                    user_id=user_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def consume(self, state_hash: str) -> PendingConnect | None:
        """Delete the pending connect for ``state_hash`` and return it: a state works once."""
        with self._db.transaction() as session:
            row = session.scalars(
                select(OAuthState).where(OAuthState.state_hash == state_hash).with_for_update()
            ).first()
            if row is None:
                return None
            pending = PendingConnect(
                row.binding_hash, row.code_verifier_enc, row.expires_at.astimezone(UTC)
            )
            session.delete(row)
        return pending
