"""The console's read model: every query the pages and the REST API show, and their JSON shapes.

The one web module that speaks SQL (a test holds the rest of ``monitor.web`` to that); changes go
through the domain modules (``monitor.alerting.lifecycle``, ``monitor.sop.incidents``,
``monitor.admin``). Each function opens its own session and returns loaded rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from monitor.alerting import burst_alerts, lifecycle
from monitor.config import Config
from monitor.config.sops import Sop
from monitor.sop import incidents as sop_incidents
from monitor.sop.drafts import DraftError, drafts_for_item
from monitor.store import Store
from monitor.store import models as m

PAGE_SIZE = 50
SENTIMENTS = ("neg", "neu", "pos")


@dataclass
class ItemFilter:
    platform: str = ""
    sku: str = ""
    rating: int | None = None
    sentiment: str = ""
    dimension: str = ""
    rule: str = ""
    grade: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1

    @classmethod
    def from_query(cls, q: Any, tz: Any) -> ItemFilter:
        def num(name: str, lo: int, hi: int) -> int | None:
            v = str(q.get(name, "")).strip()
            return int(v) if v.isdigit() and lo <= int(v) <= hi else None

        def day(name: str) -> datetime | None:
            v = str(q.get(name, "")).strip()
            try:
                return datetime.fromisoformat(v).replace(tzinfo=tz) if v else None
            except ValueError:
                return None

        until = day("until")
        return cls(
            platform=str(q.get("platform", "")).strip(),
            sku=str(q.get("sku", "")).strip(),
            rating=num("rating", 1, 5),
            sentiment=v if (v := str(q.get("sentiment", ""))) in SENTIMENTS else "",
            dimension=str(q.get("dimension", "")).strip(),
            rule=str(q.get("rule", "")).strip(),
            grade=num("grade", 1, 5),
            since=day("since"),
            until=until + timedelta(days=1) if until and len(str(q.get("until"))) <= 10 else until,
            page=num("page", 1, 100000) or 1,
        )


def _json_has(column: Any, value: str) -> Any:
    # JSON lists are stored as json.dumps text on both backends; match the encoded element.
    return cast(column, String).contains(json.dumps(value), autoescape=True)


def item_query(f: ItemFilter) -> Any:
    q = select(m.Item, m.Analysis).join(m.Analysis, m.Analysis.item_id == m.Item.id, isouter=True)
    if f.platform:
        q = q.where(m.Item.platform == f.platform)
    if f.sku:
        q = q.where(m.Item.sku == f.sku)
    if f.rating is not None:
        q = q.where(m.Item.rating == f.rating)
    if f.sentiment:
        q = q.where(m.Analysis.sentiment == f.sentiment)
    if f.grade is not None:
        q = q.where(m.Analysis.grade == f.grade)
    if f.dimension:
        q = q.where(_json_has(m.Analysis.dimensions, f.dimension))
    if f.rule:
        q = q.where(_json_has(m.Analysis.rules, f.rule))
    if f.since is not None:
        q = q.where(m.Item.published_at >= f.since)
    if f.until is not None:
        q = q.where(m.Item.published_at < f.until)
    return q.order_by(m.Item.published_at.desc(), m.Item.id.desc())


def _list_items(s: Session, f: ItemFilter, size: int = PAGE_SIZE) -> list[tuple[m.Item, m.Analysis | None]]:
    q = item_query(f).limit(size + 1).offset((f.page - 1) * size)
    return [(row[0], row[1]) for row in s.execute(q)]


def item_json(item: m.Item, a: m.Analysis | None) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": item.source,
        "platform": item.platform,
        "external_id": item.external_id,
        "url": item.url,
        "author": item.author,
        "text": item.text,
        "rating": item.rating,
        "product": item.product,
        "sku": item.sku,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "fetched_at": item.fetched_at.isoformat(),
        "tags": list((item.attrs or {}).get("tags", []) or []),
        "analysis": None
        if a is None
        else {
            "rules": list(a.rules or []),
            "sentiment": a.sentiment,
            "sentiment_score": a.sentiment_score,
            "dimensions": list(a.dimensions or []),
            "grade": a.grade,
            "severity": a.severity,
            "grade_reasons": list(a.grade_reasons or []),
        },
    }


def alert_json(a: m.Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "state": a.state,
        "rule": a.rule_id,
        "category": a.category,
        "severity": a.severity,
        "grade": a.grade,
        "platform": a.platform,
        "source": a.source,
        "sku": a.sku,
        "title": a.title,
        "summary": a.summary,
        "item_count": a.item_count,
        "created_at": a.created_at.isoformat(),
        "acked_by": a.acked_by,
        "acked_at": a.acked_at.isoformat() if a.acked_at else None,
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
    }


def _alert_items(s: Session, alert_id: int, limit: int = 50) -> list[tuple[m.Item, m.Analysis | None]]:
    q = (
        select(m.Item, m.Analysis)
        .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
        .join(m.Analysis, m.Analysis.item_id == m.Item.id, isouter=True)
        .where(m.AlertItem.alert_id == alert_id)
        .order_by(m.Item.id.desc())
        .limit(limit)
    )
    return [(i, a) for i, a in s.execute(q)]


def step_clock(step: m.IncidentStep, now: datetime) -> dict[str, Any]:
    """The state of one step's clock: pending (time left or overdue) or met/missed when done."""
    if step.due_at is None:
        return {"status": "none", "seconds": None}
    if step.state in ("done", "skipped"):
        at = step.at or now
        return {
            "status": "met" if at <= step.due_at else "missed",
            "seconds": (step.due_at - at).total_seconds(),
        }
    left = (step.due_at - now).total_seconds()
    return {"status": "pending" if left >= 0 else "overdue", "seconds": left}


