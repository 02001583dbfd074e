"""Message text. Review text is untrusted: it is escaped so it cannot inject links or markup,
and nicknames are masked by default."""

from __future__ import annotations

import re
from collections.abc import Sequence

from monitor.store import models as m

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")
_URL = re.compile(r"(?i)\b(?:https?|ftp)://|www\.")


def escape_md(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _URL.sub(lambda mt: mt.group(0).replace(":", "\u200b:").replace(".", "\u200b."), text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def mask_name(name: str | None) -> str:
    if not name:
        return "匿名"
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * min(len(name) - 2, 4) + name[-1]


def item_line(item: m.Item) -> str:
    stars = f"{item.rating}★ " if item.rating else ""
    sku = f" · SKU {escape_md(item.sku, 40)}" if item.sku else ""
    when = item.published_at.strftime("%m-%d %H:%M UTC") if item.published_at else "?"
    return f"- {stars}{escape_md(item.text)} — {mask_name(item.author)}, {item.platform}{sku}, {when}"


def alert_message(
    alert: m.Alert, items: Sequence[m.Item], ack_url: str | None, event: str
) -> tuple[str, str]:
    prefix = {"firing": "🚨", "reminder": "⏰", "resolved": "✅", "escalation": "⬆️"}.get(event, "🔔")
    title = f"{prefix} [{alert.severity}] {alert.title}"
    lines = [f"**{alert.summary}**" if alert.summary else "", ""]
    if items:
        lines.append(f"Items ({alert.item_count}):")
        lines += [item_line(it) for it in items[:5]]
        if alert.item_count > 5:
            lines.append(f"- … and {alert.item_count - 5} more")
    if ack_url:
        lines += ["", f"Acknowledge: {ack_url}"]
    lines += ["", f"alert #{alert.id} · {alert.kind} · {alert.dedup_key}"]
    return title, "\n".join(x for x in lines).strip()
