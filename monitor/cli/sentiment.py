"""``monitor sentiment train``: fit a sentiment model on a store's own rated reviews."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_OUT = Path("data") / "sentiment-model.npz"


@click.group("sentiment")
def sentiment() -> None:
    """Train a sentiment model on your own reviews (the shipped model is used otherwise)."""


@sentiment.command("train")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_OUT,
    show_default=True,
    help="where to write the model (.npz)",
)
def train_cmd(file: Path, out: Path) -> None:
    """Train on FILE: CSV (with a header) or JSONL with a `text` column and either `rating`
    (1-2 negative, 4-5 positive; 3 and empty skipped) or `label` (1 positive, 0 negative)."""
    from monitor.analyze.sentiment import TrainingDataError, train_from_file

    if out.suffix != ".npz":
        raise click.BadParameter("the model file name must end in .npz", param_hint="--out")
    try:
        model, report = train_from_file(file)
    except TrainingDataError as exc:
        raise click.ClickException(str(exc)) from exc
    except RuntimeError as exc:  # scikit-learn missing
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"read {report.rows_read} rows from {file}; skipped {report.skipped} (rating 3, no label or empty)"
    )
    click.echo(f"rows used: {report.positive} positive, {report.negative} negative")
    if report.holdout_accuracy is not None:
        click.echo(
            f"holdout accuracy: {report.holdout_accuracy:.3f} on {report.holdout_rows} held-out rows "
            f"(C={report.c:g}); the saved model is refit on all rows"
        )
    else:
        click.echo("holdout accuracy: not measured (too few rows)")
    try:
        model.save(out)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc}") from exc
    click.echo(f"wrote {out}")
    click.echo(f"to use it, set in monitor.yaml:\n  analysis:\n    sentiment_model: {out}")
