"""Leases and cluster-wide locks, driven with explicit times on a real PostgreSQL; the SQLite guard."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.cluster import ClusterError, Coordinator, guard_sqlite
from monitor.config.settings import Cluster
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import NOW

LEASE = Cluster(enabled=True, lease=timedelta(seconds=10), claim_every=timedelta(seconds=1))
HORIZON = timedelta(minutes=5)
NAMES = [f"s{i:02d}" for i in range(20)]


@pytest.fixture
def store(pg_url: str) -> Store:
    st = Store.open(pg_url)
    yield st  # type: ignore[misc]
    st.close()


def test_each_due_source_goes_to_exactly_one_replica(store: Store) -> None:
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    a.register(NAMES, NOW)
    got_a = a.claim(NOW, 8, HORIZON)
    got_b = b.claim(NOW, 100, HORIZON)
    assert len(got_a) == 8 and len(got_b) == 12
    assert set(got_a).isdisjoint(got_b) and set(got_a) | set(got_b) == set(NAMES)
    assert a.claim(NOW, 100, HORIZON) == [] and b.claim(NOW, 100, HORIZON) == []
    for n in got_a:
        a.finish(n, NOW + timedelta(seconds=60))
    assert b.claim(NOW + timedelta(seconds=5), 100, HORIZON) == []  # a's are not due; b's are leased
    assert sorted(b.claim(NOW + timedelta(seconds=61), 100, HORIZON)) == sorted(got_a)


def test_each_replica_takes_its_home_sources_first_and_the_others_after_a_grace(store: Store) -> None:
    """A replica whose claim rounds come first does not take everything: another replica's home sources
    wait ``2 × claim_every`` for it, then anyone may take them (a dead home costs only that)."""
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    for c in (a, b):
        c.join(NOW)
    for c in (a, b):
        c.renew(NOW + timedelta(seconds=3))  # writes seen_at (every lease/4) and learns who is alive
    a.register(NAMES, NOW + timedelta(seconds=3))
    home_a = a.claim(NOW + timedelta(seconds=3), 100, HORIZON)
    assert 0 < len(home_a) < len(NAMES)
    # "b" is slow: a's next rounds within the grace take none of b's sources
    assert a.claim(NOW + timedelta(seconds=4), 100, HORIZON) == []
    home_b = b.claim(NOW + timedelta(seconds=4), 100, HORIZON)
    assert set(home_a).isdisjoint(home_b) and set(home_a) | set(home_b) == set(NAMES)
    for n in home_a:
        a.finish(n, NOW + timedelta(seconds=30))
    for n in home_b:
        b.finish(n, NOW + timedelta(seconds=30))
    # "b" stalls: once its sources are overdue by the grace, "a" takes them too
    assert sorted(a.claim(NOW + timedelta(seconds=31), 100, HORIZON)) == sorted(home_a)
    assert sorted(a.claim(NOW + timedelta(seconds=32), 100, HORIZON)) == sorted(home_b)


def test_a_claim_round_records_the_polls_that_ended_in_its_transaction(store: Store) -> None:
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    a.register(NAMES, NOW)
    first = a.claim(NOW, 4, HORIZON)
    assert a.held() == 4
    ended = [(n, NOW + timedelta(seconds=60)) for n in first[:3]]
    second = a.claim(NOW + timedelta(seconds=1), 2, HORIZON, ended)
    assert set(second).isdisjoint(first) and len(second) == 2
    assert a.held() == 3  # the one still running and the two just claimed
    with store.session() as s:
        rows = {r.name: r for r in s.scalars(select(m.SourceState).where(m.SourceState.name.in_(first)))}
    for n, due in ended:  # ended: due in a minute, lease dropped
        assert rows[n].next_due_at == due and rows[n].lease_owner is None
    assert rows[first[3]].lease_owner == "a"
    # nobody polls the ended ones again before they are due; b takes the rest
    taken = b.claim(NOW + timedelta(seconds=2), 100, HORIZON)
    assert set(taken) == set(NAMES) - set(first) - set(second)
    # once every lease has run out, only the ended ones wait for their due time
    c = Coordinator(store, LEASE, owner="c")
    assert set(c.claim(NOW + timedelta(seconds=13), 100, HORIZON)) == set(NAMES) - {n for n, _ in ended}
    assert sorted(c.claim(NOW + timedelta(seconds=61), 100, HORIZON)) == sorted(n for n, _ in ended)


def test_dead_replica_loses_its_leases_after_one_lease_period(store: Store) -> None:
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    a.register(NAMES, NOW)
    taken = a.claim(NOW, 5, HORIZON)
    # "a" dies: it never finishes nor renews
    assert set(b.claim(NOW + timedelta(seconds=9), 100, HORIZON)).isdisjoint(taken)
    assert sorted(b.claim(NOW + timedelta(seconds=10), 100, HORIZON)) == sorted(taken)


def test_renewed_leases_are_not_taken(store: Store) -> None:
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    a.register(NAMES, NOW)
    taken = a.claim(NOW, 3, HORIZON)
    a.renew(NOW + timedelta(seconds=8))
    assert set(b.claim(NOW + timedelta(seconds=12), 100, HORIZON)).isdisjoint(taken)


def test_a_finish_after_the_lease_was_taken_over_changes_nothing(store: Store) -> None:
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    a.register(["x"], NOW)
    assert a.claim(NOW, 1, HORIZON) == ["x"]
    assert b.claim(NOW + timedelta(seconds=11), 1, HORIZON) == ["x"]
    a.finish("x", NOW + timedelta(hours=1))  # too late: b owns it now
    st = store.read_source_state("x")
    assert st is not None and st.lease_owner == "b" and st.next_due_at == NOW


def test_clock_that_went_back_does_not_freeze_polls_or_leases(store: Store) -> None:
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    a.register(NAMES, NOW)
    taken = a.claim(NOW, 20, HORIZON)
    for n in taken[:10]:
        a.finish(n, NOW + timedelta(minutes=1))
    earlier = NOW - timedelta(days=1)  # the clock jumps back a day
    assert sorted(b.claim(earlier, 100, HORIZON)) == sorted(NAMES)


def test_own_lease_left_by_a_failed_finish_is_reclaimed(store: Store) -> None:
    a = Coordinator(store, LEASE, owner="a")
    a.register(["x", "y"], NOW)
    assert sorted(a.claim(NOW, 2, HORIZON)) == ["x", "y"]
    a.forget("x")  # its finish could not be written (database away)
    assert a.claim(NOW + timedelta(seconds=1), 5, HORIZON) == ["x"]  # "y" is still running here


def test_racing_replicas_never_claim_the_same_source(store: Store) -> None:
    names = [f"r{i:03d}" for i in range(300)]
    Coordinator(store, LEASE, owner="setup").register(names, NOW)
    coords = [Coordinator(store, LEASE, owner=f"r{i}") for i in range(6)]
    got: dict[str, list[str]] = {c.owner: [] for c in coords}
    barrier = threading.Barrier(len(coords))

    def work(c: Coordinator) -> None:
        barrier.wait()
        while batch := c.claim(NOW, 7, HORIZON):
            got[c.owner].extend(batch)

    threads = [threading.Thread(target=work, args=(c,)) for c in coords]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [n for batch in got.values() for n in batch]
    assert sorted(claimed) == names  # each exactly once
    assert sum(1 for v in got.values() if v) >= 2


def test_register_retires_sources_no_longer_configured(store: Store) -> None:
    a = Coordinator(store, LEASE, owner="a")
    a.register(["x", "y"], NOW)
    a.register(["y"], NOW)
    assert a.claim(NOW, 5, HORIZON) == ["y"]
    a.register(["x", "y"], NOW)
    assert a.claim(NOW, 5, HORIZON) == ["x"]


def test_exclusive_job_runs_on_one_replica_at_a_time_and_once_per_period(store: Store) -> None:
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    inside, release = threading.Event(), threading.Event()
    results: list[bool] = []

    def hold() -> None:
        with a.exclusive("job", NOW) as mine:
            results.append(mine)
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert inside.wait(10)
    with b.exclusive("job", NOW) as mine:
        assert mine is False
    with b.exclusive("other", NOW) as mine:
        assert mine is True
    release.set()
    t.join()
    assert results == [True]
    every = timedelta(seconds=30)
    with a.exclusive("tick", NOW, every) as mine:
        assert mine
    with b.exclusive("tick", NOW + timedelta(seconds=10), every) as mine:
        assert not mine
    with b.exclusive("tick", NOW + timedelta(seconds=28), every) as mine:
        assert mine
    with store.session() as s:
        assert s.scalar(select(m.ClusterJob.owner).where(m.ClusterJob.name == "tick")) == "b"


def test_a_failed_job_does_not_count_as_run(store: Store) -> None:
    a = Coordinator(store, LEASE, owner="a")
    every = timedelta(minutes=1)
    with pytest.raises(RuntimeError), a.exclusive("tick", NOW, every) as mine:
        assert mine
        raise RuntimeError("boom")
    with a.exclusive("tick", NOW + timedelta(seconds=1), every) as mine:
        assert mine


def test_replicas_are_listed_while_alive(store: Store) -> None:
    a, b = Coordinator(store, LEASE, owner="a"), Coordinator(store, LEASE, owner="b")
    a.join(NOW)
    b.join(NOW)
    assert a.alive(NOW + timedelta(seconds=5)) == ["a", "b"]
    a.renew(NOW + timedelta(seconds=19))
    assert a.alive(NOW + timedelta(seconds=25)) == ["a"]
    a.leave()
    assert b.alive(NOW + timedelta(seconds=25)) == []


# ---- SQLite -------------------------------------------------------------------------------------
def test_sqlite_allows_one_daemon_per_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'monitor.db'}"
    first = guard_sqlite(url)
    assert first is not None
    with pytest.raises(ClusterError, match=r"in use by monitor pid \d+.*SQLite allows one monitor daemon"):
        guard_sqlite(url)
    first.release()
    again = guard_sqlite(url)
    assert again is not None
    again.release()
    assert guard_sqlite("sqlite://") is None
    assert guard_sqlite("postgresql+psycopg://u@h/db") is None


def test_sqlite_refuses_cluster_mode(tmp_path: Path) -> None:
    st = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        with pytest.raises(ClusterError, match="needs PostgreSQL"):
            Coordinator(st, LEASE)
        single = Coordinator(st, Cluster())
        assert not single.enabled
        with single.exclusive("deliver", NOW) as mine:
            assert mine
        assert single.claim(NOW, 5, HORIZON) == []
    finally:
        st.close()


def test_sqlite_exclusive_job_runs_once_at_a_time_within_the_process(tmp_path: Path) -> None:
    """Two threads of one daemon (the delivery loop and a caller) never run one job at once."""
    st = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        single = Coordinator(st, Cluster())
        inside, release = threading.Event(), threading.Event()
        results: list[bool] = []

        def hold() -> None:
            with single.exclusive("deliver", NOW) as mine:
                results.append(mine)
                inside.set()
                release.wait(10)

        t = threading.Thread(target=hold)
        t.start()
        assert inside.wait(10)
        with single.exclusive("deliver", NOW) as mine:
            assert mine is False
        with single.exclusive("lifecycle", NOW) as mine:
            assert mine is True
        release.set()
        t.join()
        assert results == [True]
        with single.exclusive("deliver", NOW) as mine:
            assert mine is True  # released with the block
    finally:
        st.close()


def test_the_claim_takes_at_most_sick_limit_failing_sources_first_and_the_rest_stay_due(store: Store) -> None:
    """The bulkhead on the replica path: sources whose last poll failed (consecutive_failures > 0) are
    claimed only up to ``sick_limit``, most overdue first and ahead of healthy ones; those left unclaimed
    stay due and are taken when there is room again."""
    from sqlalchemy import update

    a = Coordinator(store, LEASE, owner="a")
    a.register(NAMES, NOW)
    sick = NAMES[:8]
    with store.transaction() as s:
        s.execute(update(m.SourceState).where(m.SourceState.name.in_(sick)).values(consecutive_failures=2))
        for i, n in enumerate(NAMES):  # s00 most overdue
            s.execute(
                update(m.SourceState)
                .where(m.SourceState.name == n)
                .values(next_due_at=NOW - timedelta(seconds=100 - i))
            )
    got = a.claim(NOW, 6, HORIZON, sick_limit=2)
    assert list(got) == ["s00", "s01", "s08", "s09", "s10", "s11"] and got.sick == {"s00", "s01"}
    none = a.claim(NOW, 4, HORIZON, sick_limit=0)
    assert not none.sick and set(none).isdisjoint(sick)
    rest = a.claim(NOW, 100, HORIZON, sick_limit=3)
    assert rest.sick == {"s02", "s03", "s04"} and set(rest) & set(sick) == rest.sick
    assert a.claim(NOW, 100, HORIZON) == sick[5:]  # no limit: as before