def incident_json(inc: m.Incident, steps: list[m.IncidentStep], now: datetime) -> dict[str, Any]:
    return {
        "id": inc.id,
        "alert_id": inc.alert_id,
        "sop": inc.sop,
        "title": inc.title,
        "state": inc.state,
        "opened_at": inc.opened_at.isoformat(),
        "closed_at": inc.closed_at.isoformat() if inc.closed_at else None,
        "steps": [
            {
                "id": st.id,
                "key": st.step_key,
                "title": st.title,
                "owner": st.owner_role,
                "required": st.required,
                "state": st.state,
                "due_at": st.due_at.isoformat() if st.due_at else None,
                "by": st.by,
                "at": st.at.isoformat() if st.at else None,
                "clock": step_clock(st, now)["status"],
            }
            for st in steps
        ],
    }


def _incident_steps(s: Session, incident_id: int) -> list[m.IncidentStep]:
    return list(
        s.scalars(
            select(m.IncidentStep)
            .where(m.IncidentStep.incident_id == incident_id)
            .order_by(m.IncidentStep.id)
        )
    )


def _distinct_values(s: Session, column: Any, limit: int = 200) -> list[str]:
    return [
        str(v)
        for v in s.scalars(select(column).where(column.is_not(None)).distinct().order_by(column).limit(limit))
    ]


# ---- what the pages and the API read ------------------------------------------------------------
Row = tuple[m.Item, m.Analysis | None]


def items(store: Store, f: ItemFilter) -> list[Row]:
    """One page of the review board (one row more than a page: there is a next page)."""
    with store.session() as s:
        return _list_items(s, f)


def facets(store: Store) -> tuple[list[str], list[str]]:
    """The platforms and SKUs the board's filters offer."""
    with store.session() as s:
        return _distinct_values(s, m.Item.platform), _distinct_values(s, m.Item.sku)


def item(store: Store, item_id: int) -> Row | None:
    with store.session() as s:
        row = s.get(m.Item, item_id)
        return None if row is None else (row, s.get(m.Analysis, item_id))


def alerts(store: Store, state: str = "open") -> list[m.Alert]:
    return lifecycle.alerts(
        store, state if state in ("firing", "acknowledged", "resolved", "all") else "open"
    )


def alert(store: Store, alert_id: int) -> m.Alert | None:
    with store.session() as s:
        return s.get(m.Alert, alert_id)


def alert_items(store: Store, alert_id: int) -> list[Row]:
    with store.session() as s:
        return _alert_items(s, alert_id)


def incidents_of_alert(store: Store, alert_id: int) -> list[m.Incident]:
    with store.session() as s:
        return list(s.scalars(select(m.Incident).where(m.Incident.alert_id == alert_id)))


def incidents(store: Store) -> list[tuple[m.Incident, list[m.IncidentStep]]]:
    return sop_incidents.listing(store)


def incident(store: Store, incident_id: int) -> tuple[m.Incident, list[m.IncidentStep]] | None:
    with store.session() as s:
        inc = s.get(m.Incident, incident_id)
        return None if inc is None else (inc, _incident_steps(s, incident_id))


