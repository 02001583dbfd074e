"""Reading a back-office review export (CSV or XLSX) into rows, with ``file:row`` problems.

CSV: UTF-8 with or without a BOM, or GBK/GB18030 (what Excel on a Chinese Windows saves); the
encoding is detected unless given. XLSX (openpyxl): the first sheet unless one is named; a value in
merged cells (an order id spanning its product lines) is given to every cell of the range. Limits
against hostile files: the file size, the XLSX's unpacked size (zip bombs), the number of rows.
openpyxl parses the XML with defusedxml (a dependency) so entity tricks are refused.

The header row is the first of the first 20 rows holding every required column; a missing column is
a file-level error naming it and the columns found — columns are never guessed.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

Encoding = Literal["auto", "utf-8", "gbk"]
HEADER_SEARCH = 20
UNPACK_FACTOR = 20  # an XLSX may unpack to this many times max_bytes, no more


class ExportError(Exception):
    """The file as a whole cannot be read (wrong format, missing column, too big): ``file:line: …``."""


class ExportUnreadable(ExportError):
    """The file exists but the daemon may not read it (permissions) or it vanished."""


@dataclass
class ExportRows:
    name: str
    header: list[str]
    header_row: int
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (row number, column -> value)
    problems: list[str] = field(default_factory=list)  # "file:row: message"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):  # NUL bytes (a broken export) cannot be stored in PostgreSQL text
        return value.replace("\x00", "").strip().strip("\ufeff")
    return value


def _label(value: Any) -> str:
    return "" if value is None else str(_cell(value)).replace("\u3000", " ").strip()


def decode_csv(data: bytes, name: str, encoding: Encoding) -> str:
    if encoding == "utf-8" or (encoding == "auto" and data.startswith(b"\xef\xbb\xbf")):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ExportError(f"{name}: not valid UTF-8 (byte {exc.start}); set encoding: gbk?") from None
    if encoding == "auto":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{name}: neither UTF-8 nor GBK (byte {exc.start} cannot be decoded)") from None


def _csv_rows(data: bytes, name: str, encoding: Encoding, delimiter: str) -> list[list[Any]]:
    text = decode_csv(data, name, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[Any]] = []
    try:
        rows.extend(reader)
    except csv.Error as exc:
        raise ExportError(f"{name}:{reader.line_num}: not a readable CSV line ({exc})") from None
    return rows


def _xlsx_rows(data: bytes, name: str, sheet: str | None, max_bytes: int) -> list[list[Any]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    buf = io.BytesIO(data)
    if not zipfile.is_zipfile(buf):
        raise ExportError(f"{name}: not an XLSX workbook (not a zip archive); save it again as .xlsx")
    with zipfile.ZipFile(buf) as z:
        unpacked = sum(i.file_size for i in z.infolist())
    if unpacked > UNPACK_FACTOR * max_bytes:
        raise ExportError(
            f"{name}: refused, it unpacks to {unpacked:,} bytes (limit {UNPACK_FACTOR * max_bytes:,})"
        )
    try:
        wb = load_workbook(io.BytesIO(data), read_only=False, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise ExportError(f"{name}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise ExportError(f"{name}: no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)}")
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        merged: dict[tuple[int, int], Any] = {}
        for rng in ws.merged_cells.ranges:
            top_left = ws.cell(rng.min_row, rng.min_col).value
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    merged[(r, c)] = top_left
        rows: list[list[Any]] = []
        for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
            rows.append([merged.get((r, c), v) for c, v in enumerate(values, start=1)])
        return rows
    finally:
        wb.close()


def _find_header(
    rows: Sequence[Sequence[Any]], name: str, required: Sequence[str], header_row: int | None
) -> int:
    if header_row is not None:
        if header_row > len(rows):
            raise ExportError(f"{name}:{header_row}: the file has only {len(rows)} rows")
        labels = {_label(v) for v in rows[header_row - 1]}
        missing = [c for c in required if c not in labels]
        if missing:
            raise ExportError(
                f"{name}:{header_row}: no column {', '.join(missing)}; the header has: "
                f"{', '.join(sorted(x for x in labels if x))[:300]}"
            )
        return header_row
    for i, row in enumerate(rows[:HEADER_SEARCH], start=1):
        labels = {_label(v) for v in row}
        if all(c in labels for c in required):
            return i
    first = next((r for r in rows if any(_label(v) for v in r)), [])
    found = [x for x in (_label(v) for v in first) if x]
    missing = [c for c in required if c not in found]
    raise ExportError(
        f"{name}:1: unknown header: no row holds the mapped column(s) {', '.join(missing)}; "
        f"columns found: {', '.join(found)[:300] or 'none'} (map them in `columns`; never guessed)"
    )


def read_export(
    path: Path,
    *,
    required: Sequence[str],
    encoding: Encoding = "auto",
    delimiter: str = ",",
    sheet: str | None = None,
    header_row: int | None = None,
    max_rows: int = 200_000,
    max_bytes: int = 50_000_000,
    data: bytes | None = None,
) -> ExportRows:
    """The rows of one export file; ``data`` is the file's content when it is already in memory."""
    name = path.name
    if data is None:
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise ExportError(
                    f"{name}: {size:,} bytes is over the limit of {max_bytes:,} (max_body_bytes)"
                )
            data = path.read_bytes()
        except PermissionError:
            raise ExportUnreadable(
                f"{name}: cannot be read: permission denied for the daemon's user"
            ) from None
        except FileNotFoundError:
            raise ExportUnreadable(f"{name}: vanished while being read") from None
        except IsADirectoryError:
            raise ExportUnreadable(f"{name}: is a folder, not a file") from None
    if len(data) > max_bytes:
        raise ExportError(f"{name}: {len(data):,} bytes is over the limit of {max_bytes:,} (max_body_bytes)")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(data, name, sheet, max_bytes)
    elif suffix in (".csv", ".txt"):
        rows = _csv_rows(data, name, encoding, delimiter)
    else:
        raise ExportError(f"{name}: not a CSV or XLSX file (a .xls workbook must be saved again as .xlsx)")
    h = _find_header(rows, name, required, header_row)
    header = [_label(v) for v in rows[h - 1]]
    out = ExportRows(name, header, h)
    for n, row in _data_rows(rows, h):
        if len(out.rows) >= max_rows:
            out.problems.append(f"{name}:{n}: stopped after {max_rows:,} rows (max_rows); split the export")
            break
        if len(row) > len(header) and any(_label(v) for v in row[len(header) :]):
            out.problems.append(f"{name}:{n}: more cells than header columns; the extra ones are ignored")
        out.rows.append((n, {col: _cell(v) for col, v in zip(header, row, strict=False) if col}))
    return out


def _data_rows(rows: Sequence[Sequence[Any]], header_row: int) -> Iterable[tuple[int, Sequence[Any]]]:
    for n, row in enumerate(rows[header_row:], start=header_row + 1):
        if any(_label(v) for v in row):
            yield n, row
