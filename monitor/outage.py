"""A database outage is one log line when it starts and one when it ends.

While PostgreSQL is away (or SQLite's disk is full), every poll, claim round, system job and metrics
scrape fails, several times a second across the daemon's threads; logging each with its traceback
buried the one fact an operator needs (874 tracebacks in 3.5 minutes). Each of those places asks
``DatabaseState.failed`` first: an outage error is counted (and logged at debug), and only the change
of state is logged::

    ERROR 数据库不可用 database unavailable since 2026-11-24 10:31:07 CST (poll of jd-cup): …
    WARNING 数据库恢复 database available again at 2026-11-24 10:33:40 CST, after 2 min 33 s (…)

Errors that are not an outage (a bug, a constraint, a deadlock between transactions) are none of its
business: the caller logs them as before. Recovery is noticed by the next operation that wrote to the
database (a stored poll, a claim round), not by a read that a full disk would still allow.
The self-alert for a daemon that stopped polling is the watchdog's, unchanged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from sqlalchemy import exc as sa_exc

__all__ = ["DatabaseState", "database_unavailable"]

log = logging.getLogger(__name__)
# PostgreSQL SQLSTATE classes meaning "the server cannot serve us now": 08 connection exception,
# 53 insufficient resources (disk full, out of memory, too many connections), 58 system error (I/O),
# 57P0x shutting down / starting up. Not 40 (deadlocks, serialization: a retry's business).
_PG_STATES = ("08", "53", "58", "57P")
# SQLite result codes (base names; extended ones like SQLITE_IOERR_WRITE start with them).
_SQLITE_CODES = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_BUSY")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached or written now, as opposed to a bug or a
    conflict between transactions."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free: the server is stuck
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    orig = exc.orig
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    if name:
        return name.startswith(_SQLITE_CODES)
    state = getattr(orig, "sqlstate", None)
    if state is None:  # no answer from a server at all (PostgreSQL: connection refused, reset …)
        return type(orig).__module__.split(".")[0] != "sqlite3"
    return str(state).startswith(_PG_STATES)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return (text[0] if text else type(orig).__name__)[:300]


def _span(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


class DatabaseState:
    """Whether the database is available, as the daemon's threads find it; thread-safe."""

    def __init__(self, tz: Callable[[], tzinfo] = lambda: UTC) -> None:
        self._tz = tz
        self._lock = threading.Lock()
        self.down_since: datetime | None = None
        self.up_since: datetime | None = None  # when the last outage ended
        self.failures = 0

    @property
    def available(self) -> bool:
        return self.down_since is None

    def _local(self, at: datetime) -> str:
        return at.astimezone(self._tz()).strftime("%Y-%m-%d %H:%M:%S %Z")

    def failed(self, exc: BaseException, now: datetime, what: str) -> bool:
        """Note a failed ``what`` (e.g. "poll of jd-cup"). True when ``exc`` is an outage, which is
        then logged here (once per outage); False for any other error, which the caller logs."""
        if not database_unavailable(exc):
            return False
        with self._lock:
            # an operation that started before the last recovery and failed during the outage (a delivery
            # round still retrying its records) is that outage's, not a new one
            stale = self.down_since is None and self.up_since is not None and now < self.up_since
            first = self.down_since is None and not stale
            if first:
                self.down_since, self.failures = now, 0
            self.failures += 1
        if first:
            log.error(
                "数据库不可用 database unavailable since %s (%s): %s; everything retries, and one line "
                "says when it is back",
                self._local(now),
                what,
                _reason(exc),
            )
        else:
            log.debug("%s failed, the database is still unavailable: %s", what, _reason(exc))
        return True

    def ok(self, now: datetime) -> None:
        """An operation wrote to the database: if it was unavailable, it is back."""
        with self._lock:
            since, failures = self.down_since, self.failures
            if since is None:
                return
            self.down_since, self.up_since = None, now
        log.warning(
            "数据库恢复 database available again at %s, after %s (%d operations failed meanwhile)",
            self._local(now),
            _span(max((now - since).total_seconds(), 0.0)),
            failures,
        )
