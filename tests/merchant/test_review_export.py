"""Back-office exports as a source, through the real pipeline and store: overlapping exports, 追评 as
revisions, rows that cannot be read (``file:row``), files that cannot be read at all, hostile files,
and a folder the daemon may only read. Nothing stored is ever lost, duplicated or taken back."""

from __future__ import annotations

import os
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.cli.sources import try_source
from monitor.pipeline import run_source
from monitor.store import models as m
from tests.conftest import NOW
from tests.merchant.conftest import MakeCtx
from tests.merchant.exportfiles import HEADER, SAMPLE, csv_bytes, row, write_xlsx

SOURCE = """sources:
  - name: dd
    kind: review_export
    platform: douyin
    folder: "{folder}"
    preset: doudian
"""


def drop(folder: Path, name: str, data: bytes, age_minutes: int = 0) -> Path:
    path = folder / name
    path.write_bytes(data)
    t = (NOW - timedelta(minutes=age_minutes)).timestamp()
    os.utime(path, (t, t))
    return path


def items_of(ctx: object) -> dict[str, m.Item]:
    with ctx.store.session() as s:  # type: ignore[attr-defined]
        return {it.external_id: it for it in s.scalars(select(m.Item))}


def revisions(ctx: object) -> list[m.ItemRevision]:
    with ctx.store.session() as s:  # type: ignore[attr-defined]
        return list(s.scalars(select(m.ItemRevision)))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    f = tmp_path / "exports"
    f.mkdir()
    return f


def key(n: int, variant: str = "雾霾蓝") -> str:
    return f"69{n:017d}:3600000000001:{variant}"


