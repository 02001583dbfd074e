"""What a notification says, as data.

The alerting side (``monitor.alerting.compose``, ``monitor.sop``, ``monitor.reports``) composes a
``Message``; the outbox keeps it as JSON; at send time ``monitor.notify.render`` turns it into the
dialect of each channel kind (``monitor.notify.kinds``). Untrusted fields — review text, nicknames,
SKUs and platform names taken from a page — stay plain data until the renderer, which escapes them
its own way, so a new dialect (a DingTalk ActionCard, a Feishu card) needs no change here.

Only ``text``/``html`` (a report, an incident checklist written by us) and ``Link`` URLs are trusted
markup. ``title`` and ``summary`` are built by us but quote page-derived values (a SKU, a "source
blind" reason): every renderer escapes them like ``MessageItem`` fields and facts marked ``untrusted``,
which are never markup. ``mentions`` come from the on-call rota only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.config.types import Severity

__all__ = [
    "Attachment",
    "Checklist",
    "Event",
    "Fact",
    "Link",
    "Mention",
    "Message",
    "MessageError",
    "MessageItem",
]

# What a notification is about. Alert events first, then SOP notices, then the rest.
Event = Literal[
    "firing",
    "update",
    "reminder",
    "escalation",
    "resolved",
    "overdue",
    "checklist",
    "follow_up",
    "claimed",
    "backfill",
    "digest",
    "report",
    "heartbeat",
    "test",
]


class MessageError(ValueError):
    """A stored message that cannot be read back (a damaged or foreign outbox row)."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fact(_Data):
    """One labelled value, e.g. ``SKU: 100012043978``; ``untrusted`` values come from a page."""

    label: str
    value: str
    untrusted: bool = False


class MessageItem(_Data):
    """A review or post quoted in a message. Every field but ``rating`` and ``when`` is untrusted."""

    text: str
    author: str = Field(description="masked by the composer (personal data), still untrusted")
    platform: str
    sku: str | None = None
    rating: int | None = Field(default=None, ge=1, le=5)
    when: str = Field(default="", description='local time, labelled, e.g. "11-23 12:00 UTC+8"')
    url: str | None = Field(
        default=None, description="the item's page; a link only when http(s) on the platform's own host"
    )


class Checklist(_Data):
    """The SOP's steps. With a ``url`` (the full checklist) a renderer may show fewer steps to fit."""

    title: str
    steps: tuple[str, ...]
    more: int = Field(default=0, ge=0, description="steps left out by the composer")
    url: str | None = None


class Link(_Data):
    """A link we made (acknowledge, the incident, a silence); robots show it as a button."""

    label: str
    url: str


class Mention(_Data):
    """Someone to @mention, from the on-call rota (trusted config, never from a page)."""

    name: str
    dingtalk: str | None = Field(default=None, description="mobile number the DingTalk robot @s")
    wecom: str | None = Field(default=None, description="WeCom userid")
    feishu: str | None = Field(default=None, description="Feishu open_id (ou_…) or user_id")


class Attachment(_Data):
    """A text file sent where the channel takes files (the SOP checklist, a chart)."""

    name: str
    content: str
    mime: str = "text/markdown"


class Message(_Data):
    title: str
    event: Event
    severity: Severity | None = None
    summary: str = ""
    facts: tuple[Fact, ...] = ()
    items: tuple[MessageItem, ...] = ()
    item_total: int = Field(default=0, ge=0, description="items the alert holds; `items` are the latest")
    checklist: Checklist | None = None
    text: str = Field(
        default="", description="trusted Markdown written by us (an incident checklist, a report)"
    )
    html: str = Field(default="", description="trusted HTML of the same, for channels that take HTML")
    links: tuple[Link, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    footer: str = Field(default="", description='e.g. "alert #12 · keyword · firing"')
    alert_id: int | None = Field(default=None, description="for renderers with buttons and links")
    detail_url: str | None = Field(default=None, description="the console page with everything")
    mentions: tuple[Mention, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: object) -> Message:
        """The message stored by ``to_json``; ``MessageError`` for anything else."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MessageError(f"not a stored message: {exc.errors(include_url=False)[0]['msg']}") from None
