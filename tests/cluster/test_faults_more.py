"""More faults: a slowloris source, a read-only SQLite location, a full disk under SQLite.

The file-system tests mount small tmpfs file systems (or bind-mount a file read-only), which needs
root and a kernel that lets this process mount; without that they skip and say why.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.daemon import Daemon
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.store import Store
from monitor.store import models as m
from tests.cluster.conftest import Proc, wait_for
from tests.conftest import write_project

# apprise imports imghdr when the daemon's delivery thread first loads it (as in pyproject.toml)
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


# ---- servers ------------------------------------------------------------------------------------
class Slowloris:
    """Answers /robots.txt at once (404); any other path gets its headers, then one byte every
    ``every`` seconds for as long as the client listens."""

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = threading.Event()
        self.pages: list[float] = []  # time.monotonic() of each page request
        self.dribbled: list[int] = []  # bytes sent on each page connection so far
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> Slowloris:
        self._accepter.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._accepter.join(5)
        for t in self._threads:
            t.join(5)
        self.sock.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            head = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
            parts = head.split(b" ", 2)
            path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
            try:
                if path == "/robots.txt":
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                slot = len(self.dribbled)
                self.dribbled.append(0)
                self.pages.append(time.monotonic())
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                )
                while not self.stopping.wait(self.every):
                    conn.sendall(b" ")  # JSON allows leading whitespace: the body is never wrong, only slow
                    self.dribbled[slot] += 1
            except OSError:  # the client gave up: what we want
                return


class Reviews:
    """A JSON review API whose every answer holds ``per_page`` new, long reviews (a growing database)."""

    def __init__(self, per_page: int = 20, size: int = 1500) -> None:
        self.served = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/robots.txt":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                outer.served += 1
                n = outer.served
                rows = [
                    {"id": f"{n}-{k}", "content": f"第{n}批第{k}条评价，物流正常。" + "很好用" * (size // 9)}
                    for k in range(per_page)
                ]
                body = json.dumps({"comments": rows}, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Reviews:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def slowloris() -> Iterator[Slowloris]:
    s = Slowloris().start()
    yield s
    s.stop()


@pytest.fixture
def reviews() -> Iterator[Reviews]:
    r = Reviews().start()
    yield r
    r.stop()


# ---- mounts -------------------------------------------------------------------------------------
def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30, check=False)


def _umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, timeout=30, check=False).returncode:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30, check=False)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points to undo at the end (last first)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs or a read-only bind (permission bits do not stop root)")
    done: list[Path] = []
    yield done
    for p in reversed(done):
        _umount(p)


def tmpfs(mounts: list[Path], where: Path, size: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    r = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    mounts.append(where)
    return where


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def integrity(path: Path, *, read_only: bool = False) -> str:
    """``PRAGMA integrity_check``; ``read_only``: of the main file alone, without writing (read-only media;
    only meaningful for a checkpointed database with no -wal)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True) if read_only else sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def monitor_run(config: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def seeded_db(path: Path) -> None:
    """A migrated database holding a little history (one poll), fully checkpointed (no -wal left)."""
    st = Store.open(f"sqlite:///{path}")
    try:
        with st.transaction() as s:
            s.add(m.Poll(source="seed", started_at=m_now(), finished_at=m_now(), verdict="ok", reason=""))
    finally:
        st.close()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def m_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def no_retries(config: Path) -> Path:
    """``fetch.retries: 0`` in a written project (which may already have a ``fetch:`` block)."""
    text = config.read_text(encoding="utf-8")
    if "\nfetch:\n" in text:
        text = text.replace("\nfetch:\n", "\nfetch:\n  retries: 0\n", 1)
    else:
        text += "fetch: {retries: 0}\n"
    config.write_text(text, encoding="utf-8")
    return config


# ---- slowloris ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_slowloris_source_errors_after_its_timeout_while_other_sources_keep_being_polled(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink, slowloris: Slowloris
) -> None:
    config = no_retries(write_project(tmp_path, storefront.base_url, sink.url))
    (tmp_path / "sources" / "slow.yaml").write_text(
        f"""sources:
  - name: slow
    kind: json
    platform: jd
    timeout: 2s
    url: "{slowloris.url}/api/reviews"
    items: comments
    fields: {{id: id, text: content}}
""",
        encoding="utf-8",
    )
    daemon = Daemon(config, http=False)
    daemon.start()
    try:
        store = daemon.store

        def others() -> int:
            return store.count(m.Poll, m.Poll.source != "slow")

        wait_for(lambda: slowloris.pages, timeout=15, every=0.02)
        t0 = slowloris.pages[0]
        before = others()
        wait_for(lambda: store.count(m.Poll, m.Poll.source == "slow") >= 1, timeout=15, every=0.02)
        took = time.monotonic() - t0
        during = others() - before
        with store.session() as s:
            poll = s.scalars(select(m.Poll).where(m.Poll.source == "slow").order_by(m.Poll.id)).first()
            assert poll is not None
            verdict, reason = poll.verdict, poll.reason
    finally:
        slowloris.stopping.set()  # end the dribble first: a poll that never gave up would block shutdown
        daemon.shutdown()
    assert verdict == "error", (verdict, reason)
    assert "still arriving after the source's timeout" in reason, reason
    assert slowloris.dribbled[0] >= 3  # it really was dribbling when the poll gave up
    assert 1.8 <= took <= 2 + 2.5, took  # bounded by the 2 s timeout, not by the server
    assert during >= 2, during  # the storefront's sources were polled meanwhile


