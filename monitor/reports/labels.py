"""Chinese names for the codes people read: platforms, states, severities, sentiments, kinds.

Used by the reports and the console (``monitor.web``): a code missing here is shown as it is, so a
new platform or state is never hidden, only untranslated.
"""

from __future__ import annotations

from typing import Final

PLATFORMS: Final[dict[str, str]] = {
    "jd": "京东",
    "tmall": "天猫",
    "taobao": "淘宝",
    "weibo": "微博",
    "xhs": "小红书",
    "xiaohongshu": "小红书",
    "douyin": "抖音",
    "pdd": "拼多多",
    "pinduoduo": "拼多多",
    "kuaishou": "快手",
    "rss": "RSS",
    "demo": "演示店铺",
}
ALERT_STATES: Final = {"firing": "告警中", "acknowledged": "已确认", "resolved": "已解决", "open": "未解决"}
SEVERITIES: Final = {"critical": "紧急", "high": "高", "medium": "中", "low": "低", "info": "提示"}
SENTIMENTS: Final = {"neg": "负向", "neu": "中性", "pos": "正向"}
KINDS: Final = {
    "keyword": "关键词",
    "burst": "集中爆发",
    "new_problem": "新问题",
    "source_health": "数据源异常",
    "system": "系统",
}
INCIDENT_STATES: Final = {"open": "处理中", "closed": "已关闭"}
STEP_STATES: Final = {"todo": "待办", "doing": "进行中", "done": "已完成", "skipped": "已跳过"}
VERDICTS: Final = {
    "ok": "正常",
    "empty": "无新评价",
    "blocked": "被拦截",
    "broken": "页面结构变化",
    "error": "出错",
}
EVENTS: Final = {
    "opened": "创建",
    "step": "步骤",
    "overdue": "超时",
    "reminder": "提醒",
    "closed": "关闭",
    "follow_up": "回访",
    "note": "记录",
}

ROLES: Final = {"admin": "管理员", "oncall": "值班", "pr": "公关客服", "viewer": "只读"}

TABLES: Final = {
    "role": ROLES,
    "platform": PLATFORMS,
    "alert_state": ALERT_STATES,
    "severity": SEVERITIES,
    "sentiment": SENTIMENTS,
    "kind": KINDS,
    "incident_state": INCIDENT_STATES,
    "step_state": STEP_STATES,
    "verdict": VERDICTS,
    "event": EVENTS,
}


def zh(table: str, code: object) -> str:
    """The Chinese name of ``code`` in ``table`` (one of ``TABLES``), or the code itself."""
    text = "" if code is None else str(code)
    return TABLES[table].get(text, text)


def platform(code: object) -> str:
    return zh("platform", code)


__all__ = ["TABLES", "platform", "zh"]
