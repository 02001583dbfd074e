"""Messages written out for a channel kind's dialect, fitted to its size limit.

Dialects (``monitor.notify.kinds``): ``markdown`` (webhooks, e-mail, other apprise services),
``text`` (the console), and the chat robots' own Markdown — ``dingtalk``, ``wecom``, ``feishu`` —
whose payloads ``monitor.notify.robots`` builds around the text written here.

Untrusted fields (review text, nicknames, SKUs, page titles, the remote page quoted in a "source
blind" alert) are escaped here and only here, per dialect:

- ``markdown``: folded to one line, cut, links defanged (``https​://`` with a zero-width space) and
  every markup character backslash-escaped.
- robot dialects: the same folding and defanging, and every character any of the three robots reads
  as markup (``[ ] ( ) * _ # ` < > ! @ | ~`` …) replaced by its full-width twin (``［``, ``＜``, ``＠`` …).
  DingTalk's and WeCom's Markdown subsets do not document backslash escapes, so a backslash is not
  trusted to hold there; a full-width bracket is never a link, an image, a tag (``<at>``,
  ``<@userid>``, ``<font>``) or a mention, and reads naturally in Chinese.
- ``text``: folded, cut, defanged.

A page URL becomes a link only when it is ``http(s)`` on its platform's own hosts (``PLATFORM_HOSTS``);
otherwise it is left out. Everything a person reads is Chinese first: platform names (京东, 天猫 …),
severities, events, counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from monitor.notify.kinds import ChannelKind, Dialect
from monitor.notify.message import Checklist, Message, MessageItem

__all__ = [
    "PLATFORM_HOSTS",
    "Rendered",
    "escape_md",
    "neutral",
    "page_link",
    "plain",
    "platform_name",
    "render",
    "severity_name",
    "split",
    "title_line",
]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")
_URL = re.compile(r"(?i)\b(?:https?|ftp)://|www\.|\b(?:javascript|vbscript|data|file):")
# Every character a robot's Markdown (DingTalk, WeCom, Feishu lark_md) may read as markup, and its
# full-width twin. ``@`` too: WeCom and Feishu mention by tag, DingTalk by ``@mobile`` in the text.
_FULL_WIDTH = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "_": "＿",
        "{": "｛",
        "}": "｝",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "#": "＃",
        "+": "＋",
        "!": "！",
        "|": "｜",
        "<": "＜",
        ">": "＞",
        "~": "～",
        "@": "＠",
        "&": "＆",
        "$": "＄",
        "=": "＝",
    }
)
CHAT_DIALECTS: tuple[Dialect, ...] = ("dingtalk", "wecom", "feishu")

PLATFORM_NAMES = {
    "jd": "京东",
    "tmall": "天猫",
    "taobao": "淘宝",
    "weibo": "微博",
    "xiaohongshu": "小红书",
    "xhs": "小红书",
    "douyin": "抖音",
    "kuaishou": "快手",
    "pdd": "拼多多",
}
# The only hosts a page URL may link to, per platform (the host itself or a subdomain).
PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    "jd": ("jd.com", "jd.hk"),
    "tmall": ("tmall.com", "tmall.hk"),
    "taobao": ("taobao.com",),
    "weibo": ("weibo.com", "weibo.cn"),
    "xiaohongshu": ("xiaohongshu.com", "xhslink.com"),
    "xhs": ("xiaohongshu.com", "xhslink.com"),
    "douyin": ("douyin.com", "iesdouyin.com"),
    "kuaishou": ("kuaishou.com",),
}
SEVERITY_NAMES = {"critical": "严重", "high": "高", "medium": "中", "low": "低", "info": "提示"}
HEADS = {  # event -> (icon, label before the title)
    "firing": ("🚨", ""),
    "update": ("🔁", "更新："),
    "reminder": ("⏰", "未认领提醒："),
    "escalation": ("⬆️", "升级："),
    "resolved": ("✅", "已恢复："),
    "overdue": ("⚠️", "【超时】"),
    "checklist": ("📋", "【处置进度】"),
    "follow_up": ("📞", "【回访】"),
    "claimed": ("🙋", "已认领："),
    "backfill": ("🗂", "历史入库："),
    "digest": ("📦", "告警汇总："),
}
PART_MARK = 12  # room for the "(2/3)" marker of a split message


def platform_name(platform: str | None) -> str:
    """京东 for ``jd``; an unknown id stays as it is (still untrusted: escape it)."""
    p = (platform or "").strip()
    return PLATFORM_NAMES.get(p.lower(), p)


def severity_name(severity: str | None) -> str:
    return SEVERITY_NAMES.get(severity or "", severity or "")


def plain(text: str | None, limit: int = 200) -> str:
    """One line of untrusted text, cut to ``limit``, with links defanged."""
    text = " ".join(str(text or "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _URL.sub(lambda mt: mt.group(0).replace(":", "\u200b:").replace(".", "\u200b."), text)


def escape_md(text: str | None, limit: int = 200) -> str:
    """One line of untrusted text, safe inside Markdown: no links, no markup."""
    return _MD_SPECIAL.sub(r"\\\1", plain(text, limit))


def neutral(text: str | None, limit: int = 200) -> str:
    """One line of untrusted text, safe inside any robot's Markdown: markup characters full-width."""
    return plain(text, limit).translate(_FULL_WIDTH)


