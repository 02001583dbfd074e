"""The config editor (admin): SOPs, sources and monitor.yaml edited like rules files, through the
real app, a real config directory and a real store."""

from __future__ import annotations

import errno
import os
import shutil
from typing import Any

from starlette.testclient import TestClient

from monitor.admin import rules as admin_rules
from tests.web.conftest import PASSWORD, login
from tests.web.test_browser import ARTIFACTS, base_url  # noqa: F401 (a fixture)
from tests.web.test_phone import PHONE, browser  # noqa: F401 (a fixture)


def _sop(daemon: Any) -> Any:
    return daemon.config.sop("damaged")


def test_admin_edits_an_sop_error_fix_diff_save_rollback(daemon: Any, client: TestClient) -> None:
    path = daemon.config.path("rules") / "sops" / "damaged.yaml"
    before = path.read_text(encoding="utf-8")
    csrf = login(client, "admin")
    page = client.get("/config")
    assert page.status_code == 200 and "/config/sops/damaged.yaml" in page.text
    assert "/config/monitor.yaml" in page.text and "/config/sources/shop.yaml" in page.text

    broken = before.replace(
        "    title: 商品破损处置 SOP\n", "    title: 商品破损处置 SOP\n    colour: red\n", 1
    )
    line = broken.split("\n").index("    colour: red") + 1
    r = client.post("/config/sops/damaged.yaml/save", data={"csrf": csrf, "text": broken})
    assert r.status_code == 422 and 'id="refused"' in r.text
    assert f'class="err-line" data-line="{line}"><code>    colour: red</code>' in r.text  # indentation kept
    # listed in Chinese, the file named as in the config directory (not the server's absolute path)
    assert f"sops/damaged.yaml 第 {line} 行：第 1 条处置流程.colour：不认识的字段（拼写错误？）" in r.text
    listed = r.text.split('<ul class="error-list">', 1)[1].split("</ul>", 1)[0]
    assert "unknown key" not in r.text and str(path.parent) not in listed
    r_en = client.post("/config/sops/damaged.yaml/check?lang=en", data={"csrf": csrf, "text": broken})
    assert f"sops/damaged.yaml:{line}: sops[0].colour: unknown key" in r_en.text
    assert path.read_text(encoding="utf-8") == before
    assert _sop(daemon).title == "商品破损处置 SOP"  # the old SOPs keep running

    fixed = before.replace("    title: 商品破损处置 SOP\n", "    title: 商品破损处置流程\n", 1)
    r = client.post("/config/sops/damaged.yaml/check", data={"csrf": csrf, "text": fixed})
    assert r.status_code == 200 and 'id="valid"' in r.text
    assert "-    title: 商品破损处置 SOP" in r.text and "+    title: 商品破损处置流程" in r.text  # the diff
    assert path.read_text(encoding="utf-8") == before

    r = client.post("/config/sops/damaged.yaml/save", data={"csrf": csrf, "text": fixed})
    assert r.status_code == 200 and 'id="saved"' in r.text
    assert path.read_text(encoding="utf-8") == fixed
    assert _sop(daemon).title == "商品破损处置流程"  # reloaded
    versions = admin_rules.versions(daemon.store, daemon.config, path)
    assert [v.author for v in versions] == ["admin", None]
    assert f'id="version-{versions[0].id}"' in r.text and ">admin <code>" in r.text

    r = client.post(f"/config/sops/damaged.yaml/rollback/{versions[1].id}", data={"csrf": csrf})
    assert r.status_code == 200 and 'id="saved"' in r.text
    assert path.read_text(encoding="utf-8") == before
    assert _sop(daemon).title == "商品破损处置 SOP"
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left nothing behind


def test_a_version_of_another_file_is_not_rolled_back_here(daemon: Any, client: TestClient) -> None:
    csrf = login(client, "admin")
    other = admin_rules.versions(daemon.store, daemon.config, daemon.config.path("rules") / "default.yaml")
    r = client.post(f"/config/sops/damaged.yaml/rollback/{other[0].id}", data={"csrf": csrf})
    assert r.status_code == 404


