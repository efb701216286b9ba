"""Dashboard users: create them, check their passwords, lock them out after repeated failures.

Passwords are hashed with scrypt from the standard library (memory-hard, so a stolen table is
expensive to attack), each with its own random salt; only the hash is stored. The hash format
names its parameters (``scrypt$n$r$p$salt$hash``), so they can be raised later without
invalidating existing passwords.

Two roles: ``admin`` (connect accounts, run sweeps, everything a privacy officer can) and
``privacy_officer`` (read and export). Usernames are case-insensitive and stored lower-case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from zoomguard.errors import UserError
from zoomguard.store.database import Database, utcnow
from zoomguard.store.models import DashboardUser
from zoomguard.store.records import (
    ROLE_ADMIN,
    ROLE_PRIVACY_OFFICER,
    ROLE_TITLES,
    ROLES,
    LoginResult,
    UserRecord,
    user_record,
)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # bounds the work one sign-in attempt can cause

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,149}")

# scrypt cost: n=2**15, r=8, p=1 (werkzeug's default) needs 32 MiB and a fifth of a second or
# so per hash; a sign-in form can afford that, an attacker guessing offline pays it per guess.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_SALT_BYTES = 16
_HASH_BYTES = 32


# --- passwords ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=_SCRYPT_MAXMEM,
        dklen=_HASH_BYTES,
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of ``password`` against a ``hash_password`` value."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Checked against when the username is unknown, so that the answer takes as long either way
# and response times do not tell which usernames exist.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise UserError("the password must not be blank")


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise UserError(
            "a username is 1 to 150 letters, digits or . _ @ + - (starting with a letter or digit)"
        )
    return name


def _by_name(session: Session, name: str, *, lock: bool = False) -> DashboardUser | None:
    query = select(DashboardUser).where(DashboardUser.username == name)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


class DashboardUsers:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self, username: str, password: str, role: str, *, now: datetime | None = None
    ) -> UserRecord:
        if role not in ROLES:
            raise UserError(f"the role must be one of {', '.join(ROLES)}, got {role!r}")
        name = normalise_username(username)
        check_password_strength(password)
        hashed = hash_password(password)  # slow: before the transaction, not inside it
        moment = now or utcnow()
        try:
            with self._db.transaction() as session:
                row = DashboardUser(
                    username=name,
                    password_hash=hashed,
                    role=role,
                    failed_logins=0,
                    created_at=moment,
                    updated_at=moment,
                )
                session.add(row)
                session.flush()
                return user_record(row)
        except exc.IntegrityError:
            raise UserError(f"user {name!r} already exists") from None

    def set_password(
        self, username: str, password: str, *, now: datetime | None = None
    ) -> UserRecord:
        """Change a password; also ends the user's existing sessions."""
        name = normalise_username(username)
        check_password_strength(password)
        hashed = hash_password(password)
        with self._db.transaction() as session:
            row = _by_name(session, name, lock=True)
            if row is None:
                raise UserError(f"no user {name!r}")
            row.password_hash = hashed
            row.failed_logins = 0
            row.locked_until = None
            row.updated_at = now or utcnow()
            session.flush()
            return user_record(row)

    def set_role(self, username: str, role: str, *, now: datetime | None = None) -> UserRecord:
        if role not in ROLES:
            raise UserError(f"the role must be one of {', '.join(ROLES)}, got {role!r}")
        name = normalise_username(username)
        with self._db.transaction() as session:
            row = _by_name(session, name, lock=True)
            if row is None:
                raise UserError(f"no user {name!r}")
            row.role = role
            row.updated_at = now or utcnow()
            session.flush()
            return user_record(row)

    def delete(self, username: str) -> None:
        name = normalise_username(username)
        with self._db.transaction() as session:
            row = _by_name(session, name, lock=True)
            if row is None:
                raise UserError(f"no user {name!r}")
            session.delete(row)

    def get(self, user_id: int) -> UserRecord | None:
        with self._db.transaction() as session:
            row = session.get(DashboardUser, user_id)
            return None if row is None else user_record(row)

    def list_users(self) -> list[UserRecord]:
        with self._db.transaction() as session:
            rows = session.scalars(select(DashboardUser).order_by(DashboardUser.username))
            return [user_record(row) for row in rows]

    def authenticate(
        self, username: str, password: str, *, now: datetime | None = None
    ) -> LoginResult:
        """Check a sign-in: the password is always hashed (against a dummy hash for an unknown
        name), so the time taken does not tell which names exist.

        Lockouts after repeated failures are the web process's, per (username, client address)
        (zoomguard.webhooks.dashboard.signin_guard): a lock kept here, per user, would let anyone
        lock an administrator out everywhere. The password is hashed outside any transaction: on
        SQLite a write transaction holds the database's only write lock, which a slow hash must
        not keep; a failure writes nothing.
        """
        moment = now or utcnow()
        try:
            name = normalise_username(username)
        except UserError:
            name = ""
        password = password[:MAX_PASSWORD_LENGTH]
        row_id: int | None = None
        stored_hash = _dummy_hash()
        with self._db.transaction() as session:
            row = _by_name(session, name) if name else None
            if row is not None:
                row_id, stored_hash = row.id, row.password_hash
        matches = verify_password(password, stored_hash)
        if row_id is None or not matches:
            return LoginResult(None)
        with self._db.transaction() as session:
            current = session.scalars(
                select(DashboardUser).where(DashboardUser.id == row_id).with_for_update()
            ).first()
            if current is None or current.password_hash != stored_hash:
                return LoginResult(None)  # deleted, or the password changed meanwhile
            current.last_login_at = moment
            session.flush()
            return LoginResult(user_record(current))


__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "ROLE_ADMIN",
    "ROLE_PRIVACY_OFFICER",
    "ROLE_TITLES",
    "DashboardUsers",
    "LoginResult",
    "UserError",
    "UserRecord",
    "check_password_strength",
    "hash_password",
    "normalise_username",
    "verify_password",
]
