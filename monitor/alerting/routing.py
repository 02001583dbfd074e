"""Alertmanager-like routing tree.

Routes are tried in order; a matching route descends into its child routes, and the
deepest matching routes receive the alert. The first match wins unless a route says
``continue: true``. An alert nothing matches goes to ``routing.default``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config.settings import Escalation, Match, Route, Settings


def matches(match: Match, labels: Mapping[str, Any]) -> bool:
    for name in ("severity", "category", "rule", "kind", "platform", "source", "sku", "grade"):
        wanted = getattr(match, name)
        if wanted is not None and labels.get(name) not in wanted:
            return False
    return True


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
    if labels.get("kind") == "source_health":
        return Decision(list(settings.routing.admins), [], ["admins"])
    hits = list(_walk(settings.routing.routes, labels, ""))
    if not hits:
        return Decision(list(settings.routing.default), list(settings.routing.escalate), ["default"])
    channels = list(dict.fromkeys(c for _, r in hits for c in r.channels))
    escalate = [e for _, r in hits for e in r.escalate]
    return Decision(channels, sorted(escalate, key=lambda e: e.after), [p for p, _ in hits])


def route(settings: Settings, labels: Mapping[str, Any], explicit: list[str] | None = None) -> list[str]:
    """Channel names for an alert with ``labels``; ``explicit`` (a rule's notify list) wins."""
    return decide(settings, labels, explicit).channels


def all_routes(
    routes: Sequence[Route], path: Sequence[str | int] = ("routing", "routes")
) -> Iterator[tuple[list[str | int], Route]]:
    for i, r in enumerate(routes):
        here = [*path, i]
        yield here, r
        yield from all_routes(r.routes, [*here, "routes"])
