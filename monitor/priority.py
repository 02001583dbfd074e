"""Notifications first: while a delivery round that was woken by new outbox rows runs, poll threads
pause at their stage boundaries, for at most ``hold`` (setting ``delivery_first``, default
``HOLD``) from the round's start.

Why: Python runs one thread at a time. With many polls finishing at once (synchronized schedules),
the delivery thread waited for the interpreter after each of its own I/O steps (reading the outbox,
the POST, recording it) behind every busy poll thread: the alert reached the chat robot hundreds of
milliseconds after it was stored. Polls are throughput and can wait a few milliseconds; an alert is
latency. The hold is bounded, so a slow chat endpoint (a round waiting seconds on the network) costs
each poll at most ``HOLD`` per round, and rounds run only when something was enqueued.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

HOLD = 0.1  # seconds: polls wait at most this long from the start of an urgent round


class Priority:
    def __init__(self, clock: Callable[[], float] = time.monotonic, hold: float = HOLD) -> None:
        self._clock = clock
        self.hold = hold
        self._lock = threading.Lock()
        self._active = 0
        self._until = 0.0
        self._idle = threading.Event()
        self._idle.set()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Around a delivery round: poll threads arriving at a ``yield_point`` wait for its end."""
        with self._lock:
            self._active += 1
            self._until = self._clock() + self.hold
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._idle.set()

    def yield_point(self) -> None:
        """In a poll thread between stages: let an urgent round run first (bounded by ``hold``)."""
        if self._idle.is_set() or self.hold <= 0:
            return
        left = self._until - self._clock()
        if left > 0:
            self._idle.wait(left)


__all__ = ["HOLD", "Priority"]
