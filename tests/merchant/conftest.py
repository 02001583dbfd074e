"""Fixtures for the merchant sources: loopback platforms, a project directory, a pipeline context."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.adapters import registry
from monitor.adapters.merchant_api import Bans
from monitor.analyze.pool import AnalysisPool
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.fetch import Fetcher
from monitor.pipeline import Context
from monitor.store import Store
from tests.conftest import LOOPBACK
from tests.sources.conftest import Loopback, write_sources

ENV = {
    "MT_TOP_SECRET": "top-secret", "MT_TOP_SESSION": "6100e2session", "MT_JD_SECRET": "jd-secret",
    "MT_JD_TOKEN": "jd-token", "MT_KS_SECRET": "ks-app-secret", "MT_KS_SIGN": "ks-sign-secret",
    "MT_KS_TOKEN": "ks-token",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _merchant_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    Bans.clear()
    yield
    Bans.clear()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    lb = Loopback().start()
    yield lb
    lb.stop()


MakeCtx = Callable[[str], Context]


@pytest.fixture
def make_ctx(tmp_path: Path, sink: WebhookSink, store_url: str) -> Iterator[MakeCtx]:
    """A pipeline context for a project whose only sources are the given YAML."""
    made: list[tuple[Store, Fetcher]] = []

    def make(sources_yaml: str) -> Context:
        config_path = write_sources(tmp_path, "http://127.0.0.1:9", sink.url, sources_yaml)
        text = config_path.read_text(encoding="utf-8").replace(
            "data_dir: data\n", f"data_dir: data\ndatabase: {store_url}\n"
        )
        config_path.write_text(text, encoding="utf-8")
        config = load_config(config_path, registry())
        store = Store.open(config.database_url)
        fetcher = Fetcher(retries=0, min_interval=0, network=LOOPBACK)
        made.append((store, fetcher))
        return Context(config, store, fetcher, AnalysisPool(config.rules, config.priority_words, None, 0))

    yield make
    for store, fetcher in made:
        fetcher.close()
        store.close()


def env_secret(name: str) -> str:
    return os.environ[name]