def test_viewer_and_oncall_get_403_and_csrf_is_checked(daemon: Any, client: TestClient) -> None:
    path = daemon.config.path("sources") / "shop.yaml"
    before = path.read_text(encoding="utf-8")
    for role in ("viewer", "oncall"):
        csrf = login(client, role)
        assert client.get("/config").status_code == 403
        assert client.get("/config/monitor.yaml").status_code == 403
        r = client.post("/config/sources/shop.yaml/save", data={"csrf": csrf, "text": "sources: []\n"})
        assert r.status_code == 403
        client.post("/logout", data={"csrf": csrf})
    login(client, "admin")
    r = client.post("/config/sources/shop.yaml/save", data={"csrf": "forged", "text": "sources: []\n"})
    assert r.status_code == 403
    assert path.read_text(encoding="utf-8") == before


def test_a_read_only_directory_is_a_message_not_a_500(
    daemon: Any, client: TestClient, monkeypatch: Any
) -> None:
    path = daemon.config.path("rules") / "sops" / "damaged.yaml"
    before = path.read_text(encoding="utf-8")

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    csrf = login(client, "admin")
    edited = before.replace("商品破损处置 SOP", "商品破损处置流程", 1)
    monkeypatch.setattr(admin_rules.tempfile, "mkstemp", read_only)
    r = client.post("/config/sops/damaged.yaml/save", data={"csrf": csrf, "text": edited})
    monkeypatch.undo()
    assert r.status_code == 422
    assert "配置目录只读" in r.text and "商品破损处置流程" in r.text  # the edit stays in the box
    assert path.read_text(encoding="utf-8") == before
    assert _sop(daemon).title == "商品破损处置 SOP"


def test_monitor_yaml_unknown_key_refused_at_its_line_and_secrets_not_expanded(
    daemon: Any, client: TestClient, monkeypatch: Any
) -> None:
    path = daemon.config_path
    text = path.read_text(encoding="utf-8").replace(
        'webhook: {urls: ["json://',
        'pager: {urls: ["json://127.0.0.1:9/${PAGER_TOKEN}"]}\n  webhook: {urls: ["json://',
        1,
    )
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("PAGER_TOKEN", "secret-token-xyz")
    assert daemon.reload(), daemon.reload_errors
    before = path.read_text(encoding="utf-8")
    csrf = login(client, "admin")
    page = client.get("/config/monitor.yaml")
    assert page.status_code == 200 and "${PAGER_TOKEN}" in page.text
    assert "secret-token-xyz" not in page.text

    broken = before.replace("routing:\n", "routing:\n  escalate_to: [webhook]\n", 1)
    line = broken.split("\n").index("  escalate_to: [webhook]") + 1
    r = client.post("/config/monitor.yaml/save", data={"csrf": csrf, "text": broken})
    assert r.status_code == 422
    assert f'class="err-line" data-line="{line}"><code>  escalate_to: [webhook]</code>' in r.text
    assert f"monitor.yaml 第 {line} 行：routing.escalate_to：不认识的字段" in r.text
    assert "secret-token-xyz" not in r.text
    assert path.read_text(encoding="utf-8") == before

    r = client.post(
        "/config/monitor.yaml/check",
        data={"csrf": csrf, "text": before.replace("admins: [webhook]", "admins: [nowhere]")},
    )
    assert r.status_code == 422 and "nowhere" in r.text


def test_a_source_edit_is_checked_against_the_whole_tree(daemon: Any, client: TestClient) -> None:
    """A source that repeats another file's name is refused though the file alone is valid."""
    path = daemon.config.path("sources") / "shop.yaml"
    csrf = login(client, "admin")
    extra = path.parent / "more.yaml"
    extra.write_text("sources: []\n", encoding="utf-8")
    assert daemon.reload()
    copy = path.read_text(encoding="utf-8")
    r = client.post("/config/sources/more.yaml/check", data={"csrf": csrf, "text": copy})
    assert r.status_code == 422, r.status_code
    listed = r.text.split('<ul class="error-list">', 1)[1].split("</ul>", 1)[0]
    assert "jd-cup" in listed and "sources/" in listed and "/tmp" not in listed.replace(str(path.parent), "")
    assert extra.read_text(encoding="utf-8") == "sources: []\n"


