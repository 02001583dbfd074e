"""Config loading within the daemon's memory budget (issue #18: ≤ 200 MB at 10,000 sources).

Sources files are read an entry at a time: 10,000 sources must not exist as one YAML tree.

Every answer must be the one the whole-file reading gives: the same sources, origins and located errors;
anything unusual (YAML errors, alias bombs, cycles, deep nesting, other shapes) goes to the whole-file
reading, which gives the exact error."""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import pytest

from monitor.adapters import registry
from monitor.config import ConfigInvalid, load_config
from monitor.config import yamlload as yl
from tests.conftest import ROOT

WELL_FORMED = """# the shop's sources
sources:
  - name: jd-1
    kind: json
    platform: jd
    url: 'https://api.example.com/p/1'
    items: comments
    fields: &f {id: id, text: content, author: nickname}
  - {name: jd-2, kind: json, url: 'https://api.example.com/p/2', items: comments, fields: *f}

  - name: feed-1   # a comment
    kind: feed
    url: >-
      https://rsshub.example.com/a
    headers: &h
      Referer: x
  - name: feed-2
    kind: feed
    url: "https://rsshub.example.com/b"
    headers: *h
    interval: 10m
"""

WITH_ERRORS = """sources:
  - name: a
    kind: html
    url: http://x/
    item: div
    fields: {text: p}
    selector: oops
  - name: b
    kind: nosuchkind
  - name: a
    kind: feed
    url: http://y/
  - 42
  - name: c
    kind: feed
    url: 'file:///etc/passwd'
    max_pages: 0
  - name: bad name
    kind: feed
    url: https://z/
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "monitor.yaml", tmp_path / "monitor.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "sources", tmp_path / "sources")
    return tmp_path


def outcome(project: Path) -> object:
    try:
        cfg = load_config(project / "monitor.yaml", registry())
    except ConfigInvalid as exc:
        return [str(e) for e in exc.errors]
    return (cfg.sources, cfg.origins, cfg.files)


def whole_file(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every sources file take the whole-file reading (the reference); returns the calls made."""
    calls: list[str] = []

    def refuse(text: str, path: str, key: str) -> object:
        calls.append(path)
        raise yl.NotStreamable("reference")

    monkeypatch.setattr("monitor.config.stream_entries", refuse)
    return calls


