"""Texts nobody should send still analyze: 1 MB, NUL bytes, bytes that were not UTF-8, mixed
scripts. The work per text is bounded by construction (MAX_OCCURRENCES_PER_RULE judged per rule),
which is what these tests check; timings live in bench/analysis.py."""

from __future__ import annotations

import pytest

from bench.analysis import load_rules
from monitor.analyze import Analyzer, MatchContext, RuleSet
from monitor.analyze.rules import MAX_OCCURRENCES_PER_RULE


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    rules, prio = load_rules()
    return Analyzer(RuleSet(rules, prio))


def test_a_megabyte_of_complaints_is_bounded(analyzer: Analyzer) -> None:
    text = "收到就是假货，包装破损，po损了，钱到现在还没回来，客服态度真是“好”到家了！" * 30_000
    assert len(text.encode("utf-8")) > 1_000_000
    a = analyzer.analyze(text, MatchContext(rating=1), explain=True)
    assert {"counterfeit", "damaged", "slow_refund", "service_attitude"} <= set(a.rules)
    per_rule: dict[str, int] = {}
    for h in a.hits:
        per_rule[h.rule_id] = per_rule.get(h.rule_id, 0) + 1
    assert max(per_rule.values()) <= MAX_OCCURRENCES_PER_RULE


def test_a_megabyte_without_punctuation(analyzer: Analyzer) -> None:
    a = analyzer.analyze("假" * 1_000_001)
    assert a.rules == [] and len(a.normalized) == 1_000_001


@pytest.mark.parametrize(
    "text",
    [
        "假\x00货\x00破损",
        "收到是假货\udcff\udcfe不退款",  # what surrogateescape makes of bytes that were not UTF-8
        b"\xff\xfe\xe5\x81\x87\xe8\xb4\xa7".decode("utf-8", "surrogateescape"),
        "ｆａ货太慢 Ｐｏ损 假貨 💔 العربية русский 日本語のテキスト 한국어 破損",
        "\u202e货假\u202c \u200b\ufeff",
        "",
        " \n\t ",
        "[怒][怒][怒]" * 1000,
    ],
)
def test_garbage_analyzes_without_error(analyzer: Analyzer, text: str) -> None:
    a = analyzer.analyze(text, MatchContext(rating=3), explain=True)
    a.to_json()
    assert "\udcff" not in a.normalized and "\udcfe" not in a.normalized
    for h in a.hits:
        assert 0 <= h.start < h.end <= len(a.normalized)


def test_mixed_scripts_still_match(analyzer: Analyzer) -> None:
    a = analyzer.analyze("ｆａ货太慢 Ｐｏ损")
    assert a.normalized == "发货太慢 破损"
    assert set(a.rules) == {"slow_delivery", "damaged"}
