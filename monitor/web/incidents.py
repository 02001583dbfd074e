"""Working an incident from the console: ticking a step, adding a note (``monitor.sop.incidents``)."""

from __future__ import annotations

from monitor.sop import incidents as sop_incidents
from monitor.web import readmodel
from monitor.web.context import Console

STEP_ACTIONS = {"done": "done", "skip": "skipped", "todo": "todo", "doing": "doing"}


class StepRefused(Exception):
    """The incident rules refuse the change (closed incident, skip without a reason ...)."""


def set_step(console: Console, incident_id: int, step_id: int, action: str, by: str, reason: str) -> bool:
    """False when there is no such step; StepRefused when the incident rules refuse it."""
    state = STEP_ACTIONS.get(action)
    if state is None:
        raise StepRefused(f"unknown action {action!r}")
    step = readmodel.step(console.store, step_id)
    if step is None or step.incident_id != incident_id:
        return False
    key = step.step_key
    try:
        sop_incidents.set_step(console.store, incident_id, key, state, by, console.now(), reason[:1000])
    except sop_incidents.IncidentError as exc:
        raise StepRefused(str(exc)) from None
    return True


def add_note(console: Console, incident_id: int, by: str, text: str) -> bool:
    try:
        sop_incidents.add_note(console.store, incident_id, text, by, console.now())
    except LookupError:
        return False
    except sop_incidents.IncidentError as exc:
        raise StepRefused(str(exc)) from None
    return True
