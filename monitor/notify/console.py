"""``console://`` — an apprise plugin that prints notifications to standard output.

Registered through apprise's own decorator API rather than a second plugin system.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from apprise.decorators import notify

from monitor.config.apprise_plugins import ready

ready()  # before the decorator asks apprise's table, which would import every plugin otherwise
_lock = threading.Lock()


@notify(on="console", name="Console output")  # type: ignore[untyped-decorator,no-untyped-call]
def console(body: str, title: str, notify_type: Any, *args: Any, **kwargs: Any) -> bool:
    with _lock:
        bar = "─" * 60
        sys.stdout.write(f"\n{bar}\n{title}\n{body}\n{bar}\n")
        sys.stdout.flush()
    return True
