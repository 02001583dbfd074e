"""Console users, roles, passwords and API tokens (``monitor users``, and the console's login).

Passwords are hashed with argon2id; API tokens are random and only their SHA-256 is stored, so a
copy of the database logs nobody in. There is no default user and no default password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from monitor.store import Store, accounts
from monitor.store import models as m

__all__ = [
    "MIN_PASSWORD",
    "ROLES",
    "TOKEN_PREFIX",
    "UserError",
    "add_user",
    "authenticate",
    "create_token",
    "digest",
    "list_users",
    "revoke_tokens",
    "set_disabled",
    "set_password",
    "set_role",
    "token_user",
]

ROLES: Final = ("admin", "oncall", "pr", "viewer")
TOKEN_PREFIX: Final = "mon_"
MIN_PASSWORD: Final = 10
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH: Final = _hasher.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user operation that cannot be done (unknown role, short password, no such user …)."""


def digest(token: str) -> str:
    """What is stored of a session cookie or an API token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def add_user(store: Store, name: str, role: str, password: str, now: datetime) -> m.User:
    _role(role)
    name = name.strip()
    if not name or len(name) > 80:
        raise UserError("a user name needs 1-80 characters")
    hashed = hash_password(password)
    with store.transaction() as s:
        if accounts.user_named(s, name) is not None:
            raise UserError(f"user {name!r} exists")
        user = m.User(name=name, role=role, password_hash=hashed, disabled=False, created_at=now)
        s.add(user)
        s.flush()
        return user


def _existing(user: m.User | None, name: str) -> m.User:
    if user is None:
        raise UserError(f"no user {name!r}")
    return user


def set_password(store: Store, name: str, password: str) -> None:
    """A new password; the user's open sessions end."""
    hashed = hash_password(password)
    with store.transaction() as s:
        user = _existing(accounts.user_named(s, name), name)
        user.password_hash = hashed
        accounts.end_sessions(s, user_id=user.id)


def set_role(store: Store, name: str, role: str) -> None:
    _role(role)
    with store.transaction() as s:
        _existing(accounts.user_named(s, name), name).role = role


def set_disabled(store: Store, name: str, disabled: bool) -> None:
    """Disable (sessions end, tokens stop working) or enable a user."""
    with store.transaction() as s:
        user = _existing(accounts.user_named(s, name), name)
        user.disabled = disabled
        if disabled:
            accounts.end_sessions(s, user_id=user.id)


def list_users(store: Store) -> list[m.User]:
    return accounts.users(store)


def authenticate(store: Store, name: str, password: str, now: datetime) -> m.User | None:
    """The user when ``password`` is theirs and they are enabled; the hash is renewed when argon2's
    parameters changed. As slow for an unknown name as for a wrong password."""
    with store.transaction() as s:
        user = accounts.user_named(s, name)
        try:
            _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = now
        return user


def create_token(store: Store, name: str, label: str, now: datetime) -> str:
    """A new API token for user ``name``; the only time its value is known."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as s:
        user = _existing(accounts.user_named(s, name), name)
        s.add(
            m.ApiToken(
                user_id=user.id,
                name=label,
                token_hash=digest(token),
                prefix=token[: len(TOKEN_PREFIX) + 6],
                created_at=now,
            )
        )
    return token


def revoke_tokens(store: Store, name: str, now: datetime) -> int:
    with store.transaction() as s:
        user = _existing(accounts.user_named(s, name), name)
        rows = accounts.live_tokens(s, user.id)
        for r in rows:
            r.revoked_at = now
        return len(rows)


def token_user(store: Store, token: str, now: datetime) -> m.User | None:
    """The enabled user an API token belongs to, unless revoked (its last use is noted, once a minute)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with store.transaction() as s:
        found = accounts.api_token(s, digest(token))
        if found is None:
            return None
        tok, user = found
        if tok.revoked_at is not None or user.disabled:
            return None
        if tok.last_used_at is None or now - tok.last_used_at > timedelta(minutes=1):
            tok.last_used_at = now
        return user
