"""Source throughput: pages per second fetched, parsed and stored, against the raw floor in the same run.

A loopback server serves PAGES review pages (HTML, ITEMS reviews each, linked by "next"). Measured:

* ``monitor``: one ``kind: html`` source polled through ``monitor.pipeline.collect`` (the real Fetcher with
  robots.txt, host gate, body cap, decoding; the adapter; normalization; a first poll, so no
  per-page "already stored?" lookups) and stored with ``Store.diff`` + ``Store.save_items`` in one
  transaction (SQLite). Analysis and alerting are not sources' work and are left out.
* ``floor``: httpx GET of the same pages + selectolax parse of the same fields + one ``executemany``
  insert into SQLite.

Run: ``python -m bench.sources`` (``--pages``, ``--items``, ``--repeat``, ``--no-write``).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from selectolax.lexbor import LexborHTMLParser

from bench._results import table, write_section
from monitor.adapters import build
from monitor.adapters.html import HtmlConfig
from monitor.config.netpolicy import NetworkPolicy
from monitor.fetch import Fetcher
from monitor.pipeline import collect
from monitor.store import Store

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
FIELDS = {
    "id": "@data-id",
    "text": "p.content",
    "author": ".author",
    "rating": ".stars@data-score",
    "sku": ".sku",
    "published": "time@datetime",
}


TARGET = 0.7  # issue #18: HTML ingest at least 0.7× the raw floor


def render(page: int, pages: int, items: int) -> bytes:
    rows = []
    for i in range(items):
        n = page * items + i
        rows.append(
            f'<div class="review" data-id="r-{n}"><span class="author">顾客{n % 97}</span>'
            f'<span class="stars" data-score="{n % 5 + 1}">★</span><span class="sku">SKU-{n % 7}</span>'
            f'<time datetime="2026-11-{1 + n % 22:02d} 10:{n % 60:02d}:00">x</time>'
            f'<p class="content">第{n}条评价：杯子保温效果不错，物流很快，包装完好，客服回复及时。</p></div>'
        )
    nxt = f'<a class="next" href="/r?page={page + 1}">下一页</a>' if page < pages else ""
    html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>评价</title></head><body>'
        f'<div id="reviews">{"".join(rows)}</div>{nxt}</body></html>'
    )
    return html.encode("utf-8")


class Server:
    def __init__(self, pages: int, items: int) -> None:
        bodies = {str(p): render(p, pages, items) for p in range(1, pages + 1)}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs (40 ms a page) hide everything else

            def do_GET(self) -> None:
                page = self.path.partition("page=")[2]
                body = bodies.get(page)
                status = 200 if body is not None else 404
                body = body if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_monitor(url: str, pages: int, workdir: Path) -> tuple[float, int]:
    store = Store.open(f"sqlite:///{workdir / 'monitor.db'}")
    cfg = HtmlConfig.model_validate(
        {
            "name": "bench",
            "kind": "html",
            "url": f"{url}/r?page=1",
            "item": "div.review",
            "fields": FIELDS,
            "next": "a.next@href",
            "backfill_pages": pages,
            "max_pages": min(pages, 100),
        }
    )
    fetcher = Fetcher(retries=0, min_interval=0, network=NetworkPolicy.allowing(["127.0.0.1"]))

    started = time.perf_counter()  # a first poll (backfill), as run_source does it: no known-item lookups
    result = collect(fetcher, build(cfg), {}, NOW, TZ, page_limit=pages)
    with store.transaction() as s:
        changes = store.diff(s, result.items)
        store.save_items(s, changes, NOW)
    elapsed = time.perf_counter() - started
    fetcher.close()
    store.close()
    assert result.verdict == "ok" and len(result.pages) == pages, (result.verdict, result.reason)
    return elapsed, len(changes)


def run_floor(url: str, pages: int, workdir: Path) -> tuple[float, int]:
    db = sqlite3.connect(workdir / "floor.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE, text TEXT, author TEXT, "
        "rating TEXT, sku TEXT, published TEXT)"
    )
    started = time.perf_counter()
    rows: list[tuple[str | None, ...]] = []
    with httpx.Client() as client:
        for p in range(1, pages + 1):
            html = client.get(f"{url}/r?page={p}").text
            for node in LexborHTMLParser(html).css("div.review"):
                values: list[str | None] = []
                for spec in FIELDS.values():
                    sel, _, attr = spec.partition("@")
                    target = node.css_first(sel) if sel else node
                    if target is None:
                        values.append(None)
                    else:
                        values.append(target.attributes.get(attr) if attr else target.text(strip=True))
                rows.append(tuple(values))
    with db:
        db.executemany(
            "INSERT INTO items (external_id, text, author, rating, sku, published) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = ap.parse_args()
    server = Server(args.pages, args.items)
    best: dict[str, tuple[float, int]] = {}
    try:
        for _ in range(args.repeat):
            for name, fn in (("floor", run_floor), ("monitor", run_monitor)):
                with tempfile.TemporaryDirectory() as tmp:
                    elapsed, stored = fn(server.url, args.pages, Path(tmp))
                if name not in best or elapsed < best[name][0]:
                    best[name] = (elapsed, stored)
    finally:
        server.stop()
    floor_pps = args.pages / best["floor"][0]
    rows = []
    for name in ("floor", "monitor"):
        elapsed, stored = best[name]
        pps = args.pages / elapsed
        rows.append(
            [
                name,
                args.pages,
                stored,
                f"{elapsed:.3f}",
                f"{pps:.1f}",
                f"{stored / elapsed:.0f}",
                f"{pps / floor_pps:.2f}×",
            ]
        )
    body = table(
        [
            "path",
            "pages",
            "items stored",
            f"seconds (best of {args.repeat})",
            "pages/s",
            "items/s",
            "vs floor",
        ],
        rows,
    )
    ratio = (args.pages / best["monitor"][0]) / floor_pps
    body += (
        f"\n\nTarget ≥ {TARGET:.2f}× the floor (issue #18): **{ratio:.2f}×** "
        f"({'met' if ratio >= TARGET else 'NOT met'}). "
        f"{args.items} reviews per HTML page over loopback HTTP/1.1; SQLite in a temporary directory. "
        "`monitor` = Fetcher (robots.txt, host gate, body cap, decoding) + `kind: html` adapter + "
        "normalize (a first poll: no per-page known-item lookups) + Store.diff/save_items in one "
        "transaction; "
        "analysis and alerting excluded."
    )
    print(body)
    if not args.no_write:
        command = f"python -m bench.sources --pages {args.pages} --items {args.items} --repeat {args.repeat}"
        write_section("sources", "Sources: pages fetched, parsed and stored per second", command, body)


if __name__ == "__main__":
    main()
