"""The rule editor's work: validate a rules file's text, test a sentence with it, replay it
over stored items, save it atomically (then the daemon reloads), roll back to a version.

An invalid text is never written; a text the daemon still rejects on reload (a rule id
another file uses, say) is put back, so the running rules never change to a broken set.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from monitor.analyze import MatchContext, RuleSet
from monitor.analyze.text import fold_with_breaks
from monitor.config import ConfigError, ConfigInvalid, yaml_files
from monitor.config.rules import Rule, RuleFile
from monitor.config.validate import validate
from monitor.config.yamlload import load_yaml_text
from monitor.store import models as m

REPLAY_MAX_ITEMS = 50_000


@dataclass
class Checked:
    parsed: RuleFile | None
    errors: list[ConfigError]


@dataclass
class ReplayRow:
    rule: str
    before: int
    after: int
    gained: int
    lost: int
    examples_gained: list[str] = field(default_factory=list)
    examples_lost: list[str] = field(default_factory=list)


@dataclass
class Replay:
    days: int
    items: int
    rows: list[ReplayRow]
    truncated: bool


def files(config: Any) -> dict[str, Path]:
    """File name → path of every rules file (the names the editor accepts)."""
    return {p.name: p for p in yaml_files(config.path(config.settings.rules_dir))}


def display_path(config: Any, path: Path) -> str:
    """The path as the config (and RuleVersion) name it."""
    return next((k for k in config.files if Path(k).resolve() == path.resolve()), str(path))


def _other_rules(config: Any, path: Path) -> tuple[list[Rule], list[str], dict[str, str]]:
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


def check(config: Any, path: Path, text: str) -> Checked:
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
            errors.append(
                ConfigError(
                    shown,
                    line,
                    f"rules[{i}].id",
                    f"rule id {rule.id!r} is also defined in {elsewhere[rule.id]}",
                )
            )
        elif rule.id in seen:
            errors.append(ConfigError(shown, line, f"rules[{i}].id", f"duplicate rule id {rule.id!r}"))
        seen.add(rule.id)
    return Checked(None if errors else parsed, errors)


def ruleset_with(config: Any, path: Path, parsed: RuleFile) -> RuleSet:
    """The rules the daemon would run if this file held ``parsed``."""
    others, priority, _ = _other_rules(config, path)
    words = [*priority, *(w for w in parsed.priority_words if w not in priority)]
    return RuleSet([*others, *parsed.rules], words)


def test_sentence(config: Any, ruleset: RuleSet, text: str, rating: int | None) -> dict[str, Any]:
    from monitor.analyze import Analyzer
    from monitor.analyze.explain import explain

    model = config.settings.analysis.sentiment_model
    analyzer = Analyzer(ruleset, str(config.path(model)) if model else None)
    return explain(analyzer, text, MatchContext(rating=rating), tokens=False)


def replay(store: Any, ruleset: RuleSet, days: int, now: datetime, examples: int = 3) -> Replay:
    """Rules over the items fetched in the last ``days``: per rule, stored hits → hits now."""
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    gained: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    ex_g: dict[str, list[str]] = {}
    ex_l: dict[str, list[str]] = {}
    n = 0
    with store.session() as s:
        q = (
            select(
                m.Item.id,
                m.Item.text,
                m.Item.source,
                m.Item.platform,
                m.Item.sku,
                m.Item.rating,
                m.Analysis.rules,
            )
            .outerjoin(m.Analysis, m.Analysis.item_id == m.Item.id)
            .where(m.Item.fetched_at >= now - timedelta(days=days))
            .order_by(m.Item.id.desc())
            .limit(REPLAY_MAX_ITEMS + 1)
        )
        for iid, text, source, platform, sku, rating, old_rules in s.execute(q):
            n += 1
            if n > REPLAY_MAX_ITEMS:
                break
            folded, breaks = fold_with_breaks(text)
            ctx = MatchContext(source=source, platform=platform, sku=sku, rating=rating)
            new = set(ruleset.evaluate(folded, ctx, breaks).fired)
            old = set(old_rules or [])
            before.update(old)
            after.update(new)
            short = f"#{iid} {text[:60]}"
            for rid in new - old:
                gained[rid] += 1
                if len(ex_g.setdefault(rid, [])) < examples:
                    ex_g[rid].append(short)
            for rid in old - new:
                lost[rid] += 1
                if len(ex_l.setdefault(rid, [])) < examples:
                    ex_l[rid].append(short)
    ids = list(dict.fromkeys([*ruleset.rules, *sorted(set(before) | set(after))]))
    rows = [
        ReplayRow(r, before[r], after[r], gained[r], lost[r], ex_g.get(r, []), ex_l.get(r, [])) for r in ids
    ]
    return Replay(days, min(n, REPLAY_MAX_ITEMS), rows, n > REPLAY_MAX_ITEMS)


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


@dataclass
class SaveResult:
    ok: bool
    errors: list[ConfigError] = field(default_factory=list)
    reload_errors: list[str] = field(default_factory=list)


def save(daemon: Any, path: Path, text: str) -> SaveResult:
    """Validate, write, reload. Refused (and nothing changes) when the text is invalid;
    put back when the daemon's full reload rejects it."""
    checked = check(daemon.config, path, text)
    if checked.parsed is None:
        return SaveResult(False, checked.errors)
    old = path.read_text(encoding="utf-8") if path.exists() else None
    write_atomically(path, text)
    if daemon.reload():
        return SaveResult(True)
    problems = list(daemon.reload_errors)
    if old is not None:
        write_atomically(path, old)
    else:
        path.unlink(missing_ok=True)
    daemon.reload()
    return SaveResult(False, reload_errors=problems)


def versions(store: Any, shown: str) -> list[m.RuleVersion]:
    with store.session() as s:
        return list(
            s.scalars(
                select(m.RuleVersion)
                .where(m.RuleVersion.path == shown)
                .order_by(m.RuleVersion.loaded_at.desc(), m.RuleVersion.id.desc())
            )
        )


def version(store: Any, version_id: int) -> m.RuleVersion | None:
    with store.session() as s:
        row: m.RuleVersion | None = s.get(m.RuleVersion, version_id)
        return row
