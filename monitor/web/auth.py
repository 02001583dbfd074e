"""Who is calling the console: roles and their permissions, browser sessions, CSRF, API tokens.

Session cookies are random and only their SHA-256 is stored. Users, passwords and tokens are managed
in ``monitor.admin.users``; this module only lets them in.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from monitor.admin.users import ROLES, SCOPES, digest, token_grant
from monitor.store import Store, accounts
from monitor.store import models as m

__all__ = [
    "PERMISSIONS",
    "ROLE_PERMISSIONS",
    "SCOPE_PERMISSIONS",
    "SESSION_COOKIE",
    "Principal",
    "csrf_ok",
    "end_session",
    "session_principal",
    "start_session",
    "token_principal",
]

# What each role may do. Every route names one permission (see ``monitor.web.guard``).
ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "viewer": frozenset({"read"}),
    "oncall": frozenset({"read", "alerts"}),
    "pr": frozenset({"read", "incidents"}),
    "admin": frozenset({"read", "alerts", "incidents", "rules", "admin"}),
}
PERMISSIONS: Final = ("read", "alerts", "incidents", "rules", "admin")
# What an API token's scope lets it do, within its user's role.
SCOPE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "read": frozenset({"read"}),
    "write": frozenset({"read", "alerts", "incidents"}),
    "admin": frozenset(PERMISSIONS),
}
SESSION_COOKIE: Final = "monitor_session"
assert set(ROLE_PERMISSIONS) == set(ROLES) and set(SCOPE_PERMISSIONS) == set(SCOPES)


@dataclass(frozen=True)
class Principal:
    """Who is making a request: for a browser session its CSRF token, for an API token its scope."""

    user_id: int
    name: str
    role: str
    csrf: str = ""
    session_id: str | None = None
    scope: str | None = None

    def can(self, permission: str) -> bool:
        if permission not in ROLE_PERMISSIONS.get(self.role, frozenset()):
            return False
        return self.scope is None or permission in SCOPE_PERMISSIONS.get(self.scope, frozenset())


def start_session(store: Store, user: m.User, now: datetime, ttl: timedelta) -> tuple[str, str]:
    """(cookie token, csrf token) of a new session; expired sessions are purged on the way."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    row = m.WebSession(id=digest(token), user_id=user.id, csrf=csrf, created_at=now, expires_at=now + ttl)
    with store.transaction() as s:
        accounts.add_session(s, row, now)
    return token, csrf


def end_session(store: Store, session_id: str) -> None:
    with store.transaction() as s:
        accounts.end_sessions(s, session_id=session_id)


def session_principal(store: Store, token: str, now: datetime) -> Principal | None:
    if not token:
        return None
    sid = digest(token)
    found = accounts.session_of(store, sid)
    if found is None:
        return None
    sess, user = found
    if sess.expires_at <= now or user.disabled:
        return None
    return Principal(user.id, user.name, user.role, sess.csrf, sid)


def csrf_ok(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def token_principal(store: Store, token: str, now: datetime) -> Principal | None:
    grant = token_grant(store, token, now)
    if grant is None:
        return None
    return Principal(grant.user.id, grant.user.name, grant.user.role, scope=grant.scope)
