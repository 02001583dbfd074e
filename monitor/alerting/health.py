"""Source health: a source that keeps failing is blind, and admins must hear it once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from monitor.alerting import announce, open_alert, raise_alert, resolve
from monitor.alerting.compose import local_time
from monitor.config import Config
from monitor.notify.render import platform_name
from monitor.store import models as m

VERDICTS = {  # what a failing poll means, for the person reading the alert
    "blocked": "被拦截/需要登录",
    "broken": "页面结构变化",
    "error": "抓取出错",
    "empty": "没有返回内容",
    "ok": "正常",
}
ADVICE = {
    "blocked": "在数据源的环境变量里更新 Cookie/登录信息，或放慢抓取频率",
    "broken": "页面结构变了：用 `monitor try-source` 检查该数据源的选择器或字段路径",
    "error": "检查网络是否可达、数据源地址是否正确",
    "empty": "数据源没有返回任何内容：检查地址，以及该来源是否仍有内容",
}
_SPECIFIC = (
    ("robots.txt", "该网站的 robots.txt 禁止抓取此地址：删除该数据源，或取得许可后设置 "
     "`respect_robots: false`"),
    ("rate limit", "平台在限流：调大该数据源的 `interval` 和 `request_interval`"),
    ("environment variable", "为守护进程设置缺失的环境变量后重启"),
    ("RSSHub", "在 RSSHub 实例的配置里更新该平台的 Cookie"),
)  # fmt: skip


def verdict_name(verdict: str) -> str:
    """被拦截/需要登录 for ``blocked``; an unknown verdict stays as it is."""
    return VERDICTS.get(verdict, verdict)


def advice(verdict: str, reason: str) -> str:
    """What an admin should do about a source that fails with ``verdict`` and ``reason``."""
    for needle, text in _SPECIFIC:
        if needle.lower() in reason.lower():
            return text
    return ADVICE.get(verdict, "运行 `monitor try-source 数据源名` 查看该数据源返回了什么")


def record(
    s: Session, config: Config, state: m.SourceState, verdict: str, reason: str, now: datetime
) -> m.Alert | None:
    """Update ``state`` with this poll's verdict; raise or resolve the source-blind alert."""
    state.polls += 1
    state.last_poll_at = now
    state.last_verdict = verdict
    state.last_reason = reason
    healthy = verdict == "ok" or (verdict == "empty" and not state.had_items)
    key = f"source_health:{state.name}"
    if healthy:
        # the alert is raised only here, with failures counted and blind_since set, and resolved here
        # with both cleared: a source with neither has none open (one query less per healthy poll)
        was_well = state.consecutive_failures == 0 and state.blind_since is None
        state.last_ok_at = now
        state.consecutive_failures = 0
        alert = None if was_well else open_alert(s, key)
        if alert is not None:
            tz = config.settings.tz
            since = local_time(state.blind_since, tz) if state.blind_since else "未知时间"
            summary = f"已恢复：数据源 {state.name} 重新正常抓取（自 {since} 起失明）"
            resolve(s, config, alert, now, by="auto", summary=summary)
            state.blind_since = None
        return alert
    state.consecutive_failures += 1
    if state.consecutive_failures < config.settings.alerting.blind_after or open_alert(s, key) is not None:
        return None
    state.blind_since = now
    src = config.sources.get(state.name)
    platform = getattr(src, "platform", None)
    where = f"{platform_name(platform)} · " if platform and platform != "other" else ""
    alert = raise_alert(
        s,
        now,
        dedup_key=key,
        kind="source_health",
        rule_id=None,
        category="source_health",
        severity="high",
        grade=None,
        platform=platform,
        source=state.name,
        sku=None,
        title=f"数据源失明：{where}{state.name}（{verdict_name(verdict)}）",
        summary=(
            f"连续 {state.consecutive_failures} 次抓取失败（{verdict_name(verdict)}）：{reason}。"
            f"处理建议：{advice(verdict, reason)}"
        ),
    )
    announce(s, config, alert, now)
    return alert
