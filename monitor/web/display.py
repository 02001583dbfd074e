"""How page-derived text is shown in the console: bidi controls neutralised, very long texts cut with
the rest one click away, archived report HTML re-checked before it is shown.

The store already cleans text at the door (``monitor.hygiene``); these functions also hold for rows
stored before that, and for archived reports rendered by older versions.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup

from monitor.hygiene import safe_url

# characters of a review shown before "全文" (the rest is in a <details>, no script needed)
PREVIEW_CHARS = 400
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ATTR = re.compile(r"""\s(href|src|xlink:href|action|formaction)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I)
_SCRIPT = re.compile(r"<script\b.*?</script\s*>|<script\b[^>]*>", re.I | re.S)
_EVENT = re.compile(r"""\son[a-z]+\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I)
_STYLE = re.compile(r"<style\b.*?</style\s*>", re.I | re.S)


def unbidi(text: object) -> str:
    """``text`` without directional overrides, embeddings, isolates or marks: what it holds is what
    it reads as."""
    return _BIDI.sub("", "" if text is None else str(text))


def split_long(text: object, limit: int = PREVIEW_CHARS) -> tuple[str, str]:
    """(the part always shown, the rest shown on request; empty when the text is short)."""
    t = unbidi(text)
    if len(t) <= limit:
        return t, ""
    return t[:limit], t[limit:]


def _attr(match: re.Match[str]) -> str:
    name, raw = match.group(1), match.group(2)
    value = html.unescape(raw.strip("\"'"))
    if value.startswith("/") and not value.startswith("//"):
        return match.group(0)
    if value.startswith("#"):
        return match.group(0)
    if safe_url(value) is not None and value.lower().startswith(("http://", "https://")):
        return match.group(0)
    return f' data-removed-{name.lower().replace(":", "-")}=""'


def archived_report(doc: str) -> Markup:
    """An archived report's HTML for the console: no scripts, no event handlers, links and sources
    only http(s) or the console's own paths; the styles of reports written before they were scoped
    (they restyled the console's header) dropped."""
    out = _SCRIPT.sub("", doc)
    out = _EVENT.sub("", out)
    out = _ATTR.sub(_attr, out)
    if 'class="mreport"' not in out:
        out = _STYLE.sub("", out)
    body = re.search(r"<body[^>]*>(.*)</body>", out, re.I | re.S)
    return Markup(body.group(1) if body else out)


__all__ = ["PREVIEW_CHARS", "archived_report", "split_long", "unbidi"]
