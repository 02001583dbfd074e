"""Three ``monitor run`` processes on one PostgreSQL: shared polls, one delivery, takeover after SIGKILL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.store import Store
from monitor.store import models as m
from tests.cluster.conftest import Proc, free_port, wait_for
from tests.conftest import NOW, write_project

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
FEEDS = 12
LEASE = 4.0
CLUSTER = f"cluster: {{lease: {LEASE:g}s, claim_every: 0.5s}}\n"


@pytest.fixture
def fronts() -> Iterator[list[Storefront]]:
    """More storefronts: the fetcher spaces requests to one host:port 1 s apart in each process."""
    started = [
        Storefront(clock=lambda: 1e9, start_wall=NOW - timedelta(minutes=10)).start() for _ in range(4)
    ]
    yield started
    for f in started:
        f.stop()


def project(
    tmp_path: Path, front: str, sink: str, db: str, replicas: int, feeds: list[str]
) -> list[tuple[Path, int]]:
    """A shared config directory plus one top-level file per replica (each with its own web port)."""
    config = write_project(tmp_path, front, sink, CLUSTER, db_url=db)
    lines = [
        f"  - name: feed-{i:02d}\n    kind: feed\n    platform: weibo\n    interval: 2s\n"
        f'    url: "{feeds[i % len(feeds)]}/rsshub/weibo/keyword/k{i}"\n'
        for i in range(FEEDS)
    ]
    (tmp_path / "sources" / "feeds.yaml").write_text("sources:\n" + "".join(lines), encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    out = []
    for i in range(replicas):
        port = free_port()
        path = tmp_path / f"replica{i}.yaml"
        path.write_text(text.replace("bind: 127.0.0.1:0", f"bind: 127.0.0.1:{port}"), encoding="utf-8")
        out.append((path, port))
    return out


def polls_by_verdict(port: int) -> float:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(v) for v in re.findall(r"^monitor_polls_total\{[^}]*\} (\S+)$", body, re.M))


def test_three_replicas_share_polls_deliver_once_and_take_over_from_a_killed_one(
    tmp_path: Path,
    storefront: Storefront,
    fronts: list[Storefront],
    sink: WebhookSink,
    pg_url: str,
    procs: list[Proc],
) -> None:
    feeds = [f.base_url for f in fronts]
    configs = project(tmp_path, storefront.base_url, sink.url, pg_url, 3, feeds)
    for i, (cfg, _) in enumerate(configs):
        procs.append(Proc(cfg, tmp_path / f"replica{i}.log"))
    store = Store.open(pg_url)
    sources = 3 + FEEDS
    try:
        wait_for(lambda: store.count(m.Replica) == 3, timeout=40)

        def polled_at_least(n: int, since: object = None) -> bool:
            with store.session() as s:
                q = select(m.Poll.source, func.count()).group_by(m.Poll.source)
                if since is not None:
                    q = q.where(m.Poll.started_at > since)
                counts = dict(s.execute(q).all())
            return len(counts) == sources and min(counts.values()) >= n

        # shares are counted once all three are polling: a replica that starts late (a loaded machine
        # can take seconds to import) has missed the first rounds, which says nothing about sharing
        wait_for(lambda: polled_at_least(1), timeout=60)
        wait_for(lambda: min(polls_by_verdict(port) for _, port in configs) > 0, timeout=30)
        with store.session() as s:
            window_start = s.scalar(select(func.now()))
        before = [polls_by_verdict(port) for _, port in configs]
        wait_for(lambda: polled_at_least(3, window_start), timeout=60)
        shares = [polls_by_verdict(port) - b for (_, port), b in zip(configs, before, strict=True)]
        assert min(shares) >= 0.15 * sum(shares), shares  # each replica does its part

        procs[0].kill()
        t0 = time.monotonic()
        with store.session() as s:
            killed_at = s.scalar(select(func.now()))
        # every source is polled again by the survivors: the killed one's within one lease period
        wait_for(lambda: polled_at_least(1, killed_at + timedelta(seconds=LEASE)), timeout=30)
        assert time.monotonic() - t0 < LEASE + 8
        wait_for(lambda: store.count(m.Outbox, m.Outbox.status == "pending") == 0, timeout=30)
        for p in procs[1:]:
            assert p.stop() == 0, p.text()
        with store.session() as s:
            total = s.scalar(select(func.count()).select_from(m.Item))
            distinct = s.scalar(select(func.count(func.distinct(m.Item.source + ":" + m.Item.external_id))))
            polls = s.execute(select(m.Poll.source, m.Poll.started_at).order_by(m.Poll.started_at)).all()
            sent = set(s.scalars(select(m.Outbox.idempotency_key).where(m.Outbox.status == "sent")))
            leases = s.scalar(select(func.count()).where(m.SourceState.lease_owner.is_not(None)))
        assert total == distinct == 18 + FEEDS * 3
        last: dict[str, object] = {}
        for source, started in polls:  # no double polls: consecutive polls of a source >= interval apart
            if source in last:
                assert started - last[source] >= timedelta(seconds=0.5), (source, last[source], started)
            last[source] = started
        keys = sink.keys()
        assert sent and set(keys) == sent
        assert max(keys.values()) == 1  # delivered by one replica at a time: never twice
        assert leases == 0  # the survivors gave their leases back on SIGTERM
        for p in procs[1:]:
            assert "Traceback" not in p.text()
    finally:
        store.close()
