"""Daily report (口碑分析日报) and weekly review (复盘): build, render, archive, deliver.

``build_daily`` / ``build_weekly`` read the store and render Markdown (chat) and HTML
(email, console archive, with charts as inline SVG). The HTML is written from its own templates with
autoescaping, never converted from Markdown: a page-derived field (SKU, keyword, title) cannot become
a heading, a link or markup in either form (in Markdown every markup character of such a field is
escaped, ``monitor.notify.render.escape_md``). ``publish`` archives a
report and enqueues it to the report channels through the outbox with the idempotency
key ``report-<kind>-<period>-<channel>``. ``run_due`` is the daemon's daily job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from sqlalchemy import select

from monitor.config import Config
from monitor.hygiene import safe_url
from monitor.notify.kinds import kind_of
from monitor.notify.message import Attachment, Message
from monitor.notify.render import escape_md
from monitor.reports import data
from monitor.reports.chart import bars_svg, trend_svg
from monitor.reports.labels import platform, zh
from monitor.store import Store, outbox
from monitor.store import models as m

__all__ = ["Rendered", "build_daily", "build_weekly", "publish", "run_due"]

log = logging.getLogger(__name__)
_TEMPLATES = Path(__file__).with_name("templates")


def _cell(value: object) -> object:
    if isinstance(value, Markup):
        return value
    return str(value).replace("|", "/").replace("\n", " ")


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    if not autoescape:
        env.finalize = _cell
    env.filters["u"] = lambda v: escape_md(str(v), 300)  # an untrusted field inside Markdown
    env.globals["platform"] = platform
    env.globals["zh"] = zh
    env.globals["pct"] = lambda r: f"{r * 100:.1f}%"
    env.globals["change"] = lambda r: "—" if r.change is None else f"{r.change * 100:+.1f} pt"
    return env


_MD = _env(False)
_HTML = _env(True)


@dataclass
class Rendered:
    kind: str  # daily | weekly
    period: str  # 2026-11-23 | 2026-W47
    title: str
    markdown: str
    html: str
    data: dict[str, Any]
    chart_svg: str = ""


def _charts(kind: str, payload: Any) -> dict[str, Markup]:
    trend = payload.trend
    out = {
        "trend": trend_svg(
            [t.day for t in trend],
            {k: [getattr(t, k) for t in trend] for k in ("neg", "neu", "pos")},
            title="评价趋势（按情感）",
        ),
        "skus": bars_svg(
            [(r.sku, {"rate": round(r.rate * 100, 1)}) for r in payload.products[:8]],
            "差评率最高的商品（%）",
            fmt="{:g}%",
        ),
    }
    if kind == "daily":
        dims = [
            (dim, {k: float(v) for k, v in c.items()})
            for dim, c in payload.dim_sentiment.items()
            if sum(c.values())
        ]
        out["dims"] = bars_svg(dims, "维度 × 情感")
        out["platforms"] = bars_svg(
            [(platform(p), {"n": float(n)}) for p, n in payload.by_platform.items()], "平台分布"
        )
    return {k: Markup(v) for k, v in out.items()}


def _render(kind: str, period: str, title: str, ctx: dict[str, Any], tz_label: str) -> Rendered:
    md = _MD.get_template(f"{kind}.md.j2").render(**ctx)
    payload = ctx["d" if kind == "daily" else "w"]
    charts = _charts(kind, payload)
    body = _HTML.get_template(f"{kind}.html.j2").render(charts=charts, tz_label=tz_label, **ctx)
    page = _HTML.get_template("report.html.j2").render(title=title, body=Markup(body))
    return Rendered(kind, period, title, md, page, payload.to_json(), str(charts["trend"]))


def _titles(config: Config) -> dict[str, str]:
    return {r.id: r.title for r in config.rules}


def _link(config: Config, kind: str, period: str) -> str:
    return safe_url(f"{str(config.settings.web.base_url).rstrip('/')}/reports") or ""


def _tz_label(config: Config) -> str:
    return f"时区 {config.settings.tz.key}"


def _topics(config: Config) -> dict[str, str]:
    """A rule category's readable name: the title of its first rule (dimensions are names already)."""
    out: dict[str, str] = {}
    for r in config.rules:
        out.setdefault(r.category, r.title)
    return out


