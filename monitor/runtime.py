"""What the running daemon offers the faces (the web console, the rule-admin service): a typed view.

``monitor.daemon.Daemon`` implements it; the console and the services depend on this Protocol, never
on the daemon itself, so they can be tested against a small stand-in and the daemon's internals stay
its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from monitor.config import Config
from monitor.observability import Metrics
from monitor.outage import DatabaseState
from monitor.store import Store

__all__ = ["Reloadable", "Runtime"]


class Reloadable(Protocol):
    """The running configuration, and a reload that keeps it when the files on disk are invalid."""

    @property
    def config(self) -> Config: ...

    @property
    def reload_errors(self) -> list[str]:
        """Why the last reload was refused (empty after a good one)."""
        ...

    def reload(self) -> bool:
        """Load the files again; False (and the running config kept) when they are invalid."""
        ...


class Runtime(Reloadable, Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def metrics(self) -> Metrics | None: ...

    @property
    def database(self) -> DatabaseState:
        """Whether the database is available, shared with the console (outages logged once)."""
        ...

    def now(self) -> datetime: ...

    def status(self) -> dict[str, Any]:
        """Counts for /readyz and the settings page (sources, rules, pending notifications)."""
        ...
