"""DingTalk, WeCom and Feishu/Lark robots, spoken to in their own schemas with httpx.

apprise's robot plugins send text (WeCom: ``text``, so people saw literal ``**``), cannot send buttons
and cannot @mention from a rota. These robots are posted natively instead, one payload builder each,
from the same ``Message`` and the same escaping (``monitor.notify.render``):

- DingTalk: ``actionCard`` with buttons (认领/确认, 查看事件, 静默 1 小时); ``markdown`` with ``at.atMobiles``
  when someone on duty is @mentioned (DingTalk @s only in text and markdown messages). Signed when the
  URL carries a secret (``dingtalk://SECRET@TOKEN/``): ``timestamp`` and ``sign`` in the query.
- WeCom: ``markdown`` (links inline, ``<@userid>`` mentions), at most 4 096 bytes.
- Feishu / Lark: an ``interactive`` card, header coloured by severity, ``lark_md`` body, url buttons;
  signed when the URL has ``?secret=``: ``timestamp`` and ``sign`` in the body.

URLs keep apprise's shapes (``dingtalk://TOKEN/``, ``wecombot://KEY``, ``feishu://TOKEN``,
``lark://TOKEN``) plus ``?api=URL`` to send elsewhere (a gateway, a loopback test robot). An answer
with ``errcode``/``code`` ≠ 0 is a failure with the robot's reason, and the outbox retries it.

Each robot also has a token bucket at its platform's published rate (``ChannelKind.rate``), shared
by every thread of the process: ``available`` tells delivery how many messages may go now.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

from monitor.notify.kinds import ChannelKind, kind_of
from monitor.notify.message import Message
from monitor.notify.render import fitted, plain, split, title_line

__all__ = ["Robot", "available", "parse", "payloads", "post", "take"]

DEFAULT_API = {
    "dingtalk": "https://oapi.dingtalk.com/robot/send",
    "wecombot": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook",
    "lark": "https://open.larksuite.com/open-apis/bot/v2/hook",
}
TEMPLATES = {"critical": "red", "high": "orange", "medium": "yellow", "low": "blue"}
TIMEOUT = 10.0


class RobotURLError(ValueError):
    pass


@dataclass(frozen=True)
class Robot:
    kind: ChannelKind
    token: str
    api: str
    secret: str | None = None

    @property
    def endpoint(self) -> str:
        """Where messages are posted (without a signature), also the rate bucket's key."""
        if self.kind.name == "dingtalk":
            return f"{self.api}{'&' if '?' in self.api else '?'}access_token={quote(self.token)}"
        if self.kind.name == "wecombot":
            if "{key}" in self.api:
                return self.api.format(key=quote(self.token))
            return f"{self.api}{'&' if '?' in self.api else '?'}key={quote(self.token)}"
        return f"{self.api.rstrip('/')}/{quote(self.token)}"


def parse(url: str) -> Robot:
    """The robot an (expanded) channel URL names; ``RobotURLError`` when it names none."""
    kind = kind_of(url)
    if not kind.native:
        raise RobotURLError(f"{kind.name} is not a chat robot")
    parts = urlsplit(url)
    qs = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    token = parts.netloc.rsplit("@", 1)[-1]  # not .hostname: tokens are case-sensitive
    secret = unquote(parts.netloc.rsplit("@", 1)[0]) if "@" in parts.netloc else qs.get("secret")
    if not token:
        raise RobotURLError(f"{kind.name}:// needs the robot's token or key")
    api = unquote(qs.get("api", DEFAULT_API[kind.name]))
    return Robot(kind, unquote(token), api, secret or None)


# ---- payloads --------------------------------------------------------------------------------
def _room(kind: ChannelKind, limit: int, *fixed: str) -> int:
    return limit - sum(kind.size(x) + 2 for x in fixed if x)


def _parts(message: Message, kind: ChannelKind, limit: int, fixed: list[str], inline: bool) -> list[str]:
    text = fitted(message, kind.dialect, _room(kind, limit, *fixed), kind.size, links_inline=inline)
    room = _room(kind, limit, *fixed)
    return split(text, room, kind.size) if kind.size(text) > room else [text]


def _join(*blocks: str) -> str:
    return "\n\n".join(b for b in blocks if b)


