"""The config admin's work beyond rules files: SOPs (``rules/sops/*.yaml``), sources
(``sources/*.yaml``) and the settings file (``monitor.yaml``: routing, channels) for the console's
config editor.

A text is checked the way the daemon would load it: the edited file goes into a temporary copy of
the whole config tree, which ``load_config`` reads; every error names the edited file's own path and
line. Saving, the atomic write, the read-only message, versions and rollback are ``monitor.admin.rules``'s
(``save(..., check_text=...)``), so the two editors behave the same. Channel URLs are shown as
written (``${VAR}``); the expanded secrets never leave the daemon.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from monitor.adapters import registry
from monitor.admin.rules import display_path
from monitor.config import Config, ConfigError, ConfigInvalid, load_config, yaml_files

__all__ = ["KINDS", "STARTER", "check", "files", "new_file", "tree"]

# kind → what the console calls it
KINDS = {"main": "主配置（路由与通知渠道）", "sops": "处置流程（SOP）", "sources": "数据源"}
MAIN = "monitor.yaml"
ABS = "_abs"  # where a copy keeps directories configured by absolute path


def _main(config: Config) -> Path:
    named = [Path(p) for p in config.files if Path(p).name == MAIN]
    return named[0].resolve() if named else config.root / MAIN


def files(config: Config, kind: str) -> dict[str, Path]:
    """File name → path of every file of ``kind`` the editor accepts (``main``: monitor.yaml only)."""
    if kind == "main":
        return {MAIN: _main(config)}
    if kind == "sops":
        return {p.name: p for p in yaml_files(config.path(config.settings.rules_dir) / "sops")}
    if kind == "sources":
        return {p.name: p for p in yaml_files(config.path(config.settings.sources_dir))}
    return {}


NEW_NAME = re.compile(r"^[\w\u4e00-\u9fff-][\w\u4e00-\u9fff.-]*\.ya?ml$")
STARTER = {"sops": "sops: []\n", "sources": "sources: []\n"}


def new_file(config: Config, kind: str, name: str) -> Path | None:
    """Where a new file ``name`` of ``kind`` would go (SOPs and sources only), or None for a name
    the loader would not read (not ``*.yaml``/``*.yml``, a dot-file, a path)."""
    if kind not in STARTER or not NEW_NAME.match(name):
        return None
    if kind == "sops":
        return config.path(config.settings.rules_dir) / "sops" / name
    return config.path(config.settings.sources_dir) / name


def tree(config: Config) -> Iterator[Path]:
    """Every YAML file the config is made of: the settings file, sources, rules, SOPs."""
    yield _main(config)
    yield from files(config, "sources").values()
    rules = config.path(config.settings.rules_dir)
    yield from yaml_files(rules)
    yield from yaml_files(rules / "sops")


def check(config: Config, path: Path, text: str) -> list[ConfigError]:
    """Every error the daemon would report if ``path`` held ``text``; empty when it would load.

    The config tree (``tree``) is copied to a temporary directory with ``text`` in place of ``path``,
    and loaded there. Errors in the copy are named by the real files' paths. A sources or rules
    directory configured as an absolute path (a writable data volume) is copied under ``_abs/`` and
    the copied settings file names it there, on the same line, so line numbers stay true."""
    root = config.root.resolve()
    target = path.resolve()
    main = _main(config)
    absolute = [d for d in (config.settings.rules_dir, config.settings.sources_dir) if Path(d).is_absolute()]

    def rel(real: Path) -> Path:
        try:
            return real.relative_to(root)
        except ValueError:
            return Path(ABS) / real.relative_to(real.anchor)

    with tempfile.TemporaryDirectory(prefix="monitor-check-") as tmp:
        copy = Path(tmp)
        names: dict[str, Path] = {}
        reals = [p.resolve() for p in tree(config)]
        for real in [*reals, *([] if target in reals else [target])]:
            dest = copy / rel(real)
            dest.parent.mkdir(parents=True, exist_ok=True)
            body = text if real == target else real.read_text(encoding="utf-8")
            if real == main.resolve():
                for d in absolute:  # same line, so the copy's line numbers are the file's
                    body = body.replace(d, f"{ABS}/{Path(d).relative_to(Path(d).anchor)}")
            dest.write_text(body, encoding="utf-8")
            names[str(dest)] = real
        try:
            load_config(copy / rel(main.resolve()), registry())
        except ConfigInvalid as exc:
            return [_renamed(e, copy, names, config) for e in exc.errors]
    return []


def _renamed(e: ConfigError, copy: Path, names: dict[str, Path], config: Config) -> ConfigError:
    def real(p: str | None) -> str | None:
        if p is None:
            return None
        resolved = str(Path(p).resolve()) if Path(p).is_absolute() else str((Path.cwd() / p).resolve())
        for k, v in names.items():
            if str(Path(k).resolve()) == resolved:
                return _shown(config, v)
        return p.replace(str(copy), str(config.root))

    return ConfigError(real(e.path) or e.path, e.line, e.key, e.message, real(e.other) if e.other else None)


def _shown(config: Config, path: Path) -> str:
    return display_path(config, path)
