"""``monitor rules test``, ``replay`` and ``uncovered``: what admins use before and after editing
rules. The logic lives in ``monitor.analyze.explain`` and ``monitor.reports.uncovered``."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from monitor.cli import config_option, load_or_exit
from monitor.redaction import redact


class NeutralModel:
    """Stands in when no sentiment model can be loaded, so rules can still be tested."""

    def prob_positive(self, text: str) -> float:
        return 0.5


def build_analyzer(config: Any, model_path: Path | None, *, required: bool) -> Any:
    """An Analyzer over the config's rules; the sentiment model from ``model_path``, else the
    config's, else the shipped one. Without one: an error if ``required``, else a warning."""
    from monitor.analyze import Analyzer, RuleSet

    try:
        return Analyzer.from_config(config, model_path=model_path)
    except (OSError, ValueError) as exc:
        if required:
            raise click.ClickException(
                f"cannot load the sentiment model: {exc}. Pass --sentiment-model PATH or set "
                "analysis.sentiment_model in monitor.yaml"
            ) from exc
        click.echo(f"warning: no sentiment model ({exc}); sentiment shown as neutral", err=True)
        ruleset = RuleSet(config.rules, config.priority_words)
        return Analyzer(ruleset, model=NeutralModel())  # type: ignore[arg-type]


@click.group("rules")
def rules_group() -> None:
    """Try the keyword rules on a text, replay edited rules over stored items, or list the
    negative items no rule catches."""


_model_option = click.option(
    "--sentiment-model", type=click.Path(path_type=Path, dir_okay=False), help="sentiment model file"
)


@rules_group.command("test")
@config_option
@click.argument("text")
@click.option("--rating", type=click.IntRange(1, 5), help="star rating of the review")
@click.option("--platform", help="platform (jd, tmall, pdd, douyin, weibo, xhs …) for rule scopes")
@click.option("--source", help="source name for rule scopes")
@click.option("--sku", help="SKU for rule scopes")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@_model_option
@click.option(
    "--problem-model",
    type=click.Path(path_type=Path, dir_okay=False),
    help="模型建议 model file (from `monitor rules train-suggest`; default: the shipped one)",
)
def test_cmd(
    config_path: Path,
    text: str,
    rating: int | None,
    platform: str | None,
    source: str | None,
    sku: str | None,
    as_json: bool,
    sentiment_model: Path | None,
    problem_model: Path | None,
) -> None:
    """Show how TEXT is normalized and tokenized, every hit with its decision (complaint, or why
    it is only a mention) and the reasons, and the sentiment, dimensions and grade the daemon
    would give it."""
    from monitor.analyze import MatchContext
    from monitor.analyze.explain import explain, explain_lines

    config = load_or_exit(config_path)
    analyzer = build_analyzer(config, sentiment_model, required=False)
    if problem_model is not None:
        from monitor.analyze.problems import ProblemModel

        try:
            analyzer.problems = ProblemModel.load(problem_model)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    ctx = MatchContext(source=source, platform=platform, sku=sku, rating=rating)
    report = explain(analyzer, text, ctx)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    for line in explain_lines(report):
        click.echo(line)


def _window(since: str) -> timedelta:
    from monitor.config.settings import parse_duration

    try:
        return parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def _open_store(config: Any) -> Any:
    from monitor.store import Store, StoreError

    try:
        return Store.open(config.database_url, migrate=False)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@rules_group.command("replay")
@config_option
@click.option("--since", default="7d", show_default=True, help="how far back to replay (30m, 12h, 7d …)")
@click.option(
    "--examples", default=3, show_default=True, type=click.IntRange(0, 50), help="examples per change"
)
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON")
@_model_option
def replay_cmd(
    config_path: Path, since: str, examples: int, as_json: bool, sentiment_model: Path | None
) -> None:
    """Run the rules now in the files over stored items and show, per rule, how the alerting
    counts would change (before → after) with examples and why. Nothing is written."""
    from monitor.admin.rules import replay
    from monitor.clock import utcnow

    window = _window(since)
    config = load_or_exit(config_path)
    analyzer = build_analyzer(config, sentiment_model, required=False)
    store = _open_store(config)
    try:
        result = replay(store, analyzer, window, utcnow(), examples=examples, limit=None)
    except Exception as exc:  # a database that cannot be read is the admin's problem to see
        where = redact(config.database_url)
        raise click.ClickException(f"cannot read stored items from {where}: {exc}") from exc
    finally:
        store.close()
    if as_json:
        rules = [
            {
                "rule": r.rule,
                "before": r.before,
                "after": r.after,
                "newly_firing": r.gained,
                "no_longer_firing": r.lost,
                "examples_newly_firing": [asdict(e) for e in r.examples_gained],
                "examples_no_longer_firing": [asdict(e) for e in r.examples_lost],
                "removed": r.removed,
            }
            for r in result.rows
        ]
        click.echo(json.dumps({"since": since, "items": result.items, "rules": rules}, ensure_ascii=False))
        return
    click.echo(f"replayed {result.items} stored item(s) fetched in the last {since} (nothing was changed)")
    width = max([len(r.rule) for r in result.rows] + [4])
    click.echo(f"{'rule':<{width}}  before → after   +new  -gone")
    for r in result.rows:
        delta = r.after - r.before
        mark = "" if delta == 0 else f"  ({delta:+d})"
        gone = " (rule removed)" if r.removed else ""
        click.echo(f"{r.rule:<{width}}  {r.before:>6} → {r.after:<6} {r.gained:>4}  {r.lost:>4}{mark}{gone}")
    for r in result.rows:
        for label, exs in (("newly firing", r.examples_gained), ("no longer firing", r.examples_lost)):
            for ex in exs:
                click.echo(f"  {r.rule} {label}: #{ex.item_id} [{ex.source}] {ex.text}  ({ex.why})")


