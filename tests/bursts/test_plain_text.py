"""A burst alert says what happened in one plain Chinese sentence (#15 item 6): counts, the usual level,
the configured clock; no scores, no English, no ids."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.alerting.burst_alerts import describe, plain_sentence
from monitor.alerting.burst_scopes import Scope
from monitor.alerting.compose import local_time
from monitor.analyze.burst_detector import BurstVerdict
from monitor.analyze.burst_text import sentence

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNTIL = local_time(datetime(2026, 12, 1, 2, 20, tzinfo=ZoneInfo("UTC")), SHANGHAI)


def verdict(observed: float, expected: float, minutes: int, total: float | None = None) -> BurstVerdict:
    return BurstVerdict(
        score=0.9,
        is_burst=True,
        observed=observed,
        expected=expected,
        window=timedelta(minutes=minutes),
        z=5.123,
        elevated=True,
        explanation="最近 20 分钟 6 条负面，基线预期 0.4 条；为基线的 15.0 倍，判定为爆发",
        total=total,
    )


def no_machine_words(text: str) -> None:
    assert not re.search(r"[A-Za-z]{3,}", text.replace("SKU", "").replace("UTC", "")), text
    assert "基线" not in text and "倍" not in text and "5.12" not in text and "z" not in text


def test_a_rule_on_one_sku_reads_as_one_sentence_in_the_configured_clock() -> None:
    text = plain_sentence(
        Scope("rule_sku", "damaged", sku="100012"), verdict(6, 0.4, 20), {"damaged": "破损"}, UNTIL
    )
    assert (
        text == "SKU 100012 近 20 分钟 6 条差评提到「破损」，平时同一时段约 0.4 条（截至 12-01 10:20 UTC+8）"
    )
    no_machine_words(text)


def test_a_platform_is_named_in_chinese_and_a_share_baseline_says_so() -> None:
    text = plain_sentence(Scope("platform", platform="jd"), verdict(7, 0.02, 60, total=9), {}, UNTIL)
    assert text.startswith("京东近 1 小时，共 9 条评价，其中 7 条差评，按平时的差评比例几乎没有")
    no_machine_words(text)


def test_the_clock_is_the_configured_one_and_labelled() -> None:
    until = local_time(datetime(2026, 12, 1, 2, 20, tzinfo=ZoneInfo("UTC")), ZoneInfo("Europe/Berlin"))
    text = sentence("全店", None, 12, 1.26, timedelta(hours=2), until=until)
    assert text == "全店近 2 小时 12 条差评，平时同一时段约 1.3 条（截至 12-01 03:20 UTC+1）"


def test_titles_name_platforms_and_rules_not_their_ids() -> None:
    assert describe(Scope("platform", platform="jd"), {}) == "京东平台的负面评价"
    assert describe(Scope("rule", "damaged"), {"damaged": "商品破损"}) == "「商品破损」 · 全店"
