"""#16 in headless Debian Chromium at 390x844 (a phone) and 1366x900: every console page without
horizontal scroll, one flow per role, screenshots in tests/artifacts/phone-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from monitor.alerting.alerts import labels_of
from monitor.reports import run_due
from monitor.store import models as m
from tests.conftest import NOW
from tests.web.conftest import PASSWORD
from tests.web.test_access import concrete, guarded
from tests.web.test_browser import ARTIFACTS, CHROMIUM, base_url  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent"),
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
LONG_WORD = "超长无空格评价" * 150 + "x" * 300  # 1,350 characters without a space
SKU = "SKU-" + "A1B2C3D4" * 12


def _rich(daemon: Any, ids: dict[str, int]) -> dict[str, int]:
    """What made pages wide: a long unbroken review, a long SKU, a burst with a long one-line summary
    absorbing the keyword alert, a silence, a report, a gap, a capped review with its full text."""
    with daemon.store.transaction() as s:
        item = s.get(m.Item, ids["item"])
        item.sku = SKU
        item.text = LONG_WORD + "\u202e倒序\u202c"
        big = m.Item(
            source="jd-cup",
            platform="jd",
            external_id="big",
            text="很长" * 2500 + "…（全文 9,000 字，已截断 / truncated）",
            sku="SKU1",
            published_at=NOW - timedelta(hours=3),
            fetched_at=NOW - timedelta(hours=3),
            updated_at=NOW,
            payload_hash="hb",
        )
        s.add(big)
        s.flush()
        s.add(m.ItemFullText(item_id=big.id, text="很长" * 4500, chars=9000))
        burst = m.Alert(
            dedup_key="burst:SKU0",
            kind="burst",
            state="firing",
            severity="critical",
            platform="jd",
            source="jd-cup",
            sku=SKU,
            title="差评集中爆发 " + SKU,
            summary="z=" + "9.9,".join(["x"] * 400),
            item_count=7,
            labels={"kind": "burst", "sku": SKU},
            created_at=NOW - timedelta(minutes=10),
            updated_at=NOW,
        )
        s.add(burst)
        s.flush()
        s.get(m.Alert, ids["alert"]).inhibited_by = burst.id
        s.add(m.AlertItem(alert_id=burst.id, item_id=ids["item"]))
        s.add(
            m.Silence(
                matchers={"kind": ["burst"]},
                starts_at=NOW - timedelta(minutes=5),
                ends_at=NOW + timedelta(hours=1),
                created_by="oncall",
                comment="处理中",
                created_at=NOW,
            )
        )
        s.add(
            m.SourceState(
                name="jd-cup",
                last_verdict="error",
                last_reason="HTTP 503 " + "y" * 400,
                consecutive_failures=3,
                last_ok_at=NOW - timedelta(hours=1),
            )
        )
        return {**ids, "burst": burst.id, "big": big.id}


@pytest.fixture
def rich(daemon: Any, ids: dict[str, int]) -> dict[str, int]:
    out = _rich(daemon, ids)
    assert run_due(daemon.store, daemon.config, NOW + timedelta(days=1))
    return out


@pytest.fixture
def browser(base_url: str) -> Iterator[Any]:  # noqa: F811 (the imported fixture)
    pw_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with pw_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield lambda viewport: b.new_context(base_url=base_url, viewport=viewport, locale="zh-CN").new_page()
        b.close()


def _login(page: Any, name: str) -> None:
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _width(page: Any) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)


def _routes(app: Any, ids: dict[str, int]) -> list[str]:
    out = ["/login"]
    for method, path, _ in guarded(app):
        if method != "GET" or path.startswith("/api/") or path == "/shop-auth/callback" or path == "/":
            continue
        if path.endswith(("/export", ".csv")):
            continue  # a download, not a page
        if path.startswith(("/config/sops/", "/config/sources/")):
            continue  # named below: their files are not called default.yaml
        out.append(concrete(path, {**ids, "item": ids["big"]}))
    out += [f"/alerts/{ids['burst']}", f"/items/{ids['big']}/full", "/alerts?state=all", "/items?lang=en"]
    out += ["/config/sops/damaged.yaml", "/config/sources/shop.yaml"]
    return out


def test_every_page_fits_a_phone_and_a_desktop(browser: Any, app: Any, rich: dict[str, int]) -> None:
    wide: list[tuple[int, str, int]] = []
    seen = 0
    for viewport in (PHONE, DESKTOP):
        page = browser(viewport)
        for url in _routes(app, rich):
            if (url != "/login" and "/login" in page.url) or seen == 0:
                _login(page, "admin")
            r = page.goto(url)
            assert r is not None and r.status == 200, (url, r and r.status)
            w = _width(page)
            if w > viewport["width"]:
                wide.append((viewport["width"], url, w))
            if viewport is PHONE:
                name = url.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "home"
                _shot(page, name)
            seen += 1
        page.context.close()
    assert seen >= 2 * 20 and wide == [], wide


def test_chinese_and_one_labelled_clock(browser: Any, rich: dict[str, int]) -> None:
    page = browser(PHONE)
    _login(page, "oncall")
    page.goto("/alerts?state=all")
    body = page.locator("main").inner_text()
    for english in ("firing", "acknowledged", "critical", "keyword", "burst", " jd"):
        assert english not in body, english
    assert "告警中" in body and "紧急" in body and "京东" in body and "集中爆发" in body
    assert "时区 Asia/Shanghai" in page.locator("header .tz").inner_text()
    # the keyword alert absorbed by the burst says so and offers no buttons; the burst is silenced
    row = page.locator(f"#alert-{rich['alert']}")
    assert "已被集中爆发告警合并" in row.inner_text() and row.locator("button.ack").count() == 0
    assert "静默中" in page.locator(f"#alert-{rich['burst']}").inner_text()
    page.goto(f"/alerts/{rich['alert']}")
    text = page.locator("main").inner_text()
    assert "\u202e" not in page.content() and "倒序" in page.content()
    assert (
        "展开全文" in text and LONG_WORD[-50:] not in page.locator("main").inner_text().split("展开全文")[0]
    )
    _shot(page, "flow-alert-inhibited")


def test_oncall_on_a_phone_chat_link_ack_incident(browser: Any, daemon: Any, ids: dict[str, int]) -> None:
    from monitor.alerting.compose import ack_url

    page = browser(PHONE)
    link = ack_url(daemon.config, ids["alert"], NOW).split("://", 1)[1].split("/", 1)[1]
    page.goto(f"/{link}")
    page.fill("input[name=by]", "值班小王")
    page.click("form button")
    page.wait_for_load_state()
    assert _width(page) <= 390
    _login(page, "oncall")
    page.goto(f"/incidents/{ids['incident']}")
    assert (
        "值班小王" in page.locator(".acked").inner_text() and "确认于" in page.locator(".acked").inner_text()
    )
    assert page.locator("#items li").count() == 0 or page.locator(".alert-items li").count() >= 1
    assert "买到假货了" in page.locator(".timeline").inner_text()
    assert "确认" in page.locator(".timeline").inner_text()
    assert _width(page) <= 390
    _shot(page, "flow-oncall-incident")


def test_pr_ticks_steps_drafts_and_closes(browser: Any, daemon: Any, ids: dict[str, int]) -> None:
    page = browser(PHONE)
    _login(page, "pr")
    page.goto(f"/incidents/{ids['incident']}")
    page.click("#close-form button.close")
    page.wait_for_load_state()
    refusal = page.locator("main").inner_text()
    assert "还有必做步骤未完成" in refusal and "确认受影响 SKU" in refusal and "--reason" not in refusal
    page.goto(f"/incidents/{ids['incident']}")
    steps = page.locator("ol.checklist li.step")
    first = steps.nth(0)
    first.locator("button.doing").click()
    page.wait_for_load_state()
    assert "进行中" in page.locator("ol.checklist li.step").nth(0).inner_text()
    page.locator("ol.checklist li.step").nth(0).locator("button.tick").click()
    page.wait_for_load_state()
    # skipping without a reason is refused in words, then with a reason it is a waiver
    page.locator("ol.checklist li.step").nth(1).locator("button[value=skip]").click()
    page.wait_for_load_state()
    assert "需要填写原因" in page.locator("main").inner_text()
    page.goto(f"/incidents/{ids['incident']}")
    second = page.locator("ol.checklist li.step").nth(1)
    second.locator("input[name=reason]").fill("顾客已自行撤评")
    second.locator("button[value=skip]").click()
    page.wait_for_load_state()
    assert "豁免" in page.locator("ol.checklist li.step").nth(1).inner_text()
    page.locator("ol.checklist li.step").nth(2).locator("button.tick").click()
    page.wait_for_load_state()
    if page.locator(".draft").count():
        page.locator(".draft button.copy").first.click()
        assert page.locator(".draft button.copy").first.inner_text() in ("已复制", "复制")
    _shot(page, "flow-pr-before-close")
    page.click("#close-form button.close")
    page.wait_for_load_state()
    assert page.locator(".incident-state").inner_text() == "已关闭"
    assert "关闭" in page.locator(".timeline").inner_text()
    assert _width(page) <= 390
    _shot(page, "flow-pr-closed")
    with daemon.store.session() as s:
        assert s.get(m.Incident, ids["incident"]).state == "closed"


def test_bulk_silence_then_the_silences_page(browser: Any, daemon: Any, ids: dict[str, int]) -> None:
    with daemon.store.transaction() as s:  # the labels the alerting layer gives a stored alert
        alert = s.get(m.Alert, ids["alert"])
        alert.labels = {**labels_of(alert), **(alert.labels or {})}
    page = browser(PHONE)
    _login(page, "oncall")
    page.goto("/alerts")
    page.check("#select-all")
    page.select_option("select[name=duration]", "4h")
    page.click("button.bulk-silence")
    page.wait_for_load_state()
    assert "静默中" in page.locator(f"#alert-{ids['alert']}").inner_text()
    page.goto("/silences")
    section = page.locator("section.silence.active").first
    assert f"#{ids['alert']}" in section.locator("a.matched").first.inner_text()
    assert "关键词" in section.inner_text() and "假货质疑" in section.inner_text()
    _shot(page, "flow-silences")
    section.locator("button.expire").click()
    page.wait_for_load_state()
    assert page.locator("section.silence.active").count() == 0
    page.goto("/alerts")
    assert "静默中" not in page.locator(f"#alert-{ids['alert']}").inner_text()
    page.check("#select-all")
    page.click("button.bulk-ack")
    page.wait_for_load_state()
    with daemon.store.session() as s:
        assert s.get(m.Alert, ids["alert"]).acked_by == "oncall"


def test_admin_rule_error_fix_replay_save_rollback(browser: Any, daemon: Any, ids: dict[str, int]) -> None:
    path = daemon.config.path("rules") / "default.yaml"
    before = path.read_text(encoding="utf-8")
    page = browser(PHONE)
    _login(page, "admin")
    page.goto("/rules/default.yaml")
    broken = before.replace("  - id: damaged\n", "  - id: damaged\n      keywords: [破损\n", 1)
    page.fill("#yaml", broken)
    page.click("#save")
    page.wait_for_load_state()
    assert page.locator("#refused").is_visible()
    err = page.locator("li.err-line").first
    assert err.locator("code").inner_text().startswith("      keywords")  # indentation kept
    assert _width(page) <= 390
    _shot(page, "flow-admin-rule-error")
    fixed = before.replace("keywords: [破损, ", "keywords: [气死, 破损, ", 1)
    page.fill("#yaml", fixed)
    page.click("#replay")
    page.wait_for_load_state()
    assert (
        "+" in page.locator("#pending-diff").inner_text()
        and "气死" in page.locator("#pending-diff").inner_text()
    )
    assert page.locator("tr.replay-row[data-rule='damaged'] .after").inner_text() == "1"
    page.fill("#yaml", fixed)
    page.click("#save")
    page.wait_for_load_state()
    assert page.locator("#saved").is_visible() and path.read_text(encoding="utf-8") == fixed
    newest = page.locator("table.versions tr").first
    assert "admin" in newest.locator(".author").inner_text()
    assert "+" in (newest.locator("pre.diff").text_content() or "")
    assert "气死" in (newest.locator("pre.diff").text_content() or "")
    first = page.locator("table.versions form button").last
    first.click()
    page.wait_for_load_state()
    assert path.read_text(encoding="utf-8") == before
    _shot(page, "flow-admin-rollback")


def test_admin_users_page(browser: Any, daemon: Any) -> None:
    page = browser(PHONE)
    _login(page, "admin")
    page.goto("/users")
    page.fill("#add-user input[name=name]", "李四")
    page.fill("#add-user input[name=password]", "short")
    page.click("#add-user button")
    page.wait_for_load_state()
    assert "密码" in page.locator("#error").inner_text()
    page.fill("#add-user input[name=name]", "李四")
    page.fill("#add-user input[name=password]", "a long enough password")
    page.select_option("#add-user select[name=role]", "pr")
    page.click("#add-user button")
    page.wait_for_load_state()
    assert "公关客服" in page.locator("#user-李四").inner_text()
    page.locator("#user-李四 button.new-token").click()
    page.wait_for_load_state()
    assert page.locator("#new-token").inner_text().startswith("mon_")
    page.locator("button.revoke").first.click()
    page.wait_for_load_state()
    assert "已吊销" in page.locator("main").inner_text()
    page.locator("#user-李四 button.disable").click()
    page.wait_for_load_state()
    assert "已停用" in page.locator("#user-李四").inner_text()
    assert _width(page) <= 390
    _shot(page, "flow-admin-users")
