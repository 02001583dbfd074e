# mypy: disable-error-code="no-untyped-call"
"""apprise's plugins imported one at a time, for the schemes in use (#18 memory).

apprise imports all of its ~190 plugin modules (≈490 modules with what they import: ~23 MB) the first
time anything asks its plugin table about a scheme, even to send to one webhook. ``plugin_for`` marks
the table as loaded while it is still empty, then imports the module of each scheme asked about
(``monitor.config.apprise_schemes``), registered the way apprise's own loader registers it. A scheme
not in that list, or one its module's class no longer declares (another apprise version), makes it
import every stock module, as apprise would, so a scheme is never refused that apprise knows.

Everything that reaches apprise's plugin table in this process must come through here first (the
notify transport and the channel URL check do): once marked loaded, apprise itself loads no more.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from typing import Any

from monitor.config.apprise_schemes import SCHEMES

__all__ = ["plugin_for", "ready"]

_lock = threading.RLock()
_ready = False
_all_loaded = False
_fallback = False  # this apprise's plugin table is not laid out as expected: let apprise load it all
_MODULE = re.compile(r"^(?P<name>(?!base|_)[a-z0-9_]+)(\.py)?$", re.I)  # apprise's own filter


def _manager() -> Any:
    from apprise.manager_plugins import NotificationManager

    return NotificationManager()


def ready() -> Any:
    """apprise's plugin table, marked loaded (without importing a plugin) if nothing loaded it yet."""
    global _ready, _fallback
    mgr = _manager()
    with _lock:
        if not _ready:
            needed = ("_lock", "_loaded", "_module_map", "_schema_map", "module_path", "module_name_prefix")
            if not all(hasattr(mgr, a) for a in needed):  # another apprise: its own loader, all plugins
                _fallback = True
            else:
                with mgr._lock:
                    if not mgr._loaded:  # nothing imported yet: an empty table that counts as loaded
                        mgr._module_map = {}
                        mgr._schema_map = {}
                        mgr._custom_module_map = {}
                        mgr._loaded.add(mgr.module_path)
            _ready = True
    return mgr


def _declared(plugin: Any) -> set[str]:
    fn = getattr(plugin, "schemas", None)
    return set(fn(plugin)) if callable(fn) else set()


def _register(mgr: Any, module_name: str) -> None:
    """Import one stock plugin module and map its schemes, as apprise's ``load_modules`` does for
    each (a scheme mapped already, e.g. to monitor.notify.chatbots' robots, keeps its plugin)."""
    if module_name in mgr._module_map:
        return
    module = importlib.import_module(f"{mgr.module_name_prefix}.{module_name}")
    for attr in dir(module):  # the first Notify… class with an app_id, as apprise's loader picks it
        plugin = getattr(module, attr)
        if not mgr.module_filter_re.match(attr) or not hasattr(plugin, "app_id"):
            continue
        with mgr._lock:
            mgr._module_map[module_name] = {
                "plugin": {plugin},
                "module": module,
                "path": f"{mgr.module_name_prefix}.{module_name}",
                "native": True,
            }
            for schema in _declared(plugin):
                mgr._schema_map.setdefault(schema, plugin)
        return


def _register_all(mgr: Any) -> None:
    global _all_loaded
    for entry in sorted(os.listdir(mgr.module_path)):
        match = _MODULE.match(entry)
        if match:
            try:
                _register(mgr, match.group("name"))
            except ImportError:  # apprise skips those too
                continue
    _all_loaded = True


def plugin_for(scheme: str) -> Any | None:
    """apprise's plugin class for ``scheme`` (lower case), its module imported if need be; None when
    apprise has none."""
    mgr = ready()
    if _fallback:
        try:
            return mgr[scheme]
        except KeyError:
            return None
    with _lock:
        plugin = mgr._schema_map.get(scheme)
        if plugin is not None:
            return plugin
        known = SCHEMES.get(scheme)
        if known is not None:
            _register(mgr, known[0])
            plugin = mgr._schema_map.get(scheme)
            if plugin is not None:
                return plugin
        if not _all_loaded:
            _register_all(mgr)
        return mgr._schema_map.get(scheme)
