"""The channel kinds the product supports: for each apprise scheme, how messages are written for it.

Adding a kind is one row here (its dialect and size limit), a renderer in ``monitor.notify.render``
if the dialect is new, a checked plugin in ``monitor.notify.chatbots`` if the service answers HTTP 200
to refuse, and a row in the channel contract table (``tests/notify/test_channels.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GENERIC", "KINDS", "ChannelKind", "Dialect", "kind_of"]

# markdown: CommonMark-ish (webhooks, e-mail, other apprise services); text: the console; the rest
# are the chat robots' own Markdown subsets, sent as native payloads by ``monitor.notify.robots``.
Dialect = Literal["markdown", "text", "dingtalk", "wecom", "feishu"]


@dataclass(frozen=True)
class ChannelKind:
    name: str
    schemes: tuple[str, ...]
    dialect: Dialect  # how a message is written for it (``monitor.notify.render``)
    limit: int | None = None  # the longest body it takes, in ``unit``; longer messages are split
    unit: Literal["chars", "bytes"] = "chars"  # bytes: UTF-8, where the service counts bytes
    title_in_body: bool = False  # the service drops the title: it goes first in the body
    key_in_payload: bool = False  # the idempotency key travels as a payload field and a header
    takes_html: bool = False  # a message's trusted HTML (e-mailed reports) is sent as HTML
    refuses_with_200: bool = False  # errcode ≠ 0 in an HTTP 200 answer is a failure (chatbots)
    native: bool = False  # posted by ``monitor.notify.robots`` (httpx) in the platform's own schema
    rate: tuple[int, float] | None = None  # at most n messages per this many seconds, per robot

    def size(self, text: str) -> int:
        return len(text.encode("utf-8")) if self.unit == "bytes" else len(text)


# The platforms' documented formats and limits (each robot is one row; the payloads are built in
# ``monitor.notify.robots``):
# - DingTalk custom robot: msgtype markdown {title, text} with at {atMobiles, isAtAll}, or actionCard
#   {title, text, btnOrientation, btns[{title, actionURL}]}; 20 messages a minute per robot, over
#   that the robot is throttled for 10 minutes (open.dingtalk.com "自定义机器人接入", 调用频率限制).
#   The text limit is not published; messages of ~5 000 characters are reported to go through, so we
#   stay at 4 000 characters.
# - WeCom group robot: msgtype markdown {content}, content at most 4 096 bytes of UTF-8 (errcode 40058
#   beyond), mentions as <@userid> in the content; 20 messages a minute per robot
#   (developer.work.weixin.qq.com/document/path/99110 "群机器人配置说明").
# - Feishu / Lark custom bot: msg_type interactive with a card {header, elements}; the request body at
#   most 20 KB (code 9499 beyond); signed with timestamp + sign = base64(HmacSHA256(key=timestamp +
#   "\n" + secret, msg="")); 100 requests a minute, 5 a second (open.feishu.cn
#   "自定义机器人使用指南"). We keep the card's text to 15 000 bytes.
KINDS: tuple[ChannelKind, ...] = (
    ChannelKind("console", ("console",), "text"),
    ChannelKind(
        "dingtalk", ("dingtalk",), "dingtalk", limit=4000, refuses_with_200=True, native=True, rate=(20, 60.0)
    ),
    ChannelKind(
        "wecombot",
        ("wecombot",),
        "wecom",
        limit=4096,
        unit="bytes",
        title_in_body=True,
        refuses_with_200=True,
        native=True,
        rate=(20, 60.0),
    ),
    ChannelKind(
        "feishu",
        ("feishu",),
        "feishu",
        limit=15000,
        unit="bytes",
        refuses_with_200=True,
        native=True,
        rate=(5, 1.0),
    ),
    ChannelKind(
        "lark",
        ("lark",),
        "feishu",
        limit=15000,
        unit="bytes",
        refuses_with_200=True,
        native=True,
        rate=(5, 1.0),
    ),
    ChannelKind(
        "webhook", ("json", "jsons", "form", "forms", "xml", "xmls"), "markdown", key_in_payload=True
    ),
    ChannelKind("email", ("mailto", "mailtos"), "markdown", takes_html=True),
)
# Any other apprise URL: Markdown, which apprise converts for services that take plain text.
GENERIC = ChannelKind("apprise", (), "markdown")
_BY_SCHEME = {scheme: kind for kind in KINDS for scheme in kind.schemes}


def kind_of(url: str) -> ChannelKind:
    return _BY_SCHEME.get(url.split("://", 1)[0].lower(), GENERIC)
