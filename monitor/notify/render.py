"""Messages written out for a channel kind's dialect, fitted to its size limit.

Two dialects today: ``markdown`` (chat robots, webhooks, e-mail) and ``text`` (the console, WeCom's
text robot). Untrusted fields are escaped here and only here: folded to one line, cut, links defanged
(``https​://`` with a zero-width space, so no client makes them clickable) and, in Markdown, every
markup character escaped — review text never becomes markup, a link or a mention.

A message too long for the channel first loses checklist steps (when the checklist has a link to all
of them), then is split at line boundaries into numbered parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from monitor.notify.kinds import ChannelKind, Dialect
from monitor.notify.message import Checklist, Message

__all__ = ["Rendered", "escape_md", "plain", "render", "split", "title_line"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")
_URL = re.compile(r"(?i)\b(?:https?|ftp)://|www\.")
HEADS = {  # event -> (icon, label before the title)
    "firing": ("🚨", ""),
    "update": ("🔁", "更新 update: "),
    "reminder": ("⏰", "未确认 reminder: "),
    "escalation": ("⬆️", "升级 escalation: "),
    "resolved": ("✅", "已恢复 resolved: "),
    "overdue": ("⚠️", "[超时 overdue] "),
    "checklist": ("📋", "[处置进度] "),
    "follow_up": ("📞", "[回访] "),
}
PART_MARK = 12  # room for the "(2/3)" marker of a split message


def plain(text: str | None, limit: int = 200) -> str:
    """One line of untrusted text, cut to ``limit``, with links defanged."""
    text = " ".join(str(text or "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _URL.sub(lambda mt: mt.group(0).replace(":", "\u200b:").replace(".", "\u200b."), text)


def escape_md(text: str | None, limit: int = 200) -> str:
    """One line of untrusted text, safe inside Markdown: no links, no markup."""
    return _MD_SPECIAL.sub(r"\\\1", plain(text, limit))


def title_line(message: Message) -> str:
    icon, label = HEADS.get(message.event, ("", ""))
    severity = f"[{message.severity}]" if message.severity else ""
    return " ".join(x for x in (icon, severity, f"{label}{message.title}") if x)


@dataclass(frozen=True)
class Rendered:
    title: str
    parts: list[str]  # one message, or several numbered ones
    format: Dialect | str  # markdown | text | html


def _lines(message: Message, dialect: Dialect, checklist: Checklist | None) -> list[str]:
    md = dialect == "markdown"
    esc: Callable[[str | None, int], str] = escape_md if md else plain
    bold = (lambda s: f"**{s}**") if md else (lambda s: s)
    blocks: list[str] = []
    if message.summary:
        blocks.append(bold(message.summary))
    if message.facts:
        blocks.append(
            " · ".join(f"{f.label} {esc(f.value, 60) if f.untrusted else f.value}" for f in message.facts)
        )
    if message.items:
        total = max(message.item_total, len(message.items))
        latest = f", latest {len(message.items)}" if len(message.items) < total else ""
        rows = [f"{total} item(s){latest}:"]
        for it in message.items:
            stars = f"{it.rating}★ " if it.rating else ""
            sku = f" · SKU {esc(it.sku, 40)}" if it.sku else ""
            when = f", {it.when}" if it.when else ""
            rows.append(
                f"- {stars}{esc(it.text, 200)} — {esc(it.author, 40)}, {esc(it.platform, 20)}{sku}{when}"
            )
        blocks.append("\n".join(rows))
    if message.text:
        blocks.append(message.text)
    if checklist is not None:
        rows = [f"{bold('处置清单 / checklist')} ({checklist.title}):"]
        rows += [f"- [ ] {step}" for step in checklist.steps]
        if checklist.more:
            rows.append(f"- … {checklist.more} more")
        if checklist.url:
            rows.append(f"完整清单 / Full checklist: {checklist.url}")
        blocks.append("\n".join(rows))
    blocks += [f"{link.label}: {link.url}" for link in message.links]
    if message.footer:
        blocks.append(message.footer)
    return blocks


def body(message: Message, dialect: Dialect, checklist: Checklist | None = None) -> str:
    """The message in ``dialect`` (with ``checklist`` instead of the message's own, when trimmed)."""
    return "\n\n".join(_lines(message, dialect, checklist if checklist is not None else message.checklist))


def render(message: Message, kind: ChannelKind, *, limit: int | None = None, ref: str = "") -> Rendered:
    """``message`` for a channel of ``kind``, with the ``ref`` line (the idempotency key) last."""
    title = title_line(message)
    if kind.takes_html and message.html:
        html = message.html + (f"\n<p><small>{ref}</small></p>" if ref else "")
        return Rendered(title, [html], "html")
    dialect = kind.dialect
    ref_line = (f"`{ref}`" if dialect == "markdown" else ref) if ref else ""
    head = f"{title}\n\n" if kind.title_in_body else ""
    room = limit - kind.size(head) - kind.size(ref_line) - 2 if limit else None
    text = body(message, dialect)
    if room is not None and kind.size(text) > room and message.checklist and message.checklist.url:
        text = _trimmed(message, dialect, message.checklist, room, kind.size)  # the link has every step
    full = "\n\n".join(x for x in (head + text, ref_line) if x)
    parts = split(full, limit, kind.size) if limit else [full]
    return Rendered("" if kind.title_in_body else title, parts, dialect)


def _trimmed(message: Message, dialect: Dialect, cl: Checklist, room: int, size: Callable[[str], int]) -> str:
    steps = list(cl.steps)
    total = len(steps) + cl.more
    while steps:
        steps.pop()
        text = body(
            message, dialect, cl.model_copy(update={"steps": tuple(steps), "more": total - len(steps)})
        )
        if size(text) <= room:
            return text
    return body(message, dialect, cl.model_copy(update={"steps": (), "more": total}))


def split(text: str, limit: int, size: Callable[[str], int] = len) -> list[str]:
    """Split at line boundaries so each part, with its "(i/n)" marker, fits ``limit``."""
    if size(text) <= limit:
        return [text]
    room = limit - PART_MARK
    parts: list[str] = []
    cur = ""
    for line in text.split("\n"):
        while size(line) > room:  # a single over-long line
            if cur:
                parts.append(cur)
                cur = ""
            cut = _fitting(line, room, size)
            parts.append(line[:cut])
            line = line[cut:]
        if cur and size(cur) + size(line) + 1 > room:
            parts.append(cur)
            cur = ""
        cur = f"{cur}\n{line}" if cur else line
    if cur:
        parts.append(cur)
    n = len(parts)
    return [f"{p}\n\n({i}/{n})" for i, p in enumerate(parts, 1)]


def _fitting(line: str, room: int, size: Callable[[str], int]) -> int:
    """The longest prefix of ``line`` (in characters) whose size fits ``room``."""
    cut = min(len(line), room)
    while cut > 1 and size(line[:cut]) > room:
        cut -= max(1, (size(line[:cut]) - room) // 4)
    return cut
