"""Console users, their browser sessions and API tokens, as rows. Secrets are stored hashed by the
callers (``monitor.admin.users``, ``monitor.web.auth``); nothing here sees a password or a token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from monitor.store import Store
from monitor.store import models as m

__all__ = [
    "add_session",
    "api_token",
    "end_sessions",
    "live_tokens",
    "session_of",
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
