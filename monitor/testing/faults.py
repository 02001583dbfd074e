"""Crash points for the SIGKILL tests: the process kills itself at a chosen point.

``MONITOR_FAULT_POINT`` names the points (comma-separated; ``*`` any point; ``sql`` every SQL
statement and commit) and ``MONITOR_FAULT_AFTER`` the hit that kills (default 1). The daemon imports
this module only when ``MONITOR_FAULT_POINT`` is set (``Daemon.start``); otherwise its crash points
are a no-op.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Mapping

from sqlalchemy import Engine, event

__all__ = ["ENV", "Faults"]

log = logging.getLogger(__name__)
ENV = "MONITOR_FAULT_POINT"


class Faults:
    def __init__(self, points: set[str], after: int = 1) -> None:
        self.points = points
        self.after = after
        self.hits = 0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Faults:
        points = {p for p in env.get(ENV, "").split(",") if p}
        return cls(points, int(env.get("MONITOR_FAULT_AFTER", "1") or 1))

    def crash_point(self, name: str) -> None:
        """SIGKILL this process at the configured hit of point ``name``."""
        if name not in self.points and "*" not in self.points:
            return
        with self._lock:
            self.hits += 1
            if self.hits >= self.after:
                log.warning("fault injection: SIGKILL at %s (hit %d)", name, self.hits)
                os.kill(os.getpid(), signal.SIGKILL)

    def install(self, engine: Engine) -> None:
        """Make every SQL statement and commit a crash point when ``sql`` is asked for."""
        if "sql" in self.points:
            event.listen(engine, "before_cursor_execute", lambda *_a, **_k: self.crash_point("sql"))
            event.listen(engine, "commit", lambda *_a: self.crash_point("sql"))
