"""Load: many sources against a loopback storefront, one replica then three, on the local PostgreSQL.

Every source is a ``json`` source on one fast asyncio HTTP server (keep-alive, a small JSON page of
two reviews per path, 404 for robots.txt). The per-host politeness gate would serialise them all to
one request a second, so the bench config sets ``fetch: {per_host: 32, min_interval: 0s}``.

Each phase runs in a fresh PostgreSQL schema (created here, dropped at the end), starts the replicas
as separate ``python -m monitor run`` processes, waits until every replica has joined and polled,
warms up, then measures for a fixed wall time:

* polls per second: rows of ``polls`` whose ``started_at`` lies in the window (and their verdicts);
* CPU seconds in the window (utime+stime of ``/proc/<pid>/stat``) and peak RSS (``VmHWM``) per replica;
* the split between replicas: each replica's ``/metrics`` counter ``monitor_polls_total`` (summed over
  verdicts), read at both ends of the window;
* double polls: consecutive polls of one source (over the whole phase) closer together than its
  interval minus its jitter; must be 0.

Usage::

    python -m bench.load                      # 10,000 sources, 1 then 3 replicas; writes RESULTS.md
    python -m bench.load --sources 500 --seconds 15 --warmup 10 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError

from bench._results import table, write_section
from monitor.store import models as m

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CLK_TCK = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


# ---- the storefront ---------------------------------------------------------------------------
def _page(path: str) -> bytes:
    key = path.rsplit("/", 1)[-1].split("?", 1)[0]
    comments = [
        {
            "id": f"{key}-{n}",
            "content": f"商品{key}质量不错，包装完好，第{n}条评价",
            "nickname": f"user{n}",
            "score": 5,
            "creationTime": "2026-11-20T10:00:00+08:00",
        }
        for n in (1, 2)
    ]
    return json.dumps({"comments": comments}, ensure_ascii=False).encode()


LOGIN_WALL = "https://passport.jd.com/new/login.aspx"


class Front:
    """A minimal HTTP/1.1 keep-alive server on an asyncio loop in a thread.

    ``answer``: how the page of source index ``i`` answers (bench/sick.py): ``ok`` (the JSON page),
    ``hang`` (never answers; the connection stays open until the client gives up), ``500``, or
    ``login`` (a 302 to a login page, as a login wall does). Default: every page is ``ok``."""

    def __init__(self, answer: Callable[[int], str] | None = None) -> None:
        self.answer = answer
        self.delay = 0.0  # seconds before every answer
        self.hangs: list[tuple[float, float]] = []  # (asked, given up), monotonic, of pages never answered
        self.requests = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="front", daemon=True)

    def start(self) -> Front:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=512))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for w in self._writers:  # open connections: closed here, not left to the garbage collector
                w.close()
            tasks = asyncio.all_tasks(self._loop)
            self._loop.run_until_complete(asyncio.wait(tasks, timeout=5) if tasks else asyncio.sleep(0))
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                path = line.split(" ")[1] if " " in line else "/"
                self.requests += 1
                extra = ""
                how = self._how(path)
                if how == "hang":
                    t0 = time.monotonic()
                    while await reader.read(65536):  # until the client gives up and closes
                        pass
                    self.hangs.append((t0, time.monotonic()))
                    return
                if self.delay:
                    await asyncio.sleep(self.delay)
                if how == "500":
                    status, body = "500 Internal Server Error", b"{}"
                elif how == "login":
                    status, body, extra = "302 Found", b"", f"Location: {LOGIN_WALL}\r\n"
                elif path.startswith("/p/"):
                    status, body = "200 OK", _page(path)
                else:
                    status, body = "404 Not Found", b"{}"
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n{extra}"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _how(self, path: str) -> str:
        if self.answer is None or not path.startswith("/p/"):
            return "ok"
        key = path[3:].split("?", 1)[0]
        return self.answer(int(key)) if key.isdigit() else "ok"


# ---- the project ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def write_project(
    workdir: Path,
    front_port: int,
    db_url: str,
    sources: int,
    interval: int,
    workers: int,
    replicas: int,
    extra: str = "",
) -> list[tuple[Path, int]]:
    """A config directory (rules, sources/load.yaml) and one top-level file per replica."""
    if not (workdir / "rules").exists():
        shutil.copytree(ROOT / "rules", workdir / "rules")
    (workdir / "sources").mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{front_port}"
    lines = ["sources:\n"]
    for i in range(sources):
        lines.append(
            f"  - {{name: s{i:05d}, kind: json, platform: jd, url: '{base}/p/{i}', items: comments,"
            " fields: {id: id, text: content, author: nickname, rating: score, published: creationTime}}\n"
        )
    (workdir / "sources" / "load.yaml").write_text("".join(lines), encoding="utf-8")
    out = []
    for r in range(replicas):
        port = free_port()
        path = workdir / f"replica{r}.yaml"
        path.write_text(
            f"""data_dir: data
