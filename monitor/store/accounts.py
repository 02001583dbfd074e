"""Console users, their browser sessions and API tokens, as rows. Secrets are stored hashed by the
callers (``monitor.admin.users``, ``monitor.web.auth``); nothing here sees a password or a token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case as sa_case
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.store import Store
from monitor.store import models as m

__all__ = [
    "add_session",
    "api_token",
    "clear_logins",
    "end_sessions",
    "live_tokens",
    "lock_login",
    "login_failure",
    "login_locked_until",
    "login_locks",
    "purge_logins",
    "session_of",
    "token_rows",
    "user_named",
    "users",
]


def user_named(s: Session, name: str) -> m.User | None:
    return s.scalars(select(m.User).where(m.User.name == name)).first()


def users(store: Store) -> list[m.User]:
    with store.session() as s:
        return list(s.scalars(select(m.User).order_by(m.User.name)))


def end_sessions(s: Session, *, user_id: int | None = None, session_id: str | None = None) -> None:
    """Delete the sessions of ``user_id``, or the session ``session_id``."""
    q = delete(m.WebSession)
    q = (
        q.where(m.WebSession.user_id == user_id)
        if user_id is not None
        else q.where(m.WebSession.id == session_id)
    )
    s.execute(q)


def add_session(s: Session, session: m.WebSession, now: datetime) -> None:
    """Store a new session; expired ones are purged on the way."""
    s.execute(delete(m.WebSession).where(m.WebSession.expires_at <= now))
    s.add(session)


def session_of(store: Store, session_id: str) -> tuple[m.WebSession, m.User] | None:
    with store.session() as s:
        row = s.execute(
            select(m.WebSession, m.User)
            .join(m.User, m.User.id == m.WebSession.user_id)
            .where(m.WebSession.id == session_id)
        ).first()
    return None if row is None else (row[0], row[1])


def api_token(s: Session, token_hash: str) -> tuple[m.ApiToken, m.User] | None:
    row = s.execute(
        select(m.ApiToken, m.User)
        .join(m.User, m.User.id == m.ApiToken.user_id)
        .where(m.ApiToken.token_hash == token_hash)
    ).first()
    return None if row is None else (row[0], row[1])


def live_tokens(s: Session, user_id: int) -> list[m.ApiToken]:
    return list(
        s.scalars(select(m.ApiToken).where(m.ApiToken.user_id == user_id, m.ApiToken.revoked_at.is_(None)))
    )


def token_rows(s: Session, user_id: int | None = None) -> list[tuple[m.ApiToken, str]]:
    """(token, user name) of every token (of ``user_id``), newest first."""
    q = select(m.ApiToken, m.User.name).join(m.User, m.User.id == m.ApiToken.user_id)
    if user_id is not None:
        q = q.where(m.ApiToken.user_id == user_id)
    return [(t, n) for t, n in s.execute(q.order_by(m.ApiToken.id.desc()))]


# ---- login throttling (monitor.admin.logins) -----------------------------------------------------
def login_locked_until(s: Session, keys: list[str], now: datetime) -> datetime | None:
    """The latest lock still running on any of ``keys``."""
    q = select(m.LoginThrottle.locked_until).where(
        m.LoginThrottle.key.in_(keys), m.LoginThrottle.locked_until > now
    )
    found = [t for t in s.scalars(q) if t is not None]
    return max(found) if found else None


def login_failure(s: Session, key: str, now: datetime, forget_before: datetime) -> int:
    """Count one more failed login for ``key`` (forgetting failures older than ``forget_before``) and
    return the count; one atomic upsert, so replicas counting at once lose nothing."""
    dialect_insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    t = m.LoginThrottle
    fresh = t.last_failed_at < forget_before
    q = (
        dialect_insert(t)
        .values(key=key, failures=1, last_failed_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[t.key],
            set_={
                "failures": sa_case((fresh, 1), else_=t.failures + 1),
                "locked_until": sa_case((fresh, None), else_=t.locked_until),
                "last_failed_at": now,
            },
        )
        .returning(t.failures)
    )
    return int(s.execute(q).scalar_one())


def lock_login(s: Session, key: str, until: datetime) -> None:
    s.execute(update(m.LoginThrottle).where(m.LoginThrottle.key == key).values(locked_until=until))


def clear_logins(s: Session, keys: list[str]) -> int:
    """Forget ``keys``' failures and locks; how many were there."""
    found = list(s.scalars(select(m.LoginThrottle.key).where(m.LoginThrottle.key.in_(keys))))
    s.execute(delete(m.LoginThrottle).where(m.LoginThrottle.key.in_(keys)))
    return len(found)


def purge_logins(s: Session, forget_before: datetime, now: datetime) -> None:
    s.execute(
        delete(m.LoginThrottle).where(
            m.LoginThrottle.last_failed_at < forget_before,
            (m.LoginThrottle.locked_until.is_(None)) | (m.LoginThrottle.locked_until <= now),
        )
    )


def login_locks(store: Store, now: datetime) -> list[m.LoginThrottle]:
    """The locks running now, longest first."""
    with store.session() as s:
        q = select(m.LoginThrottle).where(m.LoginThrottle.locked_until > now)
        return list(s.scalars(q.order_by(m.LoginThrottle.locked_until.desc())))
