"""Back-office review exports in the shapes stores download: 抖店's 评价 export as UTF-8 CSV with a BOM
(what the back office gives), as GBK CSV (what Excel on a Chinese Windows saves), and as XLSX with
an order's id merged across its product lines. The committed files under
``tests/sources/fixtures/merchant/exports`` were written by ``python -m tests.merchant.exportfiles``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from openpyxl import Workbook

HEADER = [
    "评价日期",
    "订单ID",
    "商品ID",
    "商品名称",
    "商品规格",
    "商品评价得分",
    "评价内容",
    "追评内容",
    "追评时间",
    "回复内容",
]


def row(n: int, **over: Any) -> dict[str, Any]:
    base = {
        "评价日期": f"2026-11-2{n % 3} 1{n % 10}:0{n % 6}:00", "订单ID": f"69{n:017d}", "商品ID": "3600000000001",
        "商品名称": "真空保温杯 500ml", "商品规格": "雾霾蓝", "商品评价得分": 5, "评价内容": f"抖店第{n}条：保温效果很好，包装也不错。",
        "追评内容": "", "追评时间": "", "回复内容": "",
    }  # fmt: skip
    return {**base, **over}


SAMPLE = [
    row(1),
    row(2, 商品评价得分=1, 评价内容="杯盖裂了，漏水。", 回复内容="亲，已为您补发。"),
    row(3, 商品规格="樱花粉", 追评内容="用了两周，杯口开始漏水。", 追评时间="2026-11-23 09:30:00"),
]


def csv_bytes(rows: list[dict[str, Any]], encoding: str = "utf-8-sig", header: list[str] = HEADER) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    return buf.getvalue().encode(encoding)


def write_xlsx(path: Path, rows: list[dict[str, Any]], merge_orders: bool = True) -> Path:
    """One sheet; a title row above the header (as back offices add), an order's 订单ID and 评价日期
    merged over consecutive rows of the same order."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "评价列表"
    ws.append(["抖店评价导出 2026-11-23"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws.append(HEADER)
    first = 3
    for i, r in enumerate(rows):
        ws.append([r.get(h) for h in HEADER])
        last = i == len(rows) - 1 or rows[i + 1]["订单ID"] != r["订单ID"]
        if last:
            at = first + i
            start = at - sum(1 for x in rows[: i + 1] if x["订单ID"] == r["订单ID"]) + 1
            if merge_orders and at > start:
                for col in (1, 2):
                    ws.merge_cells(start_row=start, start_column=col, end_row=at, end_column=col)
    wb.save(path)
    return path


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "sources" / "fixtures" / "merchant" / "exports"
    (out / "doudian").mkdir(parents=True, exist_ok=True)
    (out / "doudian" / "评价导出_utf8bom.csv").write_bytes(csv_bytes(SAMPLE))
    (out / "doudian" / "评价导出_gbk.csv").write_bytes(csv_bytes([row(4), row(5)], "gbk"))
    two_lines = [row(6, 商品规格="雾霾蓝"), row(6, 商品规格="樱花粉", 评价内容="第二个颜色也好看。")]
    write_xlsx(out / "doudian" / "评价导出_合并单元格.xlsx", two_lines)
    (out / "unknown_header").mkdir(parents=True, exist_ok=True)
    other = ["时间", "订单号", "内容", "星级"]
    (out / "unknown_header" / "千牛导出.csv").write_bytes(
        csv_bytes([{"时间": "2026-11-22 10:00:00", "订单号": "1", "内容": "不错", "星级": 5}], header=other)
    )
    (out / "broken").mkdir(parents=True, exist_ok=True)
    (out / "broken" / "not_really.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")


if __name__ == "__main__":
    main()
