"""The rule admin's work, for the console's rule editor and ``monitor rules``: check a rules file's
text, test a sentence with it, replay it over stored items, save it (then the daemon reloads), and
keep every loaded version.

An invalid text is never written; a text the daemon still rejects on reload (a rule id another file
uses, say) is put back, so the running rules never change to a broken set. This is a thin layer over
``monitor.analyze``'s public API (``Analyzer``, ``RuleSet.evaluate``); how rules match is theirs.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from monitor.analyze import Analyzer, MatchContext, RuleSet, explain
from monitor.config import Config, ConfigError, ConfigInvalid, yaml_files
from monitor.config.rules import Rule, RuleFile
from monitor.config.validate import validate
from monitor.config.yamlload import load_yaml_text
from monitor.runtime import Reloadable
from monitor.store import Store
from monitor.store import models as m
from monitor.store import rules as stored

__all__ = [
    "Checked",
    "Example",
    "Replay",
    "ReplayRow",
    "SaveResult",
    "check",
    "display_path",
    "files",
    "record_versions",
    "replay",
    "ruleset_with",
    "save",
    "try_sentence",
    "version",
    "versions",
]

REPLAY_MAX_ITEMS = 50_000  # the console's replay; the command line reads everything in the window


@dataclass
class Checked:
    parsed: RuleFile | None
    errors: list[ConfigError]


@dataclass(frozen=True)
class Example:
    item_id: int
    source: str
    text: str  # cut to 80 characters, one line
    why: str  # the keyword that fires now, or the decision that stops it

    def __str__(self) -> str:
        return f"#{self.item_id} [{self.source}] {self.text} ({self.why})"


@dataclass
class ReplayRow:
    rule: str
    before: int  # items the rule fired on when they were analyzed
    after: int  # items it fires on now
    gained: int
    lost: int
    examples_gained: list[Example] = field(default_factory=list)
    examples_lost: list[Example] = field(default_factory=list)
    removed: bool = False  # the rule is no longer in the files


@dataclass
class Replay:
    since: timedelta
    items: int
    rows: list[ReplayRow]
    truncated: bool

    @property
    def days(self) -> str:
        return f"{self.since / timedelta(days=1):g}"


@dataclass
class SaveResult:
    ok: bool
    errors: list[ConfigError] = field(default_factory=list)
    reload_errors: list[str] = field(default_factory=list)


# ---- files --------------------------------------------------------------------------------------
def files(config: Config) -> dict[str, Path]:
    """File name → path of every rules file (the names the editor accepts)."""
    return {p.name: p for p in yaml_files(config.path(config.settings.rules_dir))}


def display_path(config: Config, path: Path) -> str:
    """The path as the config (and the stored versions) name it."""
    return next((k for k in config.files if Path(k).resolve() == path.resolve()), str(path))


def _other_rules(config: Config, path: Path) -> tuple[list[Rule], list[str], dict[str, str]]:
    rules: list[Rule] = []
    priority: list[str] = []
    where: dict[str, str] = {}
    for p in files(config).values():
        if p.resolve() == path.resolve():
            continue
        try:
            loaded = load_yaml_text(p.read_text(encoding="utf-8"), p.name)
        except (ConfigInvalid, OSError):
            continue
        parsed, _ = validate(RuleFile, loaded.data or {}, loaded)
        if parsed is None:
            continue
        rules += parsed.rules
        priority += [w for w in parsed.priority_words if w not in priority]
        where.update({r.id: p.name for r in parsed.rules})
    return rules, priority, where


# ---- check and test -----------------------------------------------------------------------------
def check(config: Config, path: Path, text: str) -> Checked:
    """Validate ``text`` as the content of ``path``, rule ids of the other files included."""
    shown = display_path(config, path)
    try:
        loaded = load_yaml_text(text, shown)
    except ConfigInvalid as exc:
        return Checked(None, exc.errors)
    parsed, errors = validate(RuleFile, loaded.data if loaded.data is not None else {}, loaded)
    if parsed is None:
        return Checked(None, errors)
    _, _, elsewhere = _other_rules(config, path)
    seen: set[str] = set()
    for i, rule in enumerate(parsed.rules):
        line = loaded.line_of(["rules", i, "id"])
        if rule.id in elsewhere:
            message = f"rule id {rule.id!r} is also defined in {elsewhere[rule.id]}"
            errors.append(ConfigError(shown, line, f"rules[{i}].id", message))
        elif rule.id in seen:
            errors.append(ConfigError(shown, line, f"rules[{i}].id", f"duplicate rule id {rule.id!r}"))
        seen.add(rule.id)
    return Checked(None if errors else parsed, errors)


def ruleset_with(config: Config, path: Path, parsed: RuleFile) -> RuleSet:
    """The rules the daemon would run if ``path`` held ``parsed``."""
    others, priority, _ = _other_rules(config, path)
    words = [*priority, *(w for w in parsed.priority_words if w not in priority)]
    return RuleSet([*others, *parsed.rules], words)


def try_sentence(
    config: Config, ruleset: RuleSet, text: str, ctx: MatchContext, analyzer: Analyzer | None = None
) -> dict[str, Any]:
    """What ``ruleset`` (and the configured sentiment model) make of ``text``, every hit with its
    decision and reasons (``monitor.analyze.explain``), as the console and the API show it."""
    chosen = analyzer or Analyzer.from_config(config, ruleset=ruleset)
    return explain.explain(chosen, text, ctx, tokens=False)


# ---- replay -------------------------------------------------------------------------------------
def replay(
    store: Store,
    analyzer: Analyzer,
    since: timedelta,
    now: datetime,
    *,
    examples: int = 3,
    limit: int | None = REPLAY_MAX_ITEMS,
) -> Replay:
    """The rules ``analyzer`` carries over the items fetched in the last ``since``: per rule, the items
    it alerted on when they were analyzed and the ones it would alert on now, with examples of each
    change and why (``monitor.analyze.explain.replay``). Nothing is written."""
    read = stored.items_since(store, now - since, None if limit is None else limit + 1)
    capped = itertools.islice(read, limit) if limit is not None else read
    n, changes = explain.replay(analyzer, capped, examples)
    truncated = limit is not None and n >= limit and next(read, None) is not None
    rows = [
        ReplayRow(
            c.rule,
            c.before,
            c.after,
            c.newly_firing,
            c.no_longer_firing,
            [_example(e) for e in c.examples_newly_firing],
            [_example(e) for e in c.examples_no_longer_firing],
            removed=c.removed,
        )
        for c in changes
    ]
    return Replay(since, n, rows, truncated)


def _example(e: dict[str, Any]) -> Example:
    return Example(e["item_id"], e["source"], e["text"], e["why"])


def write_atomically(path: Path, text: str) -> None:
    # A dot-file in the same directory: the loader ignores it, and os.replace is atomic there.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unwritable_message(path: Path, exc: OSError, what: str = "规则") -> str:
    """What an admin reads when the rules (or config) directory cannot be written (a read-only
    ConfigMap, a read-only root file system, systemd ``ProtectSystem=strict``): where, and what to do."""
    why = "只读" if isinstance(exc, PermissionError) or exc.errno in (13, 30) else "无法写入"
    return (
        f"{what}目录{why}：{path.parent}（{exc.strerror or type(exc).__name__}）。未保存，旧{what}仍然生效，"
        "你的修改仍在编辑框里。请把 rules_dir 设到可写的数据卷（例如 /var/lib/monitor/rules，"
        "见 README“在部署环境中编辑规则”），或复制修改后用 `monitor rules check` 检查再更新配置。"
    )


def _rules_errors(config: Config, path: Path, text: str) -> list[ConfigError]:
    checked = check(config, path, text)
    return [] if checked.parsed is not None else checked.errors


def save(
    runtime: Reloadable,
    path: Path,
    text: str,
    check_text: Callable[[Config, Path, str], list[ConfigError]] = _rules_errors,
    what: str = "规则",
) -> SaveResult:
    """Validate (``check_text``: the errors of ``text`` as ``path``; a rules file's by default),
    write, reload. Refused (and nothing changes) when the text is invalid; put back when the daemon's
    full reload rejects it. ``what`` names the file's kind in the read-only message."""
    errors = check_text(runtime.config, path, text)
    if errors:
        return SaveResult(False, errors)
    old = path.read_text(encoding="utf-8") if path.exists() else None
    try:
        write_atomically(path, text)
    except OSError as exc:
        return SaveResult(False, reload_errors=[unwritable_message(path, exc, what)])
    if runtime.reload():
        return SaveResult(True)
    problems = list(runtime.reload_errors)
    if old is not None:
        write_atomically(path, old)
    else:
        path.unlink(missing_ok=True)
    runtime.reload()
    return SaveResult(False, reload_errors=problems)


def record_versions(store: Store, config: Config, now: datetime) -> int:
    """Keep the content of every file the config loaded (settings, sources, rules, SOPs), once per
    hash; returns how many were new."""
    added = 0
    for shown in config.files:
        sha = config.files.get(shown)
        if sha is not None and stored.add_version(store, shown, sha, config.texts.get(shown, ""), now):
            added += 1
    return added


def versions(store: Store, config: Config, path: Path) -> list[m.RuleVersion]:
    """The stored versions of ``path``, newest first (the console offers them for rollback)."""
    return stored.versions(store, display_path(config, path))


def diff(old: str, new: str, old_name: str = "生效中", new_name: str = "编辑后") -> list[str]:
    """A unified diff of two versions of a rules file, line by line (empty when equal)."""
    import difflib

    return list(
        difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, n=2, lineterm="")
    )


def mark_author(store: Store, config: Config, path: Path, author: str) -> None:
    """Name ``author`` on the stored version of ``path`` that ``config`` (just reloaded) runs."""
    shown = display_path(config, path)
    sha = config.files.get(shown)
    if sha is None:
        return
    with store.transaction() as s:
        row = s.scalars(
            select(m.RuleVersion).where(m.RuleVersion.path == shown, m.RuleVersion.sha256 == sha)
        ).first()
        if row is not None and row.author is None:
            row.author = author[:120]


def version(store: Store, version_id: int) -> m.RuleVersion | None:
    return stored.version(store, version_id)
