"""Same decisions before and after a speed change: dump every analysis, then compare two dumps.

    python bench/analysis_same.py dump OUT.jsonl      # on the old code, then on the new
    python bench/analysis_same.py compare OLD.jsonl NEW.jsonl

Texts: every review of online_shopping_10_cats (read from ../shared/data, never copied), each
without a rating and again with a rating 1-5 chosen by its CRC-32, plus every text of the hard-case
tables (tests/analysis/cases*.yaml, with their own rating) and of the held-out sentiment fixture
(social posts with @, #, 转发, links and emoji). A dump holds, per text, the whole
``Analysis.to_json()`` (normalized text, every hit with its decision and reasons, alerting rules,
mentions, sentiment label and score (as stored: rounded to 4 places), dimensions, grade and
reasons, severity). ``compare`` requires every field equal, floats within 1e-12, and says how
many analyses it compared. The dumps hold the review texts: keep them out of the repository.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.analysis import data_dir, load_rules  # noqa: E402

TOLERANCE = 1e-12


def texts_and_ratings() -> Iterator[tuple[str, int | None]]:
    import yaml

    src = data_dir() / "online_shopping_10_cats" / "online_shopping_10_cats.csv"
    with src.open(encoding="utf-8", newline="") as fh:
        reviews = [r["review"] or "" for r in csv.DictReader(fh)]
    for t in reviews:
        yield t, None
        yield t, zlib.crc32(t.encode("utf-8")) % 5 + 1
    for name in ("cases.yaml", "cases_dev.yaml", "cases_heldout.yaml"):
        doc = yaml.safe_load((ROOT / "tests" / "analysis" / name).read_text(encoding="utf-8"))
        for case in doc["cases"]:
            yield case["text"], case.get("rating")
    doc = yaml.safe_load((ROOT / "tests" / "analysis" / "sentiment_heldout.yaml").read_text(encoding="utf-8"))
    for rows in doc.values():
        for _label, text in rows:
            yield text, None


def dump(out: Path) -> int:
    from monitor.analyze import Analyzer, MatchContext, RuleSet
    from monitor.analyze.sentiment import SentimentModel

    rules, prio = load_rules()
    model = SentimentModel.load_default()
    analyzer = Analyzer(RuleSet(rules, prio), model=model)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for text, rating in texts_and_ratings():
            a = analyzer.analyze(text, MatchContext(rating=rating))
            row = {"text": text, "rating": rating, "analysis": a.to_json()}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    print(f"{n} analyses written to {out}")
    return 0


def _same(a: Any, b: Any, path: str, diffs: list[str]) -> None:
    if isinstance(a, float) or isinstance(b, float):
        ok = (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=0, abs_tol=TOLERANCE)
        )
        if not ok:
            diffs.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            diffs.append(f"{path}: keys {sorted(a)} != {sorted(b)}")
            return
        for k in a:
            _same(a[k], b[k], f"{path}.{k}", diffs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{path}: {len(a)} items != {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]", diffs)
    elif a != b:
        diffs.append(f"{path}: {a!r} != {b!r}")


def compare(old: Path, new: Path) -> int:
    diffs: list[str] = []
    n = 0
    with old.open(encoding="utf-8") as fa, new.open(encoding="utf-8") as fb:
        for lineno, (la, lb) in enumerate(zip(fa, fb, strict=True), start=1):
            before, after = json.loads(la), json.loads(lb)
            _same(before, after, f"line {lineno}", diffs)
            n += 1
    if diffs:
        print(f"{len(diffs)} differences in {n} analyses; the first 20:")
        for d in diffs[:20]:
            print("  " + d)
        return 1
    print(f"{n} analyses compared: identical (floats within {TOLERANCE:g})")
    return 0


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        return dump(Path(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(Path(sys.argv[2]), Path(sys.argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
