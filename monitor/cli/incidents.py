"""``monitor incidents``: the crisis checklist of open incidents, worked from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from monitor.cli import config_option, load_or_exit


def _open(config_path: Path) -> tuple[Any, Any]:
    from monitor.store import Store, StoreError

    config = load_or_exit(config_path)
    try:
        return config, Store.open(config.database_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group()
def incidents() -> None:
    """Incidents opened by alerts, with their SOP checklist and clocks."""


@incidents.command("list")
@config_option
@click.option("--all", "show_all", is_flag=True, help="include closed incidents")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
def list_(config_path: Path, show_all: bool, as_json: bool, limit: int) -> None:
    """Open incidents, newest first, with how many steps are finished or overdue."""
    from monitor.clock import utcnow
    from monitor.sop.incidents import FINISHED, listing

    config, store = _open(config_path)
    now = utcnow()
    try:
        rows = listing(store, include_closed=show_all, limit=limit)
    finally:
        store.close()
    if not rows and not as_json:
        click.echo("no open incidents")
    elif not as_json:
        click.echo(f"(times in {config.settings.tz.key})")
    for inc, steps in rows:
        done = sum(1 for x in steps if x.state in FINISHED)
        overdue = sum(
            1 for x in steps if x.state not in FINISHED and x.due_at is not None and x.due_at <= now
        )
        if as_json:
            data = {
                "id": inc.id,
                "alert_id": inc.alert_id,
                "sop": inc.sop,
                "state": inc.state,
                "title": inc.title,
                "opened_at": inc.opened_at.isoformat(),
                "closed_at": inc.closed_at.isoformat() if inc.closed_at else None,
                "steps": len(steps),
                "finished": done,
                "overdue": overdue,
            }
            click.echo(json.dumps(data, ensure_ascii=False))
            continue
        opened = inc.opened_at.astimezone(config.settings.tz)
        late = f"  {overdue} overdue" if overdue else ""
        click.echo(
            f"#{inc.id:<5} {inc.state:<7} {inc.sop:<22} {done}/{len(steps)} steps{late}  "
            f"{opened:%m-%d %H:%M}  {inc.title}"
        )


@incidents.command()
@config_option
@click.argument("incident_id", type=int)
def show(config_path: Path, incident_id: int) -> None:
    """The checklist with clocks (due, overdue, done by whom), and the notes."""
    from monitor.clock import utcnow
    from monitor.sop.incidents import IncidentError, checklist_text, with_notes

    config, store = _open(config_path)
    tz = config.settings.tz
    now = utcnow()
    try:
        inc, steps, notes = with_notes(store, incident_id)
    except IncidentError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    closed = f", closed {inc.closed_at.astimezone(tz):%m-%d %H:%M}" if inc.closed_at else ""
    click.echo(f"incident #{inc.id} [{inc.state}{closed}] {inc.title}")
    click.echo(f"SOP {inc.sop} · alert #{inc.alert_id} · opened {inc.opened_at.astimezone(tz):%m-%d %H:%M}")
    click.echo(checklist_text(config, steps, now))
    click.echo("keys: " + ", ".join(x.step_key for x in steps))
    for n in notes:
        click.echo(f"note {n.at.astimezone(tz):%m-%d %H:%M} {n.by}: {n.text}")


@incidents.command()
@config_option
@click.argument("incident_id", type=int)
@click.argument("step_key")
@click.option("--state", required=True, type=click.Choice(["todo", "doing", "done", "skipped"]))
@click.option("--reason", help="why (required with --state skipped: a waiver)")
@click.option("--by", required=True, help="who")
def step(config_path: Path, incident_id: int, step_key: str, state: str, reason: str | None, by: str) -> None:
    """Mark a step todo, doing, done, or skipped (with --reason)."""
    from monitor.clock import utcnow
    from monitor.sop.incidents import IncidentError, set_step

    _, store = _open(config_path)
    try:
        st = set_step(store, incident_id, step_key, state, by, utcnow(), reason)
    except IncidentError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    click.echo(
        f"#{incident_id} {st.step_key}: {st.state} by {st.by}" + (f" ({st.reason})" if st.reason else "")
    )


@incidents.command()
@config_option
@click.argument("incident_id", type=int)
@click.argument("text")
@click.option("--by", required=True)
def note(config_path: Path, incident_id: int, text: str, by: str) -> None:
    """Add a note to the incident's timeline."""
    from monitor.clock import utcnow
    from monitor.sop.incidents import IncidentError, add_note

    _, store = _open(config_path)
    try:
        add_note(store, incident_id, text, by, utcnow())
    except IncidentError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    click.echo(f"#{incident_id}: note added by {by}")


@incidents.command()
@config_option
@click.argument("incident_id", type=int)
@click.option("--by", required=True)
def close(config_path: Path, incident_id: int, by: str) -> None:
    """Close an incident whose required steps are done or skipped with a reason.
    A follow-up (回访) reminder goes out 24 h later."""
    from monitor.clock import utcnow
    from monitor.sop.incidents import IncidentError
    from monitor.sop.incidents import close as close_incident

    _, store = _open(config_path)
    try:
        inc = close_incident(store, incident_id, by, utcnow())
    except IncidentError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    click.echo(f"#{inc.id} closed by {by}: {inc.title}")


@incidents.command("open")
@config_option
@click.argument("alert_id", type=int)
@click.option("--sop", "sop_id", help="SOP id (default: the alert's), e.g. malicious_review")
@click.option("--by", required=True)
def open_(config_path: Path, alert_id: int, sop_id: str | None, by: str) -> None:
    """Open an incident for an alert by hand (e.g. 恶意差评, which is never opened automatically)."""
    from monitor.clock import utcnow
    from monitor.sop.incidents import IncidentError, open_by_hand

    config, store = _open(config_path)
    try:
        inc = open_by_hand(store, config, alert_id, sop_id, by, utcnow())
    except IncidentError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    click.echo(f"incident #{inc.id} opened with SOP {inc.sop}: {inc.title}")


@incidents.command()
@config_option
@click.argument("incident_id", type=int)
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), help="write to FILE")
def export(config_path: Path, incident_id: int, out: Path | None) -> None:
    """The incident timeline (items, alert, acks, steps, notes) as Markdown."""
    from monitor.clock import utcnow
    from monitor.sop.incidents import IncidentError
    from monitor.sop.timeline import export_markdown

    config, store = _open(config_path)
    try:
        text = export_markdown(store, config, incident_id, utcnow())
    except IncidentError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    click.echo(f"written {out}")
