"""Users, roles, sessions, CSRF tokens and API tokens.

Passwords are hashed with argon2id; session cookies and API tokens are random and
only their SHA-256 is stored, so a copy of the database logs nobody in. There is
no default user and no default password: ``monitor users add`` creates them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from monitor.store import Store
from monitor.store import models as m

ROLES: Final = ("admin", "oncall", "pr", "viewer")
# What each role may do. Every route names one permission (see ``monitor.web.routes``).
ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "viewer": frozenset({"read"}),
    "oncall": frozenset({"read", "alerts"}),
    "pr": frozenset({"read", "incidents"}),
    "admin": frozenset({"read", "alerts", "incidents", "rules", "admin"}),
}
PERMISSIONS: Final = ("read", "alerts", "incidents", "rules", "admin")
SESSION_COOKIE: Final = "monitor_session"
TOKEN_PREFIX: Final = "mon_"
MIN_PASSWORD: Final = 10
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH: Final = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    """Who is making a request and, for a browser session, its CSRF token."""

    user_id: int
    name: str
    role: str
    csrf: str = ""
    session_id: str | None = None

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add_user(store: Store, name: str, role: str, password: str, now: datetime) -> m.User:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    name = name.strip()
    if not name or len(name) > 80:
        raise AuthError("a user name needs 1-80 characters")
    hashed = hash_password(password)
    with store.transaction() as s:
        if s.scalars(select(m.User.id).where(m.User.name == name)).first() is not None:
            raise AuthError(f"user {name!r} exists")
        user = m.User(name=name, role=role, password_hash=hashed, disabled=False, created_at=now)
        s.add(user)
        s.flush()
        return user


def set_password(store: Store, name: str, password: str) -> None:
    hashed = hash_password(password)
    with store.transaction() as s:
        user = _user(s, name)
        user.password_hash = hashed
        s.execute(delete(m.WebSession).where(m.WebSession.user_id == user.id))


def set_role(store: Store, name: str, role: str) -> None:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    with store.transaction() as s:
        _user(s, name).role = role


def set_disabled(store: Store, name: str, disabled: bool) -> None:
    with store.transaction() as s:
        user = _user(s, name)
        user.disabled = disabled
        if disabled:
            s.execute(delete(m.WebSession).where(m.WebSession.user_id == user.id))


def list_users(store: Store) -> list[m.User]:
    with store.session() as s:
        return list(s.scalars(select(m.User).order_by(m.User.name)))


def _user(s: object, name: str) -> m.User:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    user = s.scalars(select(m.User).where(m.User.name == name)).first()
    if user is None:
        raise AuthError(f"no user {name!r}")
    return user


def authenticate(store: Store, name: str, password: str, now: datetime) -> m.User | None:
    with store.transaction() as s:
        user = s.scalars(select(m.User).where(m.User.name == name)).first()
        stored = user.password_hash if user is not None else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = now
        return user


def start_session(store: Store, user: m.User, now: datetime, ttl: timedelta) -> tuple[str, str]:
    """(cookie token, csrf token) of a new session; expired sessions are purged on the way."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with store.transaction() as s:
        s.execute(delete(m.WebSession).where(m.WebSession.expires_at <= now))
        s.add(m.WebSession(id=_sha(token), user_id=user.id, csrf=csrf, created_at=now, expires_at=now + ttl))
    return token, csrf


def end_session(store: Store, session_id: str) -> None:
    with store.transaction() as s:
        s.execute(delete(m.WebSession).where(m.WebSession.id == session_id))


def session_principal(store: Store, token: str, now: datetime) -> Principal | None:
    if not token:
        return None
    sid = _sha(token)
    with store.session() as s:
        row = s.execute(
            select(m.WebSession, m.User)
            .join(m.User, m.User.id == m.WebSession.user_id)
            .where(m.WebSession.id == sid)
        ).first()
    if row is None:
        return None
    sess, user = row
    if sess.expires_at <= now or user.disabled:
        return None
    return Principal(user.id, user.name, user.role, sess.csrf, sid)


def csrf_ok(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def create_token(store: Store, name: str, label: str, now: datetime) -> str:
    """A new API token for user ``name``; the only time its value is known."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as s:
        user = _user(s, name)
        s.add(
            m.ApiToken(
                user_id=user.id,
                name=label,
                token_hash=_sha(token),
                prefix=token[: len(TOKEN_PREFIX) + 6],
                created_at=now,
            )
        )
    return token


def revoke_tokens(store: Store, name: str, now: datetime) -> int:
    with store.transaction() as s:
        user = _user(s, name)
        rows = list(
            s.scalars(
                select(m.ApiToken).where(m.ApiToken.user_id == user.id, m.ApiToken.revoked_at.is_(None))
            )
        )
        for r in rows:
            r.revoked_at = now
        return len(rows)


def token_principal(store: Store, token: str, now: datetime) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    with store.transaction() as s:
        row = s.execute(
            select(m.ApiToken, m.User)
            .join(m.User, m.User.id == m.ApiToken.user_id)
            .where(m.ApiToken.token_hash == _sha(token))
        ).first()
        if row is None:
            return None
        tok, user = row
        if tok.revoked_at is not None or user.disabled:
            return None
        if tok.last_used_at is None or now - tok.last_used_at > timedelta(minutes=1):
            tok.last_used_at = now
        return Principal(user.id, user.name, user.role)