def test_overlapping_exports_store_each_review_once_and_a_later_append_is_a_revision(
    folder: Path, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(SOURCE.format(folder=folder))
    src = ctx.config.sources["dd"]
    drop(folder, "11月21日.csv", csv_bytes([row(1), row(2), row(7)]), age_minutes=60)
    first = run_source(ctx, src, NOW)
    assert (first.verdict, first.new) == ("ok", 3)
    later = [row(2), row(7, 追评内容="一周后杯口漏水了。", 追评时间="2026-11-23 08:00:00"), row(8)]
    drop(folder, "11月23日.csv", csv_bytes(later), age_minutes=5)
    second = run_source(ctx, src, NOW + timedelta(minutes=10))
    assert (second.new, second.updated) == (2, 1)  # row 8 and the 追评 item; row 7 gains a version
    items = items_of(ctx)
    assert len(items) == 5 and items[f"{key(7)}:append"].parent_external_id == key(7)
    assert [r.text for r in revisions(ctx)] == [row(7)["评价内容"]]
    # an old export dropped again, under another name and without the 追评, changes nothing
    drop(folder, "备份_11月21日.csv", csv_bytes([row(1), row(2), row(7)]) + b"\r\n", age_minutes=1)
    third = run_source(ctx, src, NOW + timedelta(minutes=20))
    assert (third.verdict, third.new, third.updated) == ("ok", 0, 0)
    assert len(items_of(ctx)) == 5 and len(revisions(ctx)) == 1
    # nothing new at all: the newest file read before answers, "ok" rather than "empty"
    quiet = run_source(ctx, src, NOW + timedelta(minutes=30))
    assert (quiet.verdict, quiet.new, quiet.updated) == ("ok", 0, 0)


def test_rows_that_cannot_be_read_are_named_by_file_and_row_and_the_rest_is_stored(
    folder: Path, make_ctx: MakeCtx
) -> None:
    bad = [row(1), row(2, 商品评价得分="好评"), row(3, 评价日期="上周三"), row(4, 订单ID=""), row(5)]
    drop(folder, "抖店.csv", csv_bytes(bad, "gbk"))
    ctx = make_ctx(SOURCE.format(folder=folder))
    result = run_source(ctx, ctx.config.sources["dd"], NOW)
    assert result.verdict == "ok" and result.new == 2
    reason = result.pages[0].reason
    assert "抖店.csv:3: 商品评价得分: score '好评' is not 1-5" in reason
    assert "抖店.csv:4: 评价日期: '上周三' is not a date and time" in reason
    assert "抖店.csv:5: 订单ID is empty" in reason
    assert set(items_of(ctx)) == {key(1), key(5)}


def test_an_unknown_header_fails_with_its_location_and_touches_nothing_stored(
    folder: Path, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(SOURCE.format(folder=folder))
    src = ctx.config.sources["dd"]
    drop(folder, "good.csv", csv_bytes(SAMPLE), age_minutes=30)
    assert run_source(ctx, src, NOW).new == 4
    before = {k: (it.text, it.payload_hash) for k, it in items_of(ctx).items()}
    drop(folder, "qianniu.csv", csv_bytes([{"评价": "好"}], header=["评价", "时间"]), age_minutes=1)
    drop(folder, "newer_good.csv", csv_bytes([row(9)]))
    result = run_source(ctx, src, NOW + timedelta(minutes=5))  # the readable file first, the bad one named
    assert (
        result.verdict == "ok"
        and result.new == 1
        and "qianniu.csv:1: unknown header" in result.pages[0].reason
    )
    result = run_source(ctx, src, NOW + timedelta(minutes=6))  # then the poll fails until the file is fixed
    assert result.verdict == "broken"
    assert "qianniu.csv:1: unknown header: no row holds the mapped column(s) 订单ID, 商品ID" in result.reason
    assert "columns found: 评价, 时间" in result.reason
    after = items_of(ctx)
    assert {k: (it.text, it.payload_hash) for k, it in after.items() if k in before} == before
    assert key(9) in after  # the readable file was still read


def test_xlsx_with_merged_cells_a_title_row_and_numeric_ids(folder: Path, make_ctx: MakeCtx) -> None:
    rows = [row(1), row(1, 商品规格="樱花粉", 评价内容="粉色也好看。"), row(2, 订单ID=6900000000000000123)]
    write_xlsx(folder / "导出.xlsx", rows)
    ctx = make_ctx(SOURCE.format(folder=folder))
    result = run_source(ctx, ctx.config.sources["dd"], NOW)
    assert result.verdict == "ok" and result.new == 3
    items = items_of(ctx)
    assert items[key(1, "樱花粉")].published_at == items[key(1)].published_at  # the merged date
    assert "digits past the 15th may be wrong" in result.pages[0].reason


def test_hostile_and_broken_files_get_a_clear_error(folder: Path, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(SOURCE.format(folder=folder) + "    max_body_bytes: 1000000\n")
    src = ctx.config.sources["dd"]
    with zipfile.ZipFile(folder / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"0" * (60 * 1024 * 1024))
    result = run_source(ctx, src, NOW)
    assert result.verdict == "broken" and "bomb.xlsx: refused, it unpacks to" in result.reason
    (folder / "bomb.xlsx").unlink()
    drop(folder, "nul.csv", csv_bytes([row(1)]).replace("抖店第1条".encode(), b"\x00\x00"))
    result = run_source(ctx, src, NOW)
    assert result.verdict == "ok" and "\x00" not in items_of(ctx)[key(1)].text  # stored on PostgreSQL too
    (folder / "nul.csv").unlink()
    entities = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    write_xlsx(folder / "entities.xlsx", [row(1)])
    with zipfile.ZipFile(folder / "entities.xlsx") as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = entities + (
        sheet.split(b"?>", 1)[1] if sheet.startswith(b"<?xml") else sheet
    )
    with zipfile.ZipFile(folder / "entities.xlsx", "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    result = run_source(ctx, src, NOW)  # defusedxml refuses XML entity tricks inside the workbook
    assert result.verdict == "broken" and "entities.xlsx: not a readable XLSX workbook" in result.reason
    (folder / "entities.xlsx").unlink()
    drop(folder, "latin1.csv", ",".join(HEADER).encode("utf-8") + b"\n\xff\xfe\xfa,1\n")
    result = run_source(ctx, src, NOW)
    assert result.verdict == "broken" and "latin1.csv: neither UTF-8 nor GBK" in result.reason


def test_a_file_the_daemon_may_not_read_is_named_and_the_others_are_read(
    folder: Path, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(folder, "secret.csv", csv_bytes([row(1)]), age_minutes=2)
    drop(folder, "open.csv", csv_bytes([row(2)]))
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.csv":  # tests run as root, who may read anything: the OS error is staged
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    ctx = make_ctx(SOURCE.format(folder=folder))
    src = ctx.config.sources["dd"]
    result = run_source(ctx, src, NOW)  # the readable file is stored, the other one named
    assert (
        result.verdict == "ok" and "secret.csv: cannot be read (Permission denied)" in result.pages[0].reason
    )
    result = run_source(ctx, src, NOW + timedelta(minutes=1))
    assert result.verdict == "error" and "secret.csv: cannot be read (Permission denied)" in result.reason
    assert set(items_of(ctx)) == {key(2)}


def test_a_read_only_folder_is_only_read(folder: Path, make_ctx: MakeCtx) -> None:
    path = drop(folder, "ro.csv", csv_bytes(SAMPLE))
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
        ctx = make_ctx(SOURCE.format(folder=folder))
        assert run_source(ctx, ctx.config.sources["dd"], NOW).new == 4
        assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before
    finally:
        folder.chmod(0o755)


def test_try_source_shows_an_export(folder: Path, make_ctx: MakeCtx) -> None:
    drop(folder, "a.csv", csv_bytes(SAMPLE))
    ctx = make_ctx(SOURCE.format(folder=folder))
    out = CliRunner().invoke(try_source, ["-c", str(ctx.config.root / "monitor.yaml"), "dd"])
    assert out.exit_code == 0, out.output
    assert "4 items" in out.output and "verdict: ok" in out.output and "杯盖裂了" in out.output


def test_config_refuses_guessing_and_relative_folders(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from monitor.adapters.review_export import ReviewExportConfig

    with pytest.raises(ValidationError, match="exactly one"):
        ReviewExportConfig.model_validate({"name": "x", "kind": "review_export", "folder": "/srv/x"})
    with pytest.raises(ValidationError, match="absolute"):
        ReviewExportConfig.model_validate(
            {"name": "x", "kind": "review_export", "folder": "x", "preset": "doudian"}
        )
    with pytest.raises(ValidationError, match="text"):
        ReviewExportConfig.model_validate(
            {"name": "x", "kind": "review_export", "folder": "/srv/x", "columns": {"id": ["单号"]}}
        )
