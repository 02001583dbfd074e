"""Load and validate everything an admin edits: ``monitor.yaml``, ``sources/*.yaml``, ``rules/*.yaml``.

``load_config`` collects every problem in every file before failing, so ``monitor
check`` can print them all at once as ``path:line: key.path: message``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config.netpolicy import NetworkPolicy, url_errors
from monitor.config.rules import Rule, RuleFile
from monitor.config.settings import Settings, burst_window_errors
from monitor.config.sops import Sop, SopFile
from monitor.config.sources import SourceConfig, SourceKinds
from monitor.config.validate import validate
from monitor.config.yamlload import (
    ConfigError,
    ConfigInvalid,
    LoadedYaml,
    NotStreamable,
    dotted,
    load_yaml_text,
    read_yaml_text,
    stream_entries,
)

__all__ = ["Config", "ConfigError", "ConfigInvalid", "Settings", "load_config"]


@dataclass(frozen=True, slots=True)  # one per source and rule: 10,000 at least (#18)
class Located:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Config:
    root: Path
    settings: Settings
    sources: dict[str, SourceConfig]  # name -> an instance of the kind's SourceConfig subclass
    rules: list[Rule]
    priority_words: list[str]
    origins: dict[str, Located] = field(default_factory=dict)  # "source:NAME" / "rule:ID" -> where defined
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 of its content
    texts: dict[str, str] = field(default_factory=dict)  # path -> content (rule files, for versioning)
    warnings: list[str] = field(default_factory=list)
    sops: list[Sop] = field(default_factory=list)

    def sop_for(
        self, category: str | None, kind: str | None = None, platform: str | None = None
    ) -> Sop | None:
        """The SOP an alert (or an item's fired rule) carries.

        Bursts take the crisis SOP for ``negative_burst``; posts on the platforms a crisis SOP lists in
        ``applies_to`` take that SOP (a 吐槽帖 on Weibo: contact the blogger within 2 h), one that also
        names the category first; everything else the SOP of its category.
        """
        if kind == "burst":
            for sop in self.sops:
                if "negative_burst" in sop.crisis:
                    return sop
        elif platform:
            social = [s for s in self.sops if s.applies_to and platform in s.applies_to.platforms]
            specific = [s for s in social if s.applies_to and category in s.applies_to.categories]
            general = [s for s in social if s.applies_to and not s.applies_to.categories]
            if specific or general:
                return (specific or general)[0]
        for sop in self.sops:
            if category and category in sop.categories:
                return sop
        return None

    def sop(self, sop_id: str) -> Sop | None:
        return next((s for s in self.sops if s.id == sop_id), None)

    def path(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    @property
    def database_url(self) -> str:
        if self.settings.database:
            url = self.settings.database
            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                rel = url[len("sqlite:///") :]
                if rel and rel != ":memory:":
                    return f"sqlite:///{self.path(rel)}"
            return url
        return f"sqlite:///{self.path(self.settings.data_dir) / 'monitor.db'}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _display(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.y*ml") if p.is_file() and not p.name.startswith("."))


def load_config(config_path: Path | str, kinds: SourceKinds) -> Config:
    """Load everything; raise ConfigInvalid listing every error in every file.

    ``kinds`` is the source-kind registry (``monitor.adapters.registry()``), handed in by the caller.
    """
    config_path = Path(config_path).resolve()
    root = config_path.parent
    errors: list[ConfigError] = []
    files: dict[str, str] = {}
    texts: dict[str, str] = {}
    origins: dict[str, Located] = {}

    def read(p: Path) -> tuple[str | None, str]:
        shown = _display(p, root)
        try:
            text = read_yaml_text(p, shown)
        except ConfigInvalid as exc:
            errors.extend(exc.errors)
            return None, shown
        files[shown] = _sha(text)
        texts[shown] = text
        return text, shown

    def parse(text: str, shown: str) -> LoadedYaml | None:
        try:
            return load_yaml_text(text, shown)
        except ConfigInvalid as exc:
            errors.extend(exc.errors)
            return None

    def load(p: Path) -> LoadedYaml | None:
        text, shown = read(p)
        return None if text is None else parse(text, shown)

    settings = Settings()
    settings_file = load(config_path) if config_path.exists() else None
    if not config_path.exists():
        errors.append(ConfigError(_display(config_path, root), 1, "", "file not found"))
    if settings_file is not None:
        data = settings_file.data if settings_file.data is not None else {}
        if not isinstance(data, dict):
            errors.append(ConfigError(settings_file.path, 1, "", "expected a mapping of settings"))
        else:
            parsed, errs = validate(Settings, data, settings_file)
            errors.extend(errs)
            settings = parsed or settings

    sources = _load_sources(
        root / settings.sources_dir, kinds, read, parse, errors, origins, settings.fetch.network
    )
    rules, priority = _load_rules(root / settings.rules_dir, load, errors, origins)
    sops = _load_sops(root / settings.rules_dir / "sops", load, errors, origins)
    settings_path = settings_file.path if settings_file else str(config_path)
    _cross_check(settings, settings_file, sources, rules, origins, errors, settings_path)
    for key in ("sentiment_model", "problem_model"):
        configured = getattr(settings.analysis, key)
        if configured and not (root / configured).is_file():  # root / an absolute path is that path
            kp: list[str | int] = ["analysis", key]
            line = settings_file.line_of(kp) if settings_file else 1
            errors.append(ConfigError(settings_path, line, dotted(kp), f"model file not found: {configured}"))
    if errors:
        raise ConfigInvalid(errors)
    warnings = [
        f"{settings_path}:{_line(settings_file, ['channels', name, 'urls'])}: channels.{name}.urls: "
        f"${{{var}}} is not set in the environment"
        for name, ch in settings.channels.items()
        for var in ch.env_vars()
        if var not in os.environ
    ]
    warnings += _relay_warnings(settings, settings_file, settings_path)
    return Config(root, settings, sources, rules, priority, origins, files, texts, warnings, sops)


def _line(loaded: LoadedYaml | None, kp: list[str | int]) -> int:
    return loaded.line_of(kp) if loaded else 1


def _relay_warnings(settings: Settings, loaded: LoadedYaml | None, path: str) -> list[str]:
    from monitor.config.channels import url_problems

    out = []
    for name, ch in settings.channels.items():
        for i, url in enumerate(ch.urls):
            _, warning = url_problems(url)
            if warning:
                where = f"{path}:{_line(loaded, ['channels', name, 'urls', i])}"
                out.append(f"{where}: channels.{name}.urls[{i}]: {warning}")
    return out


def _load_sops(
    directory: Path, load: Any, errors: list[ConfigError], origins: dict[str, Located]
) -> list[Sop]:
    sops: list[Sop] = []
    for p in yaml_files(directory):
        loaded = load(p)
        if loaded is None or loaded.data is None:
            continue
        parsed, errs = validate(SopFile, loaded.data, loaded)
        errors.extend(errs)
        if parsed is None:
            continue
        for i, sop in enumerate(parsed.sops):
            if _unique(origins, errors, loaded, ["sops", i], "sop", "SOP id", sop.id):
                sops.append(sop)
    return sops


def _unique(
    origins: dict[str, Located],
    errors: list[ConfigError],
    loaded: LoadedYaml,
    keypath: list[str | int],
    kind: str,
    what: str,
    ident: str,
) -> bool:
    """Record where ``ident`` is defined; a second definition is an error naming both places."""
    where = Located(loaded.path, loaded.line_of(keypath))
    key = f"{kind}:{ident}"
    if key in origins:
        errors.append(
            ConfigError(
                where.path,
                where.line,
                f"{dotted(keypath)}.id",
                f"duplicate {what} {ident!r}",
                other=str(origins[key]),
            )
        )
        return False
    origins[key] = where
    return True


def _load_sources(
    directory: Path,
    kinds: SourceKinds,
    read: Any,
    load: Any,
    errors: list[ConfigError],
    origins: dict[str, Located],
    network: NetworkPolicy,
) -> dict[str, SourceConfig]:
    """Every sources file, an entry at a time (``stream_entries``) so that 10,000 sources never exist
    as one YAML tree; a file of any other shape, or with any YAML problem, is loaded whole instead,
    as before, for the exact error."""
    sources: dict[str, SourceConfig] = {}
    shared: dict[Any, Any] = {}  # equal strings and field sets of all entries, kept once (_compact)
    for p in yaml_files(directory):
        text, shown = read(p)
        if text is None:
            continue
        found: dict[str, SourceConfig] = {}
        errs: list[ConfigError] = []
        defined: dict[str, Located] = {}
        try:
            for i, (entry, loaded) in enumerate(stream_entries(text, shown, "sources")):
                entry = _compact(entry, shared)
                _source_entry(entry, i, loaded, kinds, network, origins, defined, found, errs, shared)
        except ConfigInvalid as exc:  # a YAML syntax error: that alone, as for a file read whole
            errors.extend(exc.errors)
            continue
        except NotStreamable:
            loaded = load(text, shown)
            if loaded is None or loaded.data is None:
                continue
            found, errs, defined = {}, [], {}
            data = loaded.data
            if not isinstance(data, dict) or set(data) - {"sources"}:
                extra = sorted(set(data) - {"sources"}) if isinstance(data, dict) else []
                msg = f"unknown key(s) {extra}" if extra else "expected a mapping with a 'sources' list"
                errors.append(ConfigError(loaded.path, loaded.line_of(extra[:1]), "", msg))
                continue
            entries = data.get("sources") or []
            if not isinstance(entries, list):
                errors.append(
                    ConfigError(loaded.path, loaded.line_of(["sources"]), "sources", "expected a list")
                )
                continue
            for i, entry in enumerate(entries):
                entry = _compact(entry, shared)
                _source_entry(entry, i, loaded, kinds, network, origins, defined, found, errs, shared)
        errors.extend(errs)
        origins.update(defined)
        sources.update(found)
    return sources


def _source_entry(
    entry: Any,
    i: int,
    loaded: LoadedYaml,
    kinds: SourceKinds,
    network: NetworkPolicy,
    origins: dict[str, Located],
    defined: dict[str, Located],
    sources: dict[str, SourceConfig],
    errors: list[ConfigError],
    shared: dict[Any, Any],
) -> None:
    """Check one entry of a sources file; ``defined`` collects this file's names (``origins`` has the
    earlier files')."""
    kp: list[str | int] = ["sources", i]
    if not isinstance(entry, dict):
        errors.append(ConfigError(loaded.path, loaded.line_of(kp), f"sources[{i}]", "expected a mapping"))
        return
    raw_name = entry.get("name")
    if isinstance(raw_name, str):
        before = origins.get(f"source:{raw_name}") or defined.get(f"source:{raw_name}")
        if before is not None:
            errors.append(
                ConfigError(
                    loaded.path,
                    loaded.line_of([*kp, "name"]),
                    f"sources[{i}].name",
                    f"duplicate source name {raw_name!r}",
                    other=str(before),
                )
            )
            return
        defined[f"source:{raw_name}"] = Located(loaded.path, loaded.line_of(kp))
    kind = entry.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        known = ", ".join(sorted(kinds))
        errors.append(
            ConfigError(
                loaded.path,
                loaded.line_of([*kp, "kind"]),
                f"sources[{i}].kind",
                f"unknown source kind {kind!r} (known: {known})",
            )
        )
        return
    cfg, errs = validate(kinds[kind].Config, entry, loaded, kp)
    errors.extend(errs)
    if cfg is None:
        return
    if kinds[kind].NETWORK:
        errors.extend(url_errors(kinds[kind](cfg).first_url({}), network, entry, loaded, kp))
    # The set of fields given: pydantic's own is sized for many more (728 bytes); models are frozen, so
    # the sources with the same keys can share one.
    given = cfg.__pydantic_fields_set__
    object.__setattr__(cfg, "__pydantic_fields_set__", shared.setdefault(frozenset(given), set(given)))
    sources[cfg.name] = cfg


def _compact(value: Any, shared: dict[Any, Any]) -> Any:
    """``value`` with each string replaced by an equal one seen before: 10,000 sources repeat their
    kind, platform and field names (~9 strings each), which YAML makes anew every time."""
    if isinstance(value, str):
        return shared.setdefault(value, value)
    if isinstance(value, dict):
        return {_compact(k, shared): _compact(v, shared) for k, v in value.items()}
    if isinstance(value, list):
        return [_compact(v, shared) for v in value]
    return value


def _load_rules(
    directory: Path, load: Any, errors: list[ConfigError], origins: dict[str, Located]
) -> tuple[list[Rule], list[str]]:
    rules: list[Rule] = []
    priority: list[str] = []
    for p in yaml_files(directory):
        loaded = load(p)
        if loaded is None or loaded.data is None:
            continue
        parsed, errs = validate(RuleFile, loaded.data, loaded)
        errors.extend(errs)
        if parsed is None:
            continue
        priority.extend(w for w in parsed.priority_words if w not in priority)
        for i, rule in enumerate(parsed.rules):
            if _unique(origins, errors, loaded, ["rules", i], "rule", "rule id", rule.id):
                rules.append(rule)
    return rules, priority


def _cross_check(
    settings: Settings,
    settings_file: LoadedYaml | None,
    sources: dict[str, SourceConfig],
    rules: list[Rule],
    origins: dict[str, Located],
    errors: list[ConfigError],
    settings_path: str,
) -> None:
    channels = set(settings.channels)

    def settings_line(kp: list[str | int]) -> int:
        return settings_file.line_of(kp) if settings_file else 1

    for msg in burst_window_errors(settings, sources):
        kp: list[str | int] = ["alerting", "burst_window"]
        errors.append(ConfigError(settings_path, settings_line(kp), dotted(kp), msg))

    for r in rules:
        for ch in r.notify:
            if ch not in channels:
                where = origins[f"rule:{r.id}"]
                errors.append(
                    ConfigError(
                        where.path,
                        where.line,
                        f"rule {r.id}.notify",
                        f"unknown channel {ch!r}; channels are defined in monitor.yaml",
                        other=f"{settings_path}:{settings_line(['channels'])}",
                    )
                )
        for s in r.scope.sources:
            if s not in sources:
                where = origins[f"rule:{r.id}"]
                errors.append(
                    ConfigError(where.path, where.line, f"rule {r.id}.scope.sources", f"unknown source {s!r}")
                )
    refs: list[tuple[list[str | int], str]] = []
    refs += [(["routing", "default", i], c) for i, c in enumerate(settings.routing.default)]
    refs += [(["routing", "admins", i], c) for i, c in enumerate(settings.routing.admins)]
    for kp0, route in settings.routing.all_routes():
        refs += [([*kp0, "channels", j], c) for j, c in enumerate(route.channels)]
        for k, esc in enumerate(route.escalate):
            refs += [([*kp0, "escalate", k, "channels", j], c) for j, c in enumerate(esc.channels)]
    for k, esc in enumerate(settings.routing.escalate):
        refs += [(["routing", "escalate", k, "channels", j], c) for j, c in enumerate(esc.channels)]
    for name, channel in settings.channels.items():
        if channel.fallback:
            refs.append((["channels", name, "fallback"], channel.fallback))
    from monitor.config.channels import url_problems
    from monitor.config.oncall import problems as oncall_problems

    for name, channel in settings.channels.items():
        for i, url in enumerate(channel.urls):
            error, _ = url_problems(url)
            if error:
                kp = ["channels", name, "urls", i]
                errors.append(ConfigError(settings_path, settings_line(kp), dotted(kp), error))
    for kp, msg in oncall_problems(settings.oncall):
        errors.append(ConfigError(settings_path, settings_line(kp), dotted(kp), msg))
    for kp, ch_name in refs:
        if ch_name not in channels:
            errors.append(
                ConfigError(settings_path, settings_line(kp), dotted(kp), f"unknown channel {ch_name!r}")
            )