def streamed(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """Count the entries streamed and the files that fell back to the whole-file reading."""
    entries: list[str] = []
    fallbacks: list[str] = []
    real_stream, real_load = yl.stream_entries, yl.load_yaml_text

    def stream(text: str, path: str, key: str) -> object:
        for item in real_stream(text, path, key):
            entries.append(path)
            yield item

    def load(text: str, path: str) -> yl.LoadedYaml:
        fallbacks.append(path)
        return real_load(text, path)

    monkeypatch.setattr("monitor.config.stream_entries", stream)
    monkeypatch.setattr("monitor.config.load_yaml_text", load)
    return entries, fallbacks


ALIASED_ENTRY = """sources:
  - &first {name: one, kind: feed, url: 'https://x/1', headers: &h {A: b}}
  - {name: two, kind: feed, url: 'https://x/2', headers: *h}
  - *first
"""


@pytest.mark.parametrize(
    "text", [WELL_FORMED, WITH_ERRORS, ALIASED_ENTRY], ids=["valid", "errors", "aliased entry"]
)
def test_entry_by_entry_gives_what_the_whole_file_gives(
    project: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    (project / "sources" / "shop.yaml").write_text(text, encoding="utf-8")
    with monkeypatch.context() as m:
        calls = whole_file(m)
        reference = outcome(project)
    assert any(c.endswith("/shop.yaml") for c in calls)
    entries, fallbacks = streamed(monkeypatch)
    assert outcome(project) == reference
    assert not [f for f in fallbacks if f.endswith("/shop.yaml")]
    assert len([e for e in entries if e.endswith("/shop.yaml")]) == text.count("\n  - ")
    if text is WELL_FORMED:
        assert isinstance(reference, tuple)
        origins = reference[1]
        assert str(origins["source:feed-2"]).endswith("shop.yaml:17")
        assert str(origins["source:jd-2"]).endswith("shop.yaml:9")
        return
    assert isinstance(reference, list)
    errs = "\n".join(reference)
    if text is ALIASED_ENTRY:
        # an alias carries the line of the value it repeats, as in the whole-file reading
        assert "shop.yaml:2: sources[2].name: duplicate source name 'one'" in errs
    else:
        assert "shop.yaml:7: sources[0].selector: unknown key" in errs
        assert "shop.yaml:13: sources[3]: expected a mapping" in errs
        assert "shop.yaml:17: sources[4].max_pages:" in errs
        assert "shop.yaml:18: sources[5].name:" in errs
        assert "duplicate source name 'a' (see " in errs


def laughs_entry() -> str:
    text = '  - name: bomb\n    kind: feed\n    url: https://x/\n    lol: &a ["lol", "lol", "lol", "lol"]\n'
    prev = "a"
    for name in "bcdefghi":
        text += f"    {name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
        prev = name
    return text


ODD = {
    "alias bomb": (
        "sources:\n  - {name: ok, kind: feed, url: 'https://x/'}\n" + laughs_entry(),
        r"shop\.yaml:\d+: aliases expand this file to [\d,]+ values",
    ),
    "cycle": ("sources:\n  - &s {name: s, kind: feed, url: 'https://x/', headers: [*s]}\n", "contains it"),
    "deep": (
        "sources:\n  - {name: d, kind: feed, url: 'https://x/', headers: " + "[" * 70 + "]" * 70 + "}\n",
        "nested deeper than 64 levels",
    ),
    "duplicate key": (
        "sources:\n  - {name: g, kind: feed, url: 'https://x/'}\n  - {name: h, kind: feed, name: i}\n",
        r"shop\.yaml:3: YAML syntax error: duplicate key 'name'",
    ),
    "second key": ("sources: []\nsorces: []\n", r"shop\.yaml:2: unknown key\(s\) \['sorces'\]"),
    "two documents": ("sources: []\n---\nsources: []\n", "expected a single document"),
    "not a list": ("sources: {name: x}\n", r"shop\.yaml:1: sources: expected a list"),
}


@pytest.mark.parametrize("case", list(ODD))
def test_anything_unusual_takes_the_whole_file_reading_and_its_exact_error(
    project: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    import re

    text, message = ODD[case]
    (project / "sources" / "shop.yaml").write_text(text, encoding="utf-8")
    _, fallbacks = streamed(monkeypatch)
    errs = outcome(project)
    assert isinstance(errs, list) and len(errs) == 1 and re.search(message, errs[0]), errs
    assert [f for f in fallbacks if f.endswith("/shop.yaml")]
    with monkeypatch.context() as m:
        whole_file(m)
        assert outcome(project) == errs


def test_a_large_sources_file_never_exists_as_one_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python memory at peak while loading 1,000 sources: entry by entry vs the whole file at once."""
    (tmp_path / "monitor.yaml").write_text("data_dir: data\n", encoding="utf-8")
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "many.yaml").write_text(
        "sources:\n"
        + "".join(
            f"  - {{name: s{i:05d}, kind: json, platform: jd, url: 'https://api.example.com/p/{i}',"
            " items: comments, fields: {id: id, text: content, author: nickname, rating: score}}\n"
            for i in range(1000)
        ),
        encoding="utf-8",
    )

    def peak() -> int:
        tracemalloc.start()
        try:
            cfg = load_config(tmp_path / "monitor.yaml", registry())
            assert len(cfg.sources) == 1000
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    with monkeypatch.context() as m:
        whole_file(m)
        whole = peak()
    streaming = peak()
    assert streaming < whole / 2, f"{streaming:,} bytes at peak entry by entry, {whole:,} whole"


def test_the_compact_pinyin_table_is_pypinyins_table() -> None:
    import json

    from monitor.config import phonetic

    table = phonetic._table()
    reference = json.loads(phonetic._table_path().read_text(encoding="utf-8"))
    assert len(table) == len(reference) > 40_000
    assert all(table.get(int(code)) == value for code, value in reference.items())
    missing = [c for c in (0, 65, 0x4DFF, 0x10FFFF) if str(c) not in reference]
    assert missing and all(table.get(c) is None for c in missing)
    assert phonetic.readings("破") == ("po",) and phonetic.pinyin_key("破损") == ("po", "sun")


def test_sources_share_their_repeated_strings_and_field_sets(project: Path) -> None:
    (project / "sources" / "many.yaml").write_text(
        "sources:\n"
        + "".join(
            f"  - {{name: f{i}, kind: feed, platform: weibo, url: 'https://x/{i}'}}\n" for i in range(3)
        )
        + "  - {name: f3, kind: feed, platform: weibo, url: 'https://x/3', max_pages: 4}\n",
        encoding="utf-8",
    )
    sources = load_config(project / "monitor.yaml", registry()).sources
    a, b, c, d = (sources[f"f{i}"] for i in range(4))
    assert a.platform == b.platform == "weibo" and a.platform is b.platform is c.platform
    assert a.model_fields_set == {"name", "kind", "platform", "url"}
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    assert d.model_fields_set == {"name", "kind", "platform", "url", "max_pages"} and d.max_pages == 4
    assert a.model_copy(update={"max_pages": 2}).max_pages == 2 and a.max_pages == 3


@pytest.mark.parametrize(
    "text",
    [
        "sources:\n  - {name: e, kind: nosuch}\n  - {name: f, kind: feed, url: [unclosed\n",
        "sources:\n  - name: e\n    kind: nosuch\n  - name: f\n    kind: feed: x\n",
        "sources:\n  - {name: e, kind: feed, url: 'https://x/'}\n  - @oops\n",
    ],
    ids=["unclosed flow", "mapping in a value", "reserved character"],
)
def test_a_syntax_error_is_the_whole_file_readings_error_without_reading_it_whole(
    project: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """libyaml meets a syntax error at the same place entry by entry: its error alone, as before (the
    invalid entries before it are not reported), and the 10,000-source file is not composed whole."""
    (project / "sources" / "shop.yaml").write_text(text, encoding="utf-8")
    with monkeypatch.context() as m:
        whole_file(m)
        reference = outcome(project)
    _, fallbacks = streamed(monkeypatch)
    assert outcome(project) == reference
    assert isinstance(reference, list) and len(reference) == 1 and "YAML syntax error" in reference[0]
    assert not [f for f in fallbacks if f.endswith("/shop.yaml")]