def test_sop_error_view_on_a_phone(browser: Any, daemon: Any) -> None:  # noqa: F811
    """The refused SOP at 390×844: the error at its line, indentation kept, no horizontal scroll."""
    path = daemon.config.path("rules") / "sops" / "damaged.yaml"
    before = path.read_text(encoding="utf-8")
    page = browser(PHONE)
    page.goto("/login")
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto("/config/sops/damaged.yaml")
    page.fill(
        "#yaml",
        before.replace("    title: 商品破损处置 SOP\n", "    title: 商品破损处置 SOP\n    colour: red\n", 1),
    )
    page.click("#save")
    page.wait_for_load_state()
    assert page.locator("#refused").is_visible()
    assert page.locator("li.err-line code").first.inner_text() == "    colour: red"
    assert int(page.evaluate("document.scrollingElement.scrollWidth")) <= PHONE["width"]
    # one YAML line, one row: no blank row under each line (the template's whitespace once rendered)
    extra = page.evaluate(
        "Math.max(...[...document.querySelectorAll('ol.code li:not(.err-line)')]"
        ".map(li => li.getBoundingClientRect().height - li.querySelector('code').getBoundingClientRect().height))"
    )
    assert extra <= 4, extra
    page.screenshot(path=str(ARTIFACTS / "phone-flow-admin-config-error.png"), full_page=True)
    assert path.read_text(encoding="utf-8") == before


def test_sops_on_a_data_volume_outside_the_config_directory(
    daemon: Any, client: TestClient, tmp_path_factory: Any
) -> None:
    """``rules_dir`` as an absolute path (a writable data volume, as the README advises): checked
    there, at the line, and saved there."""
    volume = tmp_path_factory.mktemp("volume") / "rules"
    shutil.move(str(daemon.config.path("rules")), volume)
    main = daemon.config_path
    main.write_text(f"rules_dir: {volume}\n" + main.read_text(encoding="utf-8"), encoding="utf-8")
    assert daemon.reload(), daemon.reload_errors
    path = volume / "sops" / "damaged.yaml"
    before = path.read_text(encoding="utf-8")
    csrf = login(client, "admin")
    broken = before.replace(
        "    title: 商品破损处置 SOP\n", "    title: 商品破损处置 SOP\n    colour: red\n", 1
    )
    line = broken.split("\n").index("    colour: red") + 1
    r = client.post("/config/sops/damaged.yaml/save", data={"csrf": csrf, "text": broken})
    assert r.status_code == 422 and f"{path} 第 {line} 行：第 1 条处置流程.colour：" in r.text
    r = client.post(
        "/config/monitor.yaml/check", data={"csrf": csrf, "text": main.read_text(encoding="utf-8")}
    )
    assert r.status_code == 200 and 'id="valid"' in r.text
    fixed = before.replace("商品破损处置 SOP", "商品破损处置流程", 1)
    r = client.post("/config/sops/damaged.yaml/save", data={"csrf": csrf, "text": fixed})
    assert r.status_code == 200 and path.read_text(encoding="utf-8") == fixed
    assert _sop(daemon).title == "商品破损处置流程"


def test_a_new_sop_file_is_created_on_save(daemon: Any, client: TestClient) -> None:
    csrf = login(client, "admin")
    path = daemon.config.path("rules") / "sops" / "extra.yaml"
    page = client.get("/config/sops/extra.yaml")
    assert page.status_code == 200 and 'id="new-file"' in page.text and not path.exists()
    assert client.get("/config/sops/.hidden.yaml").status_code == 404
    assert client.get("/config/sources/notes.txt").status_code == 404
    r = client.post("/config/sops/extra.yaml/save", data={"csrf": csrf, "text": "sops: [\n"})
    assert r.status_code == 422 and not path.exists()
    r = client.post("/config/sops/extra.yaml/save", data={"csrf": csrf, "text": "sops: []\n"})
    assert r.status_code == 200 and path.read_text(encoding="utf-8") == "sops: []\n"
