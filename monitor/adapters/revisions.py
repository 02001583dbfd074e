"""The 追评 version a source has seen per review, kept in its cursor.

A review re-read without its follow-up (the tail of a merchant API poll, an older export dropped
again) must keep the version its 追评 gave it: otherwise it would be stored as an edit that takes
the 追评 away. Only reviews that have a version are remembered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from monitor.adapters.base import RawItem


def keep_versions(items: Iterable[RawItem], cursor: Mapping[str, Any]) -> None:
    known = cursor.get("versions") or {}
    for r in items:
        if r.version is None and r.parent_external_id is None and str(r.external_id) in known:
            r.version = known[str(r.external_id)]
            r.attrs["has_after_comment"] = True


def remember_versions(out: dict[str, Any], items: Iterable[RawItem], cap: int) -> None:
    versions = dict(out.get("versions") or {})
    versions.update(
        {str(r.external_id): r.version for r in items if r.version and r.parent_external_id is None}
    )
    out["versions"] = dict(list(versions.items())[-cap:]) if cap > 0 else {}