database: "{db_url}"
workers: {workers}
channels:
  console: {{urls: ["console://"]}}
routing: {{default: [console], admins: [console]}}
analysis: {{workers: 0}}
fetch: {{per_host: 32, min_interval: 0s, retries: 0, allow_private: [127.0.0.1]}}
cluster: {{lease: 30s, claim_every: 0.25s}}
web: {{bind: "127.0.0.1:{port}", report_time: null}}
schedule:
  normal: {{interval: {interval}s, jitter: 0s}}
  promotion: {{interval: {interval}s, jitter: 0s, interval_factor: 1.0}}
{extra}""",
            encoding="utf-8",
        )
        out.append((path, port))
    return out


# ---- the raw floor ----------------------------------------------------------------------------
FLOOR_DDL = (
    "CREATE TABLE IF NOT EXISTS floor_items (source VARCHAR(64) NOT NULL, external_id VARCHAR(64) NOT NULL,"
    " text TEXT, author VARCHAR(64), rating INTEGER, published VARCHAR(40), PRIMARY KEY (source, external_id))"
)


def floor_child(db: str, port: int, sources: int, workers: int, seconds: float) -> None:
    """The raw loop, in a process of its own like a replica: ``workers`` threads, each polling the next
    source (httpx GET on a keep-alive client, JSON parse) and inserting its items in one transaction
    (executemany, ``ON CONFLICT DO NOTHING``). Prints {"polls", "seconds", "cpu"} as JSON."""
    import httpx
    from sqlalchemy import text as sql

    eng = create_engine(db, pool_size=workers, max_overflow=0)
    with eng.begin() as conn:
        conn.execute(sql(FLOOR_DDL))
    ins = sql(
        "INSERT INTO floor_items (source, external_id, text, author, rating, published)"
        " VALUES (:source, :external_id, :text, :author, :rating, :published) ON CONFLICT DO NOTHING"
    )
    counter = iter(range(10**12))
    lock = threading.Lock()
    polls = [0] * workers
    stop = time.monotonic() + seconds

    def work(w: int) -> None:
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < stop:
                with lock:
                    i = next(counter) % sources
                body = client.get(f"http://127.0.0.1:{port}/p/{i}").json()
                rows = [
                    {"source": f"s{i:05d}", "external_id": c["id"], "text": c["content"],
                     "author": c["nickname"], "rating": c["score"], "published": c["creationTime"]}
                    for c in body["comments"]
                ]  # fmt: skip
                with eng.begin() as conn:
                    conn.execute(ins, rows)
                polls[w] += 1

    c0, t0 = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = {"polls": sum(polls), "seconds": time.monotonic() - t0, "cpu": time.process_time() - c0}
    eng.dispose()
    print(json.dumps(out), flush=True)


def run_floor(args: argparse.Namespace, front: Front, db: str) -> dict[str, float]:
    cmd = [sys.executable, "-m", "bench.load", "--floor-child", db, "--floor-port", str(front.port),
           "--sources", str(args.sources), "--workers", str(args.workers), "--seconds", str(args.floor_seconds)]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---- measuring a replica ----------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    """``VmHWM``: the peak resident set; ``VmRSS``: the current one."""
    m = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) / 1024 if m else float("nan")


def polls_total(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read().decode()
    except OSError:
        return None
    return sum(float(v) for v in re.findall(r"^monitor_polls_total\{[^}]*\} (\S+)$", body, re.M))


@dataclass
class Replica:
    config: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    cpu: list[float] = field(default_factory=list)
    polls: list[float] = field(default_factory=list)
    rss: float = 0.0
    rss_now: float = 0.0
    code: int | None = None
    stop_s: float = 0.0

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run", "-c", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.config.parent,
            )

    def snapshot(self) -> None:
        assert self.proc is not None
        self.cpu.append(cpu_seconds(self.proc.pid))
        self.polls.append(polls_total(self.port) or 0.0)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        """Wait for the SIGTERM to work until ``deadline`` (monotonic); SIGKILL after that."""
        if self.proc is None:
            return
        try:
            self.code = self.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.code = self.proc.wait()


@dataclass
class Phase:
    replicas: int
    backend: str = "postgresql"
    floor: dict[str, float] | None = None
    startup: float = 0.0
    window: float = 0.0
    polls: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    doubles: int = 0
    min_gap: float | None = None
    examples: list[str] = field(default_factory=list)
    sources_polled: int = 0
    members: list[Replica] = field(default_factory=list)
    tracebacks: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.backend}, {self.replicas} replica(s)"


def retrying(what: str, fn: Callable[[], T], attempts: int = 30) -> T:
    """PostgreSQL may be restarted under us (other test suites share the server): try again."""
    for i in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if i == attempts - 1:
                raise
            print(f"{what}: {str(exc.orig).strip()}; retrying", flush=True)
            time.sleep(2)
    raise AssertionError("unreachable")


def run_phase(args: argparse.Namespace, front: Front, workdir: Path, n: int, backend: str) -> Phase:
    """One phase: ``n`` replicas on a fresh PostgreSQL schema, or one daemon on a fresh SQLite file."""
    phase = Phase(n, backend)
    if backend == "sqlite":
        db = f"sqlite:///{workdir / f'phase-sqlite-{uuid.uuid4().hex[:6]}.db'}"
        eng = create_engine(db)
        try:
            measure(args, front, workdir, phase, db, eng)
            if args.floor_seconds > 0:
                phase.floor = run_floor(args, front, f"sqlite:///{workdir / 'floor.db'}")
        finally:
            eng.dispose()
        _scan_logs(phase)
        return phase
    schema = f"bench_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.pg, pool_pre_ping=True)

    def ddl(sql: str) -> None:
        with admin.begin() as conn:
            conn.execute(text(sql))

    retrying("create schema", lambda: ddl(f"CREATE SCHEMA {schema}"))
    db = schema_url(args.pg, schema)
    eng = create_engine(db, pool_pre_ping=True)
    try:
        measure(args, front, workdir, phase, db, eng)
        if n == 1 and args.floor_seconds > 0:
            phase.floor = run_floor(args, front, db)
    finally:
        eng.dispose()
        retrying("drop schema", lambda: ddl(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
    _scan_logs(phase)
    return phase


def _scan_logs(phase: Phase) -> None:
    for r in phase.members:
        log = r.log.read_text(encoding="utf-8", errors="replace")
        phase.tracebacks += log.count("Traceback")
        for line in log.splitlines():  # ERROR lines and the exceptions ending tracebacks, numbers blanked
            if " ERROR " in line or re.match(r"^[\w.]+(Error|Exception)\b", line):
                key = re.sub(r"\d+", "N", line.split(" ERROR ", 1)[-1])[:160]
                phase.errors[key] = phase.errors.get(key, 0) + 1


def measure(
    args: argparse.Namespace, front: Front, workdir: Path, phase: Phase, db: str, eng: Engine
) -> None:
    n = phase.replicas
    t0 = t1 = datetime.now(UTC)
    try:
        extra = f"switch_interval: {args.switch_interval}\n" if args.switch_interval else ""
        configs = write_project(workdir, front.port, db, args.sources, args.interval, args.workers, n, extra)
        phase.members = [
            Replica(c, p, workdir / f"phase{n}-{phase.backend}-replica{i}.log")
            for i, (c, p) in enumerate(configs)
        ]
        t_start = time.monotonic()
        for r in phase.members:
            r.start()

        def up() -> bool:
            for r in phase.members:
                if r.proc is not None and r.proc.poll() is not None:
                    raise SystemExit(f"replica exited with {r.proc.returncode}; see {r.log}")
            return all((polls_total(r.port) or 0) > 0 for r in phase.members)

        deadline = time.monotonic() + args.startup_timeout
        while not up():
            if time.monotonic() > deadline:
                raise SystemExit(f"replicas not polling after {args.startup_timeout}s; see {workdir}")
            time.sleep(0.5)
        phase.startup = time.monotonic() - t_start
        print(f"[{phase.label}] all polling after {phase.startup:.1f}s; warm-up {args.warmup}s", flush=True)
        time.sleep(args.warmup)
        t0 = datetime.now(UTC)
        for r in phase.members:
            r.snapshot()
        w0 = time.monotonic()
        time.sleep(args.seconds)
        t1 = datetime.now(UTC)
        for r in phase.members:
            r.snapshot()
            assert r.proc is not None
            r.rss = rss_mb(r.proc.pid)
            r.rss_now = rss_mb(r.proc.pid, "VmRSS")
        phase.window = time.monotonic() - w0
        print(f"[{phase.label}] measured {phase.window:.1f}s; stopping", flush=True)
    finally:
        t_stop = time.monotonic()
        for r in phase.members:
            r.terminate()
        for r in phase.members:
            r.wait(t_stop + args.stop_timeout)
            r.stop_s = time.monotonic() - t_stop
    retrying("read the results", lambda: results(args, phase, eng, t0, t1))


def results(args: argparse.Namespace, phase: Phase, eng: Engine, t0: datetime, t1: datetime) -> None:
    """Counted in Python from the ``polls`` rows (the same on both databases)."""
    with eng.connect() as conn:
        rows = conn.execute(select(m.Poll.source, m.Poll.started_at, m.Poll.verdict)).all()
    phase.verdicts = {}
    by_source: dict[str, list[datetime]] = {}
    for source, started, verdict in rows:
        by_source.setdefault(source, []).append(started)
        if t0 <= started < t1:
            phase.verdicts[verdict] = phase.verdicts.get(verdict, 0) + 1
    phase.polls = sum(phase.verdicts.values())
    phase.sources_polled = len(by_source)
    # consecutive polls of a source, over the whole phase, closer than the interval (jitter is 0 here)
    limit = timedelta(seconds=args.interval)
    doubles: list[tuple[datetime, str, datetime]] = []
    min_gap: timedelta | None = None
    for source, times in by_source.items():
        times.sort()
        for a, b in itertools.pairwise(times):
            gap = b - a
            min_gap = gap if min_gap is None or gap < min_gap else min_gap
            if gap < limit:
                doubles.append((b, source, a))
    phase.doubles = len(doubles)
    phase.min_gap = min_gap.total_seconds() if min_gap is not None else None
    phase.examples = [f"{src}: {a:%H:%M:%S.%f} then {b:%H:%M:%S.%f}" for b, src, a in sorted(doubles)[:5]]


def report(phases: list[Phase], args: argparse.Namespace) -> str:
    headers = ["database", "replicas", "replica", "polls/s", "share of polls", "CPU s (window)", "CPU %",
               "CPU ms per poll", "peak RSS MB", "RSS MB at end", "stop s", "exit code"]  # fmt: skip
    rows: list[list[object]] = []
    floors: list[list[object]] = []
    for ph in phases:
        counted = [r.polls[1] - r.polls[0] for r in ph.members]
        total = sum(counted) or 1.0
        cpu_all = 0.0
        for i, r in enumerate(ph.members):
            cpu = r.cpu[1] - r.cpu[0]
            cpu_all += cpu
            share = counted[i] / total
            rate = counted[i] / ph.window
            pct = cpu / ph.window
            per = f"{1000 * cpu / counted[i]:.1f}" if counted[i] else "-"
            rows.append(
                [ph.backend, ph.replicas, i, f"{rate:.1f}", f"{share:.0%}", f"{cpu:.1f}", f"{pct:.0%}", per,
                 f"{r.rss:.0f}", f"{r.rss_now:.0f}", f"{r.stop_s:.1f}",
                 r.code if r.code is None or r.code >= 0 else f"killed ({r.code})"]
            )  # fmt: skip
        rate_all = ph.polls / ph.window if ph.window else 0.0
        per_all = f"**{1000 * cpu_all / ph.polls:.1f}**" if ph.polls else "-"
        rows.append([ph.backend, ph.replicas, "**all**", f"**{rate_all:.1f}**", "", f"{cpu_all:.1f}", "",
                     per_all, "", "", "", ""])  # fmt: skip
        if ph.floor is not None:
            f = ph.floor
            f_rate = f["polls"] / f["seconds"]
            f_cpu = 1000 * f["cpu"] / f["polls"] if f["polls"] else float("nan")
            floors.append([ph.backend, f"{rate_all:.1f}", f"{f_rate:.1f}", f"**{rate_all / f_rate:.2f}×**",
                           per_all.strip("*"), f"{f_cpu:.1f}"])  # fmt: skip
    summary = table(
        ["database", "replicas", "start-up s", "window s", "polls in window", "verdicts", "sources polled (phase)",
         "double polls", "min gap s", "tracebacks in logs"],
        [[ph.backend, ph.replicas, f"{ph.startup:.1f}", f"{ph.window:.1f}", ph.polls,
          ", ".join(f"{k} {v}" for k, v in sorted(ph.verdicts.items())), ph.sources_polled, ph.doubles,
          f"{ph.min_gap:.1f}" if ph.min_gap is not None else "-", ph.tracebacks] for ph in phases],
    )  # fmt: skip
    floor_table = ""
    if floors:
        floor_table = "\n\n" + table(
            ["database", "monitor polls/s (1 replica)", "raw floor polls/s", "monitor ÷ floor",
             "monitor CPU ms/poll", "floor CPU ms/poll"],
            floors,
        )  # fmt: skip
    notes = (
        f"{args.sources:,} `json` sources (interval {args.interval}s, jitter 0s) on one loopback asyncio "
        f"server; per replica `workers: {args.workers}`, `analysis: {{workers: 0}}`, "
        "`fetch: {per_host: 32, min_interval: 0s, retries: 0, allow_private: [127.0.0.1]}` (the per-host gate would otherwise allow one "
        "request a second to the single loopback host), `cluster: {lease: 30s, claim_every: 0.25s}` "
        "(PostgreSQL; SQLite is one process). "
        f"Warm-up {args.warmup}s after every replica has polled, then a {args.seconds}s window. "
        "polls/s (all) counts `polls` rows whose `started_at` is in the window; the per-replica split is "
        "the delta of each replica's `/metrics` `monitor_polls_total` over the window. CPU: utime+stime from "
        "`/proc/<pid>/stat` over the window (the replica's own process; PostgreSQL's server CPU is not in it); "
        "peak RSS: `VmHWM` of `/proc/<pid>/status` (the whole run, config "
        "loading included), RSS at end: `VmRSS` at the end of the window. "
        "Double polls: consecutive polls of one source, over the whole phase, closer than interval - jitter. "
        f"stop s: from SIGTERM (sent to all replicas at once) to exit; SIGKILL after {args.stop_timeout:g}s. "
        f"Raw floor (after the 1-replica phase, {args.floor_seconds:g}s, its own process): the same server, "
        f"{args.workers} threads, each an httpx GET of the next source's page + JSON parse + one transaction "
        "inserting its two items (executemany, ON CONFLICT DO NOTHING) into the same database. The machine is "
        "shared by several sessions: polls/s swing with its load; CPU ms per poll is the steadier figure."
    )
    errors = [f"- {ph.label}, {c}x: `{e}`" for ph in phases for e, c in ph.errors.items()]
    if errors:
        notes += "\n\nERROR log lines and exceptions in the replicas' logs (digits as N):\n\n" + "\n".join(
            errors
        )
    examples = [f"- {ph.label}: {e}" for ph in phases for e in ph.examples]
    if examples:
        notes += "\n\nDouble polls (first five of each phase):\n\n" + "\n".join(examples)
    return table(headers, rows) + floor_table + "\n\n" + summary + "\n\n" + notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window per phase")
    ap.add_argument("--warmup", type=float, default=20.0, help="after every replica has polled")
    ap.add_argument("--interval", type=int, default=60, help="seconds between polls of one source")
    ap.add_argument("--workers", type=int, default=8, help="concurrent polls per replica")
    ap.add_argument("--replicas", default="1,3", help="PostgreSQL phases, e.g. 1,3 (empty: none)")
    ap.add_argument("--sqlite", action="store_true", help="also one daemon on SQLite (first)")
    ap.add_argument("--floor-seconds", type=float, default=20.0, help="the raw loop's run (0: none)")
    ap.add_argument("--startup-timeout", type=float, default=180.0)
    ap.add_argument("--stop-timeout", type=float, default=60.0, help="SIGKILL a replica not stopped by then")
    ap.add_argument("--pg", default=os.environ.get("MONITOR_TEST_PG_URL") or DEFAULT_PG)
    ap.add_argument(
        "--switch-interval", help="the daemons' switch_interval (e.g. 5ms); default: the product's"
    )
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    ap.add_argument("--floor-child", help=argparse.SUPPRESS)
    ap.add_argument("--floor-port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.floor_child:
        floor_child(args.floor_child, args.floor_port, args.sources, args.workers, args.seconds)
        return 0
    front = Front().start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    phases: list[Phase] = []
    try:
        if args.sqlite:
            phases.append(run_phase(args, front, workdir, 1, "sqlite"))
        for n in (int(x) for x in args.replicas.split(",") if x.strip()):
            phases.append(run_phase(args, front, workdir, n, "postgresql"))
    finally:
        front.stop()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    body = report(phases, args)
    print(body)
    if not args.no_write:
        command = "python -m bench.load " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section("load", "Load: sources per replica, SQLite and PostgreSQL, against the raw floor",
                      command.strip(), body)  # fmt: skip
    bad = [ph for ph in phases if ph.doubles]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
