"""Fuzzing: every parser and the config loader on arbitrary and mutated input raise only their defined
errors (``SourceError`` subclasses: ParseError, BlockedError …; ``ConfigInvalid``), never anything else.

Example counts are kept moderate for CI; raise them locally with ``HYPOTHESIS_PROFILE=deep``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.adapters import build, jsonpath, registry
from monitor.adapters.base import FetchedPage, RawItem, SourceConfig, SourceError
from monitor.config import ConfigInvalid, load_config
from monitor.config.yamlload import load_yaml_text
from monitor.fetch import decode_body
from monitor.normalize import normalize, parse_time
from tests.sources.cases import KINDS
from tests.sources.conftest import FIXTURES

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
CST = ZoneInfo("Asia/Shanghai")
SEEDS = sorted(
    p.read_text(encoding="utf-8", errors="replace") for p in Path(FIXTURES).iterdir() if p.is_file()
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    """A seed document with a few random cuts, insertions and replacements (structure half-intact)."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = draw(st.integers(i, min(len(text), i + 200)))
        op = draw(st.sampled_from(["cut", "insert", "replace", "truncate"]))
        noise = draw(
            st.text(alphabet=st.sampled_from("{}[]<>\"',:;/\\0-9aZ好\x00\n ") | st.characters(), max_size=20)
        )
        if op == "cut":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + noise + text[i:]
        elif op == "replace":
            text = text[:i] + noise + text[j:]
        else:
            text = text[:i]
    return text


bodies = st.one_of(st.text(max_size=400), mutated(SEEDS))
KIND_NAMES = sorted(registry())


def adapter_for(kind: str) -> Any:
    data = {"name": f"fuzz-{kind}", "kind": kind, **KINDS[kind].config("http://127.0.0.1:9")}
    return build(registry()[kind].Config.model_validate(data))


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_adapter_parse_raises_only_source_errors(kind: str) -> None:
    adapter = adapter_for(kind)
    url = adapter.first_url({})

    @given(body=bodies, status=st.sampled_from([200, 200, 200, 403, 500]))
    @settings(max_examples=settings().max_examples)
    def run(body: str, status: int) -> None:
        page = FetchedPage(url=url, status=status, headers={"content-type": "text/plain"}, text=body)
        try:
            parsed = adapter.parse(page)
        except SourceError:
            return
        for raw in parsed.items:
            assert isinstance(raw.text, str)

    run()


@given(
    value=st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.none(), st.booleans())
)
def test_parse_time_returns_aware_utc_or_none(value: object) -> None:
    try:
        out = parse_time(value, NOW, CST)
    except (ValueError, OverflowError, OSError):
        return  # documented: unparseable values raise ValueError (normalize() turns them into None)
    assert out is None or out.tzinfo is not None


@given(value=st.text(alphabet="0123456789-:/T Z+.年月日号前天昨刚分钟小时秒", max_size=30))
def test_parse_time_on_time_like_text(value: str) -> None:
    try:
        out = parse_time(value, NOW, CST)
    except (ValueError, OverflowError, OSError):
        return
    assert out is None or out.tzinfo is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(obj=json_values, path=st.text(alphabet="abc.[]*0123456789$@-", max_size=20))
def test_jsonpath_never_raises_on_any_document_and_path(obj: Any, path: str) -> None:
    if not jsonpath.valid_path(path):
        return
    out = jsonpath.select(obj, path)
    assert isinstance(out, list)
    jsonpath.first(obj, path)


SETTINGS_SEED = """data_dir: data
reload_check: 1s
channels:
  console: {urls: ["console://"]}
  hook: {urls: ["json://127.0.0.1:9/hook"], fallback: console}
routing:
  default: [hook]
  routes:
    - match: {severity: [critical]}
      channels: [console]
alerting:
  group_wait: 0s
schedule:
  normal: {interval: 1m, jitter: 0s}
cluster: {lease: 10s}
observability: {stale_after: 5m, heartbeat: {channel: console, every: 1m}}
"""
SOURCE_SEED = """sources:
  - name: shop
    kind: html
    url: "http://127.0.0.1:9/r?page={page}"
    item: div.review
    fields: {id: "@data-id", text: p.content}
"""
RULES_SEED = """rules:
  - id: leak
    title: 漏水
    category: quality
    keywords: [漏水, 渗水]
"""


# Found by this fuzzer: a control character makes PyYAML's reader raise ReaderError (now a located error).
@example(text="\x08")
@example(text="a: 1\nb: \x08\n")
@given(text=st.one_of(st.text(max_size=200), mutated([SETTINGS_SEED, SOURCE_SEED, RULES_SEED])))
def test_yaml_loader_raises_only_config_invalid(text: str) -> None:
    error: ConfigInvalid | None = None
    try:
        load_yaml_text(text, "fuzz.yaml")
    except ConfigInvalid as exc:
        error = exc
    if error is not None:
        assert error.errors and all(str(e).startswith("fuzz.yaml:") for e in error.errors)


