"""Compliance lint for replies and SOP statements (DOMAIN.md: reply wording and compliance).

Four kinds of finding:

- ``promise``: promises that cannot be kept (绝对无质量问题, 终身保修, 百分百 …);
- ``negation``: negating the customer (您理解错了, 我们规定不能, 这是您自己的问题 …);
- ``cold``: cold template phrases the 话术库 refresh drops (已记录, 请等待处理, 系统自动回复 …);
- ``ceiling``: a compensation amount (元/块/¥) above what frontline staff may grant.

Phrases are matched with whitespace removed, so ``已 记录`` is still caught. A leaf: it imports
nothing from the package, so the SOP schema (``monitor.config.sops``) lints while loading, and reply
drafts (``monitor.sop.drafts``) and ``monitor sop lint`` use the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Amount", "Finding", "amounts", "lint", "lint_phrases"]

KINDS = {
    "promise": "承诺违规",
    "negation": "否定顾客",
    "cold": "冷话术",
    "ceiling": "补偿超限",
    "placeholder": "占位符",
    "range": "补偿数额不确定",
}

# "5-20 元券", "10～30元", "5 到 20 元": offered a range, a customer asks for the high end
MONEY_RANGE = re.compile(r"\d+(?:\.\d+)?\s*(?:元\s*)?(?:-|–|—|~|～|至|到)\s*\d+(?:\.\d+)?\s*元")


def money_ranges(text: str) -> list[Finding]:
    """A compensation written as a range instead of one figure."""
    found = []
    for m in MONEY_RANGE.finditer(text):
        low, high = (float(x) for x in re.findall(r"\d+(?:\.\d+)?", m.group(0))[:2])
        if low < high:  # 满 200-20 元 is a discount, not a range
            found.append(
                Finding("range", m.group(0), "write one figure within the ceiling (e.g. 10 元), not a range")
            )
    return found


@dataclass(frozen=True)
class Finding:
    kind: str  # promise | negation | cold | ceiling
    phrase: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} ({KINDS[self.kind]}) 「{self.phrase}」: {self.message}"


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    message: str


def _rules(kind: str, message: str, patterns: Sequence[str]) -> list[_Rule]:
    return [_Rule(kind, re.compile(p, re.IGNORECASE), message) for p in patterns]


_PROMISE = "never promise what cannot be kept (电子商务法, 消费者权益保护法)"
_NEGATION = "do not negate the customer; acknowledge and offer a way forward"
_COLD = "cold template phrase; say what happens next, by when, and who does it"

RULES: list[_Rule] = [
    *_rules(
        "promise",
        _PROMISE,
        [
            r"绝对(?:没有|无|不会有|不存在|不可能有)(?:任何)?(?:质量)?问题",
            r"(?:保证|确保)(?:没有|无)(?:任何)?(?:质量)?问题",
            r"终身(?:保修|质保|免费维修|免费保修|包换|包退|售后)",
            r"永久(?:保修|质保|免费)",
            r"百分(?:之)?百",
            r"100\s*[%％]",
            r"(?:保证|担保|承诺|确保)(?:以后|今后|下次)?(?:再也不|绝不|永远不|不会再|不再)",
            r"(?:保证|承诺)(?:以后|今后|下次)?不会",
            r"(?:永远|永久)不(?:会)?再?(?:出现|发生)",
            r"绝对(?:正品|不会|没问题|放心|满意)",
            r"假一赔(?:十|百|千|万|\d{2,})",
            r"无条件(?:退换|退货|退款|换货)",
            r"(?:赔偿|补偿|承担)(?:您的)?(?:一切|所有|全部)(?:损失|费用)",
        ],
    ),
    *_rules(
        "negation",
        _NEGATION,
        [
            r"(?:您|你)(?:理解|看|搞|弄|想|记)错了",
            r"(?:您|你)(?:误会|误解)了",
            r"(?:我们|公司|平台|店铺|本店)?(?:的)?规定(?:了)?不(?:能|允许|可以|给)",
            r"(?:这|那|此)?(?:是|属于)(?:您|你)自己的(?:问题|原因|责任)",
            r"(?:您|你)自己的(?:问题|原因|责任)",
            r"(?:是|属于)?(?:您|你)(?:自己)?(?:操作|使用|保管)不当",
            r"不(?:可能)?是我们的(?:问题|责任|原因)",
            r"(?:跟|和|与)(?:我们|本店|店铺)(?:没有?关系|无关)",
            r"不归我们管",
            r"(?:我们|本店)(?:不|概不|无法)负责",
            r"(?<![替帮为给由])(?:您|你)(?:自己)?(?:去)?(?:找|联系)快递",
            r"(?:您|你)(?:没有?|不)(?:仔细)?(?:看|读)(?:清楚)?(?:详情|说明|描述)",
            r"我们(?:没有?|不会|不可能)(?:发错|漏发|少发|发假货)",
        ],
    ),
    *_rules(
        "cold",
        _COLD,
        [
            r"已(?:经)?记录",
            r"(?:请|请您)?(?:耐心)?等待处理",
            r"请(?:您)?耐心等(?:待|候)",
            r"系统自动回复",
            r"(?:按|走)(?:正常)?(?:流程|规定)(?:处理|办理|来)",
            r"(?:已|已经)(?:反馈|转交|提交)(?:给)?(?:相关)?部门",
            r"无法(?:处理|解决|受理)",
            r"(?:不在|超出)(?:我们的?)?(?:服务|受理)范围",
            r"有(?:任何)?问题(?:请)?(?:联系|咨询)(?:在线)?客服",
        ],
    ),
]

_NUM = r"\d+(?:\.\d+)?"
_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_NUM = rf"[{_CN_DIGITS}十百千万]+"
_UNIT = r"(?:元|块钱|块|圆|rmb)"
_AMOUNT = re.compile(
    rf"(?:[¥￥]|RMB|人民币)\s*(?P<pre>{_NUM})"
    rf"|(?P<lo>{_NUM}|{_CN_NUM})(?:\s*[-~～至到]\s*(?P<hi>{_NUM}|{_CN_NUM}))?\s*(?P<unit>{_UNIT})",
    re.IGNORECASE,
)
_COUPON = re.compile(r"^[^\d¥￥元块]{0,5}?(?:券|红包|优惠|代金)")
# Amounts that are prices or thresholds, not compensation: 满 100 元减, 售价 199 元, 实付 59 元.
_NOT_COMPENSATION = re.compile(
    r"(?:(?:满|价|金额|实付|付款|支付|订单额|消费)|满\s*\d+(?:\.\d+)?\s*(?:元|块)?\s*减)\s*$"
)


@dataclass(frozen=True)
class Amount:
    yuan: float
    coupon: bool
    text: str


def _cn_number(s: str) -> float | None:
    if not s or not any(ch in s for ch in _CN_DIGITS + "十百千万"):
        return None
    digits = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
    units = {"十": 10, "百": 100, "千": 1000}
    total, section, num = 0, 0, 0
    for ch in s:
        if ch in digits:
            num = digits[ch]
        elif ch in units:
            section += (num or 1) * units[ch]
            num = 0
        elif ch == "万":
            total += (section + num) * 10000
            section, num = 0, 0
    return float(total + section + num)


def _number(s: str | None) -> float | None:
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return _cn_number(s)


def amounts(text: str) -> list[Amount]:
    """Compensation amounts in ``text``; a range counts as its upper end (5-20 元券 -> 20)."""
    out: list[Amount] = []
    for m in _AMOUNT.finditer(text):
        if _NOT_COMPENSATION.search(text[max(0, m.start() - 14) : m.start()]):
            continue
        value = (
            _number(m.group("pre")) if m.group("pre") else _number(m.group("hi")) or _number(m.group("lo"))
        )
        if value is None:
            continue
        coupon = bool(_COUPON.match(text[m.end() : m.end() + 8]))
        out.append(Amount(value, coupon, m.group(0).strip()))
    return out


def lint_phrases(text: str) -> list[Finding]:
    folded = re.sub(r"\s+", "", text)
    found: list[Finding] = []
    spans: list[tuple[int, int]] = []
    for rule in RULES:
        for m in rule.pattern.finditer(folded):
            if any(m.start() < end and start < m.end() for start, end in spans):
                continue  # one finding per phrase, even when two patterns cover it
            spans.append(m.span())
            found.append(Finding(rule.kind, m.group(0), rule.message))
    return found


def lint(
    text: str,
    ceiling: float | None = None,
    coupon_ceiling: float | None = None,
    approval: str | None = None,
) -> list[Finding]:
    """Every problem in one reply or statement. Amounts are checked only when a ceiling is given;
    coupons use ``coupon_ceiling`` when set, else ``ceiling``."""
    found = lint_phrases(text)
    if ceiling is None:
        return found
    needs = f"; more needs {approval}'s approval" if approval else ""
    for a in amounts(text):
        limit = coupon_ceiling if a.coupon and coupon_ceiling is not None else ceiling
        if a.yuan > limit:
            what = "coupon" if a.coupon else "compensation"
            found.append(
                Finding(
                    "ceiling", a.text, f"{what} of {a.yuan:g} 元 is above the ceiling of {limit:g} 元{needs}"
                )
            )
    return found
