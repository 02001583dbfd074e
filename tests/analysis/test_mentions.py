"""Hits that do not alert are stored with their decision and reasons, counted as mentions in the
daily report, shown on the review board and explained by the console's rule tester."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.testclient import TestClient

from monitor.admin import users
from monitor.analyze import Analyzer, MatchContext, RuleSet
from monitor.pipeline import _save_analyses
from monitor.reports import build_daily
from monitor.store import Store
from monitor.store import models as m
from monitor.web import create_app
from tests.conftest import NOW, write_project
from tests.web.conftest import PASSWORD, ConsoleDaemon, login

TEXTS = [
    ("收到就是假货，气死了", 1),
    ("不是假货，放心买", 5),
    ("隔壁那家客服态度差，这家很好", 5),
    ("坏了一个，客服很快补发了", 4),
]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[ConsoleDaemon]:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    cfg = write_project(tmp_path, "http://127.0.0.1:9", "json://127.0.0.1:9", db_url=url)
    store = Store.open(url)
    d = ConsoleDaemon(cfg, store)
    users.add_user(store, "viewer", "viewer", PASSWORD, NOW)
    users.add_user(store, "admin", "admin", PASSWORD, NOW)
    analyzer = Analyzer(RuleSet(d.config.rules, d.config.priority_words))
    with store.transaction() as s:
        for i, (text, rating) in enumerate(TEXTS):
            row = m.Item(
                source="jd-cup",
                platform="jd",
                external_id=f"e{i}",
                text=text,
                rating=rating,
                published_at=NOW - timedelta(hours=i + 1),
                fetched_at=NOW - timedelta(minutes=30),
                updated_at=NOW,
                payload_hash=f"h{i}",
            )
            s.add(row)
            s.flush()
            analysis = analyzer.analyze(text, MatchContext(rating=rating))
            _save_analyses(s, [SimpleNamespace(kind="new")], [row], [analysis], NOW)  # type: ignore[list-item]
    yield d
    store.close()


def test_stored_hits_keep_decision_and_reasons(daemon: ConsoleDaemon) -> None:
    with daemon.store.session() as s:
        stored = {a.normalized: a for a in s.query(m.Analysis)}
    fake = stored["收到就是假货,气死了"]
    assert fake.rules == ["counterfeit"]
    assert fake.hits[0]["decision"] == "complaint" and fake.hits[0]["negated"] is False
    other = stored["隔壁那家客服态度差,这家很好"]
    assert other.rules == []
    assert other.hits[0]["decision"] == "other_target"
    assert other.hits[0]["reasons"] == ["说的是别家或别人：「隔壁」"]


def test_daily_report_counts_mentions_apart(daemon: ConsoleDaemon) -> None:
    day = NOW.astimezone(daemon.config.settings.tz).date()
    r = build_daily(daemon.store, daemon.config, day, NOW)
    assert [tuple(x) for x in r.data["top_rules"]] == [("counterfeit", "假货质疑", 1)]
    mentions = {x[0]: x[2] for x in r.data["mentions"]}
    assert mentions == {"counterfeit": 1, "service_attitude": 1, "quality_defect": 1}
    assert r.data["mention_reasons"] == {"被否定": 1, "说的是别家/别人": 1, "已解决": 1}
    assert "仅提及、未告警" in r.markdown and "- 服务态度差 1" in r.markdown


def test_review_board_and_rule_tester_show_why(daemon: ConsoleDaemon) -> None:
    app: Any = create_app(daemon)
    with TestClient(app) as client:
        login(client, "viewer")
        page = client.get("/items").text
        assert "提及·服务态度差·说的是别家/别人" in page
        assert 'title="说的是别家或别人：「隔壁」"' in page
        token = users.create_token(daemon.store, "admin", "t", NOW, scope="admin")  # the rule tester
        doc = client.post(
            "/api/v1/rules/test",
            headers={"Authorization": f"Bearer {token}"},
            json={"text": "隔壁那家客服态度差，这家很好", "rating": 5},
        ).json()
        assert doc["rules"] == []
        assert doc["hits"][0]["decision"] == "other_target" and doc["hits"][0]["reasons"]
