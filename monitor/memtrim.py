"""Give the heap's free memory back to the system: glibc's ``malloc_trim(0)`` (#18 memory).

glibc returns freed memory at the top of the main heap only, and never from the 8 poll threads'
arenas on its own: after a round of polls (responses parsed, rows built and dropped) the daemon's RSS
keeps pages it no longer uses. The daemon calls ``trim`` every 30 s (a system job); one call walks the
arenas and takes a few milliseconds. Other C libraries (musl, macOS) have no ``malloc_trim``: ``trim``
does nothing there.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable

__all__ = ["EVERY_SECONDS", "trim"]

EVERY_SECONDS = 30.0
_UNSET: object = object()
_fn: object = _UNSET  # the function, None (no glibc), or not looked up yet
_lock = threading.Lock()


def _malloc_trim() -> Callable[[int], int] | None:
    global _fn
    with _lock:
        if _fn is _UNSET:
            _fn = None
            if sys.platform.startswith("linux"):
                try:
                    fn = ctypes.CDLL(None).malloc_trim  # glibc's, in the process already
                except (OSError, AttributeError):  # musl: no such function
                    pass
                else:
                    fn.argtypes = [ctypes.c_size_t]
                    fn.restype = ctypes.c_int
                    _fn = fn
        return _fn  # type: ignore[return-value]


def trim() -> bool:
    """``malloc_trim(0)``; True when memory was given back, False when none was (or no glibc)."""
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False
