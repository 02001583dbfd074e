"""Engine from URL, SQLite pragmas, Alembic upgrade.

The daemon never imports Alembic (~10 MB of modules it would keep for its whole life, #18): ``migrate``
compares the head revision of the migration files (read as text) with the database's
``alembic_version`` and, only when they differ, runs ``upgrade`` in a child process
(``python -m monitor.store.migrate``), which dies with its parent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


class StoreError(Exception):
    """The database cannot be used (unwritable location, unreachable server ...)."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:":
            parent = Path(db).parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the data directory {parent}: {exc.strerror}") from exc
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # poll workers, the delivery thread, system jobs and the console share the pool
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    # a poll's few rows of one table (its items' analyses) as one multi-row INSERT, not psycopg's
    # executemany, which opens a pipeline for them: much more CPU for two or three rows (#18 throughput).
    # SQLAlchemy leaves out the statements it must not batch (ON CONFLICT DO UPDATE).
    engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


# Page cache per SQLite connection, KiB (SQLite's default is 2,000). The pool holds a connection per
# poll worker, plus delivery, system jobs and the console: ~12 caches, each filling up as the database
# grows (+~20 MB over a round of polls at 10,000 sources, #18 memory). The pages beyond it are read
# from the operating system's file cache.
SQLITE_CACHE_KIB = 512


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent)."""
    from alembic import command

    cfg = alembic_config(engine)
    on_file = engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")
    migrating = _transactional_sqlite(engine) if on_file else engine
    try:
        with migrating.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if migrating is not engine:
            migrating.dispose()


def _transactional_sqlite(engine: Engine) -> Engine:
    """An engine on the same SQLite file whose transactions really enclose DDL. The sqlite3 driver
    opens no transaction before CREATE / ALTER / DROP, so each statement of a migration committed on its
    own: a daemon killed during its first start left tables without a recorded revision, and every
    later start failed ("table alerts already exists"). SQLAlchemy's documented recipe: the driver in
    autocommit, and an explicit BEGIN (IMMEDIATE: one migrating process at a time)."""
    from sqlalchemy.pool import NullPool

    mig = create_engine(engine.url, connect_args={"timeout": 30}, poolclass=NullPool)

    @event.listens_for(mig, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, record)
        dbapi_conn.isolation_level = None

    @event.listens_for(mig, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return mig


# False only in the test suite, which migrates hundreds of fresh databases: a migration process costs
# ~1 s (a Python start-up and the imports), ten times the test of the store contract.
MIGRATE_IN_CHILD = True


class MigrationError(Exception):
    """The migration process failed; the message is the migration's own error."""


_REVISION = re.compile(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=(.*)$", re.M)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def script_head() -> str | None:
    """The head revision of the migration files, read as text (Alembic not imported); None when the
    files are not one plain chain (then the migration process decides, as Alembic would)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if rev is None or down is None:
            return None
        revisions.add(rev.group(1))
        downs.update(_QUOTED.findall(down.group(1)))
    heads = revisions - downs
    return next(iter(heads)) if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in ``alembic_version``; None for a database never migrated (or several
    rows, which this project's single chain never writes)."""
    with engine.connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except DBAPIError:  # no such table: a new database
            return None
    return str(rows[0]) if len(rows) == 1 else None


def migrate(engine: Engine) -> None:
    """Bring the schema to the head revision. Already there (every start but the first after an
    upgrade): two queries, nothing imported. Otherwise the migrations run in a child process, so that
    Alembic's modules never load into this one; an in-memory SQLite database (which a child cannot
    see) is migrated in-process. Raises ``MigrationError`` with the migration's message."""
    head = script_head()
    if head is not None and current_revision(engine) == head:
        return
    in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    if in_memory or not MIGRATE_IN_CHILD:
        upgrade(engine)
        return
    upgrade_in_child(engine)


def upgrade_in_child(engine: Engine, revision: str = "head") -> None:
    """``upgrade`` in ``python -m monitor.store.migrate``: the URL goes over stdin (not the command
    line, where ``ps`` shows passwords), Alembic's progress lines come back on stderr and are logged
    here, the error on stdout. The child is killed if this process dies (Linux: PR_SET_PDEATHSIG)."""
    paths = [p or os.getcwd() for p in sys.path]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONIOENCODING": "utf-8"}
    job = json.dumps({"url": engine.url.render_as_string(hide_password=False), "revision": revision})
    done = subprocess.run(
        [sys.executable, "-m", "monitor.store.migrate", str(os.getpid())],
        input=job,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        check=False,
    )
    for line in done.stderr.splitlines():
        if line.strip():
            log.info("migration: %s", line)
    if done.returncode != 0:
        reason = done.stdout.strip()
        if not reason:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            reason = f"the migration process exited with status {done.returncode}"
            reason += f": {tail}" if tail else ""
        raise MigrationError(reason)
