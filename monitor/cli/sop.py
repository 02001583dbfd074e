"""``monitor sop``: lint replies and SOP files; draft replies for a stored item."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli import config_option, load_or_exit

# DOMAIN.md: frontline staff may grant up to 50 元 (payout) / 30 元 (coupon) without approval.
DEFAULT_CEILING = 50.0
DEFAULT_COUPON_CEILING = 30.0


@click.group("sop")
def sop_group() -> None:
    """Crisis SOPs: wording lint and reply drafts."""


def _lint_sop_file(path: Path) -> list[str]:
    from monitor.config.sops import SopFile
    from monitor.config.validate import validate
    from monitor.config.yamlload import ConfigInvalid, load_yaml_file

    try:
        loaded = load_yaml_file(path)
    except ConfigInvalid as exc:
        return [str(e) for e in exc.errors]
    _, errors = validate(SopFile, loaded.data or {}, loaded)
    return [str(e) for e in errors]


def _lint_text_file(path: Path, ceiling: float, coupon: float) -> list[str]:
    from monitor.config.compliance import lint

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path}:1: cannot read: {exc}"]
    return [
        f"{path}:{n}: {finding}"
        for n, line in enumerate(lines, 1)
        if line.strip()
        for finding in lint(line, ceiling, coupon)
    ]


@sop_group.command("lint")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--text", "texts", multiple=True, help="a reply to check (repeatable)")
@click.option("--ceiling", default=DEFAULT_CEILING, show_default=True, help="payout ceiling, 元")
@click.option(
    "--coupon-ceiling", default=DEFAULT_COUPON_CEILING, show_default=True, help="coupon ceiling, 元"
)
def lint_cmd(files: tuple[Path, ...], texts: tuple[str, ...], ceiling: float, coupon_ceiling: float) -> None:
    """Check replies for forbidden promises, negating the customer, cold phrases and compensation above
    the ceiling. FILE is an SOP file (rules/sops/*.yaml, checked with its own ceiling) or a text file
    with one reply per line. Exits 1 when anything is found."""
    from monitor.config.compliance import lint

    if not files and not texts:
        raise click.UsageError("give FILE(s) or --text")
    problems: list[str] = []
    for p in files:
        if p.suffix in (".yaml", ".yml"):
            problems += _lint_sop_file(p)
        else:
            problems += _lint_text_file(p, ceiling, coupon_ceiling)
    for i, t in enumerate(texts, 1):
        problems += [f"--text {i}: {f}" for f in lint(t, ceiling, coupon_ceiling)]
    for line in problems:
        click.echo(line)
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(files)} file(s), {len(texts)} text(s)")


@sop_group.command("draft")
@config_option
@click.argument("item_id", type=int)
@click.option("--sop", "sop_id", help="use this SOP instead of the one of the item's rules")
def draft_cmd(config_path: Path, item_id: int, sop_id: str | None) -> None:
    """Reply drafts for a stored item, filled with its details and a two-option offer (二选一).
    Drafts are printed for a person to edit and send; nothing is posted."""
    from monitor.sop.drafts import DraftError, drafts_for_item
    from monitor.store import Store, StoreError

    config = load_or_exit(config_path)
    try:
        store = Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        with store.session() as s:
            drafts = drafts_for_item(s, config, item_id, sop_id)
    except DraftError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    for d in drafts:
        click.echo(f"## {d.sop} · {d.name}")
        click.echo(d.text)
        if d.missing:
            click.echo(f"  (fill in before sending: {', '.join(d.missing)})")
        for f in d.findings:
            click.echo(f"  lint: {f}")
        click.echo("")
    if drafts:
        click.echo("二选一 offer: " + " / ".join(drafts[0].offer))