# ---- a read-only location -----------------------------------------------------------------------
def _ro_dir(mounts: list[Path], tmp_path: Path) -> Path:
    """The database in a directory on a tmpfs remounted read-only (lock file and -wal impossible)."""
    d = tmpfs(mounts, tmp_path / "ro", "8m")
    seeded_db(d / "monitor.db")
    r = _mount("-o", "remount,ro", str(d))
    if r.returncode:
        pytest.skip(f"cannot remount the tmpfs read-only: {r.stderr.strip()}")
    return d / "monitor.db"


def _ro_file(mounts: list[Path], tmp_path: Path) -> Path:
    """The database file alone bind-mounted read-only over itself; its directory stays writable."""
    d = tmp_path / "rofile"
    d.mkdir()
    db = d / "monitor.db"
    seeded_db(db)
    r = _mount("--bind", str(db), str(db))
    if r.returncode:
        pytest.skip(f"cannot bind-mount a file: {r.stderr.strip()}")
    mounts.append(db)
    r = _mount("-o", "remount,ro,bind", str(db))
    if r.returncode:
        pytest.skip(f"cannot remount a bind read-only: {r.stderr.strip()}")
    return db


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["read-only directory", "read-only file"])
def test_read_only_sqlite_location_fails_clearly_and_leaves_the_database_intact(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink, mounts: list[Path], layout: str
) -> None:
    db = _ro_dir(mounts, tmp_path) if layout == "read-only directory" else _ro_file(mounts, tmp_path)
    with pytest.raises(OSError, match="Read-only file system"):  # root cannot write there either
        db.open("ab").close()
    before = sha256(db)
    config = write_project(tmp_path / "cfg", storefront.base_url, sink.url, db_url=f"sqlite:///{db}")
    r = monitor_run(config)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "Traceback" not in out, out
    assert "Error:" in r.stderr, out
    assert "read-only" in out.lower() or "readonly" in out.lower(), out
    assert sha256(db) == before
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # nothing was written, not even to the log
    assert integrity(db, read_only=True) == "ok"


# ---- a full disk --------------------------------------------------------------------------------
def fill(directory: Path) -> Path:
    """Write a file until the file system is full; return it."""
    filler = directory / "filler"
    block = b"\0" * 65536
    with filler.open("wb") as f:
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        with contextlib.suppress(OSError):  # the last partial block may not fit either
            f.close()
    return filler


@pytest.mark.slow
def test_full_disk_sqlite_reports_clearly_keeps_the_database_whole_and_recovers(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink, reviews: Reviews, mounts: list[Path]
) -> None:
    d = tmpfs(mounts, tmp_path / "small", "4m")
    db = d / "monitor.db"
    config = write_project(tmp_path / "cfg", storefront.base_url, sink.url, db_url=f"sqlite:///{db}")
    (tmp_path / "cfg" / "sources" / "shop.yaml").write_text(
        f"""sources:
  - name: bulk
    kind: json
    platform: jd
    url: "{reviews.url}/api/reviews"
    items: comments
    fields: {{id: id, text: content}}
""",
        encoding="utf-8",
    )
    proc = Proc(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: "daemon started" in proc.text() or proc.p.poll() is not None, timeout=40)
        assert proc.p.poll() is None, proc.text()
        st = Store.open(f"sqlite:///{db}", migrate=False)
        try:
            wait_for(lambda: proc.p.poll() is None and st.count(m.Item) >= 20, timeout=40)
        finally:
            st.close()
        filler = fill(d)
        wait_for(lambda: "database or disk is full" in proc.text() or proc.p.poll() is not None, timeout=30)
        assert proc.p.poll() is None, proc.text()  # a full disk is no reason to die
        served = reviews.served
        time.sleep(2)
        assert reviews.served > served  # still polling (and failing to store) while full
        filler.unlink()  # room again: polls store again
        st = Store.open(f"sqlite:///{db}", migrate=False)
        try:
            stored = st.count(m.Item)
            wait_for(lambda: st.count(m.Item) > stored, timeout=30)
        finally:
            st.close()
        assert proc.stop() == 0, proc.text()
    finally:
        proc.kill()
    log = proc.text()
    assert "database or disk is full" in log
    assert integrity(db) == "ok"
    st = Store.open(f"sqlite:///{db}", migrate=False)
    try:
        with st.session() as s:
            items = s.scalar(select(func.count()).select_from(m.Item))
            analysed = s.scalar(select(func.count()).select_from(m.Analysis))
            counted = s.scalar(select(func.coalesce(func.sum(m.Poll.items_new), 0)))
    finally:
        st.close()
    assert items == analysed == counted, (items, analysed, counted)  # no item without its analysis or poll
    assert items % 20 == 0  # whole pages only
    # last: a full disk is an operator's problem, said in one line per failed write, not a traceback
    assert "Traceback" not in log, log[-4000:]
