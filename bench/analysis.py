"""Rules and analysis on real reviews (online_shopping_10_cats), written to bench/RESULTS.md.

    python bench/analysis.py [--snownlp-sample 1000] [--no-write] [--show-texts]

Measures, with the default rule pack in rules/:

* false positives: share of positive-labelled reviews on which any rule fires (target <= 2%);
* recall: share of negative-labelled reviews that "contain a keyword un-negated" on which some
  rule fires (target >= 95%). That reference is defined without the matcher (see
  ``plain_unnegated``): the text is only NFKC-normalised, Traditional→Simplified and lower-cased;
  a rule keyword occurs as a substring, the occurrence does not overlap one of that rule's own
  ``exclude`` phrases (放假 for 假的: the admin's own statement of what is not a mention),
  and none of the negators 不 没 无 未 非 别 appears in the 4 characters before
  it within the same clause (a clause ends at ，。！？,.!?;； or whitespace). Questions,
  hypotheticals, double negation and denials after the keyword are deliberately not in it, so
  every item the matcher holds back for those reasons counts against recall;
* throughput of ``Analyzer.analyze`` (fold + rules + sentiment + dimension + grade) against
  ``jieba.lcut`` over the same reviews in the same run, and SnowNLP on a sample.

The data are read from ../shared/data (``MONITOR_SHARED_DATA`` overrides) and never copied.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import table, write_section  # noqa: E402

FP_TARGET = 0.02
RECALL_TARGET = 0.95
SPEED_TARGET = 2.0
PLAIN_NEGATORS = "不没无未非别"
PLAIN_WINDOW = 4
_PLAIN_CLAUSE = re.compile(r"[，。！？,.!?;；\s]")


def data_dir() -> Path:
    env = os.environ.get("MONITOR_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_reviews(path: Path) -> list[tuple[int, str, str]]:
    """(label, category, review) per row."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [(int(r["label"]), r["cat"], r["review"] or "") for r in csv.DictReader(fh)]


def load_rules() -> tuple[list, list[str]]:  # type: ignore[type-arg]
    import yaml

    from monitor.config.rules import RuleFile

    rules, prio = [], []
    for f in sorted((ROOT / "rules").glob("*.yaml")):
        parsed = RuleFile.model_validate(yaml.safe_load(f.read_text(encoding="utf-8")) or {})
        rules += parsed.rules
        prio += parsed.priority_words
    return rules, prio


def plain_text(text: str) -> str:
    from monitor.analyze.text import to_simplified

    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


def plain_unnegated(text: str, vocab: list[tuple[str, list[str]]]) -> bool:
    """The reference for recall, independent of the matcher: see the module docstring."""
    for kw, excludes in vocab:
        i = text.find(kw)
        while i >= 0:
            end = i + len(kw)
            excluded = any(_overlaps(text, x, i, end) for x in excludes)
            before = text[max(0, i - PLAIN_WINDOW) : i]
            cut = [m.end() for m in _PLAIN_CLAUSE.finditer(before)]
            if cut:
                before = before[cut[-1] :]
            if not excluded and not any(c in before for c in PLAIN_NEGATORS):
                return True
            i = text.find(kw, i + 1)
    return False


