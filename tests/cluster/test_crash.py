"""SIGKILL at random points of poll, analyze, store and notify, again and again: nothing lost or doubled.

Each round starts ``monitor run`` on the database the previous round left and kills it, either from
inside at a chosen crash point (``MONITOR_FAULT_POINT``/``MONITOR_FAULT_AFTER``: the N-th SQL statement
or commit — which lands anywhere in start-up, fetch bookkeeping, analysis, the poll's transaction,
outbox delivery — or a named stage boundary) or from outside at a random moment.

Notifications are at-least-once: a message sent but not yet recorded as sent when the process dies is
sent again after the restart, with the same idempotency key, and the receiver drops the repeat. So the
sink must have seen every outbox key (none lost), no key the outbox does not have, and the number of
distinct keys equals the number of outbox rows; repeats of a key are allowed and counted.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.store import Store
from monitor.store import models as m
from tests.cluster.conftest import Proc, wait_for
from tests.conftest import NOW, ReviewFeed, write_project

pytestmark = pytest.mark.slow
ROUNDS = int(os.environ.get("MONITOR_CRASH_ROUNDS", "24"))
SEED = int(os.environ.get("MONITOR_CRASH_SEED", "20261123"))
EXPECTED_ITEMS = 18  # 11 JD + 4 shop + 3 Weibo posts in the scenario


def fault(rng: random.Random) -> tuple[dict[str, str], float]:
    """(environment, seconds before an outside SIGKILL) for one round."""
    kind = rng.choice(["sql", "sql", "sql", "poll.start", "poll.stored", "deliver.start", "outside"])
    if kind == "outside":
        return {}, rng.uniform(0.3, 4.0)
    after = rng.randint(1, 250) if kind == "sql" else rng.randint(1, 5)
    return {"MONITOR_FAULT_POINT": kind, "MONITOR_FAULT_AFTER": str(after)}, 6.0  # else killed from outside


def spread(config: Path, fronts: list[str]) -> None:
    """Put the shop and Weibo sources on their own storefronts (requests to one host are spaced 1 s)."""
    src = config.parent / "sources" / "shop.yaml"
    text = src.read_text(encoding="utf-8")
    text = text.replace(f"{fronts[0]}/shop/", f"{fronts[1]}/shop/")
    src.write_text(text.replace(f"{fronts[0]}/rsshub/", f"{fronts[2]}/rsshub/"), encoding="utf-8")


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    config = write_project(tmp_path, storefront.base_url, sink.url)
    others = [Storefront(clock=lambda: 1e9, start_wall=NOW - timedelta(minutes=10)).start() for _ in range(2)]
    spread(config, [storefront.base_url] + [f.base_url for f in others])
    # reviews keep arriving through every kill and restart (8 a second: a few seconds down is more than
    # the 3 pages a poll reads); the probe lost 65 of them over one 78 s restart
    feed = ReviewFeed().start_serving()
    feed.publish(5)
    with (config.parent / "sources" / "shop.yaml").open("a", encoding="utf-8") as f:
        f.write(feed.source_yaml())
    try:
        run_rounds(tmp_path, config, storefront, sink, others, feed)
    finally:
        feed.stop()
        for f in others:
            f.stop()


def had_items(db: Path, source: str) -> bool:
    if not db.exists():
        return False
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        try:
            row = conn.execute("SELECT had_items FROM source_state WHERE name = ?", (source,)).fetchone()
        except sqlite3.OperationalError:  # not migrated yet
            return False
    return bool(row and row[0])


def run_rounds(
    tmp_path: Path,
    config: Path,
    storefront: Storefront,
    sink: WebhookSink,
    others: list[Storefront],
    feed: ReviewFeed,
) -> None:
    db = f"sqlite:///{tmp_path / 'data' / 'monitor.db'}"
    rng = random.Random(SEED)
    killed = 0
    plan = []
    growing = False
    for i in range(ROUNDS):
        if not growing and had_items(tmp_path / "data" / "monitor.db", "growing"):
            feed.grow(8.0)  # once its first poll is stored: what came before is the backfill's business
            growing = True
        env, limit = fault(rng)
        plan.append(
            env.get("MONITOR_FAULT_POINT", f"outside@{limit:.1f}s") + ":" + env.get("MONITOR_FAULT_AFTER", "")
        )
        proc = Proc(config, tmp_path / f"round{i:02d}.log", env)
        deadline = time.monotonic() + limit
        while proc.p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()
        killed += proc.p.returncode == -9
        if i % 6 == 5:
            for f in [storefront, *others]:
                f.delay = rng.choice([0.0, 0.2])
    for f in [storefront, *others]:
        f.delay = 0.0
    assert killed >= 20, plan
    assert growing, "the growing source was never polled in all the rounds"

    final = Proc(config, tmp_path / "final.log")
    store = Store.open(db, migrate=False)
    try:
        wait_for(lambda: "monitor running" in final.text(), timeout=30)
        published = feed.freeze()
        polls_before = store.count(m.Poll)
        with contextlib.suppress(AssertionError):  # what is missing then is reported below
            wait_for(
                lambda: (
                    store.count(m.Item) >= EXPECTED_ITEMS + published
                    and store.count(m.Poll) >= polls_before + 3
                    and store.count(m.Outbox, m.Outbox.status == "pending") == 0
                ),
                timeout=90,
            )
        assert final.stop() == 0, final.text()
        with store.session() as s:
            total = s.scalar(select(func.count()).select_from(m.Item))
            distinct = s.scalar(select(func.count(func.distinct(m.Item.source + ":" + m.Item.external_id))))
            analyses = s.scalar(select(func.count()).select_from(m.Analysis))
            rows = dict(s.execute(select(m.Outbox.idempotency_key, m.Outbox.status)).all())
            integrity = s.scalar(select(func.count()).select_from(m.Alert))
            growing = set(s.scalars(select(m.Item.external_id).where(m.Item.source == "growing")))
            gaps = store.count(m.SourceGap)
    finally:
        store.close()
    lost = feed.ids() - growing
    assert not lost, f"{len(lost)} of {published} reviews published during the kills were lost ({plan})"
    assert gaps == 0
    assert total == distinct == analyses == EXPECTED_ITEMS + published, plan
    assert rows and set(rows.values()) == {"sent"}, rows
    keys = sink.keys()
    assert set(keys) == set(rows), (set(keys) ^ set(rows), plan)  # none lost, none invented
    assert len(keys) == len(rows)
    repeats = sum(n - 1 for n in keys.values())
    print(
        f"{killed} SIGKILLs ({', '.join(plan)}); {published} reviews published meanwhile, 0 lost; "
        f"{len(rows)} notifications, {repeats} re-sent after a kill"
    )
    assert integrity > 0
    assert "Traceback" not in final.text()


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_analysis_workers_and_the_resource_tracker_die_with_a_killed_daemon(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    """They used to stay alive, re-parented (the worker with ~74 MB), after a SIGKILL of the daemon."""
    config = write_project(tmp_path, storefront.base_url, sink.url)
    config.write_text(
        config.read_text(encoding="utf-8").replace("  workers: 0", "  workers: 2"), encoding="utf-8"
    )
    proc = Proc(config, tmp_path / "daemon.log")
    db = f"sqlite:///{tmp_path / 'data' / 'monitor.db'}"
    kids: set[int] = set()
    try:
        wait_for(lambda: "daemon started" in proc.text(), timeout=60)
        store = Store.open(db, migrate=False)
        try:
            wait_for(lambda: store.count(m.Analysis) >= EXPECTED_ITEMS, timeout=60)  # the pool did the work
        finally:
            store.close()
        kids = descendants(proc.p.pid)
        cmdlines = [(Path("/proc") / str(k) / "cmdline").read_bytes() for k in kids if alive(k)]
        assert any(b"multiprocessing" in c and b"spawn" in c for c in cmdlines), cmdlines  # workers, tracker
        proc.p.kill()
        proc.p.wait()
        wait_for(lambda: not [k for k in kids if alive(k)], timeout=15)
    finally:
        proc.kill()
        for k in kids:  # left over only when the test fails
            if alive(k):
                os.kill(k, 9)
