"""malloc_trim where glibc has it, nothing elsewhere (monitor.memtrim, #18 memory)."""

from __future__ import annotations

import sys

import pytest

from monitor import memtrim


def test_trim_gives_memory_back_or_does_nothing() -> None:
    assert memtrim.trim() in (True, False)
    if sys.platform.startswith("linux") and memtrim._malloc_trim() is not None:
        junk = [bytes(4096) for _ in range(20_000)]  # ~80 MB freed at once
        del junk
        assert memtrim.trim() is True


def test_without_glibc_trim_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memtrim, "_fn", memtrim._UNSET)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert memtrim.trim() is False
    assert memtrim._malloc_trim() is None
