"""Conformance of bench/nab_score.py with NAB's published per-file scores, plus hand-made cases."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bench.nab_score import (
    PROFILES,
    Cost,
    load_profiles,
    load_windows,
    normalize,
    published_scores,
    read_scored_csv,
    scaled_sigmoid,
    score_file,
)

STREAMS = ("AAPL", "AMZN", "CRM", "CVS", "FB", "KO", "PFE")


def shared_nab() -> Path:
    env = os.environ.get("MONITOR_SHARED_DATA")
    base = Path(env) if env else Path(__file__).parents[1].parent / "shared" / "data"
    return base / "nab_realTweets"


@pytest.fixture(scope="module")
def nab() -> Path:
    root = shared_nab()
    if not (root / "reference_detector_windowedGaussian").is_dir():
        pytest.skip(f"NAB realTweets data not available at {root}")
    return root


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("stream", STREAMS)
def test_reproduces_published_windowed_gaussian_scores(nab: Path, stream: str, profile: str) -> None:
    name = f"Twitter_volume_{stream}.csv"
    ts, scores = read_scored_csv(nab / "reference_detector_windowedGaussian" / f"windowedGaussian_{name}")
    windows = load_windows(nab / "labels")[f"realTweets/{name}"]
    cost = load_profiles(nab / "config")[profile]
    threshold = json.loads((nab / "config" / "thresholds.json").read_text())["windowedGaussian"][profile][
        "threshold"
    ]
    expected = published_scores(nab / "published_results", "windowedGaussian", profile)[f"realTweets/{name}"]
    got = score_file(ts, scores, windows, threshold, cost)
    assert got.score == pytest.approx(expected, abs=1e-4)


def test_known_aapl_values(nab: Path) -> None:
    ts, scores = read_scored_csv(
        nab / "reference_detector_windowedGaussian" / "windowedGaussian_Twitter_volume_AAPL.csv"
    )
    windows = load_windows(nab / "labels")["realTweets/Twitter_volume_AAPL.csv"]
    profiles = load_profiles(nab / "config")
    std = score_file(ts, scores, windows, 1.0, profiles["standard"])
    low_fp = score_file(ts, scores, windows, 1.0, profiles["reward_low_FP_rate"])
    assert std.score == pytest.approx(1.5139968, abs=1e-6)
    assert low_fp.score == pytest.approx(-0.8188744, abs=1e-6)
    assert (std.tp, std.fp) == (42, 24)  # the TP / FP row counts of the published file


# --------------------------------------------------------------- hand-made cases (no data needed)

STD = Cost(tp=1.0, fp=0.11, fn=1.0)
T0 = datetime(2020, 1, 1)


def series(n: int) -> list[datetime]:
    return [T0 + timedelta(minutes=5 * i) for i in range(n)]


def test_scaled_sigmoid_shape() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0


def test_detection_at_left_edge_earns_full_tp_weight() -> None:
    ts = series(2000)
    win = [(ts[1000], ts[1099])]
    scores = [0.0] * 2000
    scores[1000] = 1.0
    assert score_file(ts, scores, win, 0.5, STD).score == pytest.approx(1.0)
    scores[1000], scores[1099] = 0.0, 1.0  # at the right edge: y = -1/100
    assert score_file(ts, scores, win, 0.5, STD).score == pytest.approx(
        scaled_sigmoid(-0.01) / scaled_sigmoid(-1)
    )


def test_missed_window_false_positives_and_probation() -> None:
    ts = series(2000)  # probation = min(300, 750) = 300 rows
    win = [(ts[1000], ts[1099])]
    scores = [0.0] * 2000
    assert score_file(ts, scores, win, 0.5, STD).score == pytest.approx(-1.0)
    scores[100] = 1.0  # inside probation: ignored
    assert score_file(ts, scores, win, 0.5, STD).score == pytest.approx(-1.0)
    scores[500] = 1.0  # before any window: -fpWeight
    res = score_file(ts, scores, win, 0.5, STD)
    assert res.score == pytest.approx(-1.11)
    assert (res.tp, res.fp) == (0, 1)
    scores[500] = 0.0
    scores[1149] = 1.0  # 50 rows after a 100-row window: ScaledSigmoid(50 / 99) * fpWeight
    expected = -1.0 + 0.11 * scaled_sigmoid(50 / 99)
    assert score_file(ts, scores, win, 0.5, STD).score == pytest.approx(expected)
    assert math.isclose(normalize(-1.0, 1, STD), 0.0) and math.isclose(normalize(1.0, 1, STD), 100.0)
