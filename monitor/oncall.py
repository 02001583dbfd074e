"""Who is on duty: the rota of ``oncall:`` in monitor.yaml (``monitor.config.oncall``).

``owner_for(config, role, now)`` is the person holding ``role`` at ``now`` (in the configured
timezone); ``role_for`` picks the rotation an alert belongs to (the first whose ``match`` fits its
labels, e.g. grades 4-5 to the seniors' rota); ``chain`` is who is told, in turn, while nobody
claims: the person on duty, the ``escalate_to`` people, then the lead. ``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.config import Config
from monitor.config.oncall import Person, Rotation, Shift

__all__ = ["Owner", "chain", "escalation_due", "owner_for", "role_for"]


@dataclass(frozen=True)
class Owner:
    name: str
    person: Person
    role: str
    until: datetime  # the shift's end (hand-over), in the configured timezone


def _minute_of_week(t: datetime) -> int:
    return t.weekday() * 24 * 60 + t.hour * 60 + t.minute


def _shift_at(rot: Rotation, minute: int) -> tuple[Shift, int] | None:
    """The shift holding ``minute`` of the week and the minute of the week it ends."""
    for sh in rot.shifts:
        for a, b in sh.spans():
            if a <= minute < b:
                return sh, b
    return None


def owner_for(config: Config, role: str, now: datetime) -> Owner | None:
    """The person on duty for ``role`` at ``now``; None for an unknown role (a rota that ``monitor
    check`` accepted has no gaps)."""
    rot = config.settings.oncall.rotations.get(role)
    if rot is None:
        return None
    local = now.astimezone(config.settings.tz)
    here = _minute_of_week(local)
    found = _shift_at(rot, here)
    if found is None:
        return None
    shift, end = found
    person = config.settings.oncall.people.get(shift.who)
    if person is None:
        return None
    start_of_minute = local.replace(second=0, microsecond=0)
    until = start_of_minute + timedelta(minutes=(end - here) % (7 * 24 * 60) or 7 * 24 * 60)
    return Owner(shift.who, person, role, until)


def role_for(config: Config, labels: Mapping[str, Any]) -> str | None:
    """The first rotation whose ``match`` fits ``labels`` (same matcher language as routes)."""
    for role, rot in config.settings.oncall.rotations.items():
        m = rot.match
        ok = True
        for name in ("severity", "category", "rule", "kind", "platform", "source", "sku", "grade"):
            wanted = getattr(m, name)
            if wanted is not None and labels.get(name) not in wanted:
                ok = False
                break
        if ok:
            return role
    return None


def chain(config: Config, role: str, now: datetime) -> list[tuple[str, Person]]:
    """Who is told, in turn, while an alert of ``role`` is unclaimed (names appear once)."""
    oc = config.settings.oncall
    rot = oc.rotations.get(role)
    if rot is None:
        return []
    names: list[str] = []
    owner = owner_for(config, role, now)
    if owner is not None:
        names.append(owner.name)
    names += rot.escalate_to
    if rot.lead:
        names.append(rot.lead)
    seen = list(dict.fromkeys(n for n in names if n in oc.people))
    return [(n, oc.people[n]) for n in seen]


def escalation_due(config: Config, role: str, level: int, since: datetime, now: datetime) -> bool:
    """An alert unclaimed since ``since`` has waited long enough to go to the next in the chain."""
    rot = config.settings.oncall.rotations.get(role)
    if rot is None or level + 1 >= len(chain(config, role, since)):
        return False
    return now - since >= rot.escalate_after * (level + 1)
