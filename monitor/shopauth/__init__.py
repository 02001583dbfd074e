"""Shop authorisation for the merchant open platforms (``monitor auth``, the console's 店铺授权 page):
the OAuth code flow, tokens encrypted at rest, refreshed before they expire, and admin alerts when
one is rejected or about to lapse. The adapters see only ``monitor.adapters.credentials``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from monitor.adapters import credentials
from monitor.config import Config
from monitor.shopauth.service import StoreTokenProvider
from monitor.shopauth.vault import TokenVault, VaultError, cipher
from monitor.store import Store

__all__ = ["StoreTokenProvider", "TokenVault", "attach", "provider_for", "vault_for"]
CHECK_EVERY_MINUTES = 30


class Unavailable:
    """The token store cannot be used in this process; every merchant source is told why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def access_token(self, platform: str, shop: str, now: datetime) -> str:
        raise credentials.TokenUnavailable(self.reason)

    def report_invalid(self, platform: str, shop: str, source: str, reason: str, now: datetime) -> None:
        return None


def vault_for(store: Store, config: Config) -> TokenVault:
    return TokenVault(store, cipher(Path(config.path(config.settings.data_dir))))


def provider(store: Store, config: Callable[[], Config]) -> StoreTokenProvider:
    return StoreTokenProvider(vault_for(store, config()), config, httpx.Client(timeout=20))


@contextmanager
def provider_for(config: Config, source: Any) -> Iterator[StoreTokenProvider | None]:
    """For one-shot commands (``monitor try-source``): the token store, installed while inside, when
    ``source`` takes its token from it. Opens an existing database only; never creates one."""
    from monitor.adapters.merchant_api import MerchantApiConfig
    from monitor.store import StoreError

    url = config.database_url
    missing = url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()
    if not isinstance(source, MerchantApiConfig) or source.access_token is not None or missing:
        yield None
        return
    try:
        store = Store.open(url, migrate=False)
    except StoreError:
        yield None
        return
    p = provider(store, lambda: config)
    previous = credentials.install(p)
    try:
        yield p
    finally:
        credentials.install(previous)
        p.client.close()
        store.close()


def attach(daemon: Any) -> None:
    """Give the daemon's sources the token store, and check the tokens every half hour (one replica)."""
    from apscheduler.triggers.interval import IntervalTrigger

    try:
        p = provider(daemon.store, lambda: daemon.config)
    except VaultError as exc:  # a malformed MONITOR_TOKEN_KEY: merchant sources say so, the rest runs
        credentials.install(Unavailable(str(exc)))
        return
    credentials.install(p)

    def job() -> None:
        if daemon.stop_event.is_set():
            return
        try:
            with daemon.cluster.exclusive("shop-auth", daemon.now()) as mine:
                if mine:
                    p.check(daemon.now())
        except Exception:
            import logging

            logging.getLogger(__name__).exception("shop authorisation check failed; will retry")

    daemon.scheduler.add_job(
        job, IntervalTrigger(minutes=CHECK_EVERY_MINUTES), id="shop-auth", executor="system"
    )