def build_daily(store: Store, config: Config, day: date, now: datetime) -> Rendered:
    store.ensure_rollup(config.settings.tz)  # counted again if the timezone changed
    with store.session() as s:
        d = data.daily(s, day, config.settings.tz, _titles(config), now)
    period = day.isoformat()
    title = f"口碑分析日报 {period}"
    ctx: dict[str, Any] = {"d": d, "link": _link(config, "daily", period)}
    return _render("daily", period, title, ctx, _tz_label(config))


def build_weekly(store: Store, config: Config, week: str, now: datetime) -> Rendered:
    monday = data.parse_week(week)
    categories = {r.id: r.category for r in config.rules}
    store.ensure_rollup(config.settings.tz)  # counted again if the timezone changed
    with store.session() as s:
        w = data.weekly(
            s, monday, config.settings.tz, _titles(config), categories, config.settings.web.departments, now
        )
    title = f"客诉复盘 {w.week}"
    topics = _topics(config)
    ctx: dict[str, Any] = {
        "w": w,
        "link": _link(config, "weekly", w.week),
        "topic": lambda t: topics.get(t, t),
    }
    return _render("weekly", w.week, title, ctx, _tz_label(config))


def archive(store: Store, report: Rendered, now: datetime) -> int:
    with store.transaction() as s:
        row = s.scalars(
            select(m.Report).where(m.Report.kind == report.kind, m.Report.period == report.period)
        ).first()
        if row is None:
            row = m.Report(
                kind=report.kind, period=report.period, created_at=now, markdown="", html="", data={}
            )
            s.add(row)
        row.markdown, row.html, row.data, row.created_at = report.markdown, report.html, report.data, now
        s.flush()
        return row.id


def channels_for(config: Config) -> list[str]:
    wanted = config.settings.web.report_channels
    names = list(wanted) if wanted is not None else list(config.settings.routing.default)
    unknown = [n for n in names if n not in config.settings.channels]
    for n in unknown:
        log.warning("report channel %r is not defined in channels; skipped", n)
    return [n for n in names if n not in unknown]


def _takes_html(config: Config, channel: str) -> bool:
    return all(kind_of(u).takes_html for u in config.settings.channels[channel].urls)


def publish(store: Store, config: Config, report: Rendered, now: datetime) -> int:
    """Archive ``report`` and enqueue it once per channel; returns the archive id.

    E-mail channels get the HTML report with the trend chart attached; the others its summary and a
    link to the archived report."""
    report_id = archive(store, report, now)
    link = f"{config.settings.web.base_url.rstrip('/')}/reports/{report_id}"
    summary = report.markdown.split("\n## ", 1)[0].strip()
    with store.transaction() as s:
        for ch in channels_for(config):
            key = f"report-{report.kind}-{report.period}-{ch}"
            if _takes_html(config, ch):
                chart = Attachment(
                    name=f"trend-{report.period}.svg", content=report.chart_svg, mime="image/svg+xml"
                )
                message = Message(title=report.title, event="report", html=report.html, attachments=(chart,))
            else:
                message = Message(
                    title=report.title, event="report", text=f"{summary}\n\n[完整报告 / full report]({link})"
                )
            outbox.enqueue(s, ch, message, key, now)
    return report_id


def run_due(store: Store, config: Config, now: datetime) -> list[str]:
    """The daemon's report job: yesterday's daily report, and on Mondays last week's review.
    Idempotent: an archived report is not sent twice."""
    today = now.astimezone(config.settings.tz).date()
    done = []
    due = [("daily", (today - timedelta(days=1)).isoformat())]
    if today.isoweekday() == 1:
        due.append(("weekly", data.week_of(today - timedelta(days=7))))
    with store.session() as s:
        existing = {
            (k, p)
            for k, p in s.execute(
                select(m.Report.kind, m.Report.period).where(m.Report.period.in_([p for _, p in due]))
            )
        }
    for kind, period in due:
        if (kind, period) in existing:
            continue
        if kind == "daily":
            report = build_daily(store, config, date.fromisoformat(period), now)
        else:
            report = build_weekly(store, config, period, now)
        publish(store, config, report, now)
        done.append(f"{kind} {period}")
        log.info("report %s %s archived and queued", kind, period)
    return done
