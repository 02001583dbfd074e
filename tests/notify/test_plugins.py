"""apprise's plugins are imported one scheme at a time (monitor.config.apprise_plugins, #18 memory)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from monitor.config.apprise_schemes import SCHEMES

LIVE_TABLE = """
import json

import pytest
from apprise.manager_plugins import NotificationManager
m = NotificationManager()
m.load_modules()
print(json.dumps({s: [name, p.__name__] for name, e in m._module_map.items() if e["native"]
                  for p in e["plugin"] for s in (p.schemas(p) if callable(getattr(p, "schemas", None)) else ())}))
"""


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_scheme_table_is_the_installed_apprises() -> None:
    """If this fails after an apprise upgrade, regenerate monitor/config/apprise_schemes.py from
    LIVE_TABLE's output (a stale row costs memory, never a refused URL: see plugin_for)."""
    live = {s: tuple(v) for s, v in json.loads(run(LIVE_TABLE)).items()}
    assert live == SCHEMES


def test_a_daemon_imports_the_plugins_of_its_channels_only() -> None:
    probe = """
import sys
import monitor.daemon
assert "apprise" not in sys.modules, "apprise at import"
from monitor.config.channels import url_problems
from monitor.config.settings import Channel
from monitor.demo.sink import WebhookSink
from monitor.notify.message import Message
from monitor.notify.transport import send, warm_up

def plugins():
    return sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("apprise.plugins."))

sink = WebhookSink().start()
warm_up(["console://", "dingtalk://token/"])
hook = sink.url.split("://")[1]
ok = send("hook", Channel(urls=[f"json://{hook}/h"]), Message(title="破损", event="firing", summary="盒子破了"), "k1")
assert ok == (True, None), ok
assert [m.get("idempotency_key") for m in sink.messages()] == ["k1"], sink.messages()
assert url_problems("wecom://x")[0].startswith("wecom:// is read by apprise as PushPlus")
print(plugins())
assert url_problems("nosuchscheme://x")[0] == "unknown channel scheme nosuchscheme:// (not an apprise service)"
print(len(plugins()))
sink.stop()
"""
    few, everything = run(probe).splitlines()
    assert few == str(["base", "custom_json", "pushplus"])  # no robot registered: robots post natively
    assert int(everything) > 100  # an unknown scheme: all of them are looked through, as apprise does


def test_an_apprise_laid_out_otherwise_loads_its_own_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """apprise is pinned only from below: a version whose plugin manager lacks the private table this
    module fills gets apprise's own loading (all plugins), never an AttributeError at the first send."""
    from monitor.config import apprise_plugins as ap

    class Manager:  # no _module_map, _schema_map, _loaded …
        def __getitem__(self, scheme: str) -> str:
            if scheme == "json":
                return "NotifyJSON"
            raise KeyError(scheme)

    monkeypatch.setattr(ap, "_manager", Manager)
    monkeypatch.setattr(ap, "_ready", False)
    monkeypatch.setattr(ap, "_fallback", False)
    assert ap.plugin_for("json") == "NotifyJSON"
    assert ap.plugin_for("no-such-scheme") is None
