"""The console's 店铺授权与导出 page: the OAuth round trip through a loopback platform with a signed
state, a shell-started callback, and export uploads (refused unread files, row problems, a folder
the daemon may not write)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from monitor.admin import users
from monitor.store import Store
from monitor.web import create_app
from tests.conftest import NOW
from tests.merchant.exportfiles import SAMPLE, csv_bytes, row
from tests.merchant.platforms import OAuthServer
from tests.sources.conftest import Loopback, write_sources
from tests.web.conftest import PASSWORD, ConsoleDaemon, login

SOURCES = """sources:
  - name: top
    kind: taobao_traderates
    app_key: "12345678"
    app_secret: "${{MT_TOP_SECRET}}"
    shop: main
    gateway: "{base}/router/rest"
    authorize_url: "{base}/oauth/authorize"
    token_url: "{base}/oauth/token"
  - name: dd
    kind: review_export
    folder: "{folder}"
    preset: doudian
"""


@pytest.fixture
def console(
    tmp_path: Path, loopback: Loopback, store_url: str
) -> Iterator[tuple[TestClient, ConsoleDaemon, Path]]:
    folder = tmp_path / "exports"
    folder.mkdir()
    path = write_sources(
        tmp_path, loopback.url, "json://127.0.0.1:9", SOURCES.format(base=loopback.url, folder=folder)
    )
    path.write_text(path.read_text().replace("data_dir: data\n", f"data_dir: data\ndatabase: {store_url}\n"))
    store = Store.open(store_url)
    daemon = ConsoleDaemon(path, store)
    users.add_user(store, "admin", "admin", PASSWORD, NOW)
    users.add_user(store, "oncall", "oncall", PASSWORD, NOW)
    with TestClient(create_app(daemon)) as client:
        yield client, daemon, folder
    store.close()


def test_authorising_a_shop_from_the_console(
    console: tuple[TestClient, ConsoleDaemon, Path], loopback: Loopback
) -> None:
    client, _daemon, _ = console
    top = OAuthServer("taobao", "12345678", "top-secret")
    loopback.route("/oauth/authorize", top.authorize)
    loopback.route("/oauth/token", top.token)
    csrf = login(client, "admin")
    page = client.get("/shop-auth")
    assert page.status_code == 200 and "未授权" in page.text and "taobao" in page.text
    r = client.post(
        "/shop-auth/start", data={"csrf": csrf, "platform": "taobao", "shop": "main"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith(loopback.url + "/oauth/authorize?")
    owner = httpx.get(r.headers["location"], follow_redirects=False)  # the owner approves on the platform
    back = owner.headers["location"].split("/shop-auth/callback", 1)[1]
    done = client.get("/shop-auth/callback" + back)
    assert done.status_code == 200 and "已授权 taobao/main (示例旗舰店)" in done.text
    assert "正常" in client.get("/shop-auth").text
    # a forged or replayed state does not store anything
    forged = client.get("/shop-auth/callback?code=code-1&state=taobao.main.99999999999.forged")
    assert "把下面的 code 粘贴给 monitor auth 命令" in forged.text
    assert client.get("/shop-auth", follow_redirects=False).status_code == 200


def test_only_admins_and_only_with_csrf(console: tuple[TestClient, ConsoleDaemon, Path]) -> None:
    client, _, _ = console
    csrf = login(client, "oncall")
    assert client.get("/shop-auth").status_code == 403
    assert client.post("/shop-auth/upload", data={"csrf": csrf}).status_code == 403
    client.post("/logout", data={"csrf": csrf})
    csrf = login(client, "admin")
    assert (
        client.post(
            "/shop-auth/start", data={"csrf": "forged", "platform": "taobao", "shop": "main"}
        ).status_code
        == 403
    )


def upload(client: TestClient, csrf: str, name: str, data: bytes, source: str = "dd") -> Any:
    return client.post(
        "/shop-auth/upload", data={"csrf": csrf, "source": source}, files={"file": (name, data)}
    )


def test_uploading_exports(console: tuple[TestClient, ConsoleDaemon, Path]) -> None:
    client, _, folder = console
    csrf = login(client, "admin")
    bad_rows = [*SAMPLE, row(4, 商品评价得分="好评")]
    r = upload(client, csrf, "../../抖店 导出.csv", csv_bytes(bad_rows))
    assert (
        r.status_code == 200
        and "4 行" in r.text
        and "商品评价得分: score &#39;好评&#39; is not 1-5" in r.text
    )
    saved = [p.name for p in folder.iterdir()]
    assert len(saved) == 1 and saved[0].endswith("抖店_导出.csv")  # no path, no spaces, in the folder
    r = upload(client, csrf, "千牛.csv", csv_bytes([{"a": 1}], header=["a", "b"]))
    assert r.status_code == 400 and "文件无法读取，未保存" in r.text and "unknown header" in r.text
    r = upload(client, csrf, "evil.html", b"<script>alert(1)</script>")
    assert r.status_code == 400 and "只接受 .csv 或 .xlsx" in r.text
    assert len(list(folder.iterdir())) == 1
    r = upload(client, csrf, "x.csv", csv_bytes(SAMPLE), source="top")
    assert r.status_code == 400


def test_a_read_only_export_folder_is_a_clear_error(
    console: tuple[TestClient, ConsoleDaemon, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, folder = console
    csrf = login(client, "admin")

    def refuse(*args: Any, **kw: Any) -> Any:  # tests run as root, who may write anywhere: staged OS error
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    r = upload(client, csrf, "a.csv", csv_bytes(SAMPLE))
    assert r.status_code == 500 and "无法写入导出目录" in r.text and "只读" in r.text
    assert list(folder.iterdir()) == []
