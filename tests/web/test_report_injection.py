"""#17 item 5 for reports: every page-derived field (SKU, keywords, titles) goes through the daily and
weekly report (HTML for e-mail and the console, Markdown for chat) and ``/reports/N`` as text, never as
markup or a link; #16: incident lines are not headings, the week's future days are not drawn, a skipped
step is not "on time", an empty table says so."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from monitor.reports import build_daily, build_weekly, publish
from monitor.store import models as m
from monitor.web.display import archived_report
from tests.conftest import NOW
from tests.web.conftest import login

CORPUS = [
    "[点我](javascript:alert(1))",
    '<a href="javascript:alert(2)">x</a>',
    "<img src=x onerror=alert(3)>",
    "# 标题注入",
    "![i](http://127.0.0.1:9/x.png)",
    "<script>alert(4)</script>",
    "javascript:alert(5)",
    "**粗体** _斜_ `代码` | 管道 |",
]


def _poison(daemon: Any, ids: dict[str, int], value: str) -> None:
    with daemon.store.transaction() as s:
        s.get(m.Incident, ids["incident"]).title = value
        for it in s.scalars(select(m.Item)):
            it.sku = value
            it.platform = value if it.external_id == "e1" else it.platform
        for an in s.scalars(select(m.Analysis)):
            an.hits = [{"keyword": value, "rule_id": "counterfeit", "negated": False}]


def _no_live_markup(html: str) -> None:
    assert not re.search(r"<a\b[^>]*href=\"(?!https?://|/)", html), html
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html)  # only inside text, never in a tag
    assert (
        "<script" not in html and "<img" not in html and "onerror=" not in html.replace("onerror=alert", "")
    )
    assert "<h1>标题注入" not in html and "<h1># 标题注入" not in html


def _no_md_links(md: str) -> None:
    assert "](javascript:" not in md and "](http://127.0.0.1:9" not in md
    assert "\n# 标题注入" not in md and "- # " not in md


def test_injection_corpus_through_daily_and_weekly(daemon: Any, ids: dict[str, int]) -> None:
    day = NOW.astimezone(daemon.config.settings.tz).date()
    for value in CORPUS:
        _poison(daemon, ids, value)
        d = build_daily(daemon.store, daemon.config, day, NOW)
        w = build_weekly(daemon.store, daemon.config, "2026-W48", NOW)
        for r in (d, w):
            _no_live_markup(r.html)
            _no_md_links(r.markdown)
            assert r.html.count("<h1>") == 1
        # the text is still there, as text
        assert (
            value.split("(")[0].replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")[:6] in d.html
        )


def test_incident_lines_are_list_items_and_skips_are_not_on_time(daemon: Any, ids: dict[str, int]) -> None:
    with daemon.store.transaction() as s:
        st = s.get(m.IncidentStep, ids["step"])
        st.state, st.at, st.by, st.reason = "skipped", NOW - timedelta(minutes=5), "pr", "不适用"
    r = build_daily(daemon.store, daemon.config, NOW.astimezone(daemon.config.settings.tz).date(), NOW)
    inc = r.data["incidents"][0]
    assert (inc["met"], inc["skipped"]) == (0, 1)
    assert "<li>事件 " in r.html and "豁免跳过 1" in r.html
    assert r.html.count("<h1>") == 1


def test_weekly_does_not_draw_the_days_to_come(daemon: Any, ids: dict[str, int]) -> None:
    w = build_weekly(daemon.store, daemon.config, "2026-W48", NOW)  # NOW is Monday of W48
    assert [t["day"] for t in w.data["trend"]] == ["2026-11-23"]
    past = build_weekly(daemon.store, daemon.config, "2026-W47", NOW)
    assert len(past.data["trend"]) == 7
    assert build_weekly(daemon.store, daemon.config, "2026-W49", NOW).data["trend"] == []


def test_empty_sections_say_so(daemon: Any) -> None:
    r = build_daily(daemon.store, daemon.config, NOW.astimezone(daemon.config.settings.tz).date(), NOW)
    assert "<th>SKU</th>" not in r.html and "无（评价数不足的商品不排名）" in r.html
    assert "无数据" in r.html


def test_reports_page_shows_no_live_link_even_for_old_archives(
    daemon: Any, ids: dict[str, int], client: Any
) -> None:
    _poison(daemon, ids, CORPUS[0])
    r = build_daily(daemon.store, daemon.config, NOW.astimezone(daemon.config.settings.tz).date(), NOW)
    rid = publish(daemon.store, daemon.config, r, NOW)
    with daemon.store.transaction() as s:  # an archive written by an older, unsafe renderer
        old = m.Report(
            kind="daily",
            period="2026-01-01",
            created_at=NOW,
            markdown="",
            data={},
            html="<html><head><style>body{background:red}header{display:none}</style></head><body>"
            '<h1>旧</h1><a href="javascript:alert(1)">x</a><a href="https://ok.example/r">ok</a>'
            '<img src="x" onerror="alert(1)"><script>alert(1)</script></body></html>',
        )
        s.add(old)
        s.flush()
        old_id = old.id
    login(client, "viewer")
    for n in (rid, old_id):
        page = client.get(f"/reports/{n}").text
        assert 'href="javascript' not in page and "<script>alert" not in page and "onerror" not in page
        assert "background:red" not in page
    assert 'href="https://ok.example/r"' in client.get(f"/reports/{old_id}").text


def test_archived_report_keeps_scoped_styles_and_own_links() -> None:
    out = str(
        archived_report(
            '<body><style>.mreport h1{}</style><div class="mreport"><a href="/reports">r</a></div></body>'
        )
    )
    assert '<a href="/reports">' in out and ".mreport h1" in out


def test_rule_save_into_a_read_only_directory_is_a_clear_message(
    daemon: Any, client: Any, monkeypatch: Any
) -> None:
    """A read-only rules directory (ConfigMap, ProtectSystem=strict: EROFS on write): a message on the
    page, never a 500; the old rules keep running; the edit stays in the box. (The tests run as root,
    for whom a chmod does not make a directory read-only: the write raises EROFS as the kernel would.)"""
    import errno
    import os

    from monitor.admin import rules as admin_rules

    path = daemon.config.path("rules") / "default.yaml"
    before = path.read_text(encoding="utf-8")
    real_mkstemp = admin_rules.tempfile.mkstemp

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(admin_rules.tempfile, "mkstemp", read_only)
    csrf = login(client, "admin")
    edited = before.replace("keywords: [破损, ", "keywords: [气死, 破损, ", 1)
    r = client.post("/rules/default.yaml/save", data={"csrf": csrf, "text": edited})
    monkeypatch.setattr(admin_rules.tempfile, "mkstemp", real_mkstemp)
    assert r.status_code == 422, r.status_code
    assert "规则目录只读" in r.text and "气死" in r.text
    assert path.read_text(encoding="utf-8") == before
    assert "气死" not in str([r.keywords for r in daemon.config.rules if r.id == "damaged"])


def test_report_exports_as_a_spreadsheet_without_formulas(
    daemon: Any, ids: dict[str, int], client: Any
) -> None:
    _poison(daemon, ids, '=HYPERLINK("http://127.0.0.1:9","x")')
    r = build_daily(daemon.store, daemon.config, NOW.astimezone(daemon.config.settings.tz).date(), NOW)
    rid = publish(daemon.store, daemon.config, r, NOW)
    login(client, "viewer")
    res = client.get(f"/reports/{rid}/export.csv")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    text = res.content.decode("utf-8-sig")
    assert "评价量,2" in text and "维度,负向,中性,正向" in text
    assert "\n=" not in text and ",=" not in text


def test_settings_read_in_words(client: Any) -> None:
    login(client, "admin")
    text = client.get("/settings").text
    assert "PT" not in text.split("<main>", 1)[1]  # no ISO-8601 durations
    assert "分钟" in text or "小时" in text or "秒" in text


def test_reply_drafts_greet_the_customer_once_with_the_sku_once(daemon: Any, ids: dict[str, int]) -> None:
    """#16: no "（SKU …）（SKU …）", no greeting to a platform-masked nickname, platforms in Chinese."""
    from monitor.sop.drafts import addressed, drafts_for_item

    assert addressed("维***李") == "" and addressed("张三丰") == "张三丰" and addressed(None) == ""
    with daemon.store.transaction() as s:
        s.get(m.Item, ids["item"]).author = "维***李"
    with daemon.store.session() as s:
        drafts = drafts_for_item(s, daemon.config, ids["item"], "negative_burst")
    private = next(d for d in drafts if d.name == "private")
    assert private.text.count("SKU0") == 1 and "维***李" not in private.text
    assert private.text.startswith("您好，") or private.text.startswith("您好")
