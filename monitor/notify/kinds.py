"""The channel kinds the product supports: for each apprise scheme, how messages are written for it.

Adding a kind is one row here (its dialect and size limit), a renderer in ``monitor.notify.render``
if the dialect is new, a checked plugin in ``monitor.notify.chatbots`` if the service answers HTTP 200
to refuse, and a row in the channel contract table (``tests/notify/test_channels.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GENERIC", "KINDS", "ChannelKind", "Dialect", "kind_of"]

Dialect = Literal["markdown", "text"]


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

    def size(self, text: str) -> int:
        return len(text.encode("utf-8")) if self.unit == "bytes" else len(text)


# Limits sit a margin below the documented ones (DingTalk markdown 20 000 bytes; WeCom text 2 048
# bytes; Feishu cards 30 KB) so a split part with its marker still fits.
KINDS: tuple[ChannelKind, ...] = (
    ChannelKind("console", ("console",), "text"),
    ChannelKind("dingtalk", ("dingtalk",), "markdown", limit=6000, refuses_with_200=True),
    ChannelKind(
        "wecombot", ("wecombot",), "text", limit=2000, unit="bytes", title_in_body=True, refuses_with_200=True
    ),
    ChannelKind("feishu", ("feishu",), "markdown", limit=10000, refuses_with_200=True),
    ChannelKind("lark", ("lark",), "markdown", limit=10000, refuses_with_200=True),
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
