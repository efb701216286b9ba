"""The Store facade: every read and write the service needs, returning plain frozen dataclasses.

Each method opens its own short transaction unless a ``session`` from ``Store.transaction()`` is
passed, in which case it joins that transaction (so a finding and its alert commit together).
Secrets are encrypted with ``zoomguard.crypto.Vault`` before they reach the database; without a
secret key, saving or reading credentials raises ``SecretKeyError``, never falls back to plaintext.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    delete,
    exc,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from zoomguard.config import Settings
from zoomguard.crypto import Vault
from zoomguard.errors import SecretKeyError, StoreError
from zoomguard.store.base import make_engine, session_factory
from zoomguard.store.migrate import ensure_current
from zoomguard.store.models import (
    ACCOUNT_ACTIVE,
    ACCOUNT_DEAUTHORIZED,
    AUTH_OAUTH,
    AUTH_S2S,
    FINDING_STATUSES,
    SWEEP_INTERRUPTED,
    SWEEP_RUNNING,
    SWEEP_STATUSES,
    Account,
    AuditEntry,
    Finding,
    Lease,
    Sweep,
    UpdateCounter,
)

STALE_SWEEP_ERROR = "the process running this sweep stopped before it finished"

# --- records: what the store hands out (never ORM rows, never a decrypted secret) -----------


@dataclass(frozen=True)
class AccountRecord:
    id: int
    zoom_account_id: str
    name: str | None
    auth_type: str
    client_id: str
    api_url: str | None
    status: str
    has_client_secret: bool
    has_access_token: bool
    has_refresh_token: bool
    access_token_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status == ACCOUNT_ACTIVE


@dataclass(frozen=True)
class SweepCounts:
    users: int = 0
    meetings: int = 0
    compliant: int = 0
    noncompliant: int = 0
    fixed: int = 0
    failed: int = 0
    exempt: int = 0
    reported: int = 0
    patches: int = 0


@dataclass(frozen=True)
class SweepRecord:
    id: int
    account_id: int | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    dry_run: bool
    counts: SweepCounts
    error: str | None
    holder: str | None


@dataclass(frozen=True)
class FindingRecord:
    id: int
    account_id: int | None
    sweep_id: int | None
    meeting_id: str
    host_id: str | None
    host_email: str | None
    topic: str | None
    start_time: str | None
    rule_id: str
    field: str
    expected: Any
    actual: Any
    after: Any
    status: str
    detail: str | None
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    account_id: int | None
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    confirmed: bool | None
    detail: str | None


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _account_record(row: Account) -> AccountRecord:
    return AccountRecord(
        id=row.id,
        zoom_account_id=row.zoom_account_id,
        name=row.name,
        auth_type=row.auth_type,
        client_id=row.client_id,
        api_url=row.api_url,
        status=row.status,
        has_client_secret=row.client_secret_enc is not None,
        has_access_token=row.access_token_enc is not None,
        has_refresh_token=row.refresh_token_enc is not None,
        access_token_expires_at=_utc_or_none(row.access_token_expires_at),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def _sweep_record(row: Sweep) -> SweepRecord:
    return SweepRecord(
        id=row.id,
        account_id=row.account_id,
        started_at=_utc(row.started_at),
        finished_at=_utc_or_none(row.finished_at),
        status=row.status,
        dry_run=row.dry_run,
        counts=SweepCounts(
            users=row.users,
            meetings=row.meetings,
            compliant=row.compliant,
            noncompliant=row.noncompliant,
            fixed=row.fixed,
            failed=row.failed,
            exempt=row.exempt,
            reported=row.reported,
            patches=row.patches,
        ),
        error=row.error,
        holder=row.holder,
    )


def _finding_record(row: Finding) -> FindingRecord:
    return FindingRecord(
        id=row.id,
        account_id=row.account_id,
        sweep_id=row.sweep_id,
        meeting_id=row.meeting_id,
        host_id=row.host_id,
        host_email=row.host_email,
        topic=row.topic,
        start_time=row.start_time,
        rule_id=row.rule_id,
        field=row.field,
        expected=row.expected,
        actual=row.actual,
        after=row.after,
        status=row.status,
        detail=row.detail,
        first_seen=_utc(row.first_seen),
        last_seen=_utc(row.last_seen),
        resolved_at=_utc_or_none(row.resolved_at),
    )


def _audit_record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=_utc(row.at),
        account_id=row.account_id,
        actor=row.actor,
        action=row.action,
        target=row.target,
        before=row.before,
        after=row.after,
        confirmed=row.confirmed,
        detail=row.detail,
    )


def _same_account(column: InstrumentedAttribute[int | None], pk: int | None) -> ColumnElement[bool]:
    # ``= NULL`` matches nothing in SQL: rows without an account need IS NULL.
    return column.is_(None) if pk is None else column == pk


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _upsert(session: Session, entity: Any) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT support for the session's backend (both spell it the same)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(entity)
    return sqlite.insert(entity)


def _now() -> datetime:
    return datetime.now(UTC)


def _secret_matches(vault: Vault, stored: str | None, plaintext: str) -> bool:
    if stored is None:
        return False
    try:
        return vault.decrypt(stored) == plaintext
    except SecretKeyError:
        return False  # encrypted under a key we no longer have: treat it as different


# --- the facade ------------------------------------------------------------------------------


class Store:
    """Thread-safe: every call uses its own session unless given one."""

    def __init__(self, engine: Engine, vault: Vault | None = None) -> None:
        self.engine = engine
        self._vault = vault
        self._sessions = session_factory(engine)

    @classmethod
    def open(cls, settings: Settings, *, pre_ping: bool = True) -> Store:
        """Connect to ``settings.database_url``; StoreError if it is not migrated to head.
        ``pre_ping``: see ``make_engine``."""
        engine = make_engine(settings.database_url, pre_ping=pre_ping)
        try:
            ensure_current(engine)
            vault = Vault(settings.secret_key) if settings.secret_key else None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, vault)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Raises StoreError when the database cannot be reached (for health checks)."""
        with self.transaction() as session:
            session.execute(text("SELECT 1"))

    # Transactions -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        try:
            with self._sessions.begin() as session:
                yield session
        except (exc.OperationalError, exc.InterfaceError) as error:
            # Unreachable server, locked file, dropped connection: the database cannot be used.
            # The message names the driver's error only, never the statement or its parameters.
            detail = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            raise StoreError(f"database error: {detail}", reason="store_unavailable") from error

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for hot paths that need no ORM session (the
        webhook receiver's single INSERT); same commit/rollback and error rules as
        ``transaction``."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except (exc.OperationalError, exc.InterfaceError) as error:
            detail = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            raise StoreError(f"database error: {detail}", reason="store_unavailable") from error

    @contextmanager
    def _joined(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
        else:
            with self.transaction() as own:
                yield own

    def _require_vault(self) -> Vault:
        if self._vault is None:
            raise SecretKeyError(
                "ZOOMGUARD_SECRET_KEY is not set: zoomguard will not store or read Zoom "
                "credentials unencrypted. Generate one with: python -c 'from cryptography.fernet "
                "import Fernet; print(Fernet.generate_key().decode())'"
            )
        return self._vault

    # Accounts ---------------------------------------------------------------------------------

    def save_s2s_account(
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
        vault = self._require_vault()
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

        return self._upsert_account(zoom_account_id, name, api_url, now or _now(), apply)

    def save_oauth_account(
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
        vault = self._require_vault()
        access_enc, refresh_enc = vault.encrypt(access_token), vault.encrypt(refresh_token)

        def apply(row: Account) -> None:
            row.auth_type = AUTH_OAUTH
            row.client_id = client_id
            row.client_secret_enc = None  # the OAuth app's secret lives in Settings, not here
            row.access_token_enc = access_enc
            row.access_token_expires_at = expires_at
            row.refresh_token_enc = refresh_enc

        return self._upsert_account(zoom_account_id, name, api_url, now or _now(), apply)

    def _upsert_account(
        self,
        zoom_account_id: str,
        name: str | None,
        api_url: str | None,
        now: datetime,
        apply: Callable[[Account], None],
    ) -> AccountRecord:
        try:
            return self._upsert_account_once(zoom_account_id, name, api_url, now, apply)
        except exc.IntegrityError:
            # Another process registered the same account between our SELECT and INSERT; this
            # time the SELECT finds its row.
            return self._upsert_account_once(zoom_account_id, name, api_url, now, apply)

    def _upsert_account_once(
        self,
        zoom_account_id: str,
        name: str | None,
        api_url: str | None,
        now: datetime,
        apply: Callable[[Account], None],
    ) -> AccountRecord:
        with self.transaction() as session:
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
            return _account_record(row)

    def get_account(self, pk: int) -> AccountRecord | None:
        with self.transaction() as session:
            row = session.get(Account, pk)
            return None if row is None else _account_record(row)

    def get_account_by_zoom_id(self, zoom_account_id: str) -> AccountRecord | None:
        with self.transaction() as session:
            row = session.scalars(
                select(Account).where(Account.zoom_account_id == zoom_account_id)
            ).first()
            return None if row is None else _account_record(row)

    def list_accounts(self, active_only: bool = True) -> list[AccountRecord]:
        query = select(Account).order_by(Account.id)
        if active_only:
            query = query.where(Account.status == ACCOUNT_ACTIVE)
        with self.transaction() as session:
            return [_account_record(row) for row in session.scalars(query)]

    def s2s_credentials(self, account: AccountRecord | int) -> tuple[str, str, str]:
        """(Zoom account id, client id, client secret), decrypted, for the token request."""
        vault = self._require_vault()
        pk = account if isinstance(account, int) else account.id
        with self.transaction() as session:
            row = session.get(Account, pk)
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
        vault = self._require_vault()
        with self._joined(session) as s:
            row = s.get(Account, account_pk)
            if row is None:
                raise LookupError(f"no account with id {account_pk}")
            row.access_token_enc = vault.encrypt(access_token)
            row.access_token_expires_at = expires_at
            if refresh_token is not None:
                row.refresh_token_enc = vault.encrypt(refresh_token)
            row.updated_at = now or _now()
            s.flush()

    def load_token(self, account_pk: int) -> tuple[str, datetime, str | None] | None:
        """(access token, expiry, refresh token or None), decrypted; None if none is stored."""
        vault = self._require_vault()
        with self.transaction() as session:
            row = session.get(Account, account_pk)
            if row is None or row.access_token_enc is None or row.access_token_expires_at is None:
                return None
            refresh = (
                None if row.refresh_token_enc is None else vault.decrypt(row.refresh_token_enc)
            )
            return (
                vault.decrypt(row.access_token_enc),
                _utc(row.access_token_expires_at),
                refresh,
            )

    def deauthorize(
        self, zoom_account_id: str, now: datetime, *, session: Session | None = None
    ) -> AccountRecord | None:
        """The app was removed from the account: purge its secrets, tokens and findings.

        The account row stays (status ``deauthorized``) so the audit log keeps pointing at it;
        the audit log itself is never touched. None if the account is unknown.
        """
        with self._joined(session) as s:
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
            s.execute(
                delete(Finding)
                .where(Finding.account_id == row.id)
                .execution_options(synchronize_session="fetch")
            )
            s.flush()
            return _account_record(row)

    # Sweeps -----------------------------------------------------------------------------------

    def start_sweep(
        self,
        account_pk: int | None,
        dry_run: bool,
        now: datetime,
        holder: str | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        with self._joined(session) as s:
            row = Sweep(
                account_id=account_pk,
                started_at=now,
                status=SWEEP_RUNNING,
                dry_run=dry_run,
                holder=holder,
            )
            s.add(row)
            s.flush()
            return row.id

    def finish_sweep(
        self,
        sweep_id: int,
        status: str,
        counts: SweepCounts,
        now: datetime,
        error: str | None = None,
        *,
        session: Session | None = None,
    ) -> None:
        if status not in SWEEP_STATUSES or status == SWEEP_RUNNING:
            raise ValueError(f"a sweep cannot finish as {status!r}")
        with self._joined(session) as s:
            row = s.get(Sweep, sweep_id)
            if row is None:
                raise LookupError(f"no sweep with id {sweep_id}")
            row.status = status
            row.finished_at = now
            row.error = error
            row.users = counts.users
            row.meetings = counts.meetings
            row.compliant = counts.compliant
            row.noncompliant = counts.noncompliant
            row.fixed = counts.fixed
            row.failed = counts.failed
            row.exempt = counts.exempt
            row.reported = counts.reported
            row.patches = counts.patches
            s.flush()

    def mark_stale_running_sweeps(self, now: datetime, account_pk: int | None = None) -> int:
        """Running sweeps whose holder holds no live lease become ``interrupted``.

        A process killed mid-sweep never finishes its row; its lease expires (or is taken over
        by the caller), which is how we know it is gone. A sweep without a holder cannot prove
        it is alive and counts as stale. ``account_pk`` None looks at every account.
        """
        alive = (
            select(Lease.name).where(Lease.holder == Sweep.holder, Lease.expires_at > now).exists()
        )
        stmt = (
            update(Sweep)
            .where(Sweep.status == SWEEP_RUNNING, ~alive)
            .values(status=SWEEP_INTERRUPTED, finished_at=now, error=STALE_SWEEP_ERROR)
            .execution_options(synchronize_session=False)
        )
        if account_pk is not None:
            stmt = stmt.where(Sweep.account_id == account_pk)
        with self.transaction() as session:
            return _rowcount(session.execute(stmt))

    def get_sweep(self, sweep_id: int) -> SweepRecord | None:
        with self.transaction() as session:
            row = session.get(Sweep, sweep_id)
            return None if row is None else _sweep_record(row)

    def last_sweep(
        self, account_pk: int | None = None, *, status: str | None = None
    ) -> SweepRecord | None:
        """The most recently started sweep (of one account, or of any when None)."""
        sweeps = self.list_sweeps(1, account_pk=account_pk, status=status)
        return sweeps[0] if sweeps else None

    def list_sweeps(
        self, limit: int = 20, *, account_pk: int | None = None, status: str | None = None
    ) -> list[SweepRecord]:
        """Newest first."""
        query = select(Sweep).order_by(Sweep.started_at.desc(), Sweep.id.desc()).limit(limit)
        if account_pk is not None:
            query = query.where(Sweep.account_id == account_pk)
        if status is not None:
            query = query.where(Sweep.status == status)
        with self.transaction() as session:
            return [_sweep_record(row) for row in session.scalars(query)]

    # Findings ---------------------------------------------------------------------------------

    def open_finding_status(
        self, session: Session | None, account_pk: int | None, meeting_id: str, rule_id: str
    ) -> str | None:
        """The status of the open finding for (account, meeting, rule), or None."""
        with self._joined(session) as s:
            row = self._open_finding(s, account_pk, meeting_id, rule_id)
            return row.status if row is not None else None

    def upsert_finding(
        self,
        session: Session | None,
        *,
        account_pk: int | None,
        sweep_id: int | None,
        meeting_id: str,
        host_id: str | None,
        host_email: str | None,
        topic: str | None,
        start_time: str | None,
        rule_id: str,
        field: str,
        expected: Any,
        actual: Any,
        after: Any,
        status: str,
        detail: str | None,
        now: datetime,
    ) -> int:
        """Record what was seen of one rule on one meeting; returns the finding's id.

        The open row for (account, meeting, rule) is updated with this observation (first_seen
        kept; ``sweep_id`` None keeps the sweep that last saw it); otherwise a new row is opened.
        """
        if status not in FINDING_STATUSES:
            raise ValueError(f"unknown finding status {status!r}")
        observed: dict[str, Any] = {
            "host_id": host_id,
            "host_email": host_email,
            "topic": topic,
            "start_time": start_time,
            "field": field,
            "expected": expected,
            "actual": actual,
            "after": after,
            "status": status,
            "detail": detail,
            "last_seen": now,
        }
        with self._joined(session) as s:
            row = self._open_finding(s, account_pk, meeting_id, rule_id)
            if row is None:
                try:
                    # A savepoint, so losing the race below does not doom the whole transaction.
                    with s.begin_nested():
                        row = Finding(
                            account_id=account_pk,
                            sweep_id=sweep_id,
                            meeting_id=meeting_id,
                            rule_id=rule_id,
                            first_seen=now,
                            **observed,
                        )
                        s.add(row)
                    return row.id
                except exc.IntegrityError:
                    # Someone else opened the same finding concurrently: update theirs instead.
                    row = self._open_finding(s, account_pk, meeting_id, rule_id)
                    if row is None:
                        raise
            for name, value in observed.items():
                setattr(row, name, value)
            if sweep_id is not None:
                row.sweep_id = sweep_id
            s.flush()
            return row.id

    @staticmethod
    def _open_finding(
        session: Session, account_pk: int | None, meeting_id: str, rule_id: str
    ) -> Finding | None:
        return session.scalars(
            select(Finding)
            .where(
                _same_account(Finding.account_id, account_pk),
                Finding.meeting_id == meeting_id,
                Finding.rule_id == rule_id,
                Finding.resolved_at.is_(None),
            )
            .with_for_update()
        ).first()

    def resolve_findings_not_in(
        self, session: Session | None, account_pk: int | None, sweep_id: int, now: datetime
    ) -> int:
        """After a *completed* sweep: resolve the account's open findings it did not see.

        A finding neither touched by this sweep nor seen since it started belongs to a meeting
        that is now compliant on that rule, or gone. Call it only for completed sweeps: an
        interrupted sweep did not look at every meeting. Returns how many were resolved.
        """
        with self._joined(session) as s:
            sweep = s.get(Sweep, sweep_id)
            if sweep is None or sweep.account_id != account_pk:
                raise LookupError(f"no sweep {sweep_id} for account {account_pk}")
            stmt = (
                update(Finding)
                .where(
                    _same_account(Finding.account_id, account_pk),
                    Finding.resolved_at.is_(None),
                    or_(Finding.sweep_id.is_(None), Finding.sweep_id != sweep_id),
                    Finding.last_seen < sweep.started_at,
                    # Baseline findings (account, group, user settings) are not meetings: only
                    # a baseline run may resolve them.
                    ~Finding.rule_id.startswith("baseline."),
                )
                .values(resolved_at=now)
                .execution_options(synchronize_session="fetch")
            )
            return _rowcount(s.execute(stmt))

    def resolve_meeting_findings(
        self,
        session: Session | None,
        *,
        account_pk: int | None,
        meeting_id: str,
        now: datetime,
        keep_rules: Collection[str] = (),
    ) -> int:
        """Resolve one meeting's open findings except ``keep_rules`` (still failing).

        For webhooks: a meeting deleted (keep nothing) or re-evaluated after an update.
        """
        stmt = (
            update(Finding)
            .where(
                _same_account(Finding.account_id, account_pk),
                Finding.meeting_id == meeting_id,
                Finding.resolved_at.is_(None),
            )
            .values(resolved_at=now)
            .execution_options(synchronize_session="fetch")
        )
        if keep_rules:
            stmt = stmt.where(Finding.rule_id.not_in(list(keep_rules)))
        with self._joined(session) as s:
            return _rowcount(s.execute(stmt))

    def open_findings(
        self,
        account_pk: int | None = None,
        rule_id: str | None = None,
        status: str | None = None,
    ) -> list[FindingRecord]:
        """Unresolved findings, oldest first; None filters mean "any"."""
        query = select(Finding).where(Finding.resolved_at.is_(None)).order_by(Finding.id)
        if account_pk is not None:
            query = query.where(Finding.account_id == account_pk)
        if rule_id is not None:
            query = query.where(Finding.rule_id == rule_id)
        if status is not None:
            query = query.where(Finding.status == status)
        with self.transaction() as session:
            return [_finding_record(row) for row in session.scalars(query)]

    def all_findings(self, account_pk: int | None = None) -> list[FindingRecord]:
        """Every finding, open and resolved, oldest first (for exports)."""
        query = select(Finding).order_by(Finding.id)
        if account_pk is not None:
            query = query.where(Finding.account_id == account_pk)
        with self.transaction() as session:
            return [_finding_record(row) for row in session.scalars(query)]

    # Audit log (append-only: there is deliberately no update or delete) -----------------------

    def append_audit(
        self,
        session: Session | None,
        *,
        account_pk: int | None,
        actor: str,
        action: str,
        target: str,
        before: Any,
        after: Any,
        confirmed: bool | None,
        detail: str | None = None,
        now: datetime,
    ) -> int:
        with self._joined(session) as s:
            row = AuditEntry(
                at=now,
                account_id=account_pk,
                actor=actor,
                action=action,
                target=target,
                before=before,
                after=after,
                confirmed=confirmed,
                detail=detail,
            )
            s.add(row)
            s.flush()
            return row.id

    def recent_audit(self, limit: int = 50, *, account_pk: int | None = None) -> list[AuditRecord]:
        """Newest first."""
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        if account_pk is not None:
            query = query.where(AuditEntry.account_id == account_pk)
        with self.transaction() as session:
            return [_audit_record(row) for row in session.scalars(query)]

    def last_change(
        self, account_pk: int, target: str, action: str, *, since: datetime
    ) -> AuditRecord | None:
        """The newest audit entry for ``target`` and ``action`` at or after ``since``.

        The webhook worker asks this before patching a meeting again: zoomguard's own PATCH comes
        back as meeting.updated, and a fix Zoom overrode must not be retried in a loop.
        """
        query = (
            select(AuditEntry)
            .where(
                AuditEntry.account_id == account_pk,
                AuditEntry.target == target,
                AuditEntry.action == action,
                AuditEntry.at >= since,
            )
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(1)
        )
        with self.transaction() as session:
            row = session.scalars(query).first()
            return _audit_record(row) if row is not None else None

    # Daily update budget ----------------------------------------------------------------------

    def reserve_update(
        self, session: Session | None, account_pk: int, host_id: str, day: date, budget: int
    ) -> bool:
        """Take one of the host's ``budget`` PATCHes for ``day``; False when none is left.

        One statement does the check and the increment, so concurrent callers (threads or
        processes) can never take more than the budget between them: PostgreSQL re-checks the
        WHERE against the row it waited for, SQLite runs writers one at a time.
        """
        if budget <= 0:
            return False
        with self._joined(session) as s:
            insert = _upsert(s, UpdateCounter).values(
                account_id=account_pk, host_id=host_id, day=day, count=1
            )
            stmt = insert.on_conflict_do_update(
                index_elements=[UpdateCounter.account_id, UpdateCounter.host_id, UpdateCounter.day],
                set_={"count": UpdateCounter.count + 1},
                where=UpdateCounter.count < budget,
            ).returning(UpdateCounter.count)
            return s.execute(stmt).first() is not None

    def release_update(
        self, session: Session | None, account_pk: int, host_id: str, day: date
    ) -> bool:
        """Give back a reserved update whose PATCH was never sent. False if none was held."""
        stmt = (
            update(UpdateCounter)
            .where(
                UpdateCounter.account_id == account_pk,
                UpdateCounter.host_id == host_id,
                UpdateCounter.day == day,
                UpdateCounter.count > 0,
            )
            .values(count=UpdateCounter.count - 1)
            .execution_options(synchronize_session=False)
        )
        with self._joined(session) as s:
            return _rowcount(s.execute(stmt)) == 1

    def updates_used(self, account_pk: int, host_id: str, day: date) -> int:
        with self.transaction() as session:
            row = session.get(UpdateCounter, (account_pk, host_id, day))
            return 0 if row is None else row.count

    # Leases -----------------------------------------------------------------------------------
    # Each call commits on its own: a lease taken inside a longer transaction would be invisible
    # to other processes until that transaction ended.

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float, now: datetime) -> bool:
        """Take the lease if it is free, expired or already ours. Exactly one racer wins."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        expires_at = now + timedelta(seconds=ttl_seconds)
        with self.transaction() as session:
            insert = _upsert(session, Lease).values(name=name, holder=holder, expires_at=expires_at)
            stmt = insert.on_conflict_do_update(
                index_elements=[Lease.name],
                set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
                where=or_(Lease.expires_at <= now, Lease.holder == holder),
            ).returning(Lease.name)
            return session.execute(stmt).first() is not None

    def renew_lease(self, name: str, holder: str, ttl_seconds: float, now: datetime) -> bool:
        """Extend a lease we hold; False if it was taken over (stop working then)."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        stmt = (
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=now + timedelta(seconds=ttl_seconds))
            .execution_options(synchronize_session=False)
        )
        with self.transaction() as session:
            return _rowcount(session.execute(stmt)) == 1

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up if we still hold it; someone else's lease is left alone."""
        stmt = (
            delete(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .execution_options(synchronize_session=False)
        )
        with self.transaction() as session:
            return _rowcount(session.execute(stmt)) == 1

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease right now (None when free or expired)."""
        with self.transaction() as session:
            row = session.get(Lease, name)
            if row is None or row.expires_at <= now:
                return None
            return row.holder
