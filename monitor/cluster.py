"""Work sharing between replicas, and the single-process guard for SQLite.

Several ``monitor run`` processes on one PostgreSQL database share the work:

* **Polls** are claimed row by row: a replica locks due ``source_state`` rows with
  ``SELECT … FOR UPDATE SKIP LOCKED`` (due: ``next_due_at`` has passed and no live lease), writes its
  lease (``lease_owner``, ``lease_until``) and commits; only then does it poll. It claims no more than it
  has free workers. Each source has a *home* replica (a hash of its name over the replicas alive, in id
  order): the home may claim it as soon as it is due, the others only ``2 × claim_every`` later. So the
  work spreads evenly even when one replica's claim rounds come late (a busy or starved process would
  otherwise lose every race for due sources), a source is mostly polled by the same replica, and a dead or
  stalled home costs its sources no more than that grace. A finished poll sets the next
  due time and drops the lease. Leases of polls still running are renewed on every claim round; a replica
  that dies stops renewing, and another one takes its sources when the lease runs out.
* **Cluster-wide jobs** (``monitor.jobs``: delivery, alert lifecycle, incidents, watchdog, reports) run
  inside ``pg_try_advisory_xact_lock``: one replica at a time, released by the server even if the holder
  is killed. ``cluster_jobs.last_run_at`` keeps a periodic job to once per period across all replicas.
  Within one process (SQLite too) a job never runs in two threads at once.

SQLite is the single-process default: ``guard_sqlite`` takes an exclusive ``flock`` on ``<db>.lock`` and
a second daemon on the same file stops with a clear error.

A clock that jumps is tolerated: due times and leases further in the future than any interval or lease
could put them are treated as stale (the clock went back) and claimable.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from monitor.config.settings import Cluster as ClusterSettings
from monitor.store import Store, StoreError
from monitor.store import models as m

__all__ = [
    "Claimed",
    "ClusterError",
    "Coordinator",
    "SqliteGuard",
    "guard_sqlite",
    "migrate_serially",
    "replica_id",
]

log = logging.getLogger(__name__)
SS = m.SourceState


class ClusterError(StoreError):
    """The database cannot be shared the way this process wants to use it."""


def replica_id(configured: str | None = None) -> str:
    return configured or f"{socket.gethostname()}:{os.getpid()}"


# ---- SQLite: one process ------------------------------------------------------------------------
class SqliteGuard:
    """An exclusive, non-blocking ``flock`` on ``<database>.lock``; the kernel drops it when the
    process dies, so a crashed daemon never leaves a stale lock behind."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> SqliteGuard:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise ClusterError(
                f"the SQLite database {self.path.with_suffix('')} is in use by {holder}; SQLite allows one "
                "monitor daemon. Stop the other one, or use PostgreSQL (database: postgresql+psycopg://…) "
                "to run several replicas."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"monitor pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None


def guard_sqlite(url: str) -> SqliteGuard | None:
    """Take the single-process lock for a file SQLite URL; ``None`` for other databases."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return SqliteGuard(Path(u.database)).acquire()


def migrate_serially(url: str) -> None:
    """Run the migrations under a PostgreSQL advisory lock, so replicas starting together on a new
    database don't race each other's ``CREATE TABLE``; a no-op for SQLite (one process anyway)."""
    if make_url(url).get_backend_name() != "postgresql":
        return
    from monitor.store.engine import current_revision, make_engine, migrate, script_head

    engine = make_engine(url)
    try:
        head = script_head()
        if head is not None and current_revision(engine) == head:
            return  # at head already: no lock to take, no migration process to start
        with engine.connect() as conn:
            key = _lock_key(str(conn.scalar(select(func.current_schema())) or ""), "migrations")
            conn.scalar(select(func.pg_advisory_lock(key)))
            try:
                migrate(engine)  # in a child process, unless another replica got there first
            finally:
                conn.scalar(select(func.pg_advisory_unlock(key)))
                conn.commit()
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot open the database {engine.url.render_as_string()}: {exc}") from exc
    finally:
        engine.dispose()


# ---- the coordinator ----------------------------------------------------------------------------
class Claimed(list[str]):
    """The names a claim leased, most overdue first; ``sick``: those claimed as sick sources (their last
    poll failed), at most the claim's ``sick_limit``."""

    sick: frozenset[str] = frozenset()


