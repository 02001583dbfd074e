"""Alertmanager-like routing: the first matching route wins unless it says ``continue``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.config.settings import Match, Settings


def matches(match: Match, labels: Mapping[str, Any]) -> bool:
    for name in ("severity", "category", "rule", "kind", "platform", "source", "sku", "grade"):
        wanted = getattr(match, name)
        if wanted is not None and labels.get(name) not in wanted:
            return False
    return True


def route(settings: Settings, labels: Mapping[str, Any], explicit: list[str] | None = None) -> list[str]:
    """Channel names for an alert with ``labels``; ``explicit`` (a rule's notify list) wins."""
    if explicit:
        return list(dict.fromkeys(explicit))
    if labels.get("kind") == "source_health":
        return list(settings.routing.admins)
    out: list[str] = []
    for r in settings.routing.routes:
        if matches(r.match, labels):
            out.extend(r.channels)
            if not r.continue_:
                break
    return list(dict.fromkeys(out or settings.routing.default))
