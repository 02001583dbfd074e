"""``collect``'s ``pause`` hook (the daemon's delivery-first yield point, monitor/priority.py): called
once for each page that arrived, before the page is parsed."""

from __future__ import annotations

from typing import Any

from monitor.adapters import build
from monitor.fetch import Fetcher
from monitor.pipeline import collect
from tests.conftest import LOOPBACK, NOW
from tests.sources.cases import KINDS
from tests.sources.conftest import Loopback, SleepRecorder
from tests.sources.test_contract import TZ, make_config


def test_pause_runs_before_each_page_is_parsed(loopback: Loopback, sleeps: SleepRecorder) -> None:
    ok = next(s for s in KINDS["html"].shapes if s.name == "ok")
    for path, replies in ok.routes(KINDS["html"].path).items():
        loopback.route(path, *replies)
    adapter = build(make_config("html", loopback.url))
    events: list[str] = []
    parse = adapter.parse

    def parse_logged(page: Any) -> Any:
        events.append("parse")
        return parse(page)

    adapter.parse = parse_logged  # type: ignore[method-assign]
    fetcher = Fetcher(retries=0, min_interval=0, sleep=sleeps, network=LOOPBACK)
    try:
        result = collect(fetcher, adapter, {}, NOW, TZ, page_limit=5, pause=lambda: events.append("pause"))
    finally:
        fetcher.close()
    assert result.verdict == "ok" and len(result.pages) == 2
    assert events == ["pause", "parse", "pause", "parse"]
