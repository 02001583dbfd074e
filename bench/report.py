"""Daily report over 1,000,000 stored items on SQLite: the query + render time must stay <= 1 s (#18).

Bulk-inserts synthetic items and analyses (60 days, ~16,700 a day, 200 SKUs) with
executemany, counts them per local day (``day_counts``: raw SQL bypasses the store's flush hook, so
the bench rebuilds them, as anyone loading rows with raw SQL must), then times ``build_daily`` for
the last day (which also reads the previous day, the 14-day trend and the 28-day drifts).

    python -m bench.report [--items 1000000] [--db PATH | --url postgresql+psycopg://…/EMPTY_DB]

``--url`` loads an empty PostgreSQL database with COPY (once: a database with items is reused).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._results import table, write_section

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
DAYS = 60
LIMIT_S = 1.0  # issue #18
TEXTS = [
    ("买到假货了，和专柜的不一样", "neg", ["counterfeit"], ["商品质量"], 4, "假货"),
    ("快递太慢了，等了一周", "neg", ["slow_delivery"], ["物流时效"], 2, "快递慢"),
    ("盒子破了，里面的杯子碎了", "neg", ["damaged"], ["物流时效"], 2, "碎了"),
    ("客服态度很差，退款慢", "neg", ["slow_refund"], ["服务态度"], 3, "退款慢"),
    ("还可以吧，一般般", "neu", [], ["其他"], None, None),
    ("质量很好，物流也快，好评", "pos", [], ["商品质量", "物流时效"], None, None),
    ("很满意，会回购", "pos", [], ["其他"], None, None),
]


ITEM_COLUMNS = (
    "id, source, platform, external_id, text, rating, sku, attrs, published_at, fetched_at, updated_at,"
    " payload_hash, revision"
)
ANALYSIS_COLUMNS = (
    "item_id, normalized, rules, hits, sentiment, sentiment_score, dimensions, grade, grade_reasons,"
    " rules_version, analyzed_at"
)


def rows(n: int) -> Iterator[tuple[tuple[object, ...], tuple[object, ...]]]:
    """(item row, analysis row) for items 1..n; published_at etc. as UTC text."""
    rng = random.Random(7)
    start = NOW - timedelta(days=DAYS)
    span = DAYS * 86400
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    for i in range(1, n + 1):
        text, sent, rules, dims, grade, kw = TEXTS[rng.randrange(len(TEXTS))]
        sku = f"SKU{rng.randrange(200):03d}"
        if sent == "pos" and rng.random() < 0.05 * (int(sku[3:]) % 5):
            text, sent, rules, dims, grade, kw = TEXTS[1]  # some SKUs get more complaints
        pub = (start + timedelta(seconds=rng.randrange(span))).strftime(fmt)
        rating = 1 if sent == "neg" else 3 if sent == "neu" else 5
        hits = json.dumps([{"rule_id": rules[0], "keyword": kw, "negated": False}]) if rules else "[]"
        yield (
            (i, "jd-shop", "jd", f"e{i}", text, rating, sku, "{}", pub, pub, pub, f"h{i}", 1),
            (i, text, json.dumps(rules), hits, sent, 0.5, json.dumps(dims), grade, "[]", "", pub),
        )


def count_per_day(url: str) -> float:
    """Seconds to count the items per local day: raw SQL bypasses the store's flush hook, so a bulk
    load must rebuild ``day_counts`` itself."""
    from zoneinfo import ZoneInfo

    from monitor.store import Store, rollup

    t0 = time.perf_counter()
    store = Store.open(url)
    with store.transaction() as s:
        rollup.rebuild(s.connection(), ZoneInfo(rollup.DEFAULT_TIMEZONE))
    store.close()
    return time.perf_counter() - t0


def fill(db: Path, n: int) -> tuple[float, float]:
    """SQLite: seconds to insert the rows, and to count them per local day."""
    from monitor.store import Store

    Store.open(f"sqlite:///{db}").close()  # schema via migrations
    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    batch_i, batch_a = [], []
    for item, analysis in rows(n):
        batch_i.append(item)
        batch_a.append(analysis)
        if len(batch_i) == 50_000:
            con.executemany(f"INSERT INTO items ({ITEM_COLUMNS}) VALUES ({','.join('?' * 13)})", batch_i)
            con.executemany(
                f"INSERT INTO analyses ({ANALYSIS_COLUMNS}) VALUES ({','.join('?' * 11)})", batch_a
            )
            con.commit()
            batch_i, batch_a = [], []
    if batch_i:
        con.executemany(f"INSERT INTO items ({ITEM_COLUMNS}) VALUES ({','.join('?' * 13)})", batch_i)
        con.executemany(f"INSERT INTO analyses ({ANALYSIS_COLUMNS}) VALUES ({','.join('?' * 11)})", batch_a)
    con.commit()
    con.close()
    inserted = time.perf_counter() - t0
    counted = count_per_day(f"sqlite:///{db}")
    con = sqlite3.connect(db)
    con.execute("ANALYZE")
    con.commit()
    con.close()
    return inserted, counted


def fill_pg(url: str, n: int) -> tuple[float, float]:
    """PostgreSQL (an empty database): COPY the same rows in, then count them per local day."""
    import psycopg
    from sqlalchemy.engine import make_url

    from monitor.store import Store

    Store.open(url).close()  # schema via migrations
    t0 = time.perf_counter()
    with psycopg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    ) as con:
        con.execute("SET TIME ZONE 'UTC'")
        with con.cursor() as cur:
            with cur.copy(f"COPY items ({ITEM_COLUMNS}) FROM STDIN") as copy:
                for item, _ in rows(n):
                    copy.write_row(item)
            with cur.copy(f"COPY analyses ({ANALYSIS_COLUMNS}) FROM STDIN") as copy:
                for _, analysis in rows(n):
                    copy.write_row(analysis)
            cur.execute("SELECT setval(pg_get_serial_sequence('items', 'id'), %s)", (n,))
        con.commit()
    inserted = time.perf_counter() - t0
    counted = count_per_day(url)
    with psycopg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    ) as con:
        con.execute("VACUUM ANALYZE")
    return inserted, counted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=1_000_000)
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, help="SQLite file, built when missing and reused")
    where.add_argument("--url", help="an empty PostgreSQL database, loaded once and reused")
    args = ap.parse_args()

    from monitor.adapters import registry
    from monitor.config import load_config
    from monitor.reports import build_daily
    from monitor.store import Store, models

    with tempfile.TemporaryDirectory() as tmp:
        fill_s = count_s = 0.0
        if args.url:
            url = args.url
            probe = Store.open(url)
            empty = probe.count(models.Item) == 0
            probe.close()
            if empty:
                print(f"copying {args.items:,} items + analyses into PostgreSQL …")
                fill_s, count_s = fill_pg(url, args.items)
        else:
            db = args.db or Path(tmp) / "bench.db"
            url = f"sqlite:///{db}"
            if not db.exists():
                print(f"inserting {args.items:,} items + analyses …")
                fill_s, count_s = fill(db, args.items)
        (Path(tmp) / "monitor.yaml").write_text(f"database: {url}\nanalysis: {{workers: 0}}\n")
        config = load_config(Path(tmp) / "monitor.yaml", registry())
        store = Store.open(config.database_url)
        items = store.count(models.Item)
        day = (NOW - timedelta(days=1)).astimezone(config.settings.tz).date()
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            report = build_daily(store, config, day, NOW)
            runs.append(time.perf_counter() - t0)
        store.close()
    volume = report.data["volume"]
    best, worst = min(runs), max(runs)
    backend = "PostgreSQL" if args.url else "SQLite"
    lines: list[list[object]] = [
        ["items stored", f"{items:,}"],
        ["items on the report day", f"{volume:,}"],
        ["bulk insert (items + analyses)", f"{fill_s:.1f} s"],
        ["counting them per local day (day_counts)", f"{count_s:.1f} s"],
        ["daily report, first run (query + render)", f"{runs[0]:.2f} s"],
        ["daily report, best of 3", f"{best:.2f} s"],
        [f"limit {LIMIT_S:.0f} s", "met" if worst <= LIMIT_S else "NOT met"],
    ]
    body = table(["measure", "value"], lines)
    print(body)
    name, command = (
        ("report-pg", "python -m bench.report --url URL")
        if args.url
        else ("report", "python -m bench.report")
    )
    write_section(name, f"Daily report over {items:,} items ({backend})", command, body)
    if worst > LIMIT_S:
        raise SystemExit(f"daily report took {worst:.2f} s > {LIMIT_S} s")


if __name__ == "__main__":
    main()