def step(store: Store, step_id: int) -> m.IncidentStep | None:
    with store.session() as s:
        return s.get(m.IncidentStep, step_id)


def incident_row(store: Store, incident_id: int) -> m.Incident | None:
    with store.session() as s:
        return s.get(m.Incident, incident_id)


@dataclass
class Draft:
    key: str
    text: str
    findings: list[str]
    customer: str = ""  # whose review it answers (item id and platform), one draft set per customer


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the incident's single timeline (plain text: the template escapes it)."""

    at: datetime
    kind: (
        str  # item | alert | ack | resolved | opened | step | overdue | reminder | closed | follow_up | note
    )
    by: str
    text: str


TIMELINE_LABELS = {
    "item": "评价",
    "alert": "告警",
    "ack": "确认",
    "resolved": "告警恢复",
    "opened": "开启",
    "step": "步骤",
    "note": "记录",
    "overdue": "超时",
    "reminder": "提醒",
    "closed": "关闭",
    "follow_up": "回访",
}
DRAFT_CUSTOMERS = 10  # reply drafts are written for at most this many customers of a burst


@dataclass
class IncidentView:
    incident: m.Incident
    steps: list[m.IncidentStep]
    notes: list[m.IncidentNote]
    events: list[m.IncidentEvent]
    sop: Sop | None
    alert: m.Alert | None
    drafts: list[Draft] = field(default_factory=list)
    items: list[m.Item] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    item_total: int = 0


_STEP_WORDS = {"todo": "待办", "doing": "进行中", "done": "已完成", "skipped": "已跳过"}


def _step_text(text: str, titles: dict[str, str], key: str | None) -> str:
    """``todo → done: reason`` in words."""
    for code, word in _STEP_WORDS.items():
        text = re.sub(rf"\b{code}\b", word, text)
    return f"{titles.get(key or '', key or '')}：{text}" if key else text


def _timeline(
    inc: m.Incident,
    alert: m.Alert | None,
    items: list[m.Item],
    notes: list[m.IncidentNote],
    events: list[m.IncidentEvent],
    steps: list[m.IncidentStep],
) -> list[TimelineEntry]:
    titles = {st.step_key: st.title for st in steps}
    out: list[TimelineEntry] = []
    for it in items[:20]:
        stars = f"{it.rating}★ " if it.rating else ""
        out.append(TimelineEntry(it.published_at or it.fetched_at, "item", "", f"{stars}{it.text[:120]}"))
    if alert is not None:
        out.append(TimelineEntry(alert.created_at, "alert", "", f"#{alert.id} {alert.title}"))
        if alert.acked_at is not None:
            out.append(TimelineEntry(alert.acked_at, "ack", alert.acked_by or "", f"告警 #{alert.id}"))
        if alert.resolved_at is not None:
            out.append(TimelineEntry(alert.resolved_at, "resolved", "", f"告警 #{alert.id}"))
    for e in events:
        text = _step_text(e.text or "", titles, e.step_key) if e.kind == "step" else (e.text or "")
        out.append(TimelineEntry(e.at, e.kind, e.by or "", text))
    out += [TimelineEntry(n.at, "note", n.by, n.text) for n in notes]
    order = {k: i for i, k in enumerate(TIMELINE_LABELS)}
    return sorted(out, key=lambda e: (e.at, order.get(e.kind, 99)))


