"""The bulkhead (issue #18, bad input): sick sources hold at most ``schedule.sick_share`` of the workers.

A real loopback server (bench.load's) where some pages never answer, some answer 500 and some redirect to
a login page; the daemon runs its real scheduler on SQLite with short intervals and timeouts."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.load import Front
from monitor.daemon import Daemon
from monitor.store import models as m
from tests.conftest import ROOT

HEALTHY, HANG, FIVE_HUNDRED, LOGIN = range(4), range(4, 12), range(12, 16), range(16, 20)


def answer(i: int) -> str:
    if i in HANG:
        return "hang"
    if i in FIVE_HUNDRED:
        return "500"
    return "login" if i in LOGIN else "ok"


def project(
    tmp: Path, port: int, sick_share: float, slow_after: str, timeout: str = "1s", retries: int = 0
) -> Path:
    (tmp / "sources").mkdir()
    lines = ["sources:\n"]
    for i in range(20):
        lines.append(
            f"  - {{name: s{i:02d}, kind: json, platform: jd, url: 'http://127.0.0.1:{port}/p/{i}',"
            f" items: comments, timeout: {timeout},"
            " fields: {id: id, text: content, author: nickname, rating: score, published: creationTime}}\n"
        )
    (tmp / "sources" / "load.yaml").write_text("".join(lines), encoding="utf-8")
    shutil.copytree(ROOT / "rules", tmp / "rules")
    cfg = tmp / "monitor.yaml"
    cfg.write_text(
        f"""data_dir: data
workers: 4
channels:
  console: {{urls: ["console://"]}}
routing: {{default: [console], admins: [console]}}
analysis: {{workers: 0}}
alerting: {{blind_after: 2}}
fetch: {{per_host: 32, min_interval: 0s, retries: {retries}, allow_private: [127.0.0.1]}}
web: {{bind: "127.0.0.1:0", report_time: null}}
schedule:
  normal: {{interval: 1s, jitter: 0s}}
  promotion: {{interval: 1s, jitter: 0s, interval_factor: 1.0}}
  sick_share: {sick_share}
  slow_after: {slow_after}
""",
        encoding="utf-8",
    )
    return cfg


def most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    now = peak = 0
    for _, d in edges:
        now += d
        peak = max(peak, now)
    return peak


def run(
    tmp: Path, sick_share: float, slow_after: str, seconds: float, timeout: str = "1s", retries: int = 0
) -> tuple[Daemon, Front, int]:
    front = Front(answer).start()
    daemon = Daemon(project(tmp, front.port, sick_share, slow_after, timeout, retries), http=False)
    queued = 0
    daemon.start()
    try:
        executor = daemon.scheduler._lookup_executor("default")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            queued = max(queued, executor._queue.qsize())
            time.sleep(0.05)
    finally:
        daemon.shutdown()
        daemon.ctx.fetcher.close()  # its keep-alive connections, before the server goes
        front.stop()
    return daemon, front, queued


def polls(daemon: Daemon) -> list[tuple[str, str, str]]:
    from monitor.store import Store

    store = Store.open(daemon.config.database_url)
    try:
        with store.session() as s:
            return [tuple(r) for r in s.execute(select(m.Poll.source, m.Poll.verdict, m.Poll.reason))]  # type: ignore[misc]
    finally:
        store.close()


def test_healthy_sources_keep_their_interval_while_sick_ones_hold_only_their_share(tmp_path: Path) -> None:
    """4 workers, share 0.5: at most 2 polls wait on a page that never answers for longer than slow_after;
    the 4 healthy sources (interval 1 s) are polled about every second; every sick source gets its
    verdict (error for the silent and the 500 ones, blocked for the login wall) and, failing twice, its
    source-health alert; the scheduler's queue never holds more than one run per source."""
    seconds = 10.0
    daemon, front, queued = run(tmp_path, 0.5, "0.3s", seconds)
    rows = polls(daemon)
    by_source = Counter(src for src, _, _ in rows)
    verdicts = {src: {v for s, v, _ in rows if s == src} for src in by_source}
    for i in HEALTHY:
        assert by_source[f"s{i:02d}"] >= 0.6 * seconds, (by_source, daemon.skipped_sick)
        assert verdicts[f"s{i:02d}"] == {"ok"}
    for i in HANG:
        assert verdicts.get(f"s{i:02d}") == {"error"}, verdicts
    for i in FIVE_HUNDRED:
        assert verdicts.get(f"s{i:02d}") == {"error"}, verdicts
    for i in LOGIN:
        assert verdicts.get(f"s{i:02d}") == {"blocked"}, verdicts
    cut = [r for s, v, r in rows if s == "s04" and "slow_after" in r]
    assert cut, "the first poll of a silent source is cut at slow_after"
    waited = [r for s, v, r in rows if s == "s04" and "timed out after 1s" in r]
    assert waited, "later polls of a silent source wait its full timeout, in the sick share"
    assert front.hangs
    long_waits = [(a, b) for a, b in front.hangs if b - a > 0.6]
    assert long_waits and most_at_once(long_waits) <= 2, long_waits
    assert daemon.skipped_sick > 0  # 16 sick sources due every second, 2 places: most turns skipped
    assert queued <= 20  # coalesced: one queued run per source at most
    from monitor.store import Store

    store = Store.open(daemon.config.database_url)
    try:
        with store.session() as s:
            blind = set(s.scalars(select(m.Alert.source).where(m.Alert.kind == "source_health")))
    finally:
        store.close()
    sick = {f"s{i:02d}" for i in (*HANG, *FIVE_HUNDRED, *LOGIN)}
    assert blind == sick


