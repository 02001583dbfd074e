"""Working an incident from the console: ticking a step, adding a note (``monitor.sop.incidents``)."""

from __future__ import annotations

from monitor.sop import incidents as sop_incidents
from monitor.web import readmodel
from monitor.web.context import Console

STEP_ACTIONS = {"done": "done", "skip": "skipped", "todo": "todo", "doing": "doing"}


STATE_WORDS = {"todo": "待办", "doing": "进行中", "done": "已完成", "skipped": "已跳过"}


class StepRefused(Exception):
    """The incident rules refuse the change (closed incident, skip without a reason ...)."""


def set_step(console: Console, incident_id: int, step_id: int, action: str, by: str, reason: str) -> bool:
    """False when there is no such step; StepRefused when the incident rules refuse it."""
    state = STEP_ACTIONS.get(action)
    if state is None:
        raise StepRefused("未知的操作")
    step = readmodel.step(console.store, step_id)
    if step is None or step.incident_id != incident_id:
        return False
    key = step.step_key
    if state == "skipped" and not reason.strip():
        raise StepRefused(f"跳过“{step.title}”需要填写原因（豁免理由会写进时间线和报告）")
    incident = readmodel.incident_row(console.store, incident_id)
    if incident is not None and incident.state != "open":
        raise StepRefused(f"事件 #{incident_id} 已关闭，不能再修改步骤")
    try:
        sop_incidents.set_step(console.store, incident_id, key, state, by, console.now(), reason[:1000])
    except sop_incidents.IncidentError as exc:
        raise StepRefused(f"无法更新步骤：{exc}") from None
    return True


def close(console: Console, incident_id: int, by: str) -> bool:
    """Close the incident; False when there is none; StepRefused (in words) when steps are left."""
    incident = readmodel.incident_row(console.store, incident_id)
    if incident is None:
        return False
    if incident.state != "open":
        raise StepRefused(f"事件 #{incident_id} 已经关闭")
    with console.store.session() as s:
        left = sop_incidents.blockers(sop_incidents.steps_of(s, incident_id))
    if left:
        names = "、".join(f"“{x.title}”（{STATE_WORDS.get(x.state, x.state)}）" for x in left)
        raise StepRefused(f"还有必做步骤未完成：{names}。请完成，或填写原因后跳过（豁免），再关闭事件。")
    try:
        sop_incidents.close(console.store, incident_id, by, console.now())
    except sop_incidents.IncidentError as exc:
        raise StepRefused(f"无法关闭事件：{exc}") from None
    return True


def add_note(console: Console, incident_id: int, by: str, text: str) -> bool:
    try:
        sop_incidents.add_note(console.store, incident_id, text, by, console.now())
    except LookupError:
        return False
    except sop_incidents.IncidentError as exc:
        raise StepRefused(f"无法记录：{exc}") from None
    return True
