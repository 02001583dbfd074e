"""The rule language of #11: concept groups near each other, senses, sound-alike keywords; their
load-time errors (path:line: key: message) and how a match made of several words is judged."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import yaml

from monitor.adapters import registry
from monitor.analyze import MatchContext, RuleSet
from monitor.analyze.hits import DECISIONS, Hit
from monitor.analyze.text import fold_with_breaks
from monitor.config import ConfigInvalid, load_config
from monitor.config.rules import RuleFile
from monitor.daemon import Daemon
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from tests.conftest import ROOT, write_project


class Neutral:
    def prob_positive(self, text: str) -> float:
        return 0.3


def ruleset(doc: str) -> RuleSet:
    parsed = RuleFile.model_validate(yaml.safe_load(doc))
    return RuleSet(parsed.rules, parsed.priority_words)


def alerts(rs: RuleSet, text: str, rating: int | None = None) -> list[str]:
    folded, breaks = fold_with_breaks(text)
    return rs.evaluate(folded, MatchContext(rating=rating), breaks, model=Neutral()).fired


def decisions(rs: RuleSet, text: str) -> list[tuple[str, str]]:
    folded, breaks = fold_with_breaks(text)
    return [(h.keyword, h.decision) for h in rs.evaluate(folded, breaks=breaks, model=Neutral()).hits]


REFUND = """
concepts:
  refund: [退款, 钱]
  stall: [还没回来, 没到账, 拖]
rules:
  - id: slow_refund
    title: 退款慢
    category: slow_refund
    near:
      - {all: [refund, stall]}
"""


# ---- near groups -----------------------------------------------------------------------------------
def test_near_group_matches_within_a_clause_and_is_judged_as_one() -> None:
    rs = ruleset(REFUND)
    assert alerts(rs, "钱到现在还没回来，售后说在走流程") == ["slow_refund"]
    assert alerts(rs, "退款三天了还没到账") == ["slow_refund"]
    assert alerts(rs, "钱到现在都没到账") == ["slow_refund"]
    assert alerts(rs, "钱花得值。物流拖了两天") == []  # different sentences and clauses
    assert alerts(rs, "退款，拖") == []  # a comma ends the clause
    assert decisions(rs, "退款没有拖，很快") == [("退款…拖", "negated")]  # negation on any part
    assert decisions(rs, "担心退款会拖") == [("退款…拖", "hypothetical")]
    hit = RuleSet.evaluate(rs, "钱还没回来", model=Neutral()).hits[0]
    assert (hit.kind, hit.keyword, hit.start, hit.end) == ("near", "钱…还没回来", 0, 5)


def test_near_within_characters_and_order() -> None:
    rs = ruleset(REFUND.replace("{all: [refund, stall]}", "{all: [stall, refund], within: 4, ordered: true}"))
    assert alerts(rs, "拖了好久才退款") == ["slow_refund"]
    assert alerts(rs, "退款拖着") == []  # wrong order
    assert alerts(rs, "拖了非常非常久才退款") == []  # more than 4 characters apart
    rs = ruleset(REFUND.replace("{all: [refund, stall]}", "{all: [refund, stall], within: sentence}"))
    assert alerts(rs, "申请了退款，一直拖") == ["slow_refund"]
    assert alerts(rs, "申请了退款。一直拖") == []


def test_sarcasm_marker_in_a_near_group() -> None:
    rs = ruleset(
        "concepts:\n  service: [客服, 态度]\nrules:\n  - id: attitude\n    title: T\n    category: c\n"
        "    near:\n      - {all: [service, $sarcasm]}\n"
    )
    assert alerts(rs, "客服态度真是“好”到家了") == ["attitude"]
    assert alerts(rs, "客服态度真好") == []


def test_senses_and_exclusions_make_other_sense() -> None:
    rs = ruleset(
        "rules:\n  - id: damaged\n    title: T\n    category: c\n    keywords: [裂开, 碎了]\n"
        "    exclude: [心碎了]\n    senses:\n      - {keywords: [裂开], cues: [熟了]}\n"
    )
    assert decisions(rs, "西瓜一拍就裂开说明熟了") == [("裂开", "other_sense")]
    assert decisions(rs, "西瓜送到就裂开了") == [("裂开", "complaint")]
    assert decisions(rs, "心碎了") == [("碎了", "other_sense")]


def test_sound_alike_spellings_are_restored_with_a_guard() -> None:
    rs = ruleset(
        "rules:\n  - id: damaged\n    title: T\n    category: c\n    keywords: [破损]\n"
        "  - id: fake\n    title: T\n    category: c\n    keywords: [a货, 假货]\n    pinyin: [假货]\n"
        "  - id: slow\n    title: T\n    category: c\n    keywords: [发货慢]\n"
    )
    assert alerts(rs, "po损了") == ["damaged"]
    assert alerts(rs, "jiahuo,差评") == ["fake"]  # full pinyin only for `pinyin` keywords
    assert alerts(rs, "posun") == []
    assert alerts(rs, "fa货慢") == ["slow"]  # not a货
    assert alerts(rs, "买了个a货") == ["fake"]
    assert alerts(rs, "fa货速度快") == []
    assert alerts(rs, "ipo损益表") == []  # a Latin run must be exactly the syllables
    folded, breaks = fold_with_breaks("包装po损")
    ev = rs.evaluate(folded, breaks=breaks, model=Neutral())
    assert ev.text == "包装破损" and ev.hits[0].kind == "pinyin"
    assert "读音还原：「po损」→「破损」" in ev.hits[0].reasons


def test_a_typed_space_after_a_negator_keeps_the_negation() -> None:
    rs = ruleset("rules:\n  - id: fake\n    title: T\n    category: c\n    keywords: [假货, 破损]\n")
    assert decisions(rs, "不是 假货，放心买") == [("假货", "negated")]
    assert decisions(rs, "质量没问题 破损了") == [("破损", "complaint")]


def test_hit_model() -> None:
    h = Hit("r", "假货", 0, 2, "other_target", ("说的是别家或别人：「隔壁」",))
    assert h.negated and not h.alerts and h.label == DECISIONS["other_target"]
    assert Hit("r", "假货", 0, 2, "complaint").alerts
    with pytest.raises(ValueError, match="unknown decision"):
        Hit("r", "假货", 0, 2, "fired")
    assert set(DECISIONS) >= {"complaint", "mention", "negated", "question", "hypothetical"}
    assert "suggested" in DECISIONS  # reserved for the learned model's hits


# ---- load-time errors ------------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "monitor.yaml", tmp_path / "monitor.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "sources", tmp_path / "sources")
    return tmp_path


BAD = """\
concepts:
  refund: [退款]
  empty: []