def incident_view(store: Store, config: Config, incident_id: int) -> IncidentView | None:
    """The incident page: checklist, notes, timeline events, and reply drafts for its first item."""
    with store.session() as s:
        inc = s.get(m.Incident, incident_id)
        if inc is None:
            return None
        notes = s.scalars(
            select(m.IncidentNote)
            .where(m.IncidentNote.incident_id == incident_id)
            .order_by(m.IncidentNote.id)
        )
        events = s.scalars(
            select(m.IncidentEvent)
            .where(m.IncidentEvent.incident_id == incident_id)
            .order_by(m.IncidentEvent.at)
        )
        alert = s.get(m.Alert, inc.alert_id) if inc.alert_id else None
        items: list[m.Item] = []
        total = 0
        if alert is not None:
            q = (
                select(m.Item)
                .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
                .where(m.AlertItem.alert_id == alert.id)
                .order_by(m.Item.id)
            )
            items = list(s.scalars(q.limit(50)))
            total = int(
                s.scalar(
                    select(func.count()).select_from(m.AlertItem).where(m.AlertItem.alert_id == alert.id)
                )
                or 0
            )
        sop = config.sop(inc.sop)
        steps = _incident_steps(s, incident_id)
        notes_l, events_l = list(notes), list(events)
        view = IncidentView(inc, steps, notes_l, events_l, sop, alert, items=items, item_total=total)
        view.timeline = _timeline(inc, alert, items, notes_l, events_l, steps)
        if sop is not None:
            seen: set[str] = set()
            for it in items:
                who = f"{it.platform}:{it.author or it.external_id}"
                if who in seen:
                    continue
                seen.add(who)
                if len(seen) > DRAFT_CUSTOMERS:
                    break
                try:
                    drafts = drafts_for_item(s, config, it.id, sop.id)
                except DraftError:
                    continue
                view.drafts += [
                    Draft(f"{d.sop}/{d.name}", d.text, [str(f) for f in d.findings], f"评价 #{it.id}")
                    for d in drafts
                ]
    return view


def sources(store: Store) -> tuple[dict[str, m.SourceState], list[m.Poll]]:
    """Every source's state, and the latest polls (newest first)."""
    with store.session() as s:
        states = {st.name: st for st in s.scalars(select(m.SourceState))}
        polls = list(s.scalars(select(m.Poll).order_by(m.Poll.id.desc()).limit(100)))
    return states, polls


def elevated(store: Store, config: Config) -> list[tuple[str, str]]:
    """Scopes whose negative share has been rising slowly (a drift: reported, never paged)."""
    with store.session() as s:
        return list(burst_alerts.elevated_scopes(s, config))


def gaps(store: Store, limit: int = 50) -> list[m.SourceGap]:
    """The latest recorded gaps (items a catch-up could not reach), newest first."""
    with store.session() as s:
        return list(s.scalars(select(m.SourceGap).order_by(m.SourceGap.id.desc()).limit(limit)))


def reports(store: Store) -> list[tuple[int, str, str, datetime]]:
    """(id, kind, period, created) of the archived reports, newest period first."""
    with store.session() as s:
        q = (
            select(m.Report.id, m.Report.kind, m.Report.period, m.Report.created_at)
            .order_by(m.Report.period.desc(), m.Report.id.desc())
            .limit(200)
        )
        return [(i, k, p, c) for i, k, p, c in s.execute(q)]


def report(store: Store, report_id: int) -> m.Report | None:
    with store.session() as s:
        return s.get(m.Report, report_id)


def silences_since(store: Store, ended_after: datetime, limit: int = 200) -> list[m.Silence]:
    """Silences still running or ended after ``ended_after``, latest end first."""
    with store.session() as s:
        q = (
            select(m.Silence)
            .where(m.Silence.ends_at > ended_after)
            .order_by(m.Silence.ends_at.desc())
            .limit(limit)
        )
        return list(s.scalars(q))


def unresolved_alerts(store: Store, limit: int = 1000) -> list[m.Alert]:
    """The newest alerts not resolved (what a silence may be muting now)."""
    with store.session() as s:
        q = select(m.Alert).where(m.Alert.state != "resolved").order_by(m.Alert.id.desc()).limit(limit)
        return list(s.scalars(q))


@dataclass
class FailedDelivery:
    at: datetime
    channel: str
    error: str
    title: str
    outbox_status: str  # the message's state now: sent (a later attempt or a fallback went out) | pending …
    attempts: int


def failed_deliveries(store: Store, since: datetime, limit: int = 50) -> list[FailedDelivery]:
    """Refused or failed sends since ``since``, newest first (robot errcodes such as 130101 or 310000,
    timeouts): what admins need to see when a channel stops taking messages (#15)."""
    with store.session() as s:
        q = (
            select(m.Delivery, m.Outbox.title, m.Outbox.status, m.Outbox.attempts)
            .join(m.Outbox, m.Outbox.id == m.Delivery.outbox_id)
            .where(m.Delivery.ok.is_(False), m.Delivery.at >= since)
            .order_by(m.Delivery.at.desc(), m.Delivery.id.desc())
            .limit(limit)
        )
        return [
            FailedDelivery(d.at, d.channel, d.error or "", title, status, attempts)
            for d, title, status, attempts in s.execute(q)
        ]
