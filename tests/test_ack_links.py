"""Signed chat links (``monitor.web.ack``): no login, only for their alert, purpose and person,
expiring after ``chat.ack_link_ttl``; GET never changes state; a claim is single-purpose (the second
person learns who took it, a replay after resolve says so) and tells the group in one message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from monitor.adapters import registry
from monitor.alerting import raise_alert
from monitor.alerting.compose import ack_url, silence_url
from monitor.alerting.lifecycle import resolve_by_hand
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.notify.message import Message
from monitor.signing import ack_token, action_token, verify_ack, verify_action
from monitor.store import Store
from monitor.store import models as m
from monitor.web import create_app
from tests.conftest import NOW, write_project


class FakeDaemon:
    """The parts of ``monitor.runtime.Runtime`` the acknowledge link uses."""

    def __init__(self, config: Any, store: Store, clock: dict[str, Any]) -> None:
        self.config, self.store, self.clock = config, store, clock
        self.metrics, self.reload_errors = None, list[str]()

    def now(self) -> Any:
        return self.clock["now"]

    def status(self) -> dict[str, Any]:
        return {"ok": True}

    def reload(self) -> bool:
        return False


def get(s: Any, alert_id: int) -> m.Alert:
    alert = s.get(m.Alert, alert_id)
    assert isinstance(alert, m.Alert)
    return alert


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


def test_action_tokens_are_bound_to_purpose_person_and_lifetime() -> None:
    secret = b"s" * 32
    tok = action_token(secret, 7, NOW, timedelta(hours=2), "ack", "小王")
    assert verify_action(secret, 7, tok, NOW) == (None, "小王")
    assert verify_action(secret, 7, tok, NOW, "silence")[0] == "invalid signature"  # not a silence link
    exp, _, mac = tok.split(".")
    import base64

    other = base64.urlsafe_b64encode("小李".encode()).decode().rstrip("=")
    assert verify_action(secret, 7, f"{exp}.{other}.{mac}", NOW)[0] == "invalid signature"  # not 小李's
    assert verify_action(secret, 7, tok, NOW + timedelta(hours=2, seconds=1))[0] == "link expired"


def project(tmp_path: Path, storefront: Storefront, sink: WebhookSink, chat: str = "") -> Any:
    path = write_project(tmp_path, storefront.base_url, sink.url)
    text = path.read_text(encoding="utf-8").replace("chat:\n", "chat:\n" + chat)
    path.write_text(text, encoding="utf-8")
    return load_config(path, registry())


def two_alerts(store: Store) -> tuple[int, int]:
    with store.transaction() as s:
        a = raise_alert(s, NOW, dedup_key="k1", kind="keyword", severity="high", title="假货", labels={})
        b = raise_alert(s, NOW, dedup_key="k2", kind="keyword", severity="high", title="破损", labels={})
        return a.id, b.id


def test_a_claim_is_single_purpose_and_tells_the_group(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    config = project(tmp_path, storefront, sink)
    store = Store.open(config.database_url)
    a_id, b_id = two_alerts(store)
    clock = {"now": NOW}
    client = TestClient(create_app(FakeDaemon(config, store, clock)))  # type: ignore[arg-type]
    path = local(ack_url(config, a_id, NOW))
    token = path.split("t=")[1]

    page = client.get(path)
    assert page.status_code == 200 and "认领/确认" in page.text and "假货" in page.text
    assert 'href="/alerts/' in page.text  # onward to the console
    with store.session() as s:
        assert get(s, a_id).state == "firing"  # a GET (link preview) changes nothing

    assert client.post(f"/ack/{b_id}", data={"t": token, "by": "mallory"}).status_code == 403
    clock["now"] = NOW + timedelta(minutes=2)
    ok = client.post(f"/ack/{a_id}", data={"t": token, "by": "小王"})
    assert ok.status_code == 200 and "已认领" in ok.text
    with store.session() as s:
        alert = get(s, a_id)
        assert alert.state == "acknowledged" and alert.acked_by == "小王（链接）"
        assert get(s, b_id).state == "firing"
        told = [
            Message.from_json(r.message) for r in s.scalars(select(m.Outbox).where(m.Outbox.alert_id == a_id))
        ]
    assert [t.event for t in told] == ["claimed"]  # one short message to the alert's channels
    assert "小王（链接） 已于" in told[0].summary

    second = client.post(f"/ack/{a_id}", data={"t": token, "by": "小李"})
    assert second.status_code == 200 and "已由 小王（链接） 于" in second.text and "UTC+8" in second.text
    with store.session() as s:
        assert get(s, a_id).acked_by == "小王（链接）"  # the second person changed nothing
        assert len(list(s.scalars(select(m.Outbox).where(m.Outbox.alert_id == a_id)))) == 1

    resolve_by_hand(store, config, a_id, "老李", NOW + timedelta(minutes=5))
    replay = client.post(f"/ack/{a_id}", data={"t": token, "by": "小王"})
    assert "已恢复" in replay.text and "链接已失效" in replay.text
    assert "已恢复" in client.get(path).text and "<form" not in client.get(path).text
    store.close()


def test_a_link_for_a_person_claims_in_their_name_only(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    config = project(tmp_path, storefront, sink)
    store = Store.open(config.database_url)
    a_id, _ = two_alerts(store)
    client = TestClient(create_app(FakeDaemon(config, store, {"now": NOW})))  # type: ignore[arg-type]
    path = local(ack_url(config, a_id, NOW, person="小王"))
    page = client.get(path)
    assert "以 <b>小王</b> 的身份认领" in page.text and 'name="by" required' not in page.text
    client.post(f"/ack/{a_id}", data={"t": path.split("t=")[1], "by": "mallory"})  # the name is signed
    with store.session() as s:
        assert get(s, a_id).acked_by == "小王（链接）"
    store.close()


def test_link_lifetime_is_configurable(tmp_path: Path, storefront: Storefront, sink: WebhookSink) -> None:
    config = project(tmp_path, storefront, sink, "  ack_link_ttl: 2h\n")
    store = Store.open(config.database_url)
    a_id, _ = two_alerts(store)
    clock = {"now": NOW}
    client = TestClient(create_app(FakeDaemon(config, store, clock)))  # type: ignore[arg-type]
    path = local(ack_url(config, a_id, NOW))
    clock["now"] = NOW + timedelta(hours=1, minutes=59)
    assert client.get(path).status_code == 200
    clock["now"] = NOW + timedelta(hours=2, minutes=1)
    late = client.get(path)
    assert late.status_code == 403 and "链接已过期" in late.text
    assert client.post(f"/ack/{a_id}", data={"t": path.split("t=")[1], "by": "x"}).status_code == 403
    store.close()


def test_a_silence_link_silences_for_an_hour_and_only_by_post(
    tmp_path: Path, storefront: Storefront, sink: WebhookSink
) -> None:
    config = project(tmp_path, storefront, sink)
    store = Store.open(config.database_url)
    with store.transaction() as s:
        a = raise_alert(
            s, NOW, dedup_key="k1", kind="keyword", severity="high", title="假货", labels={"rule": "fake"}
        )
        a_id = a.id
    client = TestClient(create_app(FakeDaemon(config, store, {"now": NOW})))  # type: ignore[arg-type]
    path = local(silence_url(config, a_id, NOW))
    assert client.get(path).status_code == 200
    ack_path = local(ack_url(config, a_id, NOW))
    assert client.post(f"/ack/{a_id}/silence", data={"t": ack_path.split("t=")[1]}).status_code == 403
    with store.session() as s:
        assert list(s.scalars(select(m.Silence))) == []
    assert client.post(f"/ack/{a_id}/silence", data={"t": path.split("t=")[1]}).status_code == 200
    with store.session() as s:
        [sil] = s.scalars(select(m.Silence))
        assert sil.matchers == {"kind": ["keyword"], "rule": ["fake"]}
        assert sil.ends_at - sil.starts_at == timedelta(hours=1)
    store.close()
