"""Same report before and after a query change: render the daily and weekly report on one database
and save them (``--save``), or compare them with a saved pair (``--compare``): ``data`` (JSON) and
markdown must be identical.

    python -m bench.report_same --db /tmp/perf2/report.db --save /tmp/before.json
    # change the queries
    python -m bench.report_same --db /tmp/perf2/report.db --compare /tmp/before.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.report import NOW


def render(db: Path) -> tuple[dict[str, Any], dict[str, float]]:
    from monitor.adapters import registry
    from monitor.config import load_config
    from monitor.reports import build_daily, build_weekly
    from monitor.reports.data import week_of
    from monitor.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "monitor.yaml").write_text(f"database: sqlite:///{db}\nanalysis: {{workers: 0}}\n")
        config = load_config(Path(tmp) / "monitor.yaml", registry())
        store = Store.open(config.database_url)
        day = (NOW - timedelta(days=1)).astimezone(config.settings.tz).date()
        week = week_of(day - timedelta(days=7))
        out: dict[str, Any] = {}
        took: dict[str, float] = {}
        for kind in ("daily", "weekly"):
            t0 = time.perf_counter()
            if kind == "daily":
                report = build_daily(store, config, day, NOW)
            else:
                report = build_weekly(store, config, week, NOW)
            took[kind] = time.perf_counter() - t0
            out[kind] = {"data": report.data, "markdown": report.markdown}
        store.close()
    return json.loads(json.dumps(out, ensure_ascii=False)), took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", type=Path, required=True)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path)
    group.add_argument("--compare", type=Path)
    args = ap.parse_args()
    got, took = render(args.db)
    print("  ".join(f"{k} {v:.2f} s" for k, v in took.items()))
    if args.save:
        args.save.write_text(json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True))
        print(f"saved {args.save}")
        return
    want = json.loads(args.compare.read_text())
    bad = [
        f"{kind}.{part}"
        for kind in ("daily", "weekly")
        for part in ("data", "markdown")
        if got[kind][part] != want[kind][part]
    ]
    if bad:
        raise SystemExit("different: " + ", ".join(bad))
    print("identical: daily.data, daily.markdown, weekly.data, weekly.markdown")


if __name__ == "__main__":
    main()