rules:
  - id: one
    title: T
    category: c
    near:
      - {all: [refund, stall]}
  - id: two
    title: T
    category: c
    keywords: [坏了]
    pinyin: [坏]
    senses:
      - {keywords: [裂开], cues: [熟了]}
  - id: three
    title: T
    category: c
    near:
      - {all: [refund, $irony]}
"""


def test_bad_rule_language_is_located(project: Path) -> None:
    (project / "rules" / "zz_bad.yaml").write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigInvalid) as exc:
        load_config(project / "monitor.yaml", registry())
    errors = [str(e) for e in exc.value.errors]
    path = str(project / "rules" / "zz_bad.yaml")

    def has(line: int, key: str, words: str) -> bool:
        return any(e.startswith(f"{path}:{line}: {key}: ") and words in e for e in errors)

    assert has(14, "rules[1].pinyin", "'坏' folds to 'huai', too short to match by sound"), errors
    # the schema errors come first; fix them and the references are checked
    (project / "rules" / "zz_bad.yaml").write_text(BAD.replace("[坏]", "[坏了]"), encoding="utf-8")
    with pytest.raises(ConfigInvalid) as exc:
        load_config(project / "monitor.yaml", registry())
    errors = [str(e) for e in exc.value.errors]
    assert has(3, "concepts.empty", "concept 'empty' is an empty group"), errors
    assert has(9, "rules[0].near[0].all[1]", "concept 'stall' is not defined"), errors
    assert has(21, "rules[2].near[0].all[1]", "unknown built-in marker '$irony'"), errors
    (project / "rules" / "zz_bad.yaml").write_text(
        BAD.replace("[坏]", "[坏了]")
        .replace("  empty: []\n", "  stall: [拖]\n")
        .replace("$irony", "$sarcasm"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigInvalid) as exc:
        load_config(project / "monitor.yaml", registry())
    errors = [str(e) for e in exc.value.errors]
    assert has(16, "rules[1].senses[0].keywords[0]", "'裂开' is not a keyword of this rule"), errors
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("    near:\n      - {all: [refund]}\n", "at least 2 items"),
        ("    near:\n      - {all: [$sarcasm, $sarcasm]}\n", "at least one concept"),
        ("    near:\n      - {all: [refund, refund]}\n", "listed twice"),
        ("    near:\n      - {all: [refund, stall], within: 99}\n", "from 1 to 40"),
        ("    senses:\n      - {keywords: [退款]}\n", "needs cues or concepts"),
        ("    pinyin: [tui款]\n", "Chinese characters only"),
    ],
)
def test_more_bad_rule_language(snippet: str, message: str) -> None:
    doc = (
        "concepts:\n  refund: [退款]\n  stall: [拖]\nrules:\n  - id: r\n    title: T\n    category: c\n"
        "    keywords: [退款]\n" + snippet
    )
    with pytest.raises(Exception, match=message):
        RuleFile.model_validate(yaml.safe_load(doc))


def test_a_bad_concept_edit_keeps_the_old_rules_running(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(write_project(tmp_path, storefront.base_url, sink.url))
    daemon.start()
    try:
        before = [r.id for r in daemon.config.rules]
        default = tmp_path / "rules" / "default.yaml"
        default.write_text(
            default.read_text(encoding="utf-8").replace(
                "{all: [refund, stall], within: clause}", "{all: [refund, stalling]}"
            ),
            encoding="utf-8",
        )
        with caplog.at_level(logging.ERROR, logger="monitor.daemon"):
            assert daemon.reload() is False
        assert "default.yaml:" in caplog.text and "concept 'stalling' is not defined" in caplog.text
        assert [r.id for r in daemon.config.rules] == before
        assert daemon.poll("jd-cup") is not None
    finally:
        daemon.shutdown()