def page_link(url: str | None, platform: str | None) -> str | None:
    """``url`` fit to link to, or None: http(s), on ``platform``'s own hosts, no credentials, and
    percent-encoded so it cannot close a Markdown link or open a tag."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.username or parts.password or not host:
        return None
    hosts = PLATFORM_HOSTS.get((platform or "").lower(), ())
    if not any(host == h or host.endswith("." + h) for h in hosts):
        return None
    if parts.port not in (None, 80, 443):
        return None
    path = quote(parts.path, safe="/%-._~:@!$&'*+,;=")
    query = quote(parts.query, safe="=&%-._~:@!$'*+,;/?")
    path, query = (x.replace("(", "%28").replace(")", "%29").replace("'", "%27") for x in (path, query))
    return f"{parts.scheme}://{host}{path}" + (f"?{query}" if query else "")


def _esc_for(dialect: Dialect) -> Callable[[str | None, int], str]:
    if dialect in CHAT_DIALECTS:
        return neutral
    return escape_md if dialect == "markdown" else plain


def title_line(message: Message, dialect: Dialect = "text") -> str:
    """The title with its icon and severity; escaped for ``dialect`` (titles can carry a SKU)."""
    icon, label = HEADS.get(message.event, ("", ""))
    severity = f"【{severity_name(message.severity)}】" if message.severity else ""
    title = _esc_for(dialect)(message.title, 200)
    return " ".join(x for x in (icon, f"{severity}{label}{title}") if x)


@dataclass(frozen=True)
class Rendered:
    title: str
    parts: list[str]  # one message, or several numbered ones
    format: Dialect | str  # markdown | text | html | a robot dialect


def _item_line(it: MessageItem, dialect: Dialect) -> str:
    esc = _esc_for(dialect)
    stars = f"{it.rating}★ " if it.rating else ""
    sku = f" · SKU {esc(it.sku, 40)}" if it.sku else ""
    when = f" · {it.when}" if it.when else ""
    name = esc(platform_name(it.platform), 20)
    line = f"- {stars}{esc(it.text, 200)} — {esc(it.author, 40)}，{name}{sku}{when}"
    link = page_link(it.url, it.platform) if dialect != "text" else None
    if link:
        line += f" [原文]({link})"
    return line


def _lines(
    message: Message,
    dialect: Dialect,
    checklist: Checklist | None,
    items: int | None = None,
    links_inline: bool = True,
) -> list[str]:
    md = dialect != "text"
    esc = _esc_for(dialect)
    bold = (lambda s: f"**{s}**") if md else (lambda s: s)
    blocks: list[str] = []
    if message.summary:
        blocks.append(bold(esc(message.summary, 600)))
    if message.facts:
        blocks.append(
            " · ".join(f"{f.label} {esc(f.value, 60) if f.untrusted else f.value}" for f in message.facts)
        )
    if message.items:
        shown = message.items if items is None else message.items[:items]
        total = max(message.item_total, len(message.items))
        head = f"共 {total} 条" + (f"，最近 {len(shown)} 条：" if len(shown) < total else "：")
        rows = [head, *(_item_line(it, dialect) for it in shown)]
        if len(shown) < total:
            rest = f"另有 {total - len(shown)} 条未列出"
            rows.append(f"{rest}，[查看全部]({message.detail_url})" if md and message.detail_url else rest)
        blocks.append("\n".join(rows))
    if message.text:
        blocks.append(message.text)
    if checklist is not None:
        rows = [f"{bold('处置清单')}（{esc(checklist.title, 80)}）："]
        rows += [
            f"- [ ] {esc(step, 300)}" if dialect == "markdown" else f"- {esc(step, 300)}"
            for step in checklist.steps
        ]
        if checklist.more:
            rows.append(f"- …另有 {checklist.more} 步")
        if checklist.url:
            rows.append(f"完整清单：{checklist.url}")
        blocks.append("\n".join(rows))
    if links_inline and message.links:  # our own links; their labels may quote a title: escaped
        if dialect in CHAT_DIALECTS:
            blocks.append(" · ".join(f"[{esc(link.label, 60)}]({link.url})" for link in message.links))
        else:
            blocks += [f"{esc(link.label, 60)}：{link.url}" for link in message.links]
    if message.footer:
        blocks.append(message.footer)
    return blocks


def body(
    message: Message,
    dialect: Dialect,
    checklist: Checklist | None = None,
    items: int | None = None,
    links_inline: bool = True,
) -> str:
    """The message in ``dialect`` (with ``checklist`` instead of the message's own, when trimmed; only
    the first ``items`` items when trimmed; the links left to the payload's buttons if not inline)."""
    cl = checklist if checklist is not None else message.checklist
    return "\n\n".join(_lines(message, dialect, cl, items, links_inline))


def fitted(
    message: Message,
    dialect: Dialect,
    room: int,
    size: Callable[[str], int],
    links_inline: bool = True,
) -> str:
    """The body trimmed to ``room``: checklist steps first (when a link has all of them), then items
    from the oldest shown, at item boundaries (a line says how many more, with the link to all)."""
    text = body(message, dialect, links_inline=links_inline)
    if size(text) <= room:
        return text
    cl = message.checklist
    if cl is not None and cl.url:
        steps = list(cl.steps)
        total = len(steps) + cl.more
        while steps and size(text) > room:
            steps.pop()
            trimmed = cl.model_copy(update={"steps": tuple(steps), "more": total - len(steps)})
            text = body(message, dialect, trimmed, links_inline=links_inline)
        cl = cl.model_copy(update={"steps": tuple(steps), "more": total - len(steps)})
    n = len(message.items)
    while n > 0 and size(text) > room:
        n -= 1
        text = body(message, dialect, cl, items=n, links_inline=links_inline)
    return text


def render(message: Message, kind: ChannelKind, *, limit: int | None = None, ref: str = "") -> Rendered:
    """``message`` for a channel of ``kind``, with the ``ref`` line (the idempotency key) last."""
    dialect = kind.dialect
    title = title_line(message, dialect)
    if kind.takes_html and message.html:
        html = message.html + (f"\n<p><small>{ref}</small></p>" if ref else "")
        return Rendered(title, [html], "html")
    ref_line = (f"`{ref}`" if dialect == "markdown" else ref) if ref else ""
    head = f"{title}\n\n" if kind.title_in_body else ""
    room = limit - kind.size(head) - kind.size(ref_line) - 2 if limit else None
    text = fitted(message, dialect, room, kind.size) if room is not None else body(message, dialect)
    full = "\n\n".join(x for x in (head + text, ref_line) if x)
    parts = split(full, limit, kind.size) if limit else [full]
    return Rendered("" if kind.title_in_body else title, parts, dialect)


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