def test_without_a_bulkhead_the_silent_pages_starve_the_healthy_ones(tmp_path: Path) -> None:
    """The load is hard enough to matter: share 1 and slow_after as long as the timeout (3 s, one retry)
    let every worker wait on the silent pages, and the healthy sources fall far behind their interval."""
    seconds = 10.0
    daemon, _, _ = run(tmp_path, 1.0, "3s", seconds, timeout="3s", retries=1)
    by_source = Counter(src for src, _, _ in polls(daemon))
    assert max(by_source[f"s{i:02d}"] for i in HEALTHY) < 0.5 * seconds, by_source


@pytest.mark.parametrize("share", [0.25])
def test_sick_places_are_a_share_of_the_workers_at_least_one(tmp_path: Path, share: float) -> None:
    front = Front().start()
    try:
        daemon = Daemon(project(tmp_path, front.port, share, "5s"), http=False)
        daemon.start()
        try:
            assert daemon.sick_places() == 1  # 4 workers × 0.25
            assert not daemon.sick("s00")
            daemon._slow.add("s00")
            assert daemon.sick("s00")
            taken = [daemon._take_sick_place() for _ in range(3)]
            assert taken == [True, False, False]
            daemon._give_sick_place()
            assert daemon._take_sick_place()
            daemon._give_sick_place()
        finally:
            daemon.shutdown()
            daemon.ctx.fetcher.close()
    finally:
        front.stop()


def test_a_slow_but_working_source_is_polled_in_the_share_with_its_full_timeout(tmp_path: Path) -> None:
    """Outside the share a page slower than slow_after is cut (error); then, in the share, the same page
    works and the source stays there (slow) rather than being cut again; fast again, it leaves."""
    front = Front().start()
    try:
        daemon = Daemon(project(tmp_path, front.port, 0.25, "0.2s"), http=False)
        daemon.start()
        daemon.scheduler.pause()
        try:
            time.sleep(0.5)  # the scheduler's first runs, started before the pause, end
            with daemon._running.setdefault("s00", threading.Lock()):
                front.delay = 0.5
            first = daemon._scheduled_poll("s00")
            assert first is not None and first.verdict == "error" and "slow_after" in first.reason
            assert daemon.sick("s00")
            second = daemon._scheduled_poll("s00")
            assert second is not None and second.verdict == "ok"
            assert daemon.sick("s00") and "s00" in daemon._slow  # slow, not failing
            third = daemon._scheduled_poll("s00")
            assert third is not None and third.verdict == "ok" and daemon.sick("s00")
            front.delay = 0.0
            fourth = daemon._scheduled_poll("s00")
            assert fourth is not None and fourth.verdict == "ok" and not daemon.sick("s00")
            assert daemon.poll("s00") is not None  # by hand: always runs
        finally:
            daemon.shutdown()
            daemon.ctx.fetcher.close()
    finally:
        front.stop()
