"""Alertmanager-like routing tree.

Routes are tried in order; a matching route descends into its child routes, and the
deepest matching routes receive the alert. The first match wins unless a route says
``continue: true``. An alert nothing matches goes to ``routing.default``; alerts about the
monitor itself (source health, system) go to ``routing.admins``; a rule's ``notify`` list wins.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config import Config
from monitor.config.settings import Escalation, Match, Route, Settings
from monitor.store import models as m


def matches(match: Match, labels: Mapping[str, Any]) -> bool:
    for name in ("severity", "category", "rule", "kind", "platform", "source", "sku", "grade"):
        wanted = getattr(match, name)
        if wanted is not None and labels.get(name) not in wanted:
            return False
    return True


ADMIN_KINDS = ("source_health", "system")  # alerts about the monitor itself


@dataclass
class Decision:
    channels: list[str]
    escalate: list[Escalation] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)


def _walk(routes: Sequence[Route], labels: Mapping[str, Any], path: str) -> Iterator[tuple[str, Route]]:
    for i, r in enumerate(routes):
        if not matches(r.match, labels):
            continue
        here = f"{path}/{r.name or i}"
        found = list(_walk(r.routes, labels, here))
        if found:
            yield from found
        elif r.channels:
            yield here, r
        if not r.continue_:
            return


def decide(settings: Settings, labels: Mapping[str, Any], explicit: list[str] | None = None) -> Decision:
    if explicit:
        return Decision(list(dict.fromkeys(explicit)), list(settings.routing.escalate), ["rule.notify"])
    if labels.get("kind") in ADMIN_KINDS:
        return Decision(list(settings.routing.admins), [], ["admins"])
    hits = list(_walk(settings.routing.routes, labels, ""))
    if not hits:
        return Decision(list(settings.routing.default), list(settings.routing.escalate), ["default"])
    channels = list(dict.fromkeys(c for _, r in hits for c in r.channels))
    escalate = [e for _, r in hits for e in r.escalate]
    return Decision(channels, sorted(escalate, key=lambda e: e.after), [p for p, _ in hits])


def explicit_channels(config: Config, alert: m.Alert) -> list[str] | None:
    """A keyword alert's rule ``notify`` list, which overrides the routing tree."""
    if alert.kind != "keyword":
        return None
    rule = next((r for r in config.rules if r.id == alert.rule_id), None)
    return list(rule.notify) if rule is not None and rule.notify else None


def decide_alert(config: Config, alert: m.Alert, role: str | None = None) -> Decision:
    """The route of ``alert`` (with an incident step's owner ``role`` among its labels, if given)."""
    labels = {**(alert.labels or {}), **({"role": role} if role else {})}
    return decide(config.settings, labels, explicit_channels(config, alert))


def channels_so_far(config: Config, alert: m.Alert) -> list[str]:
    """The alert's channels plus those of the escalation tiers it has reached."""
    d = decide_alert(config, alert)
    chans = list(d.channels)
    for step in d.escalate[: alert.escalation_level]:
        chans += [c for c in step.channels if c not in chans]
    return chans
