"""The analysis pool: its in-process analyzer is built only when a batch needs it (#18 memory)."""

from __future__ import annotations

import pytest

from monitor.analyze import pool
from monitor.analyze.pool import AnalysisPool
from monitor.analyze.rules import NO_CONTEXT
from tests.conftest import ROOT

TEXTS = ["快递太慢了，等了一周，盒子也破了", "物流很快，质量很好，五星好评", "客服不理人，退款还没到"]


def rules() -> tuple[list[object], list[str]]:
    from monitor.adapters import registry
    from monitor.config import load_config

    cfg = load_config(ROOT / "monitor.yaml", registry())
    return list(cfg.rules), list(cfg.priority_words)


def test_with_workers_the_in_process_analyzer_waits_for_a_small_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[object] = []
    real = pool.build_analyzer

    def counting(*args: object) -> object:
        built.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "build_analyzer", counting)
    rs, words = rules()
    with_workers = AnalysisPool(rs, words, None, 1)  # type: ignore[arg-type]
    try:
        assert built == []  # nothing built, no worker started: no batch yet
        batch = [(t, NO_CONTEXT) for t in TEXTS]
        got = with_workers.analyze_many(batch)
        assert len(built) == 1
        assert with_workers.analyze_many(batch) == got and len(built) == 1
    finally:
        with_workers.close()
    in_process = AnalysisPool(rs, words, None, 0)  # type: ignore[arg-type]
    assert len(built) == 2  # without workers: at once, as before
    assert in_process.analyze_many(batch) == got
