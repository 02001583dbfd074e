"""``monitor analyze FILE``: run the analysis over an export of reviews (CSV or JSONL)."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

import click

from monitor.cli import config_option, load_or_exit

PROGRESS_FROM = 2000  # rows; shorter files finish before a progress bar would help


class InputError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _rating(value: Any, line: int) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        r = float(value)
    except (TypeError, ValueError):
        raise InputError(line, f"rating {value!r} is not a number") from None
    if r != int(r) or not 1 <= r <= 5:
        raise InputError(line, f"rating {value!r} is not a whole number from 1 to 5")
    return int(r)


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _record(row: dict[str, Any], line: int) -> dict[str, Any]:
    text = row.get("text")
    if not isinstance(text, str):
        raise InputError(line, "no 'text' field" if text is None else "'text' is not a string")
    return {
        "line": line,
        "text": text,
        "rating": _rating(row.get("rating"), line),
        "sku": _opt_str(row.get("sku")),
        "time": _opt_str(row.get("time")),
    }


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    """(line number, record or the problem with that line) for each input row. The format is
    JSONL when the name ends in .jsonl/.ndjson/.json or the file starts with '{', else CSV."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        head = fh.read(1)
        fh.seek(0)
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or head == "{":
            yield from _read_jsonl(fh)
        else:
            yield from _read_csv(fh, path)


def _read_jsonl(fh: TextIO) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    for n, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            yield n, InputError(n, f"not valid JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            yield n, InputError(n, "expected a JSON object per line")
            continue
        try:
            yield n, _record(obj, n)
        except InputError as exc:
            yield n, exc


def _read_csv(fh: TextIO, path: Path) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    reader = csv.DictReader(fh)
    if reader.fieldnames is None:
        return
    fields = [f.strip() for f in reader.fieldnames]
    if "text" not in fields:
        raise click.ClickException(f"{path}:1: no 'text' column (columns: {', '.join(fields) or 'none'})")
    reader.fieldnames = fields
    try:
        for row in reader:
            n = reader.line_num  # physical line where this record ends (quoted newlines count)
            if None in row:
                yield (
                    n,
                    InputError(
                        n, f"{len(fields) + len(row[None])} fields where the header has {len(fields)}"
                    ),
                )
                continue
            try:
                yield n, _record(row, n)
            except InputError as exc:
                yield n, exc
    except csv.Error as exc:
        raise click.ClickException(f"{path}:{reader.line_num}: unreadable CSV ({exc})") from exc


@click.command("analyze")
@config_option
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="write the JSONL here instead of stdout",
)
@click.option(
    "--sentiment-model", type=click.Path(path_type=Path, dir_okay=False), help="sentiment model file"
)
@click.option("--platform", help="platform the reviews come from, for rule scopes")
@click.option(
    "--hits/--no-hits", default=False, show_default=True, help="include every keyword hit and its decision"
)
def analyze_cmd(
    config_path: Path,
    file: Path,
    out_path: Path | None,
    sentiment_model: Path | None,
    platform: str | None,
    hits: bool,
) -> None:
    """Analyze a CSV or JSONL export of reviews (column/field `text`; optional `rating`, `sku`,
    `time`) and write one JSON object per input row: the rules that fired, sentiment, dimensions,
    grade. A summary goes to the terminal (stderr when the JSONL goes to stdout). Bad rows are
    reported as FILE:LINE on stderr and skipped; the exit status is then 1."""
    from monitor.analyze import MatchContext
    from monitor.cli.rules import build_analyzer

    config = load_or_exit(config_path)
    analyzer = build_analyzer(config, sentiment_model, required=True)
    rows = list(read_rows(file))
    summary = sys.stderr if out_path is None else sys.stdout
    errors = 0
    fired: Counter[str] = Counter()
    sentiments: Counter[str] = Counter()
    grades: Counter[str] = Counter()
    dims: Counter[str] = Counter()
    done = 0
    with ExitStack() as stack:
        out: TextIO = (
            stack.enter_context(out_path.open("w", encoding="utf-8")) if out_path is not None else sys.stdout
        )
        bar = stack.enter_context(
            click.progressbar(
                rows,
                label=f"analyzing {file.name}",
                file=sys.stderr,
                show_pos=True,
                hidden=len(rows) < PROGRESS_FROM,
            )
        )
        for n, rec in bar:
            if isinstance(rec, InputError):
                errors += 1
                click.echo(f"{file}:{n}: {rec}", err=True)
                continue
            ctx = MatchContext(platform=platform, sku=rec["sku"], rating=rec["rating"])
            a = analyzer.analyze(rec["text"], ctx)
            obj: dict[str, Any] = {
                **rec,
                "rules": a.rules,
                "suggested": a.suggested,  # 模型建议: the problem model's guess, never an alert
                "sentiment": a.sentiment,
                "sentiment_score": a.sentiment_score,
                "dimensions": a.dimensions,
                "grade": a.grade,
                "grade_reasons": a.grade_reasons,
                "severity": a.severity,
            }
            if hits:
                obj["hits"] = a.to_json()["hits"]
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
            done += 1
            fired.update(a.rules)
            sentiments[a.sentiment] += 1
            grades[str(a.grade) if a.grade is not None else "none"] += 1
            dims.update(a.dimensions)
    _summary(summary, file, done, errors, fired, sentiments, grades, dims, analyzer.ruleset.rules)
    if errors:
        sys.exit(1)


def _summary(
    fh: TextIO,
    file: Path,
    done: int,
    errors: int,
    fired: Counter[str],
    sentiments: Counter[str],
    grades: Counter[str],
    dims: Counter[str],
    rules: dict[str, Any],
) -> None:
    def pct(k: int) -> str:
        return f"{k / done:.1%}" if done else "-"

    lines = [
        f"{file}: {done} row(s) analyzed, {errors} bad row(s) skipped",
        "",
        f"{'rule':<24}{'items':>8}{'share':>9}",
    ]
    for rid in [*rules, *sorted(set(fired) - set(rules))]:
        lines.append(f"{rid:<24}{fired[rid]:>8}{pct(fired[rid]):>9}")
    lines.append("")
    lines.append(
        "sentiment:  "
        + ", ".join(f"{k} {sentiments[k]} ({pct(sentiments[k])})" for k in ("pos", "neu", "neg"))
    )
    order = ["1", "2", "3", "4", "5", "none"]
    lines.append("grade:      " + ", ".join(f"{k} {grades[k]}" for k in order if grades[k]))
    lines.append("dimensions: " + ", ".join(f"{k} {v}" for k, v in dims.most_common()))
    fh.write("\n".join(lines) + "\n")


__all__ = ["analyze_cmd", "read_rows"]
