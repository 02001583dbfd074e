"""YAML loading that remembers where every key came from.

Errors in admin-edited files must name ``path:line: key.path: message``; PyYAML's
composed node tree carries the marks, so we build the Python value and a map of
key paths to line numbers from the same tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]

# Limits for admin-edited files (also reached through the console's rule editor). A file of 10,000
# sources is ~3 MB and ~0.4 M nodes; aliases (``*name``) may add at most as many nodes again as the file
# has, or 100,000, whichever is more: a "billion laughs" file is refused in milliseconds, not after
# gigabytes. Nesting deeper than any config needs would only serve to exhaust the stack.
MAX_BYTES = 8_000_000
ALIAS_EXTRA_NODES = 100_000
STR_TAG = "tag:yaml.org,2002:str"
MAX_DEPTH = 64


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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(node: yaml.Node, path: str) -> None:
    """Refuse a document whose aliases expand it far beyond its own size, that refers to itself, or
    that is nested too deep.

    One pass over the node graph (aliases are shared nodes in it), iterative, memoized: the cost is
    that of the file, never that of its expansion."""

    def refuse(n: yaml.Node, message: str) -> ConfigInvalid:
        return ConfigInvalid([ConfigError(path, n.start_mark.line + 1, "", message)])

    expanded: dict[int, int] = {}
    depth: dict[int, int] = {}
    uses: dict[int, int] = {}
    nodes: dict[int, yaml.Node] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        n, done = stack.pop()
        if done:
            kids = [id(k) for k in _children(n)]
            if any(k not in expanded for k in kids):
                raise refuse(n, "an alias refers to the value that contains it")
            expanded[id(n)] = 1 + sum(expanded[k] for k in kids)
            depth[id(n)] = 1 + max((depth[k] for k in kids), default=0)
            if depth[id(n)] > MAX_DEPTH:
                raise refuse(n, f"nested deeper than {MAX_DEPTH} levels")
            continue
        if id(n) in nodes:
            continue
        nodes[id(n)] = n
        stack.append((n, True))
        for k in _children(n):
            uses[id(k)] = uses.get(id(k), 0) + 1
            stack.append((k, False))
    real = len(nodes)
    total = expanded[id(node)]
    if total - real > max(ALIAS_EXTRA_NODES, real):
        shared = max((k for k in uses if uses[k] > 1), key=lambda k: uses[k] * expanded[k], default=id(node))
        raise refuse(nodes[shared], (
            f"aliases expand this file to {total:,} values from {real:,} written (the value here is "
            f"repeated {uses[shared]:,} times); write the values out instead"
        ))  # fmt: skip


def _syntax_error(exc: yaml.MarkedYAMLError, path: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    problem = exc.problem or str(exc)
    context = f" ({exc.context})" if exc.context else ""
    return ConfigError(path, line, "", f"YAML syntax error: {problem}{context}")


def load_yaml_text(text: str, path: str) -> LoadedYaml:
    """Parse ``text``; raise ConfigInvalid with the YAML error's own line on syntax errors, and on
    files too large or expanding too far through aliases (``MAX_BYTES``, ``ALIAS_EXTRA_NODES``)."""
    if len(text) > MAX_BYTES:
        raise ConfigInvalid([ConfigError(path, 1, "", f"file larger than {MAX_BYTES:,} characters")])
    try:
        loader = _UniqueKeyLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses the text itself (control characters)
        raise ConfigInvalid([ConfigError(path, _reader_line(text, exc), "", f"YAML error: {exc}")]) from None
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise ConfigInvalid([_syntax_error(exc, path)]) from None
    except yaml.YAMLError as exc:
        raise ConfigInvalid([ConfigError(path, _reader_line(text, exc), "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return LoadedYaml(path=path, data=data, lines=lines, text=text)


def read_yaml_text(path: Path, display: str | None = None) -> str:
    """The file's text; ConfigInvalid (located at line 1) if it is missing, unreadable, not UTF-8 or
    larger than ``MAX_BYTES`` could be."""
    shown = display or str(path)
    try:
        if path.stat().st_size > MAX_BYTES * 4:  # not even read: at most 4 bytes a character
            raise ConfigInvalid([ConfigError(shown, 1, "", f"file larger than {MAX_BYTES:,} characters")])
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigInvalid([ConfigError(shown, 1, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigInvalid([ConfigError(shown, 1, "", f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise ConfigInvalid([ConfigError(shown, 1, "", f"cannot read: {exc.strerror}")]) from None


def load_yaml_file(path: Path, display: str | None = None) -> LoadedYaml:
    shown = display or str(path)
    return load_yaml_text(read_yaml_text(path, shown), shown)


# ---- one long list, an entry at a time ---------------------------------------------------------------
# A file of 10,000 sources composes to ~0.4 M nodes (each with two marks): ~150 MB at once, and the
# pymalloc arenas that tree occupied stay pinned by the objects kept from it. ``stream_entries`` composes,
# constructs and maps the lines of one list entry at a time, so only one entry's nodes are ever alive.


class NotStreamable(Exception):
    """The file is not a plain ``KEY: [entries]`` mapping, or reading it entry by entry met anything out of
    the ordinary (a YAML error, a duplicate key, heavy or recursive aliases, deep nesting): the caller
    loads it whole with ``load_yaml_text``, which gives the exact error or the exact verdict."""


class _StreamLoader(_UniqueKeyLoader, yaml.composer.Composer):
    """PyYAML's own composer (anchors, aliases, tag resolution) over libyaml's events, one node at a
    time: the C loader composes only whole documents."""


def _heights(node: yaml.Node, memo: dict[int, tuple[int, int]], keep: set[int]) -> tuple[int, int, int]:
    """(height, expanded node count, real nodes not counted before) of ``node``, as ``_check_size``
    counts them; ``memo`` holds (height, expanded) of the nodes of earlier entries that aliases may
    reach (the anchored ones), and receives this entry's nodes that are in ``keep``. Raises
    NotStreamable on a cycle."""
    done: dict[int, tuple[int, int]] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        n, finish = stack.pop()
        if finish:
            kids = [done.get(id(k)) or memo.get(id(k)) for k in _children(n)]
            if any(k is None for k in kids):
                raise NotStreamable("an alias refers to the value that contains it")
            known = [k for k in kids if k is not None]
            done[id(n)] = (1 + max((k[0] for k in known), default=0), 1 + sum(k[1] for k in known))
            continue
        if id(n) in entered or id(n) in memo:
            continue
        entered.add(id(n))
        stack.append((n, True))
        stack.extend((k, False) for k in _children(n))
    height, expanded = done.get(id(node)) or memo[id(node)]
    memo.update((k, v) for k, v in done.items() if k in keep)
    return height, expanded, len(entered)


def stream_entries(text: str, path: str, key: str) -> Iterator[tuple[Any, LoadedYaml]]:
    """Each entry of the list that is the only value of a file ``KEY: [...]``, in order, as (its Python
    value, a LoadedYaml whose line map holds the root, ``KEY`` and the entry's own key paths).

    Raises NotStreamable (possibly after some entries) for any other shape and any problem, and
    ConfigInvalid for a YAML syntax error (the whole-file reading's error); entries already yielded must
    then be discarded. Aliases between entries work; their expansion is counted
    as ``load_yaml_text`` counts it, and anything near its limits is left to it."""
    if len(text) > MAX_BYTES:
        raise NotStreamable("too large")
    try:
        loader: Any = _StreamLoader(text)  # type: ignore[call-arg]  # CParser's constructor takes the text
    except yaml.YAMLError:
        raise NotStreamable("reader error") from None
    anchored: dict[int, tuple[int, int]] = {}  # id of an anchored node -> (height, expanded)
    defined: set[int] = set()  # ids of the anchored nodes (kept alive by loader.anchors)
    try:
        loader.anchors = {}
        ev = yaml.events
        if not (loader.check_event(ev.StreamStartEvent) and loader.get_event()):
            raise NotStreamable("no stream")
        if not loader.check_event(ev.DocumentStartEvent):
            raise NotStreamable("empty")
        loader.get_event()
        root = loader.peek_event()
        if not isinstance(root, ev.MappingStartEvent) or root.anchor is not None or not root.implicit:
            raise NotStreamable("not a plain mapping")
        loader.get_event()
        knode: yaml.Node = loader.compose_node(None, None)
        if not isinstance(knode, yaml.ScalarNode) or (knode.tag, knode.value) != (STR_TAG, key):
            raise NotStreamable("another key")
        seq = loader.peek_event()
        if not isinstance(seq, ev.SequenceStartEvent) or seq.anchor is not None or not seq.implicit:
            raise NotStreamable("not a plain list")
        loader.get_event()
        root_line = root.start_mark.line + 1 if root.start_mark else 1
        head: dict[KeyPath, int] = {(): root_line, (key,): knode.start_mark.line + 1}
        real = expanded = 2 + 1  # the root, the key, the list
        i = 0
        while not loader.check_event(ev.SequenceEndEvent):
            known = len(loader.anchors)
            node: yaml.Node = loader.compose_node(None, i)
            # the anchors this entry defined: the last ones of the dict (an anchor is never redefined:
            # PyYAML's composer refuses that)
            defined.update(map(id, islice(reversed(loader.anchors.values()), len(loader.anchors) - known)))
            height, size, new = _heights(node, anchored, defined)
            real += new
            expanded += size
            if height + 2 > MAX_DEPTH or expanded - real > max(ALIAS_EXTRA_NODES, real):
                raise NotStreamable("deep or heavy")
            data = loader.construct_document(node)
            lines = dict(head)
            lines[(key, i)] = node.start_mark.line + 1
            _walk(node, (key, i), lines)
            del node
            yield data, LoadedYaml(path=path, data=data, lines=lines)
            i += 1
        loader.get_event()
        for end in (ev.MappingEndEvent, ev.DocumentEndEvent, ev.StreamEndEvent):
            if not loader.check_event(end):
                raise NotStreamable("more after the list")
            loader.get_event()
    except (yaml.scanner.ScannerError, yaml.parser.ParserError) as exc:
        # libyaml's own verdict on the text, met at the same event as the whole-file reading meets it
        # (that reading composes everything before it constructs or checks anything): the same error,
        # without composing the file whole first
        raise ConfigInvalid([_syntax_error(exc, path)]) from None
    except (yaml.YAMLError, RecursionError):
        raise NotStreamable("YAML problem") from None
    finally:
        loader.dispose()
