"""Where merchant-API adapters get a shop's access token.

Either straight from the environment (``access_token: ${TAOBAO_SESSION}`` in the source), or from the
encrypted token store that ``monitor auth`` fills (``monitor.shopauth``). The store lives above the
adapters, so it is handed in here: the daemon, ``monitor try-source`` and the console install a
``TokenProvider`` for their process; adapters only see this protocol.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from monitor.adapters.base import BlockedError

__all__ = ["TokenProvider", "TokenUnavailable", "install", "installed"]


class TokenUnavailable(BlockedError):
    """No usable token: never authorised, lapsed, revoked, or the store cannot decrypt it."""


class TokenProvider(Protocol):
    def access_token(self, platform: str, shop: str, now: datetime) -> str:
        """A valid access token for ``shop`` on ``platform`` (refreshed first when it is about to
        expire). Raise ``TokenUnavailable`` saying what the admin must do."""
        ...

    def report_invalid(self, platform: str, shop: str, source: str, reason: str, now: datetime) -> None:
        """The platform rejected the token: mark it and tell the admins to re-authorise."""
        ...


_lock = threading.Lock()
_provider: TokenProvider | None = None


def install(provider: TokenProvider | None) -> TokenProvider | None:
    """Make ``provider`` this process's token source; returns the previous one (to restore)."""
    global _provider
    with _lock:
        previous, _provider = _provider, provider
    return previous


def installed() -> TokenProvider | None:
    with _lock:
        return _provider
