"""NAB realTweets benchmark of the product burst detector (``monitor.analyze.burst_detector``).

    python bench/nab.py --out /tmp/nab_out            # the defaults, in-sample, vs published detectors
    python bench/nab.py --out /tmp/nab_out --cv       # + how the defaults were chosen (cross-validation)
    python bench/nab.py --data OTHER/realTweets --out /tmp/x --no-write   # streams kept elsewhere

Runs one :class:`BurstDetector` per ``*.csv`` (``timestamp,value``; 5-minute counts) with the
product defaults (``BurstConfig()``: its step is 5 minutes, as NAB's), writes
``timestamp,value,anomaly_score,label`` files to ``--out`` (``anomaly_score >= 0.5`` exactly where
the product would alert: no per-file threshold) and scores them with ``bench/nab_score.py``.

``--cv`` shows that the defaults are a *procedure's* choice rather than a fit: a small grid of the
detector's three decision settings (``z_min``, ``relative``, ``cooldown``) is scored on every
stream and on variants of it (binomially thinned to half the volume, four times the volume, the
first 5 days cut off), and for each stream left out, the setting that does best on the other six
(all variants) is scored on the one left out. The in-sample and cross-validated scores are
reported side by side; the defaults are what the procedure chooses on all seven streams. The
data set is never copied into the repository.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import random
import sys
import zlib
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from multiprocessing import Pool
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._results import table, write_section  # noqa: E402
from bench.nab_score import (  # noqa: E402
    PROFILES,
    Cost,
    load_profiles,
    load_windows,
    normalize,
    published_scores,
    score_file,
)
from monitor.analyze.burst_detector import BurstConfig, BurstDetector  # noqa: E402

NAB_CONFIG = BurstConfig()  # the product defaults; NAB's data comes in the detector's 5-minute steps
THRESHOLD = 0.5  # the detector's own alert decision; never tuned per file
GRID: dict[str, list[Any]] = {
    "z_min": [3.5, 4.0, 5.0],
    "relative": [1.0, 1.1, 1.2],
    "cooldown": [timedelta(hours=24), timedelta(hours=36), timedelta(hours=48)],
}
VARIANTS = ("original", "half volume", "4× volume", "first 5 days cut")
PREVIOUS = (
    "The detector this one replaced (hour buckets, a peak-relative spike threshold, a sustained-rise "
    "path, minimum gates: eighteen settings) scored 84.5 in-sample on these 7 streams and 68.6 on 3 "
    "realTweets streams it never saw (issue #12); on the variants below it scored 77.8 (half volume), "
    "67.7 (4× volume) and 73.8 (first 5 days cut), measured during this change. This one has three "
    "decision settings, chosen by the procedure below."
)
PUBLISHED = ("ARTime", "numenta", "contextOSE", "earthgeckoSkyline", "windowedGaussian", "null")
Window = tuple[datetime, datetime]


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


def labels_for(ts: list[datetime], windows: list[Window]) -> list[int]:
    return [int(any(a <= t <= b for a, b in windows)) for t in ts]


@dataclass(frozen=True)
class Series:
    name: str  # file name
    variant: str
    ts: list[datetime]
    vals: list[float]
    windows: list[Window]


def variants(name: str, ts: list[datetime], vals: list[float], windows: list[Window]) -> list[Series]:
    """The stream and three variants of it that the same windows still describe."""
    rng = random.Random(zlib.crc32(name.encode()))

    def thin(v: float) -> float:  # binomial thinning to half; the normal approximation for big counts
        n = int(v)
        if n < 2000:
            return float(sum(rng.random() < 0.5 for _ in range(n)))
        return float(max(0, round(n / 2 + rng.gauss(0, (n / 4) ** 0.5))))

    cut = 5 * 288
    return [
        Series(name, VARIANTS[0], ts, vals, windows),
        Series(name, VARIANTS[1], ts, [thin(v) for v in vals], windows),
        Series(name, VARIANTS[2], ts, [4 * v for v in vals], windows),
        Series(name, VARIANTS[3], ts[cut:], vals[cut:], [(a, b) for a, b in windows if a >= ts[cut]]),
    ]


def load(data: Path, shared: Path, with_variants: bool) -> list[Series]:
    windows = load_windows(shared / "labels")
    out: list[Series] = []
    for path in sorted(data.glob("*.csv")):
        ts, vals = read_series(path)
        wins = windows[f"realTweets/{path.name}"]
        out += (
            variants(path.name, ts, vals, wins)
            if with_variants
            else [Series(path.name, VARIANTS[0], ts, vals, wins)]
        )
    return out


def score(series: Series, config: BurstConfig, cost: Cost) -> tuple[float, int, int]:
    fs = score_file(series.ts, run_series(series.ts, series.vals, config), series.windows, THRESHOLD, cost)
    return fs.score, fs.tp, fs.fp


_WORK: list[Series] = []
_COST: Cost | None = None


def _score_config(config: BurstConfig) -> list[float]:
    assert _COST is not None
    return [score(s, config, _COST)[0] for s in _WORK]


def grid_configs() -> list[BurstConfig]:
    keys = list(GRID)
    return [
        replace(NAB_CONFIG, **dict(zip(keys, combo, strict=True)))
        for combo in itertools.product(*GRID.values())
    ]


def grid_text() -> str:
    def show(v: object) -> str:
        return f"{int(v.total_seconds() // 3600)}h" if isinstance(v, timedelta) else f"{v:g}"

    return "; ".join(f"{k} ∈ {{{', '.join(show(v) for v in vs)}}}" for k, vs in GRID.items())


def describe(config: BurstConfig) -> str:
    out = []
    for key in GRID:
        v = getattr(config, key)
        out.append(f"{key}={int(v.total_seconds() // 3600)}h" if isinstance(v, timedelta) else f"{key}={v:g}")
    return ", ".join(out)


@dataclass
class CrossValidation:
    configs: list[BurstConfig]
    table: list[list[float]]  # [setting][series]: raw standard score
    folds: list[tuple[str, BurstConfig, float]]  # (stream left out, setting chosen without it, its raw)
    chosen: BurstConfig  # the setting best on all streams


def cross_validate(series: list[Series], cost: Cost, jobs: int) -> CrossValidation:
    """Leave one stream out: choose on the other streams (all variants), score the one left out."""
    global _WORK, _COST
    configs = grid_configs()
    _WORK, _COST = series, cost
    with Pool(jobs) as pool:
        scores = pool.map(_score_config, configs)

    def total(i: int, names: set[str], variant: str | None = None) -> float:
        return sum(
            v
            for v, s in zip(scores[i], series, strict=True)
            if s.name in names and (variant is None or s.variant == variant)
        )

    everyone = {s.name for s in series}
    folds = []
    for held in sorted(everyone):
        others = everyone - {held}
        best = max(range(len(configs)), key=lambda i: total(i, others))
        folds.append((held, configs[best], total(best, {held}, VARIANTS[0])))
    chosen = max(range(len(configs)), key=lambda i: total(i, everyone))
    return CrossValidation(configs, scores, folds, configs[chosen])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_shared() / "realTweets", help="dir of NAB *.csv")
    ap.add_argument("--out", type=Path, required=True, help="where to write NAB-format result files")
    ap.add_argument(
        "--shared", type=Path, default=default_shared(), help="nab_realTweets dir (labels, config)"
    )
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    ap.add_argument("--cv", action="store_true", help="also cross-validate the choice of the defaults")
    ap.add_argument("--jobs", type=int, default=2, help="processes for --cv")
    args = ap.parse_args()

    shared: Path = args.shared
    profiles = load_profiles(shared / "config")
    streams = load(args.data, shared, with_variants=False)
    files = [s.name for s in streams]
    total_windows = sum(len(s.windows) for s in streams)
    raw: dict[str, dict[str, tuple[float, int, int]]] = {p: {} for p in PROFILES}
    args.out.mkdir(parents=True, exist_ok=True)
    for s in streams:
        scores = run_series(s.ts, s.vals, NAB_CONFIG)
        for prof in PROFILES:
            fs = score_file(s.ts, scores, s.windows, THRESHOLD, profiles[prof])
            raw[prof][s.name] = (fs.score, fs.tp, fs.fp)
        with (args.out / s.name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value", "anomaly_score", "label"])
            for t, v, sc, lb in zip(s.ts, s.vals, scores, labels_for(s.ts, s.windows), strict=True):
                w.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), f"{v:g}", f"{sc:.6f}", lb])

    def norm(prof: str, value: float, n_windows: int = total_windows) -> str:
        return f"{normalize(value, n_windows, profiles[prof]):.1f}"

    ours: list[object] = ["**BurstDetector, product defaults (in-sample)**"]
    ours += [f"**{norm(p, sum(v[0] for v in raw[p].values()))}**" for p in PROFILES]
    ours.append(f"{sum(v[0] for v in raw['standard'].values()):.3f}")
    rows: list[list[object]] = [ours]
    for det in PUBLISHED:
        cells: list[str] = []
        std_raw = 0.0
        for p in PROFILES:
            pub = published_scores(shared / "published_results", det, p)
            if not all(f"realTweets/{f}" in pub for f in files):
                cells.append("n/a")
                continue
            s_ = sum(pub[f"realTweets/{f}"] for f in files)
            std_raw = s_ if p == "standard" else std_raw
            cells.append(norm(p, s_))
        rows.append([f"{det} (published)", *cells, f"{std_raw:.3f}"])
    names = ", ".join(f.split("_")[-1].removesuffix(".csv") for f in files)
    main_table = table(["detector", *PROFILES, "raw standard"], rows)
    per_file = table(
        ["file", "windows", *(f"raw {p}" for p in PROFILES), "TP rows (std)", "FP rows (std)"],
        [
            [
                f,
                len(s.windows),
                *(f"{raw[p][f][0]:.4f}" for p in PROFILES),
                raw["standard"][f][1],
                raw["standard"][f][2],
            ]
            for f, s in zip(files, streams, strict=True)
        ],
    )
    settings = ", ".join(f"{f.name}={getattr(NAB_CONFIG, f.name)}" for f in fields(NAB_CONFIG))
    body = (
        f"Normalized NAB scores on the {len(files)} realTweets streams present ({names}; {total_windows} "
        "windows): 100 × (raw − null) / (perfect − null), perfect = windows × tpWeight, null = −windows × "
        "fnWeight. Published rows: the same normalization of the per-file raw scores in "
        "`published_results/<det>_<profile>_scores.csv` for the same streams (their thresholds are NAB's "
        "whole-corpus optima). Ours: the product defaults for every file, detection = "
        "`anomaly_score >= 0.5` = the product's own alert decision (no threshold sweep). Scorer: "
        "`bench/nab_score.py` (reproduces the published windowedGaussian per-file scores, "
        "`tests/test_nab_scorer.py`).\n\n"
        f"{main_table}\n\nPer file (ours):\n\n{per_file}\n\nBurstConfig: `{settings}`\n\n{PREVIOUS}\n"
    )
    print(main_table, per_file, sep="\n\n")
    if args.cv:
        section = cv_section(args.data, shared, profiles, args.jobs)
        print(section)
        body += "\n" + section
    if not args.no_write:
        cmd = "python bench/nab.py --out " + str(args.out) + (" --cv" if args.cv else "")
        write_section("nab", "NAB realTweets (burst detector)", cmd, body)


def cv_section(data: Path, shared: Path, profiles: dict[str, Cost], jobs: int) -> str:
    cost = profiles["standard"]
    series = load(data, shared, with_variants=True)
    cv = cross_validate(series, cost, jobs)
    configs = cv.configs
    names = sorted({s.name for s in series})
    n_windows = {
        n: next(len(s.windows) for s in series if s.name == n and s.variant == VARIANTS[0]) for n in names
    }
    all_windows = sum(n_windows.values())
    default_i = next(i for i, c in enumerate(configs) if c == NAB_CONFIG)

    def orig_total(i: int) -> float:
        return float(sum(v for v, s in zip(cv.table[i], series, strict=True) if s.variant == VARIANTS[0]))

    held_raw = sum(r for _, _, r in cv.folds)
    in_raw = orig_total(default_i)
    fold_rows: list[list[object]] = [
        [
            held.split("_")[-1].removesuffix(".csv"),
            describe(cfg),
            f"{r:.3f}",
            f"{cv.table[default_i][series.index(next(s for s in series if s.name == held))]:.3f}",
        ]
        for held, cfg, r in cv.folds
    ]
    summary_rows: list[list[object]] = [
        [
            "in-sample: the defaults on all 7 streams",
            f"{normalize(in_raw, all_windows, cost):.1f}",
            f"{in_raw:.3f}",
        ],
        [
            "leave-one-stream-out: each stream scored with the setting chosen on the other 6",
            f"**{normalize(held_raw, all_windows, cost):.1f}**",
            f"{held_raw:.3f}",
        ],
    ]
    summary = table(["score (standard)", "normalized", "raw"], summary_rows)
    by_variant: list[list[object]] = []
    for variant in VARIANTS:
        idx = [k for k, s in enumerate(series) if s.variant == variant]
        nw = sum(len(series[k].windows) for k in idx)
        by_variant.append(
            [variant, nw, f"{normalize(sum(cv.table[default_i][k] for k in idx), nw, cost):.1f}"]
        )
    ranked = sorted(range(len(configs)), key=lambda i: -sum(cv.table[i]))
    grid_rows: list[list[object]] = [
        [
            describe(configs[i]),
            f"{normalize(orig_total(i), all_windows, cost):.1f}",
            f"{sum(cv.table[i]):.2f}",
        ]
        for i in ranked
    ]
    chosen = cv.chosen
    verdict = (
        "= the shipped defaults"
        if chosen == NAB_CONFIG
        else f"≠ the shipped defaults ({describe(NAB_CONFIG)})"
    )
    return (
        "### How the defaults were chosen (cross-validation)\n\n"
        f"Grid: {grid_text()} "
        f"({len(configs)} settings); each scored on every stream and three variants of it (half the volume by "
        "binomial thinning, 4× the volume, the first 5 days cut off), summed raw standard score. For each "
        "stream left out, the setting best on the other six (all their variants) is scored on the original "
        f"stream left out. Chosen on all seven: {describe(chosen)} {verdict}.\n\n"
        f"{summary}\n\nPer fold:\n\n"
        + table(["left out", "setting chosen on the other 6", "raw (left out)", "raw (defaults)"], fold_rows)
        + "\n\nThe defaults on each variant (normalized standard score):\n\n"
        + table(["variant", "windows", "normalized"], by_variant)
        + "\n\nEvery setting of the grid (original streams; sum over all variants):\n\n"
        + table(["setting", "normalized (original)", "raw, all variants"], grid_rows)
        + "\n\nCaveats: the detector's structure (the count model, the windows, the daily-maximum "
        "calibration) was designed while looking at these 7 streams, so even the cross-validated figure is "
        f"optimistic; one window found early vs missed is worth up to {100 * 2 / (2 * all_windows):.1f} points. "
        "The published detectors' thresholds were optimized on the whole 58-file corpus.\n"
    )


if __name__ == "__main__":
    main()
