"""A console over a real config directory and store, with users of every role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from monitor.adapters import registry
from monitor.admin import users
from monitor.admin.rules import record_versions
from monitor.config import Config, ConfigInvalid, load_config
from monitor.store import Store
from monitor.store import models as m
from monitor.web import create_app
from tests.conftest import NOW, write_project

PASSWORD = "correct horse battery"


@dataclass
class ConsoleDaemon:
    """A stand-in for the daemon: the ``monitor.runtime.Runtime`` the web app is given."""

    config_path: Path
    store: Store
    clock: list[datetime] = field(default_factory=lambda: [NOW])
    reload_errors: list[str] = field(default_factory=list)
    config: Config = field(init=False)
    metrics: None = None

    def __post_init__(self) -> None:
        self.config = load_config(self.config_path, registry())
        record_versions(self.store, self.config, self.now())

    def now(self) -> datetime:
        return self.clock[0]

    def reload(self) -> bool:
        try:
            new = load_config(self.config_path, registry())
        except ConfigInvalid as exc:
            self.reload_errors = [str(e) for e in exc.errors]
            return False
        self.config, self.reload_errors = new, []
        record_versions(self.store, new, self.now())
        return True

    def status(self) -> dict[str, Any]:
        return {"sources": len(self.config.sources), "rules": len(self.config.rules)}


def seed(store: Store, now: datetime) -> dict[str, int]:
    """Two items, an alert over them, an incident with three steps."""
    with store.transaction() as s:
        items = []
        for i, (text, rating, sent, rules, dims, grade) in enumerate(
            [
                ("买到假货了，气死", 1, "neg", ["counterfeit"], ["商品质量"], 4),
                ("物流很快，包装完好，好评", 5, "pos", [], ["物流时效"], None),
            ]
        ):
            it = m.Item(
                source="jd-cup",
                platform="jd",
                external_id=f"e{i}",
                text=text,
                rating=rating,
                sku=f"SKU{i}",
                attrs={"tags": ["首次购买客户"]} if i == 0 else {},
                published_at=now - timedelta(hours=i + 1),
                fetched_at=now - timedelta(minutes=30),
                updated_at=now,
                payload_hash=f"h{i}",
            )
            s.add(it)
            s.flush()
            s.add(
                m.Analysis(
                    item_id=it.id,
                    normalized=text,
                    rules=rules,
                    hits=[],
                    sentiment=sent,
                    sentiment_score=0.1 if sent == "neg" else 0.9,
                    dimensions=dims,
                    grade=grade,
                    grade_reasons=[],
                    severity="high" if rules else None,
                    analyzed_at=now,
                )
            )
            items.append(it)
        alert = m.Alert(
            dedup_key="kw:counterfeit:SKU0",
            kind="keyword",
            state="firing",
            rule_id="counterfeit",
            category="counterfeit",
            severity="high",
            grade=4,
            platform="jd",
            source="jd-cup",
            sku="SKU0",
            title="假货质疑 SKU0",
            summary="1 item",
            item_count=1,
            labels={"kind": "keyword", "rule": "counterfeit"},
            created_at=now - timedelta(minutes=20),
            updated_at=now,
        )
        s.add(alert)
        s.flush()
        s.add(m.AlertItem(alert_id=alert.id, item_id=items[0].id))
        inc = m.Incident(
            alert_id=alert.id,
            sop="negative_burst",
            title="批量差评 SKU0",
            state="open",
            opened_at=now - timedelta(minutes=20),
        )
        s.add(inc)
        s.flush()
        steps = []
        for key, title, due in [
            ("triage", "确认受影响 SKU", 10),
            ("private_reply", "逐一私信差评顾客", 40),
            ("statement", "统一对外口径", -5),
        ]:
            st = m.IncidentStep(
                incident_id=inc.id,
                step_key=key,
                title=title,
                owner_role="客服",
                required=True,
                due_at=now + timedelta(minutes=due),
                state="todo",
            )
            s.add(st)
            steps.append(st)
        s.flush()
        return {"alert": alert.id, "incident": inc.id, "step": steps[0].id, "item": items[0].id}


@pytest.fixture
def daemon(tmp_path: Path, store_url: str) -> Iterator[ConsoleDaemon]:
    cfg = write_project(tmp_path, "http://127.0.0.1:9", "json://127.0.0.1:9", db_url=store_url)
    store = Store.open(store_url)
    d = ConsoleDaemon(cfg, store)
    for role in users.ROLES:
        users.add_user(store, role, role, PASSWORD, NOW)
    yield d
    store.close()


@pytest.fixture
def ids(daemon: ConsoleDaemon) -> dict[str, int]:
    return seed(daemon.store, NOW)


@pytest.fixture
def app(daemon: ConsoleDaemon) -> Any:
    return create_app(daemon)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token (read from a page)."""
    r = client.get("/login")
    csrf = r.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf, "next": "/alerts"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get("/alerts")
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
