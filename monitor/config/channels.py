"""Channel URLs checked against what apprise will really do with them.

apprise picks a plugin by the URL's scheme, and some schemes do not go where their name suggests:
``wecom://`` is apprise's alias of *PushPlus*, a third-party relay (WeCom's group robot is
``wecombot://``). A scheme that names a chat platform but resolves to another service is an error;
a service that relays messages through a third party's servers (review text leaving the company
to someone else) is a warning.
"""

from __future__ import annotations

from monitor.config.settings import ENV_REF

__all__ = ["RELAYS", "url_problems"]

# Words in a scheme that name a platform, and the apprise plugin class that really speaks to it.
PLATFORM_WORDS = {
    "wecom": ("NotifyWeComBot", "wecombot://KEY"),
    "weixin": ("NotifyWeComBot", "wecombot://KEY"),
    "wxwork": ("NotifyWeComBot", "wecombot://KEY"),
    "dingtalk": ("NotifyDingTalk", "dingtalk://TOKEN/"),
    "dingding": ("NotifyDingTalk", "dingtalk://TOKEN/"),
    "feishu": ("NotifyFeishu", "feishu://TOKEN/"),
    "lark": ("NotifyLark", "lark://TOKEN/"),
}
# apprise plugins that hand the message to a third party's servers to forward it.
RELAYS = {
    "NotifyPushplus": "PushPlus (pushplus.plus)",
    "NotifyServerChan": "ServerChan (sct.ftqq.com)",
    "NotifyPushDeer": "PushDeer",
    "NotifyWxPusher": "WxPusher (wxpusher.zjiecode.com)",
    "NotifyQQ": "QQ Push (Qmsg)",
    "NotifyBark": "Bark (api.day.app)",
    "NotifyPushMe": "PushMe",
    "NotifyPushover": "Pushover",
    "NotifyPushBullet": "Pushbullet",
    "NotifyNtfy": "ntfy",
}
OURS = {"console"}


def url_problems(url: str) -> tuple[str | None, str | None]:
    """(error, warning) for one channel URL, before ``${VAR}`` expansion."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in OURS:
        return None, None
    from monitor.config.apprise_plugins import plugin_for

    plugin = plugin_for(scheme)  # that scheme's plugin only, not all of apprise's (#18 memory)
    if plugin is None:
        return f"unknown channel scheme {scheme}:// (not an apprise service)", None
    name = plugin.__name__
    if name.startswith("Checked"):  # monitor.notify.chatbots' subclasses of the stock robots
        name = "Notify" + name.removeprefix("Checked")
    for word, (expected, right) in PLATFORM_WORDS.items():
        if word in scheme and name != expected:
            relay = RELAYS.get(name)
            what = f"{relay}, a third-party relay" if relay else getattr(plugin, "service_name", name)
            return f"{scheme}:// is read by apprise as {what}, not {word}; use {right}", None
    if name in RELAYS:
        return (
            None,
            f"{scheme}:// sends every message (review text included) through {RELAYS[name]}, a third party",
        )
    if ENV_REF.search(url.split("://", 1)[0]):
        return "the scheme cannot come from ${VAR}", None
    return None, None
