"""Bad input (issue #18): all-healthy sources against 30 % silent, 20 % HTTP 500, 10 % login walls.

Two phases in one invocation, one replica on a fresh PostgreSQL schema each (or ``--sqlite``), the same
loopback server (``bench.load.Front``) and the same project (``bench.load.write_project``):

1. every page answers;
2. source ``i`` answers by ``i % 10``: 0-2 never answer (the connection stays open), 3-4 answer 500,
   5 redirects to a login page, 6-9 answer (3,000 / 2,000 / 1,000 / 4,000 of 10,000).

The fetch timeout is scaled down from 20 s to ``--timeout`` (default 2 s) and ``schedule.slow_after`` from
5 s to ``--slow-after`` (default 0.5 s), so the phase runs in minutes; ``retries: 0`` as in bench.load.
Measured per phase after a warm-up, over a window: polls/s of the healthy sources, all polls, CPU ms per
poll (utime+stime of the replica), peak RSS (``VmHWM``), and at the end how many sick sources have a
verdict (a ``polls`` row) and the bulkhead's skipped polls (``/metrics``).

The ratio: healthy polls/s in phase 2 ÷ the smaller of phase 1's polls/s and what phase 2's healthy
sources ask for (their number ÷ the interval): a saturated replica must give the healthy ones the same
throughput; an unsaturated one must poll them at their interval.

Usage::

    python -m bench.sick                                   # 10,000 sources; writes RESULTS.md
    python -m bench.sick --sources 2000 --seconds 30 --no-write
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text

from bench._results import table, write_section
from bench.load import DEFAULT_PG, Front, Replica, retrying, rss_mb, schema_url, write_project
from monitor.store import models as m

KINDS = {0: "hang", 1: "hang", 2: "hang", 3: "500", 4: "500", 5: "login"}


def answer(i: int) -> str:
    return KINDS.get(i % 10, "ok")


@dataclass
class Result:
    label: str
    healthy_sources: int
    window: float = 0.0
    healthy_polls: int = 0
    all_polls: int = 0
    cpu: float = 0.0
    rss: float = 0.0
    sick_sources: int = 0
    sick_with_verdict: int = 0
    verdicts: str = ""
    skipped: float = 0.0
    first_all: float = 0.0  # seconds from start until every source had a poll row (0: not within the run)


def metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read().decode()
    except OSError:
        return 0.0
    return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", body, re.M))


def phase(args: argparse.Namespace, sick: bool, workdir: Path) -> Result:
    front = Front(answer if sick else None).start()
    work = workdir / ("sick" if sick else "healthy")
    work.mkdir()
    schema = f"bench_sick_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.pg, pool_pre_ping=True)
    if args.sqlite:
        db = f"sqlite:///{work / 'sick.db'}"
    else:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        db = schema_url(args.pg, schema)
    extra = f"  sick_share: {args.sick_share}\n  slow_after: {args.slow_after}s\n"
    ((config, port),) = write_project(work, front.port, db, args.sources, args.interval, args.workers, 1)
    text_ = config.read_text(encoding="utf-8").replace("schedule:\n", "schedule:\n" + extra, 1)
    config.write_text(text_, encoding="utf-8")
    sources = work / "sources" / "load.yaml"
    sources.write_text(
        sources.read_text(encoding="utf-8").replace(
            " items: comments,", f" timeout: {args.timeout}s, items: comments,"
        ),
        encoding="utf-8",
    )
    healthy = {f"s{i:05d}" for i in range(args.sources) if not sick or answer(i) == "ok"}
    res = Result("30 % silent, 20 % 500, 10 % login" if sick else "all healthy", len(healthy))
    res.sick_sources = args.sources - len(healthy)
    eng = create_engine(db)
    replica = Replica(config, port, work / "replica.log")
    t_start = time.monotonic()
    try:
        replica.start()
        deadline = time.monotonic() + args.startup_timeout
        while metric(port, "monitor_polls_total") <= 0:
            assert replica.proc is not None
            if replica.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"replica not polling; see {replica.log}")
            time.sleep(0.5)
        time.sleep(args.warmup)
        t0 = datetime.now(UTC)
        replica.snapshot()
        w0 = time.monotonic()
        time.sleep(args.seconds)
        t1 = datetime.now(UTC)
        replica.snapshot()
        res.window = time.monotonic() - w0
        assert replica.proc is not None
        res.rss = rss_mb(replica.proc.pid)
        res.skipped = metric(port, "monitor_polls_skipped_total")
    finally:
        replica.terminate()
        replica.wait(time.monotonic() + 60)
        front.stop()
    with eng.connect() as conn:
        rows = retrying(
            "read", lambda: conn.execute(select(m.Poll.source, m.Poll.started_at, m.Poll.verdict)).all()
        )
    eng.dispose()
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for source, started, verdict in rows:
        seen.add(source)
        if t0 <= started.replace(tzinfo=started.tzinfo or UTC) < t1:
            res.all_polls += 1
            res.healthy_polls += source in healthy
            if source not in healthy:
                counts[verdict] = counts.get(verdict, 0) + 1
    res.sick_with_verdict = len(seen - healthy)
    res.verdicts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"
    res.cpu = replica.cpu[1] - replica.cpu[0]
    del t_start
    if not args.sqlite:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()
    return res


def report(args: argparse.Namespace, a: Result, b: Result) -> str:
    rows = []
    for r in (a, b):
        rows.append([
            r.label, r.healthy_sources, f"{r.window:.0f}", f"{r.healthy_polls / r.window:.1f}",
            f"{r.all_polls / r.window:.1f}", f"{1000 * r.cpu / max(r.all_polls, 1):.1f}",
            f"{1000 * r.cpu / max(r.healthy_polls, 1):.1f}", f"{r.rss:.0f}",
            f"{r.sick_with_verdict} of {r.sick_sources}" if r.sick_sources else "-", r.verdicts, f"{r.skipped:.0f}",
        ])  # fmt: skip
    healthy_a = a.healthy_polls / a.window
    asked = b.healthy_sources / args.interval
    ratio = (b.healthy_polls / b.window) / (min(healthy_a, asked) or float("nan"))
    body = table(
        ["phase", "healthy sources", "window s", "healthy polls/s", "all polls/s", "CPU ms/poll",
         "CPU ms per healthy poll", "peak RSS MB", "sick sources with a verdict", "sick verdicts in window",
         "sick polls skipped"],
        rows,
    )  # fmt: skip
    return (
        body
        + f"\n\n**healthy throughput ratio: {ratio:.2f}** (phase 2 healthy polls/s {b.healthy_polls / b.window:.1f} "
        f"÷ min(phase 1 polls/s {healthy_a:.1f}, asked for {asked:.1f}); target ≥ 0.8)\n\n"
        f"{args.sources:,} `json` sources, interval {args.interval}s, `workers: {args.workers}`, "
        f"`schedule: {{sick_share: {args.sick_share}, slow_after: {args.slow_after}s}}`, source `timeout: "
        f"{args.timeout}s` (scaled down from the 20 s default; slow_after from 5 s alike), `fetch: {{retries: 0, "
        f"per_host: 32, min_interval: 0s}}`, {'SQLite' if args.sqlite else 'PostgreSQL, one replica'}. "
        f"Warm-up {args.warmup}s after the first poll, then a {args.seconds}s window. Sick sources by index "
        "(i % 10): 0-2 never answer, 3-4 HTTP 500, 5 a 302 to passport.jd.com. CPU: the replica's utime+stime "
        "over the window; peak RSS: VmHWM over the whole phase. The machine is shared: compare the two "
        "phases of one run."
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=60.0)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=2.0, help="the sources' fetch timeout, seconds")
    ap.add_argument("--slow-after", type=float, default=0.5, help="schedule.slow_after, seconds")
    ap.add_argument("--sick-share", type=float, default=0.25)
    ap.add_argument("--startup-timeout", type=float, default=300.0)
    ap.add_argument("--sqlite", action="store_true", help="one daemon on SQLite instead of PostgreSQL")
    ap.add_argument("--pg", default=os.environ.get("MONITOR_TEST_PG_URL") or DEFAULT_PG)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sick-"))
    try:
        a = phase(args, False, workdir)
        b = phase(args, True, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    body = report(args, a, b)
    print(body)
    if not args.no_write:
        command = "python -m bench.sick " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(
            "sick",
            "Bad input: silent, failing and login-walled sources (the bulkhead)",
            command.strip(),
            body,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
