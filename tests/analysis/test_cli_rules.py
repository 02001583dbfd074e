"""`monitor rules test`, `monitor analyze` and `monitor rules replay` through click's runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.analyze import sentiment
from monitor.cli.analyze import analyze_cmd
from monitor.cli.rules import rules_group
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import write_project


class StubModel:
    """Sentiment without a model file: 好 positive, 差/慢/破损 negative."""

    def prob_positive(self, text: str) -> float:
        if any(w in text for w in ("差", "慢", "破损", "假货")):
            return 0.1
        return 0.9 if "好" in text else 0.5


@pytest.fixture(autouse=True)
def _stub_sentiment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentiment.SentimentModel, "load_default", classmethod(lambda cls: StubModel()))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    return write_project(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9", db_url=db)


def run(args: list[str], cmd: object = rules_group) -> object:
    return CliRunner().invoke(cmd, args, catch_exceptions=False)  # type: ignore[arg-type]


# ---- rules test ------------------------------------------------------------------------------------
def test_rules_test_explains_every_hit(project: Path) -> None:
    r = run(["test", "-c", str(project), "包裝完好，没有破损，但是發貨慢，客服态度差", "--rating", "2"])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "normalized:  包装完好,没有破损,但是发货慢,客服态度差" in out
    assert "发货慢" in out.split("tokens:")[1].split("\n")[0].split(" / ")
    assert "negated (被否定, keyword): 否定词「没有」" in out
    assert "slow_delivery" in out and "service_attitude" in out
    assert "alerts:      service_attitude, slow_delivery" in out
    assert "mentions:    damaged" in out
    assert "grade:       3" in out


def test_rules_test_explains_why_a_hit_is_only_a_mention(project: Path) -> None:
    r = run(["test", "-c", str(project), "隔壁那家客服态度差，这家很好", "--rating", "5"])
    assert r.exit_code == 0, r.output
    assert "other_target (说的是别家/别人, keyword): 说的是别家或别人：「隔壁」" in r.output
    assert "alerts:      none" in r.output and "mentions:    service_attitude" in r.output
    r = run(["test", "-c", str(project), "po损了", "--json"])
    doc = json.loads(r.output)  # type: ignore[attr-defined]
    assert doc["alerts"] == ["damaged"] and doc["normalized"] == "破损了"
    assert doc["restorations"] == [{"start": 0, "end": 2, "typed": "po损", "word": "破损", "typed_at": 0}]
    assert doc["hits"][0]["kind"] == "pinyin" and "读音还原：「po损」→「破损」" in doc["hits"][0]["reasons"]


def test_rules_test_json(project: Path) -> None:
    text = "曝光一下！买的是假货，防伪码查不到，已打12315"
    r = run(["test", "-c", str(project), text, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["rules"] == ["counterfeit", "legal_media_risk"]
    assert doc["severity"] == "critical"
    assert doc["grade"] == 5
    assert "防伪码查不到" in doc["tokens"]  # rule words are in jieba's user dictionary
    assert {h["decision"] for h in doc["hits"]} == {"complaint"}
    assert all(h["reasons"] and h["label"] == "投诉" for h in doc["hits"])
    assert doc["alerts"] == doc["rules"] and doc["mentions"] == []


def test_rules_test_shows_out_of_scope_and_questions(project: Path) -> None:
    r = run(["test", "-c", str(project), "会不会是假货？"])
    assert r.exit_code == 0
    assert "question" in r.output and "alerts:      none" in r.output


# ---- analyze ---------------------------------------------------------------------------------------
def test_analyze_csv_to_stdout(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "reviews.csv"
    f.write_text(
        "text,rating,sku,time\n"
        '"发货太慢了，等了一周",2,A1,2026-11-01\n'
        '"很好，没有破损",5,A1,\n'
        '"假货！已经报警",1,B2,\n',
        encoding="utf-8",
    )
    r = CliRunner().invoke(analyze_cmd, ["-c", str(project), str(f)])
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["rules"] for x in rows] == [["slow_delivery"], [], ["counterfeit", "legal_media_risk"]]
    assert [x["line"] for x in rows] == [2, 3, 4]
    assert rows[0]["sku"] == "A1" and rows[0]["time"] == "2026-11-01" and rows[0]["rating"] == 2
    assert rows[1]["grade"] is None and rows[2]["grade"] == 5
    assert rows[0]["dimensions"] == ["物流时效"]
    assert "3 row(s) analyzed" in r.stderr and "slow_delivery" in r.stderr


def test_analyze_jsonl_to_file(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "reviews.jsonl"
    lines = [{"text": "包装破损", "rating": 1}, {"text": "不错"}, {"text": "客服态度太差", "sku": 7}]
    f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(analyze_cmd, ["-c", str(project), str(f), "--out", str(out), "--hits"])
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["rules"] for x in rows] == [["damaged"], [], ["service_attitude"]]
    assert rows[2]["sku"] == "7"
    assert rows[0]["hits"][0]["decision"] == "complaint"
    assert "3 row(s) analyzed" in r.stdout  # the summary goes to the terminal when JSONL goes to a file


def test_analyze_reports_bad_rows_with_file_and_line(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(
        '{"text": "破损"}\n{"text": 破损}\n{"rating": 3}\n{"text": "好", "rating": 9}\n[1]\n',
        encoding="utf-8",
    )
    r = CliRunner().invoke(analyze_cmd, ["-c", str(project), str(f)])
    assert r.exit_code == 1
    assert len(r.stdout.splitlines()) == 1
    assert f"{f}:2: not valid JSON" in r.stderr
    assert f"{f}:3: no 'text' field" in r.stderr
    assert f"{f}:4: rating 9 is not a whole number from 1 to 5" in r.stderr
    assert f"{f}:5: expected a JSON object per line" in r.stderr


def test_analyze_csv_without_text_column(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("review,label\n好,1\n", encoding="utf-8")
    r = CliRunner().invoke(analyze_cmd, ["-c", str(project), str(f)])
    assert r.exit_code == 1
    assert f"{f}:1: no 'text' column (columns: review, label)" in r.stderr


def test_analyze_csv_ragged_row(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("text,rating\n破损,1\n破损,1,extra\n", encoding="utf-8")
    r = CliRunner().invoke(analyze_cmd, ["-c", str(project), str(f)])
    assert r.exit_code == 1
    assert f"{f}:3: 3 fields where the header has 2" in r.stderr


def test_analyze_needs_a_sentiment_model(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(cls: object) -> object:
        raise ValueError("no such file")

    monkeypatch.setattr(sentiment.SentimentModel, "load_default", classmethod(missing))
    f = tmp_path / "x.csv"
    f.write_text("text\n破损\n", encoding="utf-8")
    r = CliRunner().invoke(analyze_cmd, ["-c", str(project), str(f)])
    assert r.exit_code == 1
    assert "cannot load the sentiment model" in r.stderr


# ---- replay ----------------------------------------------------------------------------------------
def _store_items(url: str, items: list[tuple[str, list[str], datetime]]) -> None:
    store = Store.open(url)
    try:
        with store.transaction() as s:
            for i, (text, fired, at) in enumerate(items):
                row = m.Item(
                    source="jd-cup",
                    platform="jd",
                    external_id=f"e{i}",
                    text=text,
                    fetched_at=at,
                    updated_at=at,
                    payload_hash=f"h{i}",
                    attrs={},
                    revision=1,
                )
                s.add(row)
                s.flush()
                s.add(
                    m.Analysis(
                        item_id=row.id,
                        normalized=text,
                        rules=fired,
                        hits=[],
                        sentiment="neg",
                        sentiment_score=0.1,
                        dimensions=[],
                        grade=None,
                        grade_reasons=[],
                        severity=None,
                        analyzed_at=at,
                    )
                )
    finally:
        store.close()


def test_replay_shows_before_and_after_without_writing(project: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    now = datetime.now(UTC)
    _store_items(
        url,
        [
            ("包装完好，没有破损", ["damaged"], now - timedelta(hours=1)),  # fired under the old naive rules
            ("发货也太慢了吧", [], now - timedelta(hours=2)),  # a pattern the old rules lacked
            ("收到就是破损的", ["damaged"], now - timedelta(days=1)),
            ("破损严重", [], now - timedelta(days=30)),  # outside --since
        ],
    )
    r = run(["replay", "-c", str(project), "--since", "7d", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["items"] == 3
    by = {x["rule"]: x for x in doc["rules"]}
    assert (by["damaged"]["before"], by["damaged"]["after"]) == (2, 1)
    assert by["damaged"]["no_longer_firing"] == 1
    assert by["damaged"]["examples_no_longer_firing"][0]["why"] == "negated: 否定词「没有」"
    assert (by["slow_delivery"]["before"], by["slow_delivery"]["after"]) == (0, 1)
    assert by["slow_delivery"]["examples_newly_firing"][0]["text"] == "发货也太慢了吧"

    text = run(["replay", "-c", str(project), "--since", "7d"]).output  # type: ignore[attr-defined]
    assert "replayed 3 stored item(s)" in text
    assert "damaged" in text and "no longer firing" in text

    store = Store.open(url)  # nothing was written
    with store.session() as s:
        assert sorted(tuple(a.rules) for a in s.query(m.Analysis)) == [(), (), ("damaged",), ("damaged",)]
    store.close()


def test_replay_rejects_a_bad_duration(project: Path) -> None:
    for cmd in ("replay", "uncovered"):
        r = CliRunner().invoke(rules_group, [cmd, "-c", str(project), "--since", "soon"])
        assert r.exit_code == 2
        assert "--since" in r.output


# ---- uncovered -------------------------------------------------------------------------------------
def test_uncovered_groups_negative_items_no_rule_caught(project: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    now = datetime.now(UTC)
    hour = timedelta(hours=1)
    _store_items(
        url,
        [
            ("耳机左耳没声音，右耳电流声很大", [], now - hour),
            ("用了两天左耳没声音了，差", [], now - 2 * hour),
            ("左耳没声音，退货", [], now - 3 * hour),
            ("收到就是破损的", ["damaged"], now - 4 * hour),  # a rule catches it
            ("杯子漂亮，保温好", [], now - 5 * hour),
            ("左耳没声音", [], now - timedelta(days=30)),  # outside --since
        ],
    )
    r = run(["uncovered", "-c", str(project), "--since", "7d", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)  # type: ignore[attr-defined]
    assert (doc["items"], doc["negative"], doc["uncovered"]) == (5, 5, 4)
    top = doc["groups"][0]
    assert "左耳" in top["phrase"] and top["items"] == 3
    assert {e["text"] for e in top["examples"]} >= {"左耳没声音，退货"}
    assert "keywords: [" in top["snippet"] and "id: new_" in top["snippet"]
    text = run(["uncovered", "-c", str(project), "--since", "7d"]).output  # type: ignore[attr-defined]
    assert "5 item(s) fetched in the last 7d: 5 negative, 4 of them caught by no rule" in text
    assert "「" in text and "title: 待命名：" in text
