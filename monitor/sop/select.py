"""Which SOP handles an alert or an item.

Bursts take the crisis SOP for ``negative_burst`` and everything else the SOP of its
category (``Config.sop_for``), except posts on the platforms a crisis SOP lists in
``applies_to`` (a 吐槽帖 on Weibo is handled by the social-spreading SOP: contact the
blogger within 2 h). A crisis SOP that also names categories wins over one that does not.
"""

from __future__ import annotations

from monitor.config import Config
from monitor.config.sops import Sop

__all__ = ["sop_by_id", "sop_for"]


def sop_by_id(config: Config, sop_id: str) -> Sop | None:
    return next((s for s in config.sops if s.id == sop_id), None)


def sop_for(config: Config, kind: str | None, category: str | None, platform: str | None) -> Sop | None:
    if kind != "burst" and platform:
        social = [s for s in config.sops if s.applies_to and platform in s.applies_to.platforms]
        specific = [s for s in social if s.applies_to and category in s.applies_to.categories]
        general = [s for s in social if s.applies_to and not s.applies_to.categories]
        if specific or general:
            return (specific or general)[0]
    return config.sop_for(category, kind)
