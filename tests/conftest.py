"""Shared fixtures: stores on SQLite and (when MONITOR_TEST_PG_URL is set) PostgreSQL,
a loopback storefront, a webhook sink, and a config directory in tmp_path."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from monitor.config.netpolicy import NetworkPolicy
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.store import Store

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("MONITOR_TEST_PG_URL")
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
LOOPBACK = NetworkPolicy.allowing(["127.0.0.1"])  # for Fetchers pointed at the tests' loopback servers


def shared_data() -> Path:
    return Path(os.environ.get("MONITOR_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL; the store contract runs on both backends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    if not PG_URL:
        pytest.skip("MONITOR_TEST_PG_URL not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    st = Store.open(store_url)
    yield st
    st.close()


@pytest.fixture
def storefront() -> Iterator[Storefront]:
    # Everything in the scenario is visible, published ten minutes before the tests' NOW.
    front = Storefront(clock=lambda: 1e9, start_wall=NOW - timedelta(minutes=10)).start()
    yield front
    front.stop()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    s = WebhookSink().start()
    yield s
    s.stop()


def write_project(
    tmp_path: Path, front_url: str, sink_url: str, extra_settings: str = "", db_url: str | None = None
) -> Path:
    """A config directory like an admin's: monitor.yaml, sources/, rules/ (the default pack)."""
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    (tmp_path / "sources").mkdir(exist_ok=True)
    hook = sink_url.split("://", 1)[1]
    db_line = f"database: {db_url}\n" if db_url else ""
    (tmp_path / "monitor.yaml").write_text(
        f"""data_dir: data
{db_line}reload_check: 1s
deliver_every: 1s
channels:
  console: {{urls: ["console://"]}}
  webhook: {{urls: ["json://{hook}/hook"]}}
routing:
  default: [webhook]
  admins: [webhook]
alerting:
  group_wait: 0s
  burst_min_count: 5
analysis:
  workers: 0
fetch:
  min_interval: 0s  # politeness is tested in tests/sources; here it would only slow the tests
  allow_private: [127.0.0.1]  # the loopback servers; sources are public-only by default
web:
  bind: 127.0.0.1:0
schedule:
  normal: {{interval: 1s, jitter: 0s}}
  promotion: {{interval: 1s, jitter: 0s, interval_factor: 0.5}}
{extra_settings}""",
        encoding="utf-8",
    )
    (tmp_path / "sources" / "shop.yaml").write_text(
        f"""sources:
  - name: jd-cup
    kind: json
    platform: jd
    url: "{front_url}/comment/productPageComments.action?productId=100012043978&page={{page}}&callback=cb"
    first_page: 0
    items: comments
    fields: {{id: id, text: content, author: nickname, rating: score, published: creationTime, sku: referenceId}}
  - name: shop
    kind: html
    platform: shop
    url: "{front_url}/shop/reviews?page={{page}}"
    item: div.review
    fields: {{id: "@data-id", text: p.content, author: .author, rating: ".stars@data-score", sku: .sku, published: "time@datetime"}}
    next: "a.next@href"
  - name: weibo
    kind: feed
    platform: weibo
    url: "{front_url}/rsshub/weibo/keyword/brand"
""",
        encoding="utf-8",
    )
    return tmp_path / "monitor.yaml"
