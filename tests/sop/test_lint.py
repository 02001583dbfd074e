"""The compliance lint, driven by the table in lint_cases.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli.sop import sop_group
from monitor.config.compliance import amounts, lint

CASES: dict[str, Any] = yaml.safe_load((Path(__file__).with_name("lint_cases.yaml")).read_text("utf-8"))
CEILING, COUPON = 50.0, 30.0


def test_table_is_big_enough() -> None:
    assert len(CASES["violations"]) >= 40
    assert len(CASES["clean"]) >= 10


@pytest.mark.parametrize("case", CASES["violations"], ids=lambda c: c["text"][:16])
def test_violation_is_caught(case: dict[str, Any]) -> None:
    found = lint(case["text"], CEILING, COUPON, "客服主管")
    assert [f.kind for f in found] == case["kinds"], [str(f) for f in found]


@pytest.mark.parametrize("text", CASES["clean"], ids=lambda t: t[:16])
def test_clean_reply_passes(text: str) -> None:
    assert lint(text, CEILING, COUPON) == []


@pytest.mark.parametrize(
    "phrase",
    [
        *("绝对无质量问题", "终身保修", "百分百", "保证不会再"),
        *("您理解错了", "我们规定不能", "这是您自己的问题"),
        *("已记录", "请等待处理", "系统自动回复"),
    ],
)
def test_every_phrase_named_in_the_brief(phrase: str) -> None:
    assert lint(f"亲，{phrase}。"), phrase


def test_amounts_ranges_coupons_and_chinese_numerals() -> None:
    got = [
        (a.yuan, a.coupon) for a in amounts("退款 + 5-20 元券，或补偿五十块，另送 ¥8 红包；满 99 元减 10 元")
    ]
    assert got == [(20.0, True), (50.0, False), (8.0, True)]


def test_without_a_ceiling_amounts_are_not_judged() -> None:
    assert lint("补偿您 500 元") == []
    assert [f.kind for f in lint("补偿您 500 元", 50)] == ["ceiling"]


def test_cli_text_and_files(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(sop_group, ["lint", "--text", "非常抱歉，我们今天就为您补发。"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(sop_group, ["lint", "--text", "您理解错了", "--text", "补偿 80 元"])
    assert bad.exit_code == 1
    assert "--text 1: negation" in bad.output and "--text 2: ceiling" in bad.output
    replies = tmp_path / "replies.txt"
    replies.write_text("好的，马上为您处理。\n\n已记录，请等待处理\n", encoding="utf-8")
    out = runner.invoke(sop_group, ["lint", str(replies)])
    assert out.exit_code == 1
    assert f"{replies}:3: cold" in out.output
    sop = tmp_path / "x.yaml"
    sop.write_text(
        "sops:\n  - id: x\n    title: t\n    compensation: {ceiling_yuan: 50, approval: 主管}\n"
        "    statement: 我们的商品终身保修\n    steps: [{key: a, title: t, owner: 客服}]\n",
        encoding="utf-8",
    )
    out = runner.invoke(sop_group, ["lint", str(sop)])
    assert out.exit_code == 1
    assert f"{sop}:5: sops[0].statement: promise" in out.output
    assert runner.invoke(sop_group, ["lint"]).exit_code == 2
