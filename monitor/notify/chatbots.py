# mypy: disable-error-code="no-untyped-call,override,attr-defined"
"""DingTalk, WeCom, Feishu and Lark robots for apprise that count a rejected message as a failure.

The product sends to these robots natively (``monitor.notify.robots``); these plugins remain so that
an apprise URL of these schemes behaves the same when apprise itself sends it (``monitor check``
resolves schemes through apprise's plugin table, and third-party callers may use apprise directly).

Those bots answer HTTP 200 with ``{"errcode": 310000, ...}`` (or Feishu's ``{"code": 9499, ...}``)
when they refuse a message, and apprise's stock plugins report that as success. We
register subclasses of apprise's own plugins for the same schemas (apprise's documented
``force`` override), which read the answer's error code. They also accept
``?api=URL`` to send to another endpoint (a corporate gateway, or a loopback test server).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import requests
from apprise.manager_plugins import NotificationManager
from apprise.plugins import dingtalk, feishu, lark, wecombot

from monitor.config.apprise_plugins import ready


class _RecordingRequests:
    """Stands in for the ``requests`` module inside the robot plugin modules, for good: a ``post`` made
    while a thread records (inside ``_recording``) is kept for that thread. Nothing is locked around a
    send, so messages to slow robots go out side by side."""

    def __init__(self) -> None:
        self._local = threading.local()

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        r = requests.post(*args, **kwargs)
        kept: list[requests.Response] | None = getattr(self._local, "responses", None)
        if kept is not None:
            kept.append(r)
        return r

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)

    @contextmanager
    def recording(self) -> Iterator[list[requests.Response]]:
        kept: list[requests.Response] = []
        self._local.responses = kept
        try:
            yield kept
        finally:
            self._local.responses = None


_requests = _RecordingRequests()


def rejection(response: requests.Response) -> str | None:
    """The bot's error message if a 200 answer carries a non-zero error code."""
    try:
        doc = response.json()
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    for key in ("errcode", "code", "StatusCode"):
        code = doc.get(key)
        if code not in (None, 0, "0"):
            msg = doc.get("errmsg") or doc.get("msg") or doc.get("StatusMessage") or ""
            return f"{key}={code} {msg}".strip()
    return None


class _Checked:
    """Mixin: run the stock ``send`` and inspect the bot's answer."""

    _module: ModuleType
    last_rejection: str | None = None

    def send(self, *args: Any, **kwargs: Any) -> bool:
        with _requests.recording() as responses:
            ok: bool = super().send(*args, **kwargs)  # type: ignore[misc]
        for r in responses:  # also when the plugin saw the refusal itself: keep the robot's reason
            reason = rejection(r)
            if reason:
                self.last_rejection = reason
                self.logger.warning("%s rejected the message: %s", self.service_name, reason)
                return False
        return ok

    @staticmethod
    def _api(results: dict[str, Any] | None) -> dict[str, Any] | None:
        if results and "api" in results.get("qsd", {}):
            results["api"] = unquote(results["qsd"]["api"])
        return results


class CheckedDingTalk(_Checked, dingtalk.NotifyDingTalk):
    _module = dingtalk

    def __init__(self, *args: Any, api: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if api:
            self.notify_url = api

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        return _Checked._api(dingtalk.NotifyDingTalk.parse_url(url))


class CheckedWeComBot(_Checked, wecombot.NotifyWeComBot):
    _module = wecombot

    def __init__(self, *args: Any, api: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if api:
            self.api_url = api.format(key=self.key) if "{key}" in api else api

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        return _Checked._api(wecombot.NotifyWeComBot.parse_url(url))


class CheckedFeishu(_Checked, feishu.NotifyFeishu):
    _module = feishu

    def __init__(self, *args: Any, api: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if api:
            self.notify_url = api

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        return _Checked._api(feishu.NotifyFeishu.parse_url(url))


class CheckedLark(_Checked, lark.NotifyLark):
    _module = lark

    def __init__(self, *args: Any, api: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if api:
            self.webhook_url = api

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        return _Checked._api(lark.NotifyLark.parse_url(url))


_registered = False


def register() -> None:
    """Replace apprise's stock robots for these schemas (idempotent)."""
    global _registered
    if _registered:
        return
    ready()  # apprise's table is filled one scheme at a time (monitor.config.apprise_plugins)
    for plugin in (CheckedDingTalk, CheckedWeComBot, CheckedFeishu, CheckedLark):
        plugin._module.requests = _requests
        NotificationManager().add(plugin, force=True)
    _registered = True
