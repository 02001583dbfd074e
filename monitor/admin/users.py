"""Console users, roles, passwords and API tokens (``monitor users``, the console's login and its
users page).

Passwords are hashed with argon2id; API tokens are random and only their SHA-256 is stored, so a
copy of the database logs nobody in. There is no default user and no default password.

A token acts as its user within its **scope**: ``read`` (GET the API), ``write`` (also acknowledge
and resolve alerts, work incident steps), ``admin`` (everything the user's role allows); a role
change applies to its tokens at once. It **expires** (90 days unless said otherwise) and can be
**revoked** one by one. Disabling a user revokes their tokens: enabling them again revives none.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from monitor.store import Store, accounts
from monitor.store import models as m

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "MIN_PASSWORD",
    "ROLES",
    "SCOPES",
    "TOKEN_PREFIX",
    "Grant",
    "TokenInfo",
    "UserError",
    "add_user",
    "authenticate",
    "create_token",
    "digest",
    "list_tokens",
    "list_users",
    "revoke_token",
    "revoke_tokens",
    "set_disabled",
    "set_password",
    "set_role",
    "token_grant",
]

ROLES: Final = ("admin", "oncall", "pr", "viewer")
SCOPES: Final = ("read", "write", "admin")  # what each allows: monitor.web.auth.SCOPE_PERMISSIONS
DEFAULT_TOKEN_LIFETIME: Final = timedelta(days=90)
TOKEN_PREFIX: Final = "mon_"
MIN_PASSWORD: Final = 10
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
    Made at the first such login, not at import: one argon2 hash takes 64 MiB (``memory_cost``) for a
    moment, which was the daemon's peak resident memory at start-up (issue #18)."""
    return _hasher.hash(secrets.token_urlsafe(16))


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


def set_disabled(store: Store, name: str, disabled: bool, now: datetime) -> None:
    """Disable (sessions end, tokens are revoked for good) or enable a user (with no old token)."""
    with store.transaction() as s:
        user = _existing(accounts.user_named(s, name), name)
        user.disabled = disabled
        if disabled:
            accounts.end_sessions(s, user_id=user.id)
            for token in accounts.live_tokens(s, user.id):
                token.revoked_at = now


def list_users(store: Store) -> list[m.User]:
    return accounts.users(store)


def authenticate(store: Store, name: str, password: str, now: datetime) -> m.User | None:
    """The user when ``password`` is theirs and they are enabled; the hash is renewed when argon2's
    parameters changed. As slow for an unknown name as for a wrong password."""
    with store.transaction() as s:
        user = accounts.user_named(s, name)
        try:
            _hasher.verify(user.password_hash if user is not None else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = now
        return user


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token: never its value, which nobody knows after it was printed."""

    id: int
    user: str
    label: str
    prefix: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _info(t: m.ApiToken, user: str) -> TokenInfo:
    return TokenInfo(
        t.id, user, t.name, t.prefix, t.scope, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
    )


def create_token(
    store: Store,
    name: str,
    label: str,
    now: datetime,
    *,
    scope: str = "read",
    lifetime: timedelta | None = DEFAULT_TOKEN_LIFETIME,
) -> str:
    """A new API token for user ``name`` (``lifetime`` None: it never expires); the only time its
    value is known."""
    if scope not in SCOPES:
        raise UserError(f"unknown scope {scope!r} (scopes: {', '.join(SCOPES)})")
    if lifetime is not None and lifetime <= timedelta(0):
        raise UserError("a token's lifetime must be positive")
    if len(label) > 100:
        raise UserError("a token label has at most 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as s:
        user = _existing(accounts.user_named(s, name), name)
        if user.disabled:
            raise UserError(f"user {name!r} is disabled; enable them first")
        s.add(
            m.ApiToken(
                user_id=user.id,
                name=label,
                token_hash=digest(token),
                prefix=token[: len(TOKEN_PREFIX) + 6],
                scope=scope,
                created_at=now,
                expires_at=None if lifetime is None else now + lifetime,
            )
        )
    return token


def list_tokens(store: Store, name: str | None = None) -> list[TokenInfo]:
    """The tokens of user ``name`` (everyone's without), newest first, revoked and expired included."""
    with store.session() as s:
        user_id = None if name is None else _existing(accounts.user_named(s, name), name).id
        return [_info(t, user) for t, user in accounts.token_rows(s, user_id)]


def revoke_token(store: Store, token_id: int, now: datetime) -> TokenInfo:
    """Revoke one token by its id (``monitor users tokens`` lists them); the others keep working."""
    with store.transaction() as s:
        token = s.get(m.ApiToken, token_id)
        if token is None:
            raise UserError(f"no token #{token_id}")
        if token.revoked_at is not None:
            raise UserError(f"token #{token_id} was already revoked")
        token.revoked_at = now
        user = s.get(m.User, token.user_id)
        return _info(token, user.name if user is not None else "?")


def revoke_tokens(store: Store, name: str, now: datetime) -> int:
    """Revoke every live token of user ``name``; how many."""
    with store.transaction() as s:
        user = _existing(accounts.user_named(s, name), name)
        rows = accounts.live_tokens(s, user.id)
        for r in rows:
            r.revoked_at = now
        return len(rows)


@dataclass(frozen=True)
class Grant:
    """Who a valid API token acts as, and within which scope."""

    user: m.User
    scope: str


def token_grant(store: Store, token: str, now: datetime) -> Grant | None:
    """The enabled user an API token acts as, with its scope, unless it is revoked or expired (its
    last use is noted, once a minute)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with store.transaction() as s:
        found = accounts.api_token(s, digest(token))
        if found is None:
            return None
        tok, user = found
        if tok.revoked_at is not None or user.disabled:
            return None
        if tok.expires_at is not None and tok.expires_at <= now:
            return None
        if tok.last_used_at is None or now - tok.last_used_at > timedelta(minutes=1):
            tok.last_used_at = now
        return Grant(user, tok.scope)
