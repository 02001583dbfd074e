"""``kind: review_export`` — the review exports a store downloads from its back office (CSV / XLSX).

For platforms whose open platform returns no review text (抖店, 拼多多, 小红书) the export is the route.
The source watches ``folder`` (and the console's upload form writes into it): each poll reads the
files it has not read before (by content hash, oldest first) as one page, so overlapping exports
collapse into one item per review, the newest file's row winning. The folder is only read: files are
never moved or deleted, so a read-only folder or file works, and nothing already stored is touched.

Columns are mapped by configuration: ``preset: doudian`` is the 抖店 评价 export (评价日期, 订单ID, 商品ID,
商品名称, 商品规格, 商品评价得分, 评价内容, 追评内容, 追评时间, 回复内容); any other export is mapped by
the admin in ``columns`` — never guessed. A 追评 column makes a new version of the review (a revision)
and an item ``<id>:append``. Rows that cannot be read are reported as ``file:row: message`` (the page
reason, the log, the console upload form) and skipped; a file that cannot be read at all (unknown
header, not CSV/XLSX, no permission) fails the poll with its name while the other files are read.
When no file is new, the newest file read before is read again, so "nothing new" is never "empty".
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urldefrag, urlencode

from pydantic import Field, model_validator

from monitor.adapters.base import (
    Adapter,
    FetchedPage,
    FetchError,
    HttpRequest,
    PageFetcher,
    ParsedPage,
    ParseError,
    RawItem,
    register,
)
from monitor.adapters.export_files import Encoding, ExportError, ExportRows, ExportUnreadable, read_export
from monitor.adapters.revisions import keep_versions, remember_versions
from monitor.config.settings import Strict
from monitor.config.sources import SourceConfig

log = logging.getLogger(__name__)
SUFFIXES = (".csv", ".xlsx")
_SCORE = re.compile(r"^\s*([1-5])(?:\.0+)?\s*(?:分|星)?\s*$")
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


class ExportColumns(Strict):
    """Which export column holds what. ``id``: the columns that together identify a review."""

    id: list[str] = Field(min_length=1)
    text: str
    rating: str | None = None
    published: str | None = None
    author: str | None = None
    sku: str | None = None
    product: str | None = None
    variant: str | None = None
    order: str | None = None
    append_text: str | None = None
    append_published: str | None = None
    reply: str | None = None

    def required(self) -> list[str]:
        named = [self.text, self.rating, self.published, self.author, self.sku, self.product, self.variant]
        named += [self.order, self.append_text, self.append_published, self.reply]
        return list(dict.fromkeys([*self.id, *(c for c in named if c)]))


PRESETS: dict[str, ExportColumns] = {
    # 抖店 (Douyin shop) back office: 评价管理 → 导出
    "doudian": ExportColumns(
        id=["订单ID", "商品ID", "商品规格"], text="评价内容", rating="商品评价得分", published="评价日期",
        sku="商品ID", product="商品名称", variant="商品规格", order="订单ID", append_text="追评内容",
        append_published="追评时间", reply="回复内容",
    ),
}  # fmt: skip


class ReviewExportConfig(SourceConfig):
    kind: Literal["review_export"]
    folder: str = Field(description="absolute path of the folder the exports are dropped into")
    preset: Literal["doudian"] | None = None
    columns: ExportColumns | None = None
    encoding: Encoding = "auto"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = Field(default=None, description="XLSX sheet name (default: the first)")
    header_row: int | None = Field(default=None, ge=1, description="default: found by the mapped columns")
    max_rows: int = Field(default=200_000, ge=1, le=5_000_000)
    max_body_bytes: int = Field(default=50_000_000, ge=1024)

    @model_validator(mode="after")
    def _mapping(self) -> ReviewExportConfig:
        if (self.preset is None) == (self.columns is None):
            raise ValueError("give either `preset: doudian` or a `columns` mapping (exactly one)")
        if not Path(self.folder).is_absolute():
            raise ValueError("folder must be an absolute path")
        return self

    @property
    def mapping(self) -> ExportColumns:
        return self.columns if self.columns is not None else PRESETS[str(self.preset)]


def _score(value: Any) -> int | str | None:
    """1-5, None when empty, or the problem."""
    if value in (None, ""):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1 <= value <= 5 else f"score {value} is not 1-5"
    m = _SCORE.match(str(value))
    return int(m.group(1)) if m else f"score {str(value)[:20]!r} is not 1-5"


def _time_problem(value: Any) -> str | None:
    if value in (None, ""):
        return None
    s = str(value).strip()
    try:
        datetime.fromisoformat(s)
        return None
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            datetime.strptime(s, fmt)
            return None
        except ValueError:
            continue
    return f"{s[:30]!r} is not a date and time"


def _fail(failures: list[dict[str, Any]]) -> None:
    """Files that cannot be read fail the poll with their names, once no readable file is new."""
    error = FetchError if any(f["unreadable"] for f in failures) else ParseError
    raise error("; ".join(f["message"] for f in failures))


@register
class ReviewExportAdapter(Adapter[ReviewExportConfig]):
    kind = "review_export"
    Config = ReviewExportConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "评价日期": "published (local time)",
        "订单ID": "id (with 商品ID, 商品规格); attrs.order_id",
        "商品ID": "id; sku",
        "商品名称": "product",
        "商品规格": "id; attrs.variant",
        "商品评价得分": "rating 1-5",
        "评价内容": "text",
        "追评内容": "追评: a new version of the review and an item '<id>:append'",
        "追评时间": "published of the 追评 item",
        "回复内容": "attrs.replied (the shop's own reply)",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {}
    NETWORK: ClassVar[bool] = False  # files in a folder, read through no network

    def __init__(self, config: ReviewExportConfig) -> None:
        super().__init__(config)
        self._cursor: Mapping[str, Any] = {}

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        self._cursor = cursor
        return Path(self.config.folder).as_uri() + "#scan"

    def _listing(self) -> list[Path]:
        folder = Path(self.config.folder)
        try:
            entries = [
                p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
            ]
        except FileNotFoundError:
            raise FetchError(f"the export folder {folder} does not exist") from None
        except PermissionError:
            raise FetchError(f"the export folder {folder} cannot be listed: permission denied") from None
        except NotADirectoryError:
            raise FetchError(f"{folder} is not a folder") from None
        return sorted((p for p in entries if p.is_file()), key=lambda p: (p.stat().st_mtime_ns, p.name))

    def read(self, path: Path, data: bytes | None = None) -> ExportRows:
        c = self.config
        return read_export(
            path, required=c.mapping.required(), encoding=c.encoding, delimiter=c.delimiter, sheet=c.sheet,
            header_row=c.header_row, max_rows=c.max_rows, max_bytes=c.max_body_bytes, data=data,
        )  # fmt: skip

    def row_problems(self, rows: ExportRows) -> list[str]:
        """``file:row: message`` for every row of a read file that a poll would skip (for uploads)."""
        problems = list(rows.problems)
        for number, row in rows.rows:
            self._row(rows.name, number, row, problems, {})
        return problems

    def fetch(
        self, fetcher: PageFetcher, request: HttpRequest, validators: Mapping[str, str] | None, now: datetime
    ) -> FetchedPage:
        base = urldefrag(request.url)[0]
        done: dict[str, Any] = dict(self._cursor.get("files") or {})
        read: list[tuple[str, ExportRows]] = []
        failures: list[dict[str, Any]] = []
        old: list[Path] = []
        for path in self._listing():
            try:
                data = path.read_bytes()
            except OSError as exc:
                failures.append(
                    {"message": f"{path.name}: cannot be read ({exc.strerror})", "unreadable": True}
                )
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest in done:
                old.append(path)
                continue
            try:
                read.append((digest, self.read(path, data)))
            except ExportError as exc:
                failures.append({"message": str(exc), "unreadable": isinstance(exc, ExportUnreadable)})
        if not read and failures:
            _fail(failures)
        anchor = not read and bool(old)
        if anchor:  # nothing new: the newest file read before shows the source still works
            try:
                read.append(("", self.read(old[-1])))
            except ExportError as exc:
                _fail([{"message": str(exc), "unreadable": isinstance(exc, ExportUnreadable)}])
        body = {
            "files": [
                {"sha": sha, "name": r.name, "rows": r.rows, "problems": r.problems} for sha, r in read
            ],
            "failures": failures,
        }
        text = json.dumps(body, ensure_ascii=False, default=str)
        names = ",".join(r.name for sha, r in read if sha)
        url = f"{base}#" + (urlencode({"files": names}) if names else "anchor" if anchor else "empty")
        return FetchedPage(url=url, status=200, headers={}, text=text, final_url=base, size=len(text))

    def parse(self, page: FetchedPage) -> ParsedPage:
        """The page as ``fetch`` assembled it; anything else is not a page of this kind."""
        try:
            return self._parse(page)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ParseError(f"not a page this source assembled ({type(exc).__name__}: {exc})") from None

    def _parse(self, page: FetchedPage) -> ParsedPage:
        body = json.loads(page.text)
        rows: dict[str, RawItem] = {}
        appends: dict[str, RawItem] = {}
        problems: list[str] = []
        missing: dict[str, int] = {}
        for f in body["files"]:
            problems.extend(f["problems"])
            for number, row in f["rows"]:
                got = self._row(f["name"], number, row, problems, missing)
                if got is None:
                    continue
                main, append = got
                rows[str(main.external_id)] = main  # a later (newer) file's row replaces an earlier one
                appends.pop(f"{main.external_id}:append", None)
                if append is not None:
                    appends[str(append.external_id)] = append
        # a file that cannot be read is named here, and fails the poll once no readable file is new
        problems = [f["message"] for f in body["failures"]] + problems
        for p in problems:
            log.warning("source %s: %s", self.config.name, p)
        done = {f["sha"]: f["name"] for f in body["files"] if f["sha"]}
        reason = "; ".join(problems[:20]) + (f" (+{len(problems) - 20} more)" if len(problems) > 20 else "")
        return ParsedPage(
            items=[*rows.values(), *appends.values()], next_url=None, missing_fields=missing,
            reason=reason, cursor={"_read": done},
        )  # fmt: skip

    def _row(
        self, name: str, number: int, row: Mapping[str, Any], problems: list[str], missing: dict[str, int]
    ) -> tuple[RawItem, RawItem | None] | None:
        m = self.config.mapping
        parts = [str(row.get(c) if row.get(c) is not None else "").strip() for c in m.id]
        if not parts[0]:
            problems.append(f"{name}:{number}: {m.id[0]} is empty; the row is skipped")
            return None
        for c in m.id:
            value = row.get(c)
            if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 1e15:
                problems.append(
                    f"{name}:{number}: {c} is stored as a number, so digits past the 15th may be wrong; "
                    "export the column as text"
                )
        rating = _score(row.get(m.rating)) if m.rating else None
        if isinstance(rating, str):
            problems.append(f"{name}:{number}: {m.rating}: {rating}; the row is skipped")
            return None
        for col in (m.published, m.append_published):
            if col and (bad := _time_problem(row.get(col))):
                problems.append(f"{name}:{number}: {col}: {bad}; the row is skipped")
                return None
        text = str(row.get(m.text) or "").strip()
        append_text = str(row.get(m.append_text) or "").strip() if m.append_text else ""
        if not text and not append_text and rating is None:
            missing["text"] = missing.get("text", 0) + 1
            return None
        key = ":".join(parts)
        attrs: dict[str, Any] = {"file": name, "row": number}
        if m.order and row.get(m.order) not in (None, ""):
            attrs["order_id"] = str(row[m.order])
        if m.variant and row.get(m.variant):
            attrs["variant"] = str(row[m.variant])
        if m.reply:
            attrs["replied"] = bool(str(row.get(m.reply) or "").strip())
        sku = (str(row.get(m.sku) or "") if m.sku else "") or self.config.sku
        main = RawItem(
            text=text, external_id=key, author=str(row[m.author]) if m.author and row.get(m.author) else None,
            rating=rating, sku=sku,
            product=str(row.get(m.product)) if m.product and row.get(m.product) else self.config.product,
            published=row.get(m.published) if m.published else None, attrs=attrs,
        )  # fmt: skip
        if not append_text:
            keep_versions([main], self._cursor)
            return main, None
        main.version = "append:" + hashlib.sha256(append_text.encode("utf-8")).hexdigest()[:16]
        main.attrs["has_after_comment"] = True
        append = RawItem(
            text=append_text, external_id=f"{key}:append", sku=main.sku, product=main.product,
            published=row.get(m.append_published) if m.append_published else None,
            parent_external_id=key, attrs={"after_comment": True, "file": name, "row": number},
        )  # fmt: skip
        return main, append

    def next_cursor(
        self, cursor: Mapping[str, Any], items: list[RawItem], pages: list[ParsedPage]
    ) -> dict[str, Any]:
        out = {k: v for k, v in cursor.items() if not k.startswith("_")}
        files = dict(out.get("files") or {})
        for p in pages:
            files.update(p.cursor.get("_read") or {})
        out["files"] = dict(list(files.items())[-5000:])
        remember_versions(out, items, 50_000)
        return out
