"""Sending one message to one channel through apprise: the transport, and nothing else.

Each URL of the channel gets the message written for its kind (``monitor.notify.kinds``), with the
idempotency key in the payload (webhooks) or as a ``ref`` line, split at the kind's limit, with the
message's attachments where the service takes files. DingTalk, WeCom, Feishu and Lark answers with
``errcode ≠ 0`` count as failures (``monitor.notify.chatbots``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

from monitor.config.apprise_plugins import plugin_for
from monitor.config.settings import Channel, expand_env
from monitor.notify import robots
from monitor.notify.kinds import ChannelKind, kind_of
from monitor.notify.message import Message
from monitor.notify.render import render

__all__ = ["limit_of", "room_for", "send", "warm_up", "with_key"]

log = logging.getLogger(__name__)


def _apprise(kind: ChannelKind | None = None) -> ModuleType:
    """apprise, imported when a channel first needs it (the chat robots that ``monitor.notify.robots``
    posts itself never do), with console:// registered; its stock plugins are imported one scheme at a
    time (``plugin_for``, #18 memory). Our checked robot plugins (``chatbots``, which import
    ``requests``) are registered only for a robot kind that reaches apprise."""
    import apprise

    from monitor.notify import console as _console  # noqa: F401  (registers console://)

    if kind is not None and kind.refuses_with_200:
        from monitor.notify import chatbots

        chatbots.register()
    return apprise


def _formats(apprise: ModuleType) -> dict[str, Any]:
    return {
        "markdown": apprise.NotifyFormat.MARKDOWN,
        "text": apprise.NotifyFormat.TEXT,
        "html": apprise.NotifyFormat.HTML,
    }


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].strip().lower()


def with_key(url: str, key: str, kind: ChannelKind) -> str:
    """Put the idempotency key into the payload (and a header) of generic webhook channels."""
    if not kind.key_in_payload:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}:idempotency_key={quote(key)}&+X-Idempotency-Key={quote(key)}"


def limit_of(channel: Channel, kind: ChannelKind) -> int | None:
    """The channel's ``max_length`` if set, else its kind's limit."""
    return channel.max_length or kind.limit


def room_for(channel: Channel) -> int | None:
    """Messages the channel's chat robots may take now (the smallest of their rate buckets); None
    when none of its URLs is a rate-limited robot (or a URL cannot be read yet)."""
    rooms = []
    for raw in channel.urls:
        try:
            url = expand_env(raw)
        except KeyError:
            continue
        if kind_of(url).native:
            try:
                room = robots.available(robots.parse(url))
            except robots.RobotURLError:
                continue
            if room is not None:
                rooms.append(room)
    return min(rooms) if rooms else None


def warm_up(urls: Iterable[str] = ()) -> None:
    """Import apprise and the plugins of ``urls`` (the configured channels' URLs) once, so the first
    real notification is not slowed by imports. Only those plugins: all of them cost ~23 MB."""
    wanted = {_scheme(u) for u in urls if not kind_of(u).native}
    if not wanted:
        return
    _apprise()
    for scheme in sorted(wanted):
        plugin_for(scheme)


def send(name: str, channel: Channel, message: Message, key: str) -> tuple[bool, str | None]:
    """Send ``message`` to every URL of ``channel``; returns (ok, error). All URLs are tried."""
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="monitor-att-") as tmp:
        files = [Path(tmp) / Path(a.name).name for a in message.attachments]
        for path, att in zip(files, message.attachments, strict=True):
            path.write_text(att.content, encoding="utf-8")
        for raw in channel.urls:
            error = _send_one(name, channel, raw, message, key, files)
            if error:
                errors.append(error)
    return (False, "; ".join(errors)) if errors else (True, None)


def _send_one(
    name: str, channel: Channel, raw: str, message: Message, key: str, files: list[Path]
) -> str | None:
    try:
        url = expand_env(raw)
    except KeyError as exc:
        return f"channel {name!r}: environment variable {exc.args[0]} is not set"
    kind = kind_of(url)
    if kind.native:
        return _send_robot(name, channel, url, message, key, kind)
    apprise = _apprise(kind)
    plugin_for(_scheme(url))  # apprise's table holds only the plugins asked for
    ap = apprise.Apprise()
    if not ap.add(with_key(url, key, kind)):
        return f"channel {name!r}: apprise does not accept the URL {raw.split('://')[0]}://…"
    out = render(message, kind, limit=limit_of(channel, kind), ref=f"ref {key}")
    attach = None
    if files and _takes_files(ap):
        attach = apprise.AppriseAttachment()
        for f in files:
            attach.add(str(f))
    for i, part in enumerate(out.parts):
        ok = ap.notify(
            body=part,
            title=out.title,
            body_format=_formats(apprise)[out.format],
            attach=attach if i == 0 else None,
        )
        if not ok:
            why = "; ".join(r for server in ap if (r := getattr(server, "last_rejection", None)))
            detail = f"rejected: {why}" if why else "see log"
            return f"channel {name!r}: delivery failed ({kind.name}, part {i + 1}/{len(out.parts)}; {detail})"
    return None


def _send_robot(
    name: str, channel: Channel, url: str, message: Message, key: str, kind: ChannelKind
) -> str | None:
    try:
        robot = robots.parse(url)
    except robots.RobotURLError as exc:
        return f"channel {name!r}: {exc}"
    bodies = robots.payloads(robot, message, f"ref {key}", limit_of(channel, kind))
    for i, body in enumerate(bodies):
        if not robots.take(robot):
            return f"channel {name!r}: 本地限流 rate limited ({kind.name}: {kind.rate}), sent later"
        error = robots.post(robot, body)
        if error:
            part = f"part {i + 1}/{len(bodies)}"
            return f"channel {name!r}: delivery failed ({kind.name}, {part}; rejected: {error})"
    return None


def _takes_files(ap: Any) -> bool:
    return all(getattr(server, "attachment_support", False) for server in ap)
