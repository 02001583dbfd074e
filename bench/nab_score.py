"""A self-contained NAB (Numenta Anomaly Benchmark v1.1) scorer.

Written from the scoring rules described in the data set's SOURCE.md (NAB's
sweeper / scorer / runner); no NAB code is included.  For one data file:

* Each labelled anomaly window ``[start, end]`` (timestamps of rows) has width
  ``w = rows in the window``.  A detection is a row whose ``anomaly_score`` is
  ``>= threshold``.
* The first ``min(floor(0.15 * N), 750)`` rows are probationary and are ignored.
* Inside a window only the best (= earliest) detection counts:
  ``ScaledSigmoid(-(right_index - i + 1) / w) * tpWeight / ScaledSigmoid(-1)``.
  A window without a detection costs ``-fnWeight``.
* A detection outside every window adds ``ScaledSigmoid(|i - prev_right| / (prev_w - 1)) * fpWeight``,
  or ``-fpWeight`` if no window precedes it.
* ``ScaledSigmoid(y) = 2 * sigmoid(-5 y) - 1`` (and ``-1`` for ``y >= 3``).

Normalized score over a set of files = ``100 * (raw - null) / (perfect - null)`` with
``perfect = windows * tpWeight`` and ``null = -windows * fnWeight``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


@dataclass(frozen=True)
class Cost:
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class FileScore:
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    windows: int  # windows that contain at least one scored (non-probationary) row


def scaled_sigmoid(y: float) -> float:
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n_rows: int, probation_percent: float = 0.15) -> float:
    return min(math.floor(probation_percent * n_rows), probation_percent * 5000)


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def score_file(
    timestamps: Sequence[datetime],
    scores: Sequence[float],
    windows: Sequence[tuple[datetime, datetime]],
    threshold: float,
    cost: Cost,
) -> FileScore:
    """Raw NAB score of one file at one threshold."""
    if len(timestamps) != len(scores):
        raise ValueError("timestamps and scores differ in length")
    index = {t: i for i, t in enumerate(timestamps)}
    spans: list[tuple[int, int]] = []
    for start, end in windows:
        if start not in index or end not in index:
            raise ValueError(f"window edge {start} / {end} is not a row timestamp")
        spans.append((index[start], index[end]))
    spans.sort()
    max_tp = scaled_sigmoid(-1.0)
    probation = probation_rows(len(timestamps))

    best: dict[int, float] = {}  # window number -> best weighted score among detections
    scored_windows: set[int] = set()
    fp_total = 0.0
    tp = tn = fp = fn = 0
    w_pos = 0  # next window to enter
    cur: int | None = None  # window we're in
    prev_right: int | None = None
    prev_width = 0.0
    for i, s in enumerate(scores):
        if cur is None and w_pos < len(spans) and i == spans[w_pos][0]:
            cur = w_pos
            w_pos += 1
        detected = s >= threshold
        if cur is not None:
            left, right = spans[cur]
            width = float(right - left + 1)
            weighted = scaled_sigmoid(-(right - i + 1) / width) * cost.tp / max_tp
            if i >= probation:
                scored_windows.add(cur)
                if detected:
                    tp += 1
                    best[cur] = max(best.get(cur, -math.inf), weighted)
                else:
                    fn += 1
            if i == right:
                prev_right, prev_width = right, width
                cur = None
        else:
            if prev_right is None:
                pos = 3.0
            else:
                pos = abs(prev_right - i) / (prev_width - 1.0)
            weighted = scaled_sigmoid(pos) * cost.fp
            if i >= probation:
                if detected:
                    fp += 1
                    fp_total += weighted
                else:
                    tn += 1
    total = fp_total
    for w in scored_windows:
        total += max(best.get(w, -cost.fn), -cost.fn)
    return FileScore(total, tp, tn, fp, fn, len(scored_windows))


# ---------------------------------------------------------------- data helpers


def load_profiles(config_dir: Path) -> dict[str, Cost]:
    raw = json.loads((config_dir / "profiles.json").read_text(encoding="utf-8"))
    out: dict[str, Cost] = {}
    for name, body in raw.items():
        cm = body["CostMatrix"]
        out[name] = Cost(tp=float(cm["tpWeight"]), fp=float(cm["fpWeight"]), fn=float(cm["fnWeight"]))
    return out


def load_windows(labels_dir: Path) -> dict[str, list[tuple[datetime, datetime]]]:
    """``{"realTweets/Twitter_volume_AAPL.csv": [(start, end), ...], ...}``."""
    raw = json.loads((labels_dir / "combined_windows.json").read_text(encoding="utf-8"))
    return {k: [(parse_ts(a), parse_ts(b)) for a, b in v] for k, v in raw.items()}


def read_scored_csv(path: Path) -> tuple[list[datetime], list[float]]:
    """Read a NAB result file (``timestamp, ..., anomaly_score, ...``)."""
    ts: list[datetime] = []
    sc: list[float] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ts.append(parse_ts(row["timestamp"]))
            sc.append(float(row["anomaly_score"]))
    return ts, sc


def published_scores(results_dir: Path, detector: str, profile: str) -> dict[str, float]:
    """Per-file raw scores ``{relative file: score}`` from ``<det>_<profile>_scores.csv`` (deduplicated)."""
    out: dict[str, float] = {}
    with (results_dir / f"{detector}_{profile}_scores.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = row["File"]
            if not name or name.lower() == "totals" or "/" not in name:
                continue
            out.setdefault(name, float(row["Score"]))
    return out


def normalize(raw: float, n_windows: int, cost: Cost) -> float:
    perfect = n_windows * cost.tp
    null = -n_windows * cost.fn
    return 100.0 * (raw - null) / (perfect - null)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(
        description="Score NAB result CSVs (anomaly_score column) for realTweets files."
    )
    ap.add_argument("--shared", type=Path, required=True, help="the nab_realTweets directory")
    ap.add_argument("--results", type=Path, required=True, help="directory of scored CSVs")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--prefix", default="", help="file-name prefix before Twitter_volume_X.csv")
    args = ap.parse_args()
    profiles = load_profiles(args.shared / "config")
    windows = load_windows(args.shared / "labels")
    for prof in PROFILES:
        total = 0.0
        nwin = 0
        for path in sorted(args.results.glob("*.csv")):
            base = path.name[len(args.prefix) :]
            ts, sc = read_scored_csv(path)
            fs = score_file(ts, sc, windows[f"realTweets/{base}"], args.threshold, profiles[prof])
            total += fs.score
            nwin += len(windows[f"realTweets/{base}"])
            print(f"{prof:20s} {base:28s} {fs.score:10.5f} tp={fs.tp} fp={fs.fp}")
        print(f"{prof:20s} raw={total:.4f} normalized={normalize(total, nwin, profiles[prof]):.2f}")


if __name__ == "__main__":
    main()
