"""The message model and its renderers: stored messages read back or refused, escaping, fitting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.notify.kinds import KINDS, kind_of
from monitor.notify.message import Checklist, Fact, Message, MessageError, MessageItem
from monitor.notify.render import escape_md, plain, render, split

FULL = Message(
    title="商品破损 · 100012043978",
    event="escalation",
    severity="critical",
    summary="Burst of negative items",
    facts=(Fact(label="SKU", value="100012043978", untrusted=True),),
    items=(MessageItem(text="破损", author="张*", platform="jd", rating=1, when="11-23 12:00 UTC+8"),),
    item_total=7,
    checklist=Checklist(
        title="批量差评应急 SOP", steps=tuple(f"步骤 {i}" for i in range(8)), more=2, url="http://x/sops/a"
    ),
    footer="alert #3 · burst · escalation",
    alert_id=3,
)


def test_a_stored_message_reads_back_as_it_was_written() -> None:
    assert Message.from_json(FULL.to_json()) == FULL


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        "text",
        {},
        {"title": "t"},  # no event
        {"title": "t", "event": "exploded"},
        {"title": "t", "event": "firing", "severity": "apocalyptic"},
        {"title": "t", "event": "firing", "items": [{"text": "x"}]},  # an item without author/platform
        {
            "title": "t",
            "event": "firing",
            "items": [{"text": "x", "author": "a", "platform": "p", "rating": 9}],
        },
        {"title": "t", "event": "firing", "surprise": 1},
        {"title": 5, "event": "firing", "checklist": {"title": "c", "steps": "not a list", "more": -1}},
    ],
)
def test_anything_else_is_refused_with_a_clear_error(garbage: object) -> None:
    with pytest.raises(MessageError, match="not a stored message"):
        Message.from_json(garbage)


@given(st.text(max_size=400))
def test_untrusted_text_is_one_line_without_links_or_markup(text: str) -> None:
    md, txt = escape_md(text), plain(text)
    for out in (md, txt):
        assert "\n" not in out and len(out) <= 200
        assert "://" not in out.replace("\u200b://", "") and "www." not in out.replace("www\u200b.", "")
    # every Markdown special character is escaped
    unescaped = [c for i, c in enumerate(md) if c in "`*_[]()#+!|<>~" and (i == 0 or md[i - 1] != "\\")]
    assert unescaped == []


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_checklist_is_trimmed_to_the_limit_before_anything_is_split(kind: object) -> None:
    k = kind_of(f"{kind.schemes[0]}://x")  # type: ignore[attr-defined]
    limit = 700 if k.unit == "chars" else 1400
    out = render(FULL, k, limit=limit, ref="ref alert-3-escalation-1-ch")
    assert len(out.parts) == 1 and k.size(out.parts[0]) <= limit
    assert "完整清单：http://x/sops/a" in out.parts[0] and "另有" in out.parts[0]
    assert "ref alert-3-escalation-1-ch" in out.parts[0]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000), st.integers(40, 800))
def test_split_parts_fit_and_keep_every_character(text: str, limit: int) -> None:
    size = lambda s: len(s.encode("utf-8"))  # noqa: E731
    parts = split(text, limit, size)
    assert all(size(p) <= limit for p in parts)
    if len(parts) > 1:
        bodies = [p.rsplit("\n\n(", 1)[0] for p in parts]
        assert "".join(b.replace("\n", "") for b in bodies) == text.replace("\n", "")