def payloads(robot: Robot, message: Message, ref: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The JSON bodies to post for ``message`` (usually one; parts when even a trimmed message is too
    long). Untrusted text is escaped by the renderer; mentions come only from the rota."""
    kind = robot.kind
    limit = limit or kind.limit or 4000
    if kind.name == "dingtalk":
        return _dingtalk(message, kind, limit, ref)
    if kind.name == "wecombot":
        return _wecom(message, kind, limit, ref)
    return _feishu(message, kind, limit, ref)


def _dingtalk(message: Message, kind: ChannelKind, limit: int, ref: str) -> list[dict[str, Any]]:
    heading = f"### {title_line(message, 'dingtalk')}"
    mobiles = [p.dingtalk for p in message.mentions if p.dingtalk]
    at_line = " ".join(f"@{m}" for m in mobiles)  # DingTalk highlights @mobile written in the text
    buttons = bool(message.links) and not mobiles
    preview = title_line(message, "dingtalk")[:60]  # the chat list's preview line: escaped all the same
    out: list[dict[str, Any]] = []
    for part in _parts(message, kind, limit, [heading, at_line, ref], inline=not buttons):
        text = _join(heading, part, at_line, ref)
        if buttons:
            btns = [{"title": link.label, "actionURL": link.url} for link in message.links]
            card = {
                "title": preview,
                "text": text,
                "btnOrientation": "1" if len(btns) <= 3 else "0",
                "btns": btns,
            }
            out.append({"msgtype": "actionCard", "actionCard": card})
        else:
            out.append(
                {
                    "msgtype": "markdown",
                    "markdown": {"title": preview, "text": text},
                    "at": {"atMobiles": mobiles, "isAtAll": False},
                }
            )
    return out


def _wecom(message: Message, kind: ChannelKind, limit: int, ref: str) -> list[dict[str, Any]]:
    heading = f"**{title_line(message, 'wecom')}**"
    at_line = " ".join(f"<@{p.wecom}>" for p in message.mentions if p.wecom)
    return [
        {"msgtype": "markdown", "markdown": {"content": _join(heading, part, at_line, ref)}}
        for part in _parts(message, kind, limit, [heading, at_line, ref], inline=True)
    ]


def _feishu(message: Message, kind: ChannelKind, limit: int, ref: str) -> list[dict[str, Any]]:
    at_line = " ".join(f"<at id={p.feishu}></at>" for p in message.mentions if p.feishu)
    header = {
        "title": {"tag": "plain_text", "content": title_line(message, "feishu")},  # plain, escaped anyway
        "template": TEMPLATES.get(message.severity or "", "green" if message.event == "resolved" else "blue"),
    }
    out: list[dict[str, Any]] = []
    for i, part in enumerate(_parts(message, kind, limit, [at_line, ref], inline=False)):
        elements: list[dict[str, Any]] = [
            {"tag": "div", "text": {"tag": "lark_md", "content": _join(part, at_line)}}
        ]
        if message.links and i == 0:
            elements.append(
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": link.label},
                            "type": "primary" if j == 0 else "default",
                            "url": link.url,
                        }
                        for j, link in enumerate(message.links)
                    ],
                }
            )
        if ref:
            elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": ref}]})
        out.append(
            {
                "msg_type": "interactive",
                "card": {"config": {"wide_screen_mode": True}, "header": header, "elements": elements},
            }
        )
    return out


# ---- signing and posting -----------------------------------------------------------------------
def _dingtalk_sign(secret: str, ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote(base64.b64encode(digest).decode("ascii"), safe="")


def feishu_sign(secret: str, seconds: int) -> str:
    """Feishu's documented signature: HmacSHA256 keyed with ``timestamp\\nsecret`` over nothing."""
    digest = hmac.new(f"{seconds}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def post(robot: Robot, body: dict[str, Any], now: float | None = None) -> str | None:
    """Post one payload; None when the robot took it, else the reason."""
    url = robot.endpoint
    now = time.time() if now is None else now
    if robot.secret and robot.kind.name == "dingtalk":
        ms = int(now * 1000)
        url += f"&timestamp={ms}&sign={_dingtalk_sign(robot.secret, ms)}"
    if robot.secret and robot.kind.dialect == "feishu":
        seconds = int(now)
        body = {"timestamp": str(seconds), "sign": feishu_sign(robot.secret, seconds), **body}
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
            r = client.post(url, content=data, headers={"Content-Type": "application/json; charset=utf-8"})
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}"
    if r.status_code != 200:
        return f"HTTP {r.status_code}"
    return rejection(r)


def rejection(r: httpx.Response) -> str | None:
    """The robot's error when its HTTP 200 answer carries a non-zero ``errcode`` / ``code``."""
    try:
        doc = r.json()
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    for key in ("errcode", "code", "StatusCode"):
        code = doc.get(key)
        if code not in (None, 0, "0"):
            msg = doc.get("errmsg") or doc.get("msg") or doc.get("StatusMessage") or ""
            return plain(f"{key}={code} {msg}".strip(), 200)
    return None


# ---- rate limits -------------------------------------------------------------------------------
class _Bucket:
    def __init__(self, n: int, per: float) -> None:
        self.n, self.per = n, per
        self.sent: list[float] = []

    def _trim(self, now: float) -> None:
        self.sent = [t for t in self.sent if now - t < self.per]

    def available(self, now: float) -> int:
        self._trim(now)
        return self.n - len(self.sent)

    def take(self, now: float) -> bool:
        self._trim(now)
        if len(self.sent) >= self.n:
            return False
        self.sent.append(now)
        return True


_buckets: dict[str, _Bucket] = {}
_lock = threading.Lock()


def _bucket(robot: Robot) -> _Bucket | None:
    if robot.kind.rate is None:
        return None
    with _lock:
        return _buckets.setdefault(robot.endpoint, _Bucket(*robot.kind.rate))


def available(robot: Robot, now: float | None = None) -> int | None:
    """Messages the robot may take now (a sliding window at its published rate); None: no limit."""
    b = _bucket(robot)
    if b is None:
        return None
    with _lock:
        return b.available(time.monotonic() if now is None else now)


def take(robot: Robot, now: float | None = None) -> bool:
    """Count one message against the robot's rate; False when it is used up (send later)."""
    b = _bucket(robot)
    if b is None:
        return True
    with _lock:
        return b.take(time.monotonic() if now is None else now)
