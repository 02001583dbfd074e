"""Daily report over 1,000,000 stored items on SQLite: the query + render time must stay <= 3 s.

Bulk-inserts synthetic items and analyses (60 days, ~16,700 a day, 200 SKUs) with
executemany, counts them per local day (``day_counts``: raw SQL bypasses the store's flush hook, so
the bench rebuilds them, as anyone loading rows with raw SQL must), then times ``build_daily`` for
the last day (which also reads the previous day, the 14-day trend and the 28-day drifts).

    python -m bench.report [--items 1000000] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._results import table, write_section

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
DAYS = 60
LIMIT_S = 3.0
TEXTS = [
    ("买到假货了，和专柜的不一样", "neg", ["counterfeit"], ["商品质量"], 4, "假货"),
    ("快递太慢了，等了一周", "neg", ["slow_delivery"], ["物流时效"], 2, "快递慢"),
    ("盒子破了，里面的杯子碎了", "neg", ["damaged"], ["物流时效"], 2, "碎了"),
    ("客服态度很差，退款慢", "neg", ["slow_refund"], ["服务态度"], 3, "退款慢"),
    ("还可以吧，一般般", "neu", [], ["其他"], None, None),
    ("质量很好，物流也快，好评", "pos", [], ["商品质量", "物流时效"], None, None),
    ("很满意，会回购", "pos", [], ["其他"], None, None),
]


def fill(db: Path, n: int) -> tuple[float, float]:
    """Seconds to insert the rows, and to count them per local day."""
    from zoneinfo import ZoneInfo

    from monitor.store import Store, rollup

    Store.open(f"sqlite:///{db}").close()  # schema via migrations
    rng = random.Random(7)
    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    start = NOW - timedelta(days=DAYS)
    span = DAYS * 86400
    batch_i, batch_a = [], []
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    for i in range(1, n + 1):
        text, sent, rules, dims, grade, kw = TEXTS[rng.randrange(len(TEXTS))]
        sku = f"SKU{rng.randrange(200):03d}"
        if sent == "pos" and rng.random() < 0.05 * (int(sku[3:]) % 5):
            text, sent, rules, dims, grade, kw = TEXTS[1]  # some SKUs get more complaints
        pub = (start + timedelta(seconds=rng.randrange(span))).strftime(fmt)
        rating = 1 if sent == "neg" else 3 if sent == "neu" else 5
        batch_i.append((i, "jd-shop", "jd", f"e{i}", text, rating, sku, "{}", pub, pub, pub, f"h{i}", 1))
        hits = json.dumps([{"rule_id": rules[0], "keyword": kw, "negated": False}]) if rules else "[]"
        batch_a.append((i, text, json.dumps(rules), hits, sent, 0.5, json.dumps(dims), grade, "[]", "", pub))
        if len(batch_i) == 50_000 or i == n:
            con.executemany(
                "INSERT INTO items (id, source, platform, external_id, text, rating, sku, attrs,"
                " published_at, fetched_at, updated_at, payload_hash, revision)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                batch_i,
            )
            con.executemany(
                "INSERT INTO analyses (item_id, normalized, rules, hits, sentiment, sentiment_score,"
                " dimensions, grade, grade_reasons, rules_version, analyzed_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                batch_a,
            )
            con.commit()
            batch_i, batch_a = [], []
    con.commit()
    con.close()
    inserted = time.perf_counter() - t0
    t0 = time.perf_counter()
    store = Store.open(f"sqlite:///{db}")
    with store.transaction() as s:
        rollup.rebuild(s.connection(), ZoneInfo(rollup.DEFAULT_TIMEZONE))
    store.close()
    counted = time.perf_counter() - t0
    con = sqlite3.connect(db)
    con.execute("ANALYZE")
    con.commit()
    con.close()
    return inserted, counted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path)
    args = ap.parse_args()

    from monitor.adapters import registry
    from monitor.config import load_config
    from monitor.reports import build_daily
    from monitor.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        if not db.exists():
            print(f"inserting {args.items:,} items + analyses …")
            fill_s, count_s = fill(db, args.items)
        else:
            fill_s = count_s = 0.0
        (Path(tmp) / "monitor.yaml").write_text(f"database: sqlite:///{db}\nanalysis: {{workers: 0}}\n")
        config = load_config(Path(tmp) / "monitor.yaml", registry())
        store = Store.open(config.database_url)
        day = (NOW - timedelta(days=1)).astimezone(config.settings.tz).date()
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            report = build_daily(store, config, day, NOW)
            runs.append(time.perf_counter() - t0)
        store.close()
    volume = report.data["volume"]
    best, worst = min(runs), max(runs)
    rows: list[list[object]] = [
        ["items stored", f"{args.items:,}"],
        ["items on the report day", f"{volume:,}"],
        ["bulk insert (items + analyses)", f"{fill_s:.1f} s"],
        ["counting them per local day (day_counts)", f"{count_s:.1f} s"],
        ["daily report, first run (query + render)", f"{runs[0]:.2f} s"],
        ["daily report, best of 3", f"{best:.2f} s"],
        [f"limit {LIMIT_S:.0f} s", "met" if worst <= LIMIT_S else "NOT met"],
    ]
    body = table(["measure", "value"], rows)
    print(body)
    write_section("report", "Daily report over 1,000,000 items (SQLite)", "python -m bench.report", body)
    if worst > LIMIT_S:
        raise SystemExit(f"daily report took {worst:.2f} s > {LIMIT_S} s")


if __name__ == "__main__":
    main()
