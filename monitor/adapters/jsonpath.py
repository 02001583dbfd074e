"""Dotted paths with list wildcards: ``data.cards[*].card_group[*].mblog``, ``comments[0].id``.

A field spec may list alternatives separated by ``|``; the first non-empty one wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\*|-?\d+)\]")


def _tokens(path: str) -> list[str | int | None]:
    out: list[str | int | None] = []
    for m in _TOKEN.finditer(path):
        name, index = m.groups()
        if name is not None:
            out.append(name)
        elif index == "*":
            out.append(None)
        else:
            out.append(int(index))
    return out


def _walk(obj: Any, tokens: list[str | int | None]) -> Iterator[Any]:
    if not tokens:
        yield obj
        return
    head, rest = tokens[0], tokens[1:]
    if head is None:
        if isinstance(obj, list):
            for el in obj:
                yield from _walk(el, rest)
        elif isinstance(obj, dict):  # a wildcard over a dict means its values (e.g. Weibo pics)
            for el in obj.values():
                yield from _walk(el, rest)
    elif isinstance(head, int):
        if isinstance(obj, list) and -len(obj) <= head < len(obj):
            yield from _walk(obj[head], rest)
    elif isinstance(obj, dict) and head in obj:
        yield from _walk(obj[head], rest)


def select(obj: Any, path: str) -> list[Any]:
    """Every value at ``path``; a list at the end of a path without wildcard is returned whole."""
    if path in ("", "$", "."):
        return [obj]
    return list(_walk(obj, _tokens(path)))


def first(obj: Any, spec: str) -> Any:
    """The first non-empty value among the ``|``-separated alternatives of ``spec``."""
    for alt in spec.split("|"):
        for value in _walk(obj, _tokens(alt.strip())):
            if value not in (None, "", [], {}):
                return value
    return None


def valid_path(path: str) -> bool:
    return all(_TOKEN.fullmatch(part) or part == "" for part in re.split(r"(?<=\])|\.", path)) and bool(
        _tokens(path)
    )
