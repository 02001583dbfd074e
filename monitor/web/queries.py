"""Read queries shared by the console pages and the REST API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

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


def list_items(s: Session, f: ItemFilter, size: int = PAGE_SIZE) -> list[tuple[m.Item, m.Analysis | None]]:
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


def list_alerts(s: Session, state: str = "open", limit: int = 200) -> list[m.Alert]:
    q = select(m.Alert)
    if state == "open":
        q = q.where(m.Alert.state != "resolved")
    elif state in ("firing", "acknowledged", "resolved"):
        q = q.where(m.Alert.state == state)
    return list(s.scalars(q.order_by(m.Alert.id.desc()).limit(limit)))


def alert_items(s: Session, alert_id: int, limit: int = 50) -> list[tuple[m.Item, m.Analysis | None]]:
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


def incident_steps(s: Session, incident_id: int) -> list[m.IncidentStep]:
    return list(
        s.scalars(
            select(m.IncidentStep)
            .where(m.IncidentStep.incident_id == incident_id)
            .order_by(m.IncidentStep.id)
        )
    )


def distinct_values(s: Session, column: Any, limit: int = 200) -> list[str]:
    return [
        str(v)
        for v in s.scalars(select(column).where(column.is_not(None)).distinct().order_by(column).limit(limit))
    ]


def count(s: Session, q: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)
