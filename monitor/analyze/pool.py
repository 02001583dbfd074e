"""Analysis off the polling threads: CPU-heavy work runs in worker processes so that a
large batch from one source does not stall the others' fetching (the GIL).

A worker dies with the daemon: killed with SIGKILL, the daemon cannot stop its pool, and the
workers (each holding the rule set and the model, ~70 MB) would stay re-parented and idle for ever,
keeping multiprocessing's resource tracker alive too. Each worker watches its parent and exits
when it is gone; the tracker then sees its pipe close and exits as well.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from monitor.analyze import Analysis, Analyzer, MatchContext, RuleSet
from monitor.config.rules import Rule

_worker: Analyzer | None = None


def build_analyzer(
    rules: Sequence[Rule], priority_words: Sequence[str], model: str | None, problem_model: str | None = None
) -> Analyzer:
    """``model``: a sentiment model file (None: the shipped one); ``problem_model``: a 模型建议
    model file from ``monitor rules train-suggest`` (None: the shipped one)."""
    from monitor.analyze.problems import ProblemModel

    problems = ProblemModel.load(Path(problem_model)) if problem_model else None
    return Analyzer(RuleSet(rules, priority_words), model, problems=problems)


PARENT_CHECK_EVERY = 0.5  # seconds


def _exit_with_parent(parent: int) -> None:
    """In a worker: leave as soon as the process that started us is gone (re-parented)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_EVERY)
    os._exit(0)  # no clean-up to do: nothing of the daemon's lives here


def _init(
    rules: Sequence[Rule],
    priority_words: Sequence[str],
    model: str | None,
    problem_model: str | None,
    parent: int,
) -> None:
    global _worker
    if os.getppid() != parent:  # the daemon died while we were starting
        os._exit(0)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()
    _worker = build_analyzer(rules, priority_words, model, problem_model)


def _run(batch: Sequence[tuple[str, MatchContext]]) -> list[Analysis]:
    assert _worker is not None
    return [_worker.analyze(text, ctx) for text, ctx in batch]


class AnalysisPool:
    """``analyze_many`` in-process (workers=0) or in a process pool.

    With workers, the in-process analyzer (rule set, pinyin spellings, the two models: ~20 MB) is
    built when a batch first needs it (one of fewer than 8 texts), not before (#18 memory)."""

    def __init__(
        self,
        rules: Sequence[Rule],
        priority_words: Sequence[str],
        model: str | None,
        workers: int,
        problem_model: str | None = None,
    ) -> None:
        self._spec = (list(rules), list(priority_words), model, problem_model)
        self._local: Analyzer | None = None
        self._building = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        if workers <= 0:
            self._local = build_analyzer(rules, priority_words, model, problem_model)
        else:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(*self._spec, os.getpid()),
            )

    @property
    def local(self) -> Analyzer:
        """The in-process analyzer, built on first use."""
        local = self._local
        if local is None:
            with self._building:  # poll threads may ask at once: build it once
                local = self._local
                if local is None:
                    local = self._local = build_analyzer(*self._spec)
        return local

    def analyze_many(self, batch: Sequence[tuple[str, MatchContext]]) -> list[Analysis]:
        if not batch:
            return []
        if self._pool is None or len(batch) < 8:
            local = self.local
            return [local.analyze(text, ctx) for text, ctx in batch]
        return self._pool.submit(_run, list(batch)).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
