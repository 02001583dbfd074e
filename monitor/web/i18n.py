"""Console language: Chinese by default, English with ``?lang=en`` (kept in a cookie).

Templates write the Chinese text and wrap it in ``_()``; this table gives the English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

LANGS: Final = ("zh", "en")
LANG_COOKIE: Final = "monitor_lang"

EN: Final[dict[str, str]] = {
    "舆情监控": "Opinion monitor",
    "评价看板": "Reviews",
    "告警": "Alerts",
    "持续升高（不告警）": "Rising slowly (reported, not paged)",
    "事件": "Incidents",
    "规则": "Rules",
    "数据源": "Sources",
    "报告": "Reports",
    "设置": "Settings",
    "登录": "Log in",
    "退出": "Log out",
    "用户名": "User name",
    "密码": "Password",
    "用户名或密码错误": "Wrong user name or password",
    "筛选": "Filter",
    "平台": "Platform",
    "评分": "Rating",
    "情感": "Sentiment",
    "维度": "Dimension",
    "等级": "Grade",
    "起始": "From",
    "截止": "Until",
    "全部": "all",
    "时间": "Time",
    "内容": "Text",
    "标签": "Tags",
    "分析": "Analysis",
    "上一页": "Previous",
    "下一页": "Next",
    "没有记录": "Nothing found",
    "状态": "State",
    "严重度": "Severity",
    "标题": "Title",
    "条数": "Items",
    "创建": "Created",
    "确认": "Acknowledge",
    "解决": "Resolve",
    "静默": "Silence",
    "静默时长": "Silence for",
    "备注": "Comment",
    "已确认": "acknowledged by",
    "相关评价": "Items",
    "检查清单": "Checklist",
    "期限": "Due",
    "负责": "Owner",
    "完成": "Done",
    "跳过": "Skip",
    "跳过（豁免）需要填写原因": "Skipping (a waiver) needs a reason",
    "原因 / 备注（跳过时必填）": "reason / note (required to skip)",
    "重开": "Reopen",
    "超时": "overdue",
    "剩余": "left",
    "按时": "on time",
    "迟了": "late",
    "记录": "Notes",
    "添加记录": "Add note",
    "回复草稿": "Reply drafts",
    "合规检查": "Compliance lint",
    "无问题": "no problems",
    "规则文件": "Rule files",
    "校验": "Validate",
    "测试句子": "Test a sentence",
    "测试": "Test",
    "回放": "Replay",
    "回放天数": "Replay days",
    "保存": "Save",
    "版本历史": "Version history",
    "回滚到此版本": "Roll back to this version",
    "校验通过": "Valid",
    "已保存并重新加载": "Saved and reloaded",
    "保存被拒绝，旧规则仍然生效": "Save refused; the old rules stay active",
    "规则命中变化": "Rule hit changes",
    "之前": "before",
    "之后": "after",
    "新增命中": "newly firing",
    "不再命中": "no longer firing",
    "命中": "Hits",
    "最近轮询": "Recent polls",
    "结论": "Verdict",
    "原因": "Reason",
    "连续失败": "Failures in a row",
    "最后成功": "Last ok",
    "日报": "Daily report",
    "周报": "Weekly review",
    "周期": "Period",
    "渠道": "Channels",
    "路由": "Routing",
    "无权限": "Not allowed",
    "你的角色不能执行此操作": "Your role may not do this",
    "请求已过期，请刷新页面": "The form expired; reload the page",
    "未找到": "Not found",
    "处置流程": "SOP",
    "对外口径": "External statement",
    "重新加载错误": "Reload errors",
    "数据缺口": "Gaps",
    "中断后未能补抓到上次看到的评价：这段时间的评价可能缺失，请到平台上人工查看。": (
        "After an interruption, catching up could not reach the last item seen: items from this time may be "
        "missing; check them on the platform by hand."
    ),
    "可能缺失": "May be missing",
    "记录于": "Recorded",
}


def translator(lang: str) -> Callable[[str], str]:
    if lang == "en":
        return lambda s: EN.get(s, s)
    return lambda s: s