def _lock_key(namespace: str, name: str) -> int:
    digest = hashlib.sha256(f"opinion-monitor:{namespace}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Coordinator:
    """Who runs what. Disabled (SQLite, or ``cluster.enabled: false``) every call lets this process
    run everything; enabled, polls are leased and cluster-wide jobs locked through the database."""

    def __init__(self, store: Store, settings: ClusterSettings, *, owner: str | None = None) -> None:
        self.store = store
        self.settings = settings
        self.owner = replica_id(owner or settings.replica_id)
        enabled = settings.enabled if settings.enabled is not None else store.dialect == "postgresql"
        if enabled and store.dialect != "postgresql":
            raise ClusterError("cluster.enabled needs PostgreSQL; SQLite is single-process")
        self.enabled = enabled
        self.inflight: set[str] = set()
        self._mutex = threading.Lock()
        self._job_locks: dict[str, threading.Lock] = {}  # one thread per job name in this process
        self._namespace = ""
        self._seen_written: datetime | None = None
        self._renewed_at: datetime | None = None
        self._peers: tuple[str, ...] = ()  # replicas alive at the last seen-write, in id order
        if enabled:
            with store.engine.connect() as conn:
                self._namespace = str(conn.scalar(select(func.current_schema())) or "")

    @property
    def lease(self) -> timedelta:
        return self.settings.lease

    # ---- replicas ------------------------------------------------------------------------------
    def join(self, now: datetime) -> None:
        if not self.enabled:
            return
        with self.store.transaction() as s:
            s.merge(
                m.Replica(
                    id=self.owner, host=socket.gethostname(), pid=os.getpid(), started_at=now, seen_at=now
                )
            )
        self._seen_written = now

    def alive(self, now: datetime) -> list[str]:
        """Replicas seen within two lease periods (this one included)."""
        if not self.enabled:
            return [self.owner]
        with self.store.session() as s:
            q = select(m.Replica.id).where(m.Replica.seen_at > now - 2 * self.lease).order_by(m.Replica.id)
            return list(s.scalars(q))

    def leave(self) -> None:
        """Give back this replica's leases at once (clean shutdown) so others need not wait them out."""
        if not self.enabled:
            return
        try:
            with self.store.transaction() as s:
                s.execute(
                    update(SS).where(SS.lease_owner == self.owner).values(lease_owner=None, lease_until=None)
                )
                s.execute(delete(m.Replica).where(m.Replica.id == self.owner))
        except Exception:
            log.warning("could not release this replica's leases; they expire by themselves", exc_info=True)

    # ---- polls ---------------------------------------------------------------------------------
    def register(self, names: Collection[str], now: datetime) -> None:
        """Make every configured source claimable (new ones due now); unconfigured ones never."""
        if not self.enabled:
            return
        from sqlalchemy.dialects.postgresql import insert

        wanted = sorted(names)
        with self.store.transaction() as s:
            if wanted:
                rows = [
                    {"name": n, "cursor": {}, "consecutive_failures": 0, "polls": 0, "had_items": False}
                    for n in wanted
                ]
                for i in range(0, len(rows), 1000):
                    s.execute(insert(SS).values(rows[i : i + 1000]).on_conflict_do_nothing())
                s.execute(
                    update(SS).where(SS.next_due_at.is_(None), SS.name.in_(wanted)).values(next_due_at=now)
                )
            s.execute(
                update(SS).where(SS.next_due_at.is_not(None), SS.name.not_in(wanted)).values(next_due_at=None)
            )

    def claim(
        self,
        now: datetime,
        limit: int,
        horizon: timedelta,
        ended: Sequence[tuple[str, datetime]] = (),
        sick_limit: int | None = None,
    ) -> Claimed:
        """Lease up to ``limit`` due sources to this replica and return their names, most overdue first.

        ``horizon``: the longest interval a source can have; a due time further ahead than that (or a
        lease further ahead than two lease periods) was written by a clock that has since gone back.
        ``ended``: polls over since the last round, (name, next due time), recorded first in the same
        transaction (as ``finish`` would, one statement for all of them).
        ``sick_limit``: the bulkhead (``schedule.sick_share``): at most this many of them may be sick
        sources (``consecutive_failures`` > 0), claimed first, most overdue first; None: no limit. A sick
        source left unclaimed stays due, and is claimed when the share has room.
        """
        if not self.enabled or (limit <= 0 and not ended):
            return Claimed()
        with self._mutex:
            busy = sorted(self.inflight - {name for name, _ in ended})
        lease_ok = or_(
            SS.lease_until.is_(None),
            SS.lease_until <= now,
            SS.lease_until > now + 2 * self.lease,
            SS.lease_owner == self.owner,  # left by a finish that could not be written
        )
        not_running_here = SS.name.not_in(busy) if busy else SS.name.is_not(None)
        peers = self._peers
        if len(peers) > 1 and self.owner in peers:
            home = func.hashtext(SS.name).op("&")(0x7FFFFFFF) % len(peers) == peers.index(self.owner)
            due = or_(
                and_(SS.next_due_at <= now, home),
                SS.next_due_at <= now - 2 * self.settings.claim_every,
                SS.next_due_at > now + horizon,
            )
        else:
            due = or_(SS.next_due_at <= now, SS.next_due_at > now + horizon)
        q = select(SS.name).where(SS.next_due_at.is_not(None), due, lease_ok, not_running_here)

        def due_first(q: Any, n: int) -> Any:
            return q.order_by(SS.next_due_at).limit(n).with_for_update(skip_locked=True)

        sick: list[str] = []
        try:
            with self.store.transaction() as s:
                if ended:
                    self._record_ends(s, ended)
                names: list[str] = []
                if limit > 0 and sick_limit is None:
                    names = list(s.scalars(due_first(q, limit)))
                elif limit > 0 and sick_limit is not None:
                    failing = SS.consecutive_failures > 0
                    if sick_limit > 0:
                        sick = list(s.scalars(due_first(q.where(failing), min(sick_limit, limit))))
                    names = list(sick)
                    if limit > len(sick):
                        names += s.scalars(due_first(q.where(~failing), limit - len(sick)))
                if names:
                    s.execute(
                        update(SS)
                        .where(SS.name.in_(names))
                        .values(lease_owner=self.owner, lease_until=now + self.lease)
                    )
        finally:
            with self._mutex:
                self.inflight.difference_update(name for name, _ in ended)
        with self._mutex:
            self.inflight.update(names)
        out = Claimed(names)
        out.sick = frozenset(sick)
        return out

    def _record_ends(self, s: Session, ended: Sequence[tuple[str, datetime]]) -> None:
        t = cast(Table, SS.__table__)
        stmt = (
            update(t)
            .where(t.c.name == bindparam("n_"), t.c.lease_owner == self.owner)
            .values(next_due_at=bindparam("due_"), lease_owner=None, lease_until=None)
        )
        s.connection().execute(stmt, [{"n_": name, "due_": due} for name, due in ended])

    def renew(self, now: datetime, *, force: bool = True) -> None:
        """Extend the leases of polls still running here (``force``: now; else at most every lease/4);
        refresh this replica's ``seen_at``."""
        if not self.enabled:
            return
        with self._mutex:
            busy = sorted(self.inflight)
        write_seen = self._seen_written is None or abs(now - self._seen_written) >= self.lease / 4
        # a claimed poll's lease runs a whole lease period: renewing every lease/4 keeps 3/4 of it ahead
        renew_due = self._renewed_at is None or abs(now - self._renewed_at) >= self.lease / 4 or force
        if not renew_due:
            busy = []
        if not busy and not write_seen:
            return
        with self.store.transaction() as s:
            if busy:
                s.execute(
                    update(SS)
                    .where(SS.lease_owner == self.owner, SS.name.in_(busy))
                    .values(lease_until=now + self.lease)
                )
            if write_seen:
                s.execute(update(m.Replica).where(m.Replica.id == self.owner).values(seen_at=now))
                if s.get(m.Replica, self.owner) is None:
                    s.add(
                        m.Replica(
                            id=self.owner,
                            host=socket.gethostname(),
                            pid=os.getpid(),
                            started_at=now,
                            seen_at=now,
                        )
                    )
                s.execute(delete(m.Replica).where(m.Replica.seen_at < now - 10 * self.lease))
                alive = select(m.Replica.id).where(m.Replica.seen_at > now - 2 * self.lease)
                peers = tuple(s.scalars(alive.order_by(m.Replica.id)))
        if write_seen:
            self._peers = peers
            self._seen_written = now
        if busy:
            self._renewed_at = now

    def finish(self, name: str, next_due: datetime) -> None:
        """The poll of ``name`` is over: set its next due time and drop the lease (if still ours).

        The source stays in ``inflight`` until that is committed: otherwise a claim round in between
        would see our own live lease and the old due time, and poll it again at once.
        """
        try:
            if self.enabled:
                with self.store.transaction() as s:
                    s.execute(
                        update(SS)
                        .where(SS.name == name, SS.lease_owner == self.owner)
                        .values(next_due_at=next_due, lease_owner=None, lease_until=None)
                    )
        finally:
            with self._mutex:
                self.inflight.discard(name)

    def forget(self, name: str) -> None:
        """Stop tracking ``name`` without touching the database (it failed to record; the lease expires)."""
        with self._mutex:
            self.inflight.discard(name)

    def held(self) -> int:
        with self._mutex:
            return len(self.inflight)

    # ---- cluster-wide jobs ---------------------------------------------------------------------
    @contextlib.contextmanager
    def exclusive(self, name: str, now: datetime, every: timedelta | None = None) -> Iterator[bool]:
        """Yield True if this process should run job ``name`` now: no other thread of it runs the job,
        and (with replicas) it holds the job's advisory lock for the whole block and, with ``every``,
        nobody ran it in the last ``every`` (90 %, so replicas with the same period don't skip a round)."""
        with self._mutex:
            local = self._job_locks.setdefault(name, threading.Lock())
        if not local.acquire(blocking=False):
            yield False
            return
        try:
            with self._cluster_wide(name, now, every) as mine:
                yield mine
        finally:
            local.release()

    @contextlib.contextmanager
    def _cluster_wide(self, name: str, now: datetime, every: timedelta | None) -> Iterator[bool]:
        if not self.enabled:
            yield True
            return
        with self.store.engine.connect() as conn, conn.begin():
            key = _lock_key(self._namespace, name)
            if not conn.scalar(select(func.pg_try_advisory_xact_lock(key))):
                yield False
                return
            if every is not None:
                last = conn.scalar(select(m.ClusterJob.last_run_at).where(m.ClusterJob.name == name))
                if last is not None and last <= now < last + every * 0.9:
                    yield False
                    return
                from sqlalchemy.dialects.postgresql import insert

                ins = insert(m.ClusterJob).values(name=name, owner=self.owner, last_run_at=now)
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=[m.ClusterJob.name], set_={"owner": self.owner, "last_run_at": now}
                    )
                )
            yield True


def next_due(started: datetime, interval: timedelta, jitter: timedelta, rnd: Any = None) -> datetime:
    """When a source polled at ``started`` is due again: one interval later plus up to ``jitter``."""
    import random

    r = rnd or random
    extra = timedelta(seconds=r.uniform(0, jitter.total_seconds())) if jitter > timedelta(0) else timedelta(0)
    return started + interval + extra
