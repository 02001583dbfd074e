"""``monitor rules test`` and ``monitor rules replay``: what admins use before and after editing rules."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from monitor.cli import config_option, load_or_exit


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
    """Try the keyword rules on a text, or replay edited rules over stored items."""


_MARK = {True: "✘", False: "✔"}


@rules_group.command("test")
@config_option
@click.argument("text")
@click.option("--rating", type=click.IntRange(1, 5), help="star rating of the review")
@click.option("--platform", help="platform (jd, tmall, pdd, douyin, weibo, xhs …) for rule scopes")
@click.option("--source", help="source name for rule scopes")
@click.option("--sku", help="SKU for rule scopes")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option(
    "--sentiment-model", type=click.Path(path_type=Path, dir_okay=False), help="sentiment model file"
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
) -> None:
    """Show how TEXT is normalized and tokenized, every keyword hit with its negation decision and
    why, and the sentiment, dimensions and grade the daemon would give it."""
    from monitor.analyze import MatchContext

    config = load_or_exit(config_path)
    analyzer = build_analyzer(config, sentiment_model, required=False)
    ctx = MatchContext(source=source, platform=platform, sku=sku, rating=rating)
    a = analyzer.analyze(text, ctx, explain=True)
    tokens = analyzer.ruleset.tokenize(a.normalized)
    if as_json:
        out = {"text": text, "tokens": tokens, **a.to_json()}
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    click.echo(f"text:        {text}")
    click.echo(f"normalized:  {a.normalized}")
    click.echo(f"tokens:      {' / '.join(tokens)}")
    if not a.hits:
        click.echo("hits:        none")
    else:
        click.echo("hits:")
        for h in a.hits:
            click.echo(
                f"  {_MARK[h.negated]} {h.rule_id:<22} {h.keyword!r} [{h.start}:{h.end}] "
                f"{h.decision}: {h.reason}"
            )
    fired = ", ".join(a.rules) or "none"
    sev = f"   severity: {a.severity}" if a.severity else ""
    prio = f" (priority words: {', '.join(a.priority_words)})" if a.priority_words else ""
    click.echo(f"rules fired: {fired}{sev}{prio}")
    click.echo(f"sentiment:   {a.sentiment} (P(positive) = {a.sentiment_score:.2f})")
    click.echo(f"dimensions:  {', '.join(a.dimensions)}")
    click.echo(f"grade:       {a.grade if a.grade is not None else 'none (not a mid/poor item)'}")
    for r in a.grade_reasons:
        click.echo(f"  - {r}")


@rules_group.command("replay")
@config_option
@click.option("--since", default="7d", show_default=True, help="how far back to replay (30m, 12h, 7d …)")
@click.option(
    "--examples", default=3, show_default=True, type=click.IntRange(0, 50), help="examples per change"
)
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON")
def replay_cmd(config_path: Path, since: str, examples: int, as_json: bool) -> None:
    """Run the rules now in the files over stored items and show, per rule, how the hit counts
    would change (before → after) with examples. Nothing is written."""
    from monitor.admin.rules import replay
    from monitor.analyze import RuleSet
    from monitor.clock import utcnow
    from monitor.config.settings import parse_duration
    from monitor.store import Store, StoreError

    try:
        window: timedelta = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    config = load_or_exit(config_path)
    ruleset = RuleSet(config.rules, config.priority_words)
    try:
        store = Store.open(config.database_url, migrate=False)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        result = replay(store, ruleset, window, utcnow(), examples=examples, limit=None)
    except Exception as exc:  # a database that cannot be read is the admin's problem to see
        raise click.ClickException(f"cannot read stored items from {config.database_url}: {exc}") from exc
    finally:
        store.close()
    items = result.items
    rows: list[dict[str, Any]] = [
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
    if as_json:
        click.echo(json.dumps({"since": since, "items": items, "rules": rows}, ensure_ascii=False))
        return
    click.echo(f"replayed {items} stored item(s) fetched in the last {since} (nothing was changed)")
    width = max([len(r["rule"]) for r in rows] + [4])
    click.echo(f"{'rule':<{width}}  before → after   +new  -gone")
    for r in rows:
        delta = r["after"] - r["before"]
        mark = "" if delta == 0 else f"  ({delta:+d})"
        gone = " (rule removed)" if r["removed"] else ""
        click.echo(
            f"{r['rule']:<{width}}  {r['before']:>6} → {r['after']:<6} {r['newly_firing']:>4}  "
            f"{r['no_longer_firing']:>4}{mark}{gone}"
        )
    for r in rows:
        for label, key in (
            ("newly firing", "examples_newly_firing"),
            ("no longer firing", "examples_no_longer_firing"),
        ):
            for ex in r[key]:
                click.echo(
                    f"  {r['rule']} {label}: #{ex['item_id']} [{ex['source']}] {ex['text']}  ({ex['why']})"
                )


__all__ = ["build_analyzer", "rules_group"]