def _overlaps(text: str, phrase: str, start: int, end: int) -> bool:
    """Whether an occurrence of ``phrase`` overlaps text[start:end]."""
    j = text.find(phrase, max(0, start - len(phrase) + 1))
    return 0 <= j < end


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snownlp-sample", type=int, default=1000)
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch bench/RESULTS.md")
    ap.add_argument(
        "--show-texts", action="store_true", help="print the worst false positives' texts (stderr)"
    )
    args = ap.parse_args()

    src = data_dir() / "online_shopping_10_cats" / "online_shopping_10_cats.csv"
    if not src.exists():
        print(f"data not found: {src} (set MONITOR_SHARED_DATA)", file=sys.stderr)
        return 2
    from monitor.analyze import Analyzer, MatchContext, RuleSet
    from monitor.analyze.text import fold_with_breaks

    rows = load_reviews(src)
    texts = [t for _, _, t in rows]
    rules, prio = load_rules()
    ruleset = RuleSet(rules, prio)
    ctx = MatchContext()

    # ---- false positives and recall -----------------------------------------------------------
    evals = []
    for t in texts:
        folded, breaks = fold_with_breaks(t)
        evals.append(ruleset.evaluate(folded, ctx, breaks))
    vocab = [(plain_text(k), [plain_text(x) for x in r.exclude]) for r in rules for k in r.keywords]
    pos = [i for i, (y, _, _) in enumerate(rows) if y == 1]
    neg = [i for i, (y, _, _) in enumerate(rows) if y == 0]
    fp = [i for i in pos if evals[i].fired]
    ref = [i for i in neg if plain_unnegated(plain_text(texts[i]), vocab)]
    caught = [i for i in ref if evals[i].fired]
    missed = [i for i in ref if not evals[i].fired]
    fp_rate = len(fp) / len(pos)
    recall = len(caught) / len(ref) if ref else 1.0
    neg_fired = sum(1 for i in neg if evals[i].fired)
    per_rule_pos = Counter(r for i in pos for r in evals[i].fired)
    per_rule_neg = Counter(r for i in neg for r in evals[i].fired)
    miss_why = Counter(h.decision for i in missed for h in evals[i].hits)

    # ---- throughput -----------------------------------------------------------------------------
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    from monitor.analyze.sentiment import DEFAULT_MODEL_PATH, SentimentModel

    if not DEFAULT_MODEL_PATH.exists():
        print(f"the shipped sentiment model is missing: {DEFAULT_MODEL_PATH}", file=sys.stderr)
        return 2
    model = SentimentModel.load_default()
    model_note = f"shipped `{DEFAULT_MODEL_PATH.relative_to(ROOT)}`"
    analyzer = Analyzer(ruleset, model=model)
    analyzer.analyze("预热")
    t0 = time.perf_counter()
    for t in texts:
        jieba.lcut(t)
    t_jieba = time.perf_counter() - t0
    t0 = time.perf_counter()
    analyses = [analyzer.analyze(t, ctx) for t in texts]
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        fold_with_breaks(t)
    t_fold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        model.prob_positive(t)
    t_sent = time.perf_counter() - t0
    n = len(texts)
    sample = texts[:: max(1, n // args.snownlp_sample)][: args.snownlp_sample]
    from snownlp import SnowNLP

    SnowNLP("预热").sentiments  # noqa: B018 - loads its model outside the timing
    t0 = time.perf_counter()
    for t in sample:
        SnowNLP(t).sentiments  # noqa: B018
    t_snow = time.perf_counter() - t0
    rate_full, rate_jieba, rate_snow = n / t_full, n / t_jieba, len(sample) / t_snow
    graded = Counter(a.grade for a in analyses)
    dims = Counter(d for a in analyses for d in a.dimensions)

    # ---- report ---------------------------------------------------------------------------------
    ok = lambda good: "✅" if good else "❌"  # noqa: E731
    body = [
        f"Data: `online_shopping_10_cats.csv` ({n:,} reviews: {len(pos):,} positive, {len(neg):,} negative), "
        f"rules: `rules/*.yaml` ({len(rules)} rules, {sum(len(r.keywords) for r in rules)} keywords, "
        f"{sum(len(r.patterns) for r in rules)} patterns). "
        "No ratings in this set, so rating scopes do not apply.",
        "",
        table(
            ["measure", "value", "target", ""],
            [
                [
                    "positive reviews on which any rule fires (false positives)",
                    f"{len(fp):,} / {len(pos):,} = {fp_rate:.2%}",
                    f"≤ {FP_TARGET:.0%}",
                    ok(fp_rate <= FP_TARGET),
                ],
                [
                    "negative reviews with a keyword un-negated (reference) on which a rule fires",
                    f"{len(caught):,} / {len(ref):,} = {recall:.2%}",
                    f"≥ {RECALL_TARGET:.0%}",
                    ok(recall >= RECALL_TARGET),
                ],
                ["negative reviews on which any rule fires (all)", f"{neg_fired:,} / {len(neg):,}", "", ""],
                [
                    "`Analyzer.analyze` (fold+rules+sentiment+dimension+grade)",
                    f"{rate_full:,.0f} reviews/s",
                    "",
                    "",
                ],
                ["`jieba.lcut` alone, same reviews, same run", f"{rate_jieba:,.0f} reviews/s", "", ""],
                [
                    "analyze ÷ jieba",
                    f"{rate_full / rate_jieba:.1f}×",
                    f"≥ {SPEED_TARGET:.0f}×",
                    ok(rate_full / rate_jieba >= SPEED_TARGET),
                ],
                [
                    f"SnowNLP `.sentiments`, {len(sample):,}-review sample",
                    f"{rate_snow:,.0f} reviews/s",
                    "",
                    "",
                ],
                [
                    "analyze ÷ SnowNLP",
                    f"{rate_full / rate_snow:.0f}×",
                    "≥ 50×",
                    ok(rate_full / rate_snow >= 50),
                ],
            ],
        ),
        "",
        f"Time split over all reviews: fold {t_fold:.2f} s, sentiment `prob_positive` {t_sent:.2f} s, "
        f"full analyze {t_full:.2f} s, jieba {t_jieba:.2f} s. Sentiment model: {model_note}.",
        "",
        "Recall reference (independent of the matcher): text NFKC + Traditional→Simplified + lower case; "
        "a rule keyword occurs as a substring, not overlapping one of that rule's `exclude` phrases, "
        "and none of "
        f"{' '.join(PLAIN_NEGATORS)} is among the {PLAIN_WINDOW} characters before it in its clause. "
        "Misses therefore include the questions, hypotheticals and denials the matcher holds back "
        "on purpose. "
        "Decisions on the hits of missed reviews: "
        + (", ".join(f"{k} {v}" for k, v in miss_why.most_common()) or "none")
        + ".",
        "",
        "### Per rule: reviews fired on",
        "",
        table(
            ["rule", "positive reviews", "negative reviews"],
            [[r.id, per_rule_pos.get(r.id, 0), per_rule_neg.get(r.id, 0)] for r in rules],
        ),
        "",
        "Grades over all reviews: "
        + ", ".join(
            f"{g if g is not None else 'none'}: {c:,}"
            for g, c in sorted(graded.items(), key=lambda x: (x[0] is None, x[0] or 0))
        )
        + ". Dimensions: "
        + ", ".join(f"{d} {c:,}" for d, c in dims.most_common())
        + ".",
        "",
        "### The 30 worst false positives (positive-labelled reviews that fire a rule)",
        "",
        "Worst = most rules fired, then highest severity, then shortest text (least context to excuse it). "
        "The review texts are not reproduced here (the data set may not be redistributed); "
        "`python bench/analysis.py --show-texts` prints them on the terminal.",
        "",
    ]
    from monitor.config.rules import SEVERITIES

    def badness(i: int) -> tuple[int, int, int]:
        ev = evals[i]
        return (-len(ev.fired), -SEVERITIES.index(ev.severity or "low"), len(texts[i]))

    worst = sorted(fp, key=badness)[:30]
    fp_rows = []
    for i in worst:
        ev = evals[i]
        why = "; ".join(f"{h.rule_id}: {h.keyword!r} ({h.reason})" for h in ev.hits if not h.negated)
        fp_rows.append([i + 2, rows[i][1], ", ".join(ev.fired), why.replace("|", "/")])
    body.append(table(["csv line", "cat", "rules fired", "keyword and why it fired"], fp_rows))
    if args.show_texts:  # to the terminal only: the data may not be copied into the repository
        for i in worst:
            print(f"line {i + 2}: {texts[i][:100]}", file=sys.stderr)
    text = "\n".join(body)
    print(text)
    if not args.no_write:
        write_section("analysis", "Rules and analysis on real reviews", "python bench/analysis.py", text)
    good = fp_rate <= FP_TARGET and recall >= RECALL_TARGET and rate_full / rate_jieba >= SPEED_TARGET
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
