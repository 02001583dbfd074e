"""Message rendering with Jinja2 templates.

Review text, nicknames and SKUs are untrusted: they are escaped (so they cannot inject
links or Markdown) and nicknames are masked before the template sees them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from monitor.store import models as m

TEMPLATES = Path(__file__).with_name("templates")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")
_URL = re.compile(r"(?i)\b(?:https?|ftp)://|www\.")
EVENTS = {
    "firing": ("🚨", ""),
    "update": ("🔁", "更新 update: "),
    "reminder": ("⏰", "未确认 reminder: "),
    "escalation": ("⬆️", "升级 escalation: "),
    "resolved": ("✅", "已恢复 resolved: "),
}


def escape_md(text: str, limit: int = 200) -> str:
    """One line of untrusted text, safe inside Markdown: no links, no markup."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _URL.sub(lambda mt: mt.group(0).replace(":", "\u200b:").replace(".", "\u200b."), text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def mask_name(name: str | None) -> str:
    """Personal data masked by default: 张三丰 -> 张*丰, ab -> a*."""
    if not name:
        return "匿名"
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * min(len(name) - 2, 4) + name[-1]


@dataclass(frozen=True)
class Checklist:
    title: str
    steps: list[str]
    more: int = 0


@lru_cache(maxsize=4)
def _env(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([directory, str(TEMPLATES)]),
        autoescape=False,  # Markdown, not HTML; untrusted fields are escaped beforehand
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=False,
    )


def item_view(item: m.Item, mask: bool = True) -> dict[str, Any]:
    when = item.published_at.strftime("%m-%d %H:%M UTC") if item.published_at else "?"
    return {
        "stars": f"{item.rating}★ " if item.rating else "",
        "text": escape_md(item.text),
        "author": escape_md(mask_name(item.author) if mask else item.author or "匿名", 40),
        "platform": escape_md(item.platform, 20),
        "sku": escape_md(item.sku, 40) if item.sku else "",
        "when": when,
    }


def alert_message(
    alert: m.Alert,
    items: Sequence[m.Item],
    event: str,
    *,
    ack_url: str | None = None,
    checklist: Checklist | None = None,
    checklist_url: str | None = None,
    template_dir: Path | None = None,
    mask: bool = True,
) -> tuple[str, str]:
    env = _env(str(template_dir or TEMPLATES))
    icon, label = EVENTS.get(event, ("🔔", ""))
    ctx = {
        "alert": alert,
        "event": event,
        "icon": icon,
        "event_label": label,
        "summary": alert.summary,
        "items": [item_view(i, mask) for i in items],
        "ack_url": ack_url if event != "resolved" else None,
        "checklist": checklist if event in ("firing", "escalation") else None,
        "checklist_url": checklist_url,
    }
    title = env.get_template("alert_title.j2").render(ctx).strip()
    body = env.get_template("alert_body.md.j2").render(ctx).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    return title, body


def split(body: str, limit: int) -> list[str]:
    """Split at line boundaries so each part fits ``limit`` characters (with a part marker)."""
    if len(body) <= limit:
        return [body]
    parts: list[str] = []
    cur = ""
    room = limit - 12
    for line in body.split("\n"):
        while len(line) > room:  # a single over-long line
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(line[:room])
            line = line[room:]
        if len(cur) + len(line) + 1 > room and cur:
            parts.append(cur)
            cur = ""
        cur = f"{cur}\n{line}" if cur else line
    if cur:
        parts.append(cur)
    n = len(parts)
    return [f"{p}\n\n({i}/{n})" for i, p in enumerate(parts, 1)]
