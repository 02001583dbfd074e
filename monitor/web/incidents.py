"""The incident page's data: checklist with clocks, notes, reply drafts with their lint.

Reply drafts and lint come from ``monitor.sop``; steps are ticked here (one row each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from monitor.config.sops import Sop
from monitor.store import models as m
from monitor.web.context import Console
from monitor.web.queries import incident_steps

STEP_ACTIONS = {"done": "done", "skip": "skipped", "todo": "todo", "doing": "doing"}


@dataclass
class Draft:
    key: str
    text: str
    findings: list[str]


@dataclass
class IncidentView:
    incident: m.Incident
    steps: list[m.IncidentStep]
    notes: list[m.IncidentNote]
    events: list[Any]
    sop: Sop | None
    alert: m.Alert | None
    drafts: list[Draft] = field(default_factory=list)


class StepRefused(Exception):
    """The incident rules refuse the change (closed incident, skip without a reason ...)."""


def drafts_for(s: Any, console: Console, item_id: int, sop_id: str) -> list[Draft]:
    from monitor.sop.drafts import DraftError, drafts_for_item

    try:
        drafts = drafts_for_item(s, console.config, item_id, sop_id)
    except DraftError:
        return []
    return [Draft(f"{d.sop}/{d.name}", d.text, [str(f) for f in d.findings]) for d in drafts]


def load(console: Console, incident_id: int) -> IncidentView | None:
    event_model = getattr(m, "IncidentEvent", None)
    with console.store.session() as s:
        inc = s.get(m.Incident, incident_id)
        if inc is None:
            return None
        steps = incident_steps(s, incident_id)
        notes = list(
            s.scalars(
                select(m.IncidentNote)
                .where(m.IncidentNote.incident_id == incident_id)
                .order_by(m.IncidentNote.id)
            )
        )
        events: list[Any] = []
        if event_model is not None:
            events = list(
                s.scalars(
                    select(event_model).where(event_model.incident_id == incident_id).order_by(event_model.at)
                )
            )
        alert = s.get(m.Alert, inc.alert_id) if inc.alert_id else None
        first_item = None
        if alert is not None:
            first_item = s.scalars(
                select(m.Item)
                .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
                .where(m.AlertItem.alert_id == alert.id)
                .order_by(m.Item.id)
            ).first()
        sop = next((x for x in console.config.sops if x.id == inc.sop), None)
        view = IncidentView(inc, steps, notes, events, sop, alert)
        if sop is not None and first_item is not None:
            view.drafts = drafts_for(s, console, first_item.id, sop.id)
    return view


def set_step(console: Console, incident_id: int, step_id: int, action: str, by: str, reason: str) -> bool:
    """False when there is no such step; StepRefused when the incident rules refuse it."""
    from monitor.sop import incidents as sop_incidents

    state = STEP_ACTIONS.get(action)
    if state is None:
        raise StepRefused(f"unknown action {action!r}")
    with console.store.session() as s:
        step = s.get(m.IncidentStep, step_id)
        if step is None or step.incident_id != incident_id:
            return False
        key = step.step_key
    try:
        sop_incidents.set_step(console.store, incident_id, key, state, by, console.now(), reason[:1000])
    except sop_incidents.IncidentError as exc:
        raise StepRefused(str(exc)) from None
    return True


def add_note(console: Console, incident_id: int, by: str, text: str) -> bool:
    from monitor.sop import incidents as sop_incidents

    try:
        sop_incidents.add_note(console.store, incident_id, text, by, console.now())
    except LookupError:
        return False
    except sop_incidents.IncidentError as exc:
        raise StepRefused(str(exc)) from None
    return True
