"""Resident memory of the daemon and of its analysis worker at 10,000 sources (issue #18: <= 200 MB).

Starts the real daemon (``monitor run``) on bench/load.py's project (10,000 ``json`` sources on one
loopback server, SQLite) with ``analysis: {workers: 1}``, lets it poll for ``--seconds`` after its
``/metrics`` first counts a poll, then reads ``VmHWM`` (peak) and ``VmRSS`` of the daemon and of each
child process from ``/proc``. SIGTERM after.

    python -m bench.memory [--sources 10000] [--seconds 20] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._results import table, write_section
from bench.load import Front, polls_total, rss_mb, write_project


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        out.extend(int(k) for k in kids)
    return out


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]


def worker_row(config: Path) -> list[object]:
    """The daemon starts its analysis worker only for a batch of 8 items or more (a page of two
    reviews is analysed in-process): the same pool, built from the same config, given one such batch."""
    from monitor.adapters import registry
    from monitor.analyze.pool import AnalysisPool
    from monitor.analyze.rules import NO_CONTEXT
    from monitor.config import load_config

    cfg = load_config(config, registry())
    pool = AnalysisPool(cfg.rules, cfg.priority_words, None, 1)
    try:
        pool.analyze_many([("快递太慢了，等了一周，盒子也破了", NO_CONTEXT)] * 8)
        [kid] = [k for k in children(os.getpid()) if "spawn_main" in cmdline(k)]
        return ["analysis worker", f"{rss_mb(kid):.0f}", f"{rss_mb(kid, 'VmRSS'):.0f}", "", ""]
    finally:
        pool.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sources", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--startup-timeout", type=float, default=300.0)
    ap.add_argument("--label", default="")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    front = Front().start()
    rows: list[list[object]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            db = f"sqlite:///{work / 'data' / 'monitor.db'}"
            (work / "data").mkdir()
            [(config, port)] = write_project(work, front.port, db, args.sources, 60, 8, 1)
            config.write_text(
                config.read_text().replace("analysis: {workers: 0}", "analysis: {workers: 1}"),
                encoding="utf-8",
            )
            log = work / "daemon.log"
            t0 = time.monotonic()
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "monitor", "run", "-c", str(config)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=work,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            try:
                while (polls_total(port) or 0) <= 0:
                    if proc.poll() is not None:
                        raise SystemExit(f"daemon exited {proc.returncode}:\n{log.read_text()[-3000:]}")
                    if time.monotonic() - t0 > args.startup_timeout:
                        raise SystemExit("daemon not polling")
                    time.sleep(0.5)
                startup = time.monotonic() - t0
                time.sleep(args.seconds)
                polls = polls_total(port) or 0
                rows.append(
                    [
                        "daemon",
                        f"{rss_mb(proc.pid):.0f}",
                        f"{rss_mb(proc.pid, 'VmRSS'):.0f}",
                        f"{startup:.1f}",
                        f"{polls:.0f}",
                    ]
                )
                for kid in children(proc.pid):
                    line = cmdline(kid)
                    what = "resource tracker" if "resource_tracker" in line else line
                    rows.append([what, f"{rss_mb(kid):.0f}", f"{rss_mb(kid, 'VmRSS'):.0f}", "", ""])
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
            rows.append(worker_row(config))
    finally:
        front.stop()
    body = table(["process", "peak RSS MB (VmHWM)", "RSS MB now", "start-up s", "polls"], rows)
    print(body)
    if not args.no_write:
        write_section(
            "memory",
            f"Memory at {args.sources:,} sources: the daemon and its analysis worker",
            f"python -m bench.memory --sources {args.sources} --seconds {args.seconds:g}",
            body,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
