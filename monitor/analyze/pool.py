"""Analysis off the polling threads: CPU-heavy work runs in worker processes so that a
large batch from one source does not stall the others' fetching (the GIL)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from monitor.analyze import Analysis, Analyzer, MatchContext, RuleSet
from monitor.config.rules import Rule

_worker: Analyzer | None = None


def build_analyzer(rules: Sequence[Rule], priority_words: Sequence[str], model: str | None) -> Analyzer:
    return Analyzer(RuleSet(rules, priority_words), model)


def _init(rules: Sequence[Rule], priority_words: Sequence[str], model: str | None) -> None:
    global _worker
    _worker = build_analyzer(rules, priority_words, model)


def _run(batch: Sequence[tuple[str, MatchContext]]) -> list[Analysis]:
    assert _worker is not None
    return [_worker.analyze(text, ctx) for text, ctx in batch]


class AnalysisPool:
    """``analyze_many`` in-process (workers=0) or in a process pool."""

    def __init__(
        self, rules: Sequence[Rule], priority_words: Sequence[str], model: str | None, workers: int
    ) -> None:
        self.local = build_analyzer(rules, priority_words, model)
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(list(rules), list(priority_words), model),
            )

    def analyze_many(self, batch: Sequence[tuple[str, MatchContext]]) -> list[Analysis]:
        if not batch:
            return []
        if self._pool is None or len(batch) < 8:
            return [self.local.analyze(text, ctx) for text, ctx in batch]
        return self._pool.submit(_run, list(batch)).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
