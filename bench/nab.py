"""NAB realTweets benchmark of the product burst detector (``monitor.analyze.burst_detector``).

    python bench/nab.py --data /work/shared/data/nab_realTweets/realTweets --out /tmp/nab_out

Runs one :class:`BurstDetector` per ``*.csv`` (``timestamp,value``; 5-minute counts) with
one configuration for every file (:data:`NAB_CONFIG`: the product defaults with a
5-minute bucket), writes ``timestamp,value,anomaly_score,label`` files with the same
names to ``--out`` (``anomaly_score >= 0.5`` exactly where the product would alert),
scores them with our own NAB scorer (``bench/nab_score.py``) at threshold 0.5 and
prints / records the normalized scores next to the published detectors' scores on the
same streams.  The data set is never copied into the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._results import table, write_section  # noqa: E402
from bench.nab_score import (  # noqa: E402
    PROFILES,
    load_profiles,
    load_windows,
    normalize,
    published_scores,
    score_file,
)
from monitor.analyze.burst_detector import BurstConfig, BurstDetector  # noqa: E402

NAB_CONFIG = replace(BurstConfig(), bucket=timedelta(minutes=5))
THRESHOLD = 0.5  # the detector's own alert decision; never tuned per file
# One-at-a-time perturbations of NAB_CONFIG reported with --sensitivity (how much the figure
# depends on the exact tuning; the defaults were chosen on these same streams).
SENSITIVITY: list[tuple[str, Any]] = [
    ("threshold", 5.0),
    ("threshold", 7.0),
    ("peak_factor", 1.2),
    ("peak_factor", 1.8),
    ("peak_halflife", timedelta(days=5)),
    ("peak_halflife", timedelta(days=10)),
    ("sustained_threshold", 3.5),
    ("sustained_threshold", 4.5),
    ("sustained_halflife", timedelta(minutes=45)),
    ("sustained_halflife", timedelta(minutes=80)),
    ("level_halflife", timedelta(days=1)),
    ("level_halflife", timedelta(days=3)),
    ("scale_halflife", timedelta(days=5)),
    ("scale_halflife", timedelta(days=10)),
    ("cooldown", timedelta(hours=18)),
    ("cooldown", timedelta(hours=36)),
    ("escalation", 3.0),
    ("escalation", 6.0),
    ("clip", 6.0),
    ("clip", 10.0),
    ("min_count", 3),
    ("min_count", 8),
]
PUBLISHED = ("ARTime", "numenta", "contextOSE", "earthgeckoSkyline", "windowedGaussian", "null")


def default_shared() -> Path:
    env = os.environ.get("MONITOR_SHARED_DATA")
    base = Path(env) if env else ROOT.parent / "shared" / "data"
    return base / "nab_realTweets"


def read_series(path: Path) -> tuple[list[datetime], list[float]]:
    ts: list[datetime] = []
    vals: list[float] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ts.append(datetime.fromisoformat(row["timestamp"]))
            vals.append(float(row["value"]))
    return ts, vals


def run_series(ts: list[datetime], vals: list[float], config: BurstConfig) -> list[float]:
    det = BurstDetector(config)
    return [det.update(t, v).score for t, v in zip(ts, vals, strict=True)]


def labels_for(ts: list[datetime], windows: list[tuple[datetime, datetime]]) -> list[int]:
    return [int(any(a <= t <= b for a, b in windows)) for t in ts]


def evaluate(
    data: Path, shared: Path, config: BurstConfig, out: Path | None = None
) -> tuple[dict[str, dict[str, float]], dict[str, int], dict[str, tuple[int, int]]]:
    """Run + score every file.  Returns ({profile: {file: raw}}, {file: windows}, {file: (tp, fp)})."""
    profiles = load_profiles(shared / "config")
    windows = load_windows(shared / "labels")
    raw: dict[str, dict[str, float]] = {p: {} for p in PROFILES}
    nwin: dict[str, int] = {}
    counts: dict[str, tuple[int, int]] = {}
    for path in sorted(data.glob("*.csv")):
        key = f"realTweets/{path.name}"
        ts, vals = read_series(path)
        scores = run_series(ts, vals, config)
        wins = windows[key]
        nwin[key] = len(wins)
        for prof in PROFILES:
            fs = score_file(ts, scores, wins, THRESHOLD, profiles[prof])
            raw[prof][key] = fs.score
            if prof == "standard":
                counts[key] = (fs.tp, fs.fp)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            lab = labels_for(ts, wins)
            with (out / path.name).open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["timestamp", "value", "anomaly_score", "label"])
                for t, v, s, lb in zip(ts, vals, scores, lab, strict=True):
                    w.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), f"{v:g}", f"{s:.6f}", lb])
    return raw, nwin, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_shared() / "realTweets", help="dir of NAB *.csv")
    ap.add_argument("--out", type=Path, required=True, help="where to write NAB-format result files")
    ap.add_argument(
        "--shared", type=Path, default=default_shared(), help="nab_realTweets dir (labels, config)"
    )
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    ap.add_argument("--sensitivity", action="store_true", help="also report one-at-a-time config changes")
    args = ap.parse_args()

    shared: Path = args.shared
    profiles = load_profiles(shared / "config")
    raw, nwin, counts = evaluate(args.data, shared, NAB_CONFIG, args.out)
    files = sorted(nwin)
    total_windows = sum(nwin.values())

    per_file: list[list[object]] = [
        [f.split("/")[-1], nwin[f], *(f"{raw[p][f]:.4f}" for p in PROFILES), counts[f][0], counts[f][1]]
        for f in files
    ]
    ours: list[object] = ["**BurstDetector (ours, threshold 0.5)**"]
    ours += [f"**{normalize(sum(raw[p].values()), total_windows, profiles[p]):.1f}**" for p in PROFILES]
    ours.append(f"{sum(raw['standard'].values()):.3f}")
    rows: list[list[object]] = [ours]
    for det in PUBLISHED:
        norm: list[str] = []
        std_raw = 0.0
        for p in PROFILES:
            pub = published_scores(shared / "published_results", det, p)
            if not all(f in pub for f in files):
                norm.append("n/a")
                continue
            s = sum(pub[f] for f in files)
            std_raw = s if p == "standard" else std_raw
            norm.append(f"{normalize(s, total_windows, profiles[p]):.1f}")
        rows.append([f"{det} (published)", *norm, f"{std_raw:.3f}"])

    names = ", ".join(f.split("_")[-1].removesuffix(".csv") for f in files)
    headers = ["detector", "standard", "reward_low_FP_rate", "reward_low_FN_rate", "raw standard"]
    main_table = table(headers, rows)
    file_table = table(
        ["file", "windows", *(f"raw {p}" for p in PROFILES), "TP rows (std)", "FP rows (std)"], per_file
    )
    cfg = {k: (str(v) if isinstance(v, timedelta) else v) for k, v in asdict(NAB_CONFIG).items()}
    body = (
        f"Normalized NAB scores on the {len(files)} realTweets streams present ({names}; "
        f"{total_windows} windows): 100 × (raw − null) / (perfect − null), perfect = windows × tpWeight, "
        "null = −windows × fnWeight. Published rows: the same normalization applied to the per-file raw "
        "scores in `published_results/<det>_<profile>_scores.csv` for the same streams (their thresholds "
        "are NAB's whole-corpus optima). Ours: one configuration for all files, detection = "
        "`anomaly_score >= 0.5` = the product's own alert decision (no threshold sweep). Scorer: "
        "`bench/nab_score.py` (reproduces the published windowedGaussian per-file scores, see "
        "`tests/test_nab_scorer.py`).\n\n"
        f"{main_table}\n\nPer file (ours):\n\n{file_table}\n\n"
        f"BurstConfig used: `{json.dumps(cfg, ensure_ascii=False)}`\n"
    )
    caveat = (
        "Caveats: the BurstConfig defaults (shared by product and benchmark) were chosen while looking "
        "at these same 7 streams (no held-out data), so our figure is in-sample; one window, found early vs "
        f"missed, is worth up to {100 * 2 / (2 * total_windows):.1f} normalized points (standard), "
        "so the result hinges on a few windows. The published detectors' thresholds were optimized "
        "on the whole 58-file corpus.\n"
    )
    body += "\n" + caveat
    print(main_table)
    print()
    print(file_table)
    if args.sensitivity:
        sens_rows: list[list[object]] = []
        for field, value in SENSITIVITY:
            cfg_v = replace(NAB_CONFIG, **{field: value})
            r, _, c = evaluate(args.data, shared, cfg_v)
            sens_rows.append(
                [f"{field} = {value}"]
                + [f"{normalize(sum(r[p].values()), total_windows, profiles[p]):.1f}" for p in PROFILES]
                + [sum(fp for _, fp in c.values())]
            )
        std_vals = [float(str(row[1])) for row in sens_rows]
        sens = table(["changed field (rest = NAB_CONFIG)", *PROFILES, "FP rows (std)"], sens_rows)
        body += (
            f"\nSensitivity (one field changed at a time): standard ranges {min(std_vals):.1f}–"
            f"{max(std_vals):.1f}; {sum(v >= 82 for v in std_vals)} of {len(std_vals)} variants reach 82.\n\n"
            f"{sens}\n"
        )
        print()
        print(sens)
    print()
    print(caveat)
    if not args.no_write:
        cmd = "python bench/nab.py --data " + str(args.data) + " --out " + str(args.out)
        cmd += " --sensitivity" if args.sensitivity else ""
        write_section("nab", "NAB realTweets (burst detector)", cmd, body)


if __name__ == "__main__":
    main()
