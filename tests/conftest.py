"""Shared fixtures: stores on SQLite and (when MONITOR_TEST_PG_URL is set) PostgreSQL,
a loopback storefront, a webhook sink, and a config directory in tmp_path."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
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


@pytest.fixture(autouse=True)
def _migrate_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Daemons and commands migrate a database in a child process, so that they never import Alembic
    (monitor.store.engine.migrate); a test's fresh database is migrated in-process, which is ten times
    faster. tests/test_store.py tests the child; the daemons the tests start as processes use it."""
    from monitor.store import engine

    monkeypatch.setattr(engine, "MIGRATE_IN_CHILD", False)


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
chat:
  backfill: alert  # the scenario's reviews are days old by a daemon's real clock: alert on them anyway
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


class ReviewFeed:
    """A JSON review API on loopback, newest first, 10 per page (``?page=N`` from 1), that keeps
    growing: ``publish(n)`` adds reviews now, or ``rate`` adds that many per second of wall time until
    ``freeze()``. ``max_page`` caps how far its paging reaches back (JD's answers stop at page 100).

    Every review ever published is in ``ids()``, so a test can count exactly what a daemon lost."""

    def __init__(self, rate: float = 0.0, max_page: int | None = None, start: datetime = NOW) -> None:
        import json
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        self.rate, self.max_page, self.start = rate, max_page, start
        self.published = 0
        self.requests: list[str] = []
        self._t0 = time.monotonic()
        self._frozen: int | None = None
        self._lock = threading.Lock()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/robots.txt":
                    body, status = b"", 404
                else:
                    with feed._lock:
                        feed.requests.append(self.path)
                    page = int(parse_qs(parts.query).get("page", ["1"])[0])
                    body, status = json.dumps(feed.page(page), ensure_ascii=False).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a daemon killed mid-answer (the crash tests) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._clock = time.monotonic

    def start_serving(self) -> ReviewFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self) -> int:
        if self._frozen is not None:
            return self._frozen
        return self.published + int((self._clock() - self._t0) * self.rate)

    def publish(self, n: int) -> None:
        self.published += n

    def grow(self, rate: float) -> None:
        """From now on, ``rate`` new reviews a second."""
        self.published, self._t0, self.rate = self.count(), self._clock(), rate

    def freeze(self) -> int:
        """Stop growing; return how many reviews were published in all."""
        self._frozen = self.count()
        return self._frozen

    def ids(self) -> set[str]:
        return {f"r{i}" for i in range(self.count())}

    def page(self, page: int) -> dict[str, object]:
        n = self.count()
        newest_first = range(n - 1, -1, -1)
        chunk = (
            []
            if self.max_page is not None and page > self.max_page
            else newest_first[(page - 1) * 10 : page * 10]
        )
        cst = timezone(timedelta(hours=8))
        rows = [
            {
                "id": f"r{i}",
                "content": f"第{i}条评价：物流正常，东西不错。",
                "score": 5,
                "creationTime": (self.start + timedelta(seconds=i))
                .astimezone(cst)
                .strftime("%Y-%m-%d %H:%M:%S"),
            }
            for i in chunk
        ]
        return {"comments": rows, "maxPage": -(-n // 10)}

    def source_yaml(self, name: str = "growing", **extra: object) -> str:
        more = "".join(f"    {k}: {v}\n" for k, v in extra.items())
        return (
            f"  - name: {name}\n    kind: json\n    platform: jd\n"
            f'    url: "{self.url}/api/reviews?page={{page}}"\n'
            "    items: comments\n"
            "    fields: {id: id, text: content, rating: score, published: creationTime}\n" + more
        )
