"""The console marks scopes in a slow rise ("elevated"), from the burst state rows."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from monitor.store import models as m
from tests.conftest import NOW
from tests.web.conftest import ConsoleDaemon, app, client, daemon, login  # noqa: F401  (fixtures)


def test_alerts_page_lists_elevated_scopes_escaped(daemon: ConsoleDaemon, client: TestClient) -> None:  # noqa: F811
    with daemon.store.transaction() as s:
        s.add(m.DetectorState(scope="burst:store:*:*", state={"drift": "负面占比 5.0% → 21.3%，自 03-16 起 4 天"},
                              updated_at=NOW, elevated_since=NOW - timedelta(days=4)))  # fmt: skip
        s.add(m.DetectorState(scope="burst:product:*:<b>杯</b>", state={"drift": "负面 1.0 → 6.0 条/天"},
                              updated_at=NOW, elevated_since=NOW - timedelta(days=2)))  # fmt: skip
        s.add(m.DetectorState(scope="burst:sku:*:quiet", state={}, updated_at=NOW))  # not elevated
    login(client, "viewer")
    page = client.get("/alerts").text
    section = page.split('id="elevated"', 1)[1].split("</section>", 1)[0]
    assert "持续升高（不告警）" in page
    assert "全店负面评价" in section and "负面占比 5.0% → 21.3%，自 03-16 起 4 天" in section
    assert "&lt;b&gt;杯&lt;/b&gt;" in section and "<b>杯</b>" not in section
    assert "quiet" not in section
    assert section.index("全店") < section.index("杯")  # the oldest rise first


def test_no_marker_without_a_rise(daemon: ConsoleDaemon, client: TestClient) -> None:  # noqa: F811
    login(client, "viewer")
    assert 'id="elevated"' not in client.get("/alerts").text
