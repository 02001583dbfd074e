"""Admin-written regular expressions: which engine runs them and whether one can be used.

A leaf module (no imports from ``monitor``): the rule schema (``config/rules.py``) checks
patterns with it at load time and the matcher (``analyze/rules.py``) compiles them with it,
so neither has to import the other.
"""

from __future__ import annotations

import re
from typing import Any

_re2: Any
try:  # google-re2: linear-time matching, so an admin's pattern cannot hang the daemon
    import re2 as _re2  # type: ignore[import-untyped,no-redef]

    REGEX_ENGINE = "re2"
except ImportError:  # pragma: no cover - depends on the environment
    _re2 = None
    REGEX_ENGINE = "re"

RE2: Any = _re2
# Without RE2, patterns run on Python's backtracking engine; constructs that make it
# exponential are refused and the text is cut, which bounds the time per item.
FALLBACK_MAX_CHARS = 2000
_UNSAFE = re.compile(r"\\\d|\(\?[=!<]|\)[*+}]|[*+}]\)?[*+{]")


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, or None."""
    if _re2 is not None:
        try:
            _re2.compile(pattern)
        except Exception as exc:  # re2 raises its own error type
            return f"not a valid RE2 expression ({exc})"
        return None
    if _UNSAFE.search(pattern):
        return "backreferences, lookarounds and nested repeats are not allowed"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a valid regular expression ({exc})"
    return None


def compile_pattern(pattern: str) -> Any:
    """A compiled pattern (RE2 when installed) with ``finditer`` and ``pattern``."""
    return _re2.compile(pattern) if _re2 is not None else re.compile(pattern)
