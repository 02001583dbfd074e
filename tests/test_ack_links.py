"""Signed acknowledge links: no login, only for their alert, expiring; GET never changes state."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from monitor.adapters import registry
from monitor.alerting import raise_alert
from monitor.alerting.compose import ack_url
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.signing import ack_token, verify_ack
from monitor.store import Store
from monitor.store import models as m
from monitor.web import create_app
from tests.conftest import NOW, write_project


class FakeDaemon:
    """The parts of ``monitor.runtime.Runtime`` the acknowledge link uses."""

    def __init__(self, config: Any, store: Store, clock: dict[str, Any]) -> None:
        self.config, self.store, self.clock = config, store, clock
        self.metrics, self.reload_errors = None, []

    def now(self) -> Any:
        return self.clock["now"]

    def status(self) -> dict[str, Any]:
        return {"ok": True}

    def reload(self) -> bool:
        return False


def local(url: str) -> str:
    """The path and query of an absolute URL."""
    return "/" + url.split("/", 3)[3]


def test_token_is_bound_to_alert_and_expires() -> None:
    secret = b"s" * 32
    tok = ack_token(secret, 7, NOW)
    assert verify_ack(secret, 7, tok, NOW) is None
    assert verify_ack(secret, 8, tok, NOW) == "invalid signature"
    assert verify_ack(b"x" * 32, 7, tok, NOW) == "invalid signature"
    assert verify_ack(secret, 7, tok, NOW + timedelta(days=4)) == "link expired"
    assert verify_ack(secret, 7, "garbage", NOW) == "malformed link"
    assert verify_ack(secret, 7, tok.replace(".", ".x", 1), NOW) == "invalid signature"


def test_ack_link_end_to_end(tmp_path: Path, storefront: Storefront, sink: WebhookSink) -> None:
    config = load_config(write_project(tmp_path, storefront.base_url, sink.url), registry())
    store = Store.open(config.database_url)
    with store.transaction() as s:
        a = raise_alert(s, NOW, dedup_key="k1", kind="keyword", severity="high", title="假货", labels={})
        b = raise_alert(s, NOW, dedup_key="k2", kind="keyword", severity="high", title="破损", labels={})
        a_id, b_id = a.id, b.id
    clock = {"now": NOW}
    client = TestClient(create_app(FakeDaemon(config, store, clock)))
    path = local(ack_url(config, a_id, NOW))
    token = path.split("t=")[1]

    page = client.get(path)
    assert page.status_code == 200 and "确认" in page.text
    with store.session() as s:
        assert s.get(m.Alert, a_id).state == "firing"  # a GET (link preview) changes nothing

    wrong = client.post(f"/ack/{b_id}", data={"t": token, "by": "mallory"})
    assert wrong.status_code == 403
    ok = client.post(f"/ack/{a_id}", data={"t": token, "by": "小王"})
    assert ok.status_code == 200 and "acknowledged" in ok.text
    with store.session() as s:
        assert s.get(m.Alert, a_id).state == "acknowledged"
        assert s.get(m.Alert, a_id).acked_by == "小王 (link)"
        assert s.get(m.Alert, b_id).state == "firing"

    clock["now"] = NOW + timedelta(days=5)
    expired = client.post(f"/ack/{b_id}", data={"t": ack_token(b"nope", b_id, NOW), "by": "x"})
    assert expired.status_code == 403
    late = client.get(local(ack_url(config, b_id, NOW)))
    assert late.status_code == 403 and "expired" in late.text
    assert client.get("/healthz").json() == {"status": "ok"}
    store.close()
