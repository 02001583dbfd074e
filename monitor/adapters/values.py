"""Small value cleaners shared by the platform kinds: image URLs, URL lists."""

from __future__ import annotations

from collections.abc import Iterable


def https_url(value: object) -> str | None:
    """A usable absolute URL: protocol-relative ``//img30.360buyimg.com/…`` becomes https."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if url.startswith("//"):
        return "https:" + url
    return url if url.startswith(("https://", "http://")) else None


def urls(values: Iterable[object]) -> list[str]:
    """The usable URLs among ``values``, in order, without repeats."""
    out: list[str] = []
    for v in values:
        if (u := https_url(v)) is not None and u not in out:
            out.append(u)
    return out


def first_url(obj: object) -> str | None:
    """The first URL of a ``{"url_list": [...]}`` object (Douyin, Xiaohongshu image shapes)."""
    if isinstance(obj, dict):
        found = urls(obj.get("url_list") or [])
        return found[0] if found else https_url(obj.get("url"))
    return https_url(obj)
