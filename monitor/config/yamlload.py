"""YAML loading that remembers where every key came from.

Errors in admin-edited files must name ``path:line: key.path: message``; PyYAML's
composed node tree carries the marks, so we build the Python value and a map of
key paths to line numbers from the same tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigError:
    """One problem in one file. ``str()`` gives the ``path:line: key.path: message`` form."""

    path: str
    line: int
    key: str
    message: str
    other: str | None = None  # a second file involved (cross-file reference)

    def __str__(self) -> str:
        key = f"{self.key}: " if self.key else ""
        extra = f" (see {self.other})" if self.other else ""
        return f"{self.path}:{self.line}: {key}{self.message}{extra}"


class ConfigInvalid(Exception):
    """Raised with every error found, never just the first."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class LoadedYaml:
    path: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    text: str = ""

    def line_of(self, keypath: Sequence[str | int]) -> int:
        """The line of the deepest known prefix of ``keypath`` (1-based)."""
        kp = tuple(keypath)
        while kp:
            if kp in self.lines:
                return self.lines[kp]
            kp = kp[:-1]
        return self.lines.get((), 1)


def dotted(keypath: Sequence[str | int]) -> str:
    out = ""
    for part in keypath:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _walk(node: yaml.Node, kp: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(kp, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) else str(knode.start_mark)
            child = (*kp, key)
            lines[child] = knode.start_mark.line + 1
            _walk(vnode, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*kp, i)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines)


# libyaml's parser when PyYAML was built with it: ~10× faster and far lighter on a file of 10,000 sources
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for knode, _ in node.value:
            key = self.construct_object(knode, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", knode.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _reader_line(text: str, exc: yaml.YAMLError) -> int:
    """The line of a reader error (it carries a character position, not a mark)."""
    pos = getattr(exc, "position", None)
    return text.count("\n", 0, pos) + 1 if isinstance(pos, int) else 1


def load_yaml_text(text: str, path: str) -> LoadedYaml:
    """Parse ``text``; raise ConfigInvalid with the YAML error's own line on syntax errors."""
    try:
        loader = _UniqueKeyLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses the text itself (control characters)
        raise ConfigInvalid([ConfigError(path, _reader_line(text, exc), "", f"YAML error: {exc}")]) from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise ConfigInvalid([ConfigError(path, line, "", f"YAML syntax error: {problem}{context}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigInvalid([ConfigError(path, _reader_line(text, exc), "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return LoadedYaml(path=path, data=data, lines=lines, text=text)


def load_yaml_file(path: Path, display: str | None = None) -> LoadedYaml:
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigInvalid([ConfigError(shown, 1, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigInvalid([ConfigError(shown, 1, "", f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise ConfigInvalid([ConfigError(shown, 1, "", f"cannot read: {exc.strerror}")]) from None
    return load_yaml_text(text, shown)
