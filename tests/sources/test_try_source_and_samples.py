"""``try-source`` by hand, and the shipped sample sources (one per preset, all disabled)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from monitor.adapters import registry
from monitor.cli.sources import try_source
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from tests.conftest import ROOT
from tests.sources.cases import JD_PAGES, by_query
from tests.sources.conftest import Loopback, Reply, file_reply, fixture_json, write_sources

SOURCE = """sources:
  - {{name: jd, kind: jd_reviews, product_id: "100038004387", base_url: "{base}", enabled: false}}
"""
PATH = "/comment/productPageComments.action"


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(try_source, ["-c", str(config), *args])
    return result.exit_code, result.output


def test_try_source_shows_pages_items_missing_fields_and_verdict(
    tmp_path: Path, loopback: Loopback, sink: WebhookSink
) -> None:
    doc = fixture_json("jd_comments_p1.json")
    del doc["comments"][0]["score"]
    loopback.route(
        PATH,
        by_query(
            "page",
            {
                "0": JD_PAGES["0"],
                "1": Reply(
                    body=f"cb({json.dumps(doc, ensure_ascii=False)});",
                    content_type="text/html;charset=GBK",
                    encoding="gbk",
                ),
            },
        ),
    )
    config = write_sources(tmp_path, loopback.url, sink.url, SOURCE.format(base=loopback.url))
    code, out = run(config, "jd")
    assert code == 0, out
    assert "page 1: HTTP 200, 4 items" in out and "verdict ok" in out and "entries: 3\n" in out
    assert "page 2: HTTP 200, 2 items" in out and "missing fields: score ×1" in out
    assert "[17000000001:after ↳17000000001]" in out and "杯子颜色很正" in out
    assert "verdict: ok (6 items on 2 page(s)); nothing stored" in out and "next cursor:" in out
    assert not (tmp_path / "data" / "monitor.db").exists()


SOCIAL = """sources:
  - {{name: xhs, kind: xhs_search, keyword: 示例旗舰店, base_url: "{base}", enabled: false}}
  - {{name: dy, kind: douyin_search, keyword: 示例旗舰店, base_url: "{base}", enabled: false}}
  - {{name: dyc, kind: douyin_comments, aweme_id: "7300000000000000001", base_url: "{base}"}}
"""


def test_try_source_tells_a_shape_change_from_a_quiet_day(
    tmp_path: Path, loopback: Loopback, sink: WebhookSink
) -> None:
    config = write_sources(tmp_path, loopback.url, sink.url, SOCIAL.format(base=loopback.url))
    loopback.route("/api/sns/web/v1/search/notes", file_reply("xhs_app_shape.json"))
    code, out = run(config, "xhs")
    assert code == 2, out
    assert "page 1: HTTP 200, 0 items" in out and "entries: 2, 2 yielded no item" in out
    assert "missing fields: id ×2, note_card ×2" in out and "verdict broken" in out
    assert "页面格式变了 shape changed" in out
    loopback.route(
        "/api/sns/web/v1/search/notes", Reply(body='{"success":true,"code":0,"data":{"items":[]}}')
    )
    code, out = run(config, "xhs")
    assert code == 0 and "entries:" not in out and "verdict: empty" in out  # a quiet day


def test_try_source_says_why_entries_were_skipped_and_what_was_kept(
    tmp_path: Path, loopback: Loopback, sink: WebhookSink
) -> None:
    config = write_sources(tmp_path, loopback.url, sink.url, SOCIAL.format(base=loopback.url))
    loopback.route("/api/sns/web/v1/search/notes", file_reply("xhs_search.json"))
    loopback.route("/api/sns/web/v1/feed", file_reply("xhs_feed_1.json"))
    code, out = run(config, "xhs")
    assert code == 0, out
    assert "skipped: 广告 ad slot (model_type ads) ×1, 热搜词 hot-search card (hot_query) ×1" in out
    assert "相关搜索 related-search card (rec_query) ×1" in out
    assert "missing fields: corner_tag_info.publish_time ×1" in out
    assert "follow-ups: fetched 1, failed 2 (note detail: note detail answers for note 6561" in out
    loopback.route("/aweme/v1/web/general/search/single/", file_reply("douyin_search_p2.json"))
    code, out = run(config, "dy")
    assert code == 0 and "[7300000000000000004]" in out
    loopback.route("/aweme/v1/web/general/search/single/", file_reply("douyin_search.json"))
    code, out = run(config, "dy", "--pages", "1")
    assert (
        "skipped: 广告 ad card ×1, 非视频卡片 not a video (type 4) ×1, 非视频卡片 not a video (type 6) ×1"
        in out
    )
    assert "(无文案 no caption, kept)" in out
    loopback.route("/aweme/v1/web/comment/list/", file_reply("douyin_comments.json"))
    code, out = run(config, "dyc")
    assert "[7300000000000000102] - " in out and "(仅图片 image-only, kept)" in out
    assert "(置顶 pinned)" in out


def test_try_source_reports_a_blocked_source(tmp_path: Path, loopback: Loopback, sink: WebhookSink) -> None:
    loopback.route(PATH, Reply(302, headers={"Location": "https://passport.jd.com/new/login.aspx"}))
    config = write_sources(tmp_path, loopback.url, sink.url, SOURCE.format(base=loopback.url))
    code, out = run(config, "jd", "--json")
    assert code == 2
    assert "page 1: HTTP -, 0 items" in out and "verdict blocked" in out
    assert "verdict: blocked: redirected to a login or verification page (passport.jd.com)" in out


def test_samples_cover_every_preset_and_are_disabled(tmp_path: Path) -> None:
    presets = set(registry()) - {"html", "json", "feed"}
    kinds: set[str] = set()
    for f in sorted((ROOT / "sources").glob("*.yaml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        for entry in doc["sources"]:
            assert entry.get("enabled") is False, f"{f.name}: {entry['name']} must ship disabled"
            kinds.add(entry["kind"])
    assert presets <= kinds
    shutil.copy(ROOT / "monitor.yaml", tmp_path / "monitor.yaml")
    shutil.copytree(ROOT / "sources", tmp_path / "sources")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    config = load_config(tmp_path / "monitor.yaml", registry())
    assert {c.kind for c in config.sources.values()} >= presets
    assert not [n for n, c in config.sources.items() if c.enabled]
    assert config.sources["rsshub-xhs-user"].platform == "xiaohongshu"