@rules_group.command("uncovered")
@config_option
@click.option("--since", default="7d", show_default=True, help="period of stored items (30m, 12h, 7d …)")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 100), help="groups to show")
@click.option(
    "--examples", default=3, show_default=True, type=click.IntRange(0, 20), help="examples per group"
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@_model_option
def uncovered_cmd(
    config_path: Path, since: str, top: int, examples: int, as_json: bool, sentiment_model: Path | None
) -> None:
    """Negative stored items (negative sentiment or 1-2 stars) on which no rule alerts, grouped
    by the phrases that set them apart, each with a rule snippet to start from."""
    from monitor.clock import utcnow
    from monitor.reports.uncovered import uncovered

    window = _window(since)
    config = load_or_exit(config_path)
    analyzer = build_analyzer(config, sentiment_model, required=False)
    store = _open_store(config)
    try:
        report = uncovered(store, analyzer, window, utcnow(), top=top, examples=examples)
    except Exception as exc:
        where = redact(config.database_url)
        raise click.ClickException(f"cannot read stored items from {where}: {exc}") from exc
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
        return
    click.echo(
        f"{report.items} item(s) fetched in the last {since}: {report.negative} negative, "
        f"{report.uncovered} of them caught by no rule"
    )
    if not report.groups:
        click.echo("no recurring phrase among them" if report.uncovered else "nothing to cover")
    for g in report.groups:
        also = f" (with {', '.join(g.terms)})" if g.terms else ""
        click.echo(f"\n「{g.phrase}」 {g.items} item(s){also}")
        for ex in g.examples:
            click.echo(f"  #{ex['item_id']} {ex['text']}")
        click.echo(g.snippet)


__all__ = ["build_analyzer", "rules_group"]


@rules_group.command("train-suggest")
@config_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("data") / "problem-model.npz",
    show_default=True,
    help="where to write the model (.npz)",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.05, 1.0),
    default=0.6,
    show_default=True,
    help="the lowest probability at which the model suggests a rule",
)
def train_suggest_cmd(config_path: Path, file: Path, out: Path, threshold: float) -> None:
    """Train the 模型建议 model on FILE: CSV (with a header) or JSONL with `text` (a negative review)
    and `rule` (the id of the rule it is about; empty, `none` or `其他` for none of them). The words
    the config's rules match are masked out, as for the shipped model. Try the result with
    `monitor rules test --problem-model FILE`."""
    from monitor.analyze import RuleSet
    from monitor.analyze.problems import TrainingDataError, train_from_file

    if out.suffix != ".npz":
        raise click.BadParameter(
            "模型文件名须以 .npz 结尾 / the model file name must end in .npz", param_hint="--out"
        )
    config = load_or_exit(config_path)
    try:
        model, report = train_from_file(
            file, RuleSet(config.rules, config.priority_words), threshold=threshold
        )
    except (TrainingDataError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"读取 {report.rows_read} 行 / read {report.rows_read} rows from {file}")
    click.echo("每类行数 / rows per class: " + ", ".join(f"{k} {v}" for k, v in report.per_class.items()))
    if report.holdout_rows:
        share = f"{report.holdout_right / report.holdout_named:.2f}" if report.holdout_named else "-"
        click.echo(
            f"留出检验 / holdout ({report.holdout_rows} rows): the model named a rule on "
            f"{report.holdout_named} rows labelled with one, the right one on {report.holdout_right} "
            f"({share}); the saved model is refit on all rows"
        )
    try:
        model.save(out)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc}") from exc
    click.echo(f"已写入 / wrote {out}")
    click.echo(f"to use it, set in monitor.yaml:\n  analysis:\n    problem_model: {out}")
