"""What bursts cost a poll's transaction.

    python bench/burst_poll.py                     # SQLite
    python bench/burst_poll.py --pg URL            # PostgreSQL too

A store with three days of history (60 reviews an hour over 20 SKUs of 5 products, 8 % negative,
some naming 破损 / 发货慢) is polled once a minute for an hour; each poll stores 5 new reviews, one
of them negative. Timed: the poll's transaction (items, analyses, alert decisions, commit), in
three settings run side by side: bursts and 新问题 off (the baseline), the scopes that were on
by default before (rule×SKU, rule, SKU; no 新问题), and the product defaults (all six scopes and
新问题). The machine is shared, so each setting runs ``--rounds`` times, interleaved, and the
lowest median (wall and CPU time of the transaction) is kept. The first poll, which stores the
history and where every scope learns its day of history, is reported apart.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._results import table, write_section  # noqa: E402
from monitor.adapters import registry  # noqa: E402
from monitor.alerting import evaluate  # noqa: E402
from monitor.analyze import MatchContext  # noqa: E402
from monitor.analyze.pool import AnalysisPool  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.normalize import Item  # noqa: E402
from monitor.pipeline import _save_analyses  # noqa: E402
from monitor.store import Store  # noqa: E402

START = datetime(2026, 3, 2, tzinfo=UTC)
TEXTS = [
    ("东西很好，包装也结实，五星好评！", 5),
    ("质量不错，和描述一致，推荐购买。", 5),
    ("物流很快，第二天就到了，很满意。", 5),
    ("不太满意，和想象中差距很大，不推荐。", 1),
    ("收到就是破损的，盒子都压扁了！", 1),
    ("快递三天才到，发货慢，希望改进。", 2),
]


SETTINGS = {
    "bursts off": "  burst_scopes: []\n  burst_new_problems: false\n",
    "rule×SKU, rule, SKU (the old default)": "  burst_scopes: [rule_sku, rule, sku]\n  burst_new_problems: false\n",
    "product defaults": "",
}


def project(tmp: Path, db: str, alerting: str) -> Path:
    shutil.copytree(ROOT / "rules", tmp / "rules")
    (tmp / "sources").mkdir()
    (tmp / "monitor.yaml").write_text(
        f"database: {db}\nchannels:\n  console: {{urls: ['console://']}}\nalerting:\n  group_wait: 0s\n{alerting}"
        "analysis:\n  workers: 0\n",
        encoding="utf-8",
    )
    return tmp / "monitor.yaml"


def review(rng: random.Random, n: int, at: datetime, negative: bool | None = None) -> Item:
    pool = [t for t in TEXTS if negative is None or (t[1] <= 2) == negative]
    text, rating = rng.choice(pool)
    k = rng.randrange(20)
    return Item(
        source="shop",
        platform="jd",
        external_id=f"r{n}",
        text=text,
        payload_hash=f"h{n}",
        fetched_at=at,
        published_at=at - timedelta(seconds=rng.randrange(60)),
        rating=rating,
        sku=f"sku-{k}",
        product=f"p-{k % 5}",
    )


def poll(
    store: Store, pool: AnalysisPool, config: object, items: list[Item], now: datetime
) -> tuple[float, float]:
    """One poll's transaction, as ``pipeline.run_source`` runs it; returns its wall and CPU seconds."""
    with store.session() as s:
        changes = store.diff(s, items)
    analyses = pool.analyze_many([(ch.item.text, MatchContext(rating=ch.item.rating)) for ch in changes])
    t0, c0 = time.perf_counter(), time.process_time()
    with store.transaction() as s:
        rows = store.save_items(s, changes, now)
        _save_analyses(s, changes, rows, analyses, now)
        evaluate(s, config, rows, analyses, now)  # type: ignore[arg-type]
    return time.perf_counter() - t0, time.process_time() - c0


def run(db: str, alerting: str, polls: int) -> tuple[float, list[tuple[float, float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_schema(db) if db != "sqlite" else f"sqlite:///{tmp}/m.db"
        config = load_config(project(Path(tmp), url, alerting), registry())
        store = Store.open(config.database_url)
        pool = AnalysisPool(config.rules, config.priority_words, None, 0)
        rng = random.Random(7)
        history, t, n = [], START, 0
        now = START + timedelta(days=3)
        while t < now:
            t += timedelta(hours=rng.expovariate(60))
            n += 1
            history.append(review(rng, n, t, rng.random() < 0.08))
        first = poll(store, pool, config, history, now)[0]
        times = []
        for k in range(1, polls + 1):
            at = now + timedelta(minutes=k)
            batch = []
            for j in range(5):
                n += 1
                batch.append(review(rng, n, at, j == 0))
            times.append(poll(store, pool, config, batch, at))
        store.close()
        return first, times


def fresh_schema(url: str) -> str:
    """A new schema on the PostgreSQL server of ``url`` (every run starts empty)."""
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", help="also run on this PostgreSQL URL (schemas are created in it)")
    ap.add_argument("--polls", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows: list[list[object]] = []
    for db in ["sqlite", *([args.pg] if args.pg else [])]:
        name = "SQLite" if db == "sqlite" else "PostgreSQL"
        best: dict[str, tuple[float, float, float]] = {}
        for _ in range(args.rounds):
            for label, alerting in SETTINGS.items():
                first, times = run(db, alerting, args.polls)
                wall = statistics.median(t[0] for t in times)
                cpu = statistics.median(t[1] for t in times)
                old = best.get(label)
                best[label] = (
                    (min(wall, old[0]), min(cpu, old[1]), min(first, old[2])) if old else (wall, cpu, first)
                )
        off = best["bursts off"]
        for label, (wall, cpu, first) in best.items():
            rows.append(
                [
                    name,
                    label,
                    f"{1000 * wall:.1f} ms",
                    f"{1000 * cpu:.1f} ms",
                    f"{1000 * (cpu - off[1]):+.1f} ms",
                    f"{first:.1f} s",
                ]
            )
    out = table(
        [
            "database",
            "setting",
            "transaction (wall, median)",
            "(CPU, median)",
            "bursts' cost (CPU)",
            "first poll (wall)",
        ],
        rows,
    )
    print(out)
    if not args.no_write:
        body = (
            "A store with 3 days of history (60 reviews/h, 20 SKUs of 5 products, 8 % negative) polled once a "
            f"minute for {args.polls} polls, 5 new reviews each, one negative; the poll's transaction (save "
            "items and analyses, alert decisions, commit) timed in three settings, interleaved, "
            f"{args.rounds} rounds, lowest median kept. The machine is shared by several engineers: wall "
            "times swing with its load, CPU time (of this process: SQLite works inside it, PostgreSQL mostly "
            "outside) is the steadier comparison. The first poll stores the history (~4,300 reviews) and lets "
            "every new scope learn its day of history.\n\n" + out + "\n"
        )
        cmd = "python bench/burst_poll.py" + (" --pg URL" if args.pg else "")
        write_section("burst_poll", "Bursts in the poll transaction", cmd, body)


if __name__ == "__main__":
    main()
