"""Notifications first (monitor/priority.py): a poll thread at a yield point waits while an urgent
delivery round runs, never longer than the hold, and not at all when none runs."""

from __future__ import annotations

import threading
import time

from monitor.priority import Priority


def test_no_round_no_wait() -> None:
    p = Priority(hold=5.0)
    t0 = time.monotonic()
    for _ in range(1000):
        p.yield_point()
    assert time.monotonic() - t0 < 0.5


def test_a_poll_waits_for_the_round_to_end() -> None:
    p = Priority(hold=5.0)
    order: list[str] = []
    entered = threading.Event()

    def poll() -> None:
        entered.wait()
        p.yield_point()
        order.append("poll stage")

    t = threading.Thread(target=poll)
    t.start()
    with p.urgent():
        entered.set()
        time.sleep(0.2)  # the poll thread is at its yield point by now
        order.append("delivery done")
    t.join(timeout=5)
    assert order == ["delivery done", "poll stage"]


def test_the_wait_is_bounded_by_the_hold() -> None:
    """A round stuck on a slow chat endpoint holds polls back at most ``hold`` from its start."""
    p = Priority(hold=0.2)
    release = threading.Event()
    waited: list[float] = []

    def slow_round() -> None:
        with p.urgent():
            release.wait(5)

    r = threading.Thread(target=slow_round)
    r.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    p.yield_point()
    waited.append(time.monotonic() - t0)
    p.yield_point()  # past the hold: no more waiting in this round
    waited.append(time.monotonic() - t0)
    release.set()
    r.join(timeout=5)
    assert 0.1 <= waited[0] < 0.5, waited
    assert waited[1] - waited[0] < 0.05, waited


def test_overlapping_rounds_release_when_the_last_ends() -> None:
    p = Priority(hold=5.0)
    with p.urgent():
        with p.urgent():
            pass
        done = threading.Event()

        def poll() -> None:
            p.yield_point()
            done.set()

        t = threading.Thread(target=poll)
        t.start()
        assert not done.wait(0.1)  # the outer round still runs
    assert done.wait(2)
    t.join()