SOURCES_SEED = """sources:
  - name: jd-1
    kind: json
    url: 'http://127.0.0.1:9/p/1'
    items: comments
    fields: &f {id: id, text: content}
  - {name: jd-2, kind: json, url: 'http://127.0.0.1:9/p/2', items: comments, fields: *f}
  - name: feed-1   # a comment
    kind: feed
    url: http://127.0.0.1:9/feed
    headers: &h {Referer: x}
    max_pages: 0
  - {name: feed-2, kind: feed, url: "http://127.0.0.1:9/b", headers: *h, interval: 10m}
  - {name: jd-1, kind: nosuch}
"""


def _sources_outcome(root: Path) -> object:
    try:
        cfg = load_config(root / "monitor.yaml", registry())
    except ConfigInvalid as exc:
        return [str(e) for e in exc.errors]
    return (cfg.sources, cfg.origins)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated([SOURCES_SEED, SOURCE_SEED]))
def test_sources_read_entry_by_entry_give_what_the_whole_file_gives(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    """Issue #18: sources files are read an entry at a time; on any text, the same sources, origins and
    located errors as reading the file whole (``NotStreamable`` everywhere makes every file whole)."""
    from monitor.config import yamlload

    root = tmp_path_factory.mktemp("cfg")
    (root / "sources").mkdir()
    (root / "monitor.yaml").write_text(SETTINGS_SEED, encoding="utf-8")
    (root / "sources" / "s.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))

    def whole(text: str, path: str, key: str) -> Any:
        raise yamlload.NotStreamable("reference")

    with pytest.MonkeyPatch.context() as m:
        m.setattr("monitor.config.stream_entries", whole)
        reference = _sources_outcome(root)
    assert _sources_outcome(root) == reference


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(which="monitor.yaml", text="\x1fdata_dir: data\n")
@given(
    which=st.sampled_from(["monitor.yaml", "sources/s.yaml", "rules/r.yaml"]),
    text=mutated([SETTINGS_SEED, SOURCE_SEED, RULES_SEED]),
)
def test_load_config_on_mutated_files_raises_only_config_invalid(
    tmp_path_factory: pytest.TempPathFactory, which: str, text: str
) -> None:
    root = tmp_path_factory.mktemp("cfg")
    (root / "sources").mkdir()
    (root / "rules").mkdir()
    files = {"monitor.yaml": SETTINGS_SEED, "sources/s.yaml": SOURCE_SEED, "rules/r.yaml": RULES_SEED}
    files[which] = text
    for rel, body in files.items():
        (root / rel).write_text(body, encoding="utf-8")
    error: ConfigInvalid | None = None
    try:
        load_config(root / "monitor.yaml", registry())
    except ConfigInvalid as exc:
        error = exc
    if error is not None:
        assert error.errors
        for e in error.errors:
            assert e.path and e.line >= 1 and e.message


# ---- text hygiene and decoding at the door ------------------------------------------------------
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(), st.sampled_from("\x00\x07\x1b\x9b\u202e\u2066\ud800\udfff\ufffe好 \n")
    ),
    max_size=300,
)


@given(
    text=hostile_text,
    author=st.one_of(st.none(), hostile_text),
    url=st.one_of(st.none(), hostile_text, st.sampled_from(["javascript:x", "//a.b/c", "https://a.b/\x00"])),
    attrs=st.dictionaries(
        hostile_text, st.one_of(hostile_text, st.lists(hostile_text, max_size=3)), max_size=3
    ),
)
def test_normalized_items_hold_nothing_a_database_refuses_or_a_browser_misreads(
    text: str, author: str | None, url: str | None, attrs: dict[str, Any]
) -> None:
    raw = RawItem(text=text, external_id=text[:50] or None, author=author, url=url, sku=author, attrs=attrs)
    it = normalize(raw, SourceConfig(name="fuzz", kind="json"), NOW, CST)
    for value in (it.text, it.external_id, it.author or "", it.sku or "", it.url or "", json.dumps(it.attrs)):
        assert not FORBIDDEN.search(value), repr(value)
        value.encode("utf-8")  # no lone surrogate left: every database can store it
    assert it.url is None or it.url.lower().startswith(("http://", "https://"))
    assert it.author is None or len(it.author) <= 200


@given(
    body=st.binary(max_size=2000),
    ctype=st.sampled_from(
        [None, "text/html; charset=utf-8", "text/html;charset=GBK", "application/json; charset=bogus-charset"]
    ),
)
def test_decoding_any_bytes_never_raises(body: bytes, ctype: str | None) -> None:
    text, bad, share = decode_body(body, ctype)
    assert isinstance(text, str) and bad >= 0 and 0.0 <= share <= 1.0
