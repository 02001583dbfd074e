"""Bad input around bursts: configs that cannot work are located errors at ``monitor check``;
items whose times cannot be evidence move no baseline; damaged state is relearned."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.cli import main
from monitor.store import models as m
from tests.bursts.sim import COMPLAINTS, PRAISE, Sim, SimShop, local
from tests.conftest import ROOT

HOUR = timedelta(hours=1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "monitor.yaml", tmp_path / "monitor.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "sources", tmp_path / "sources")
    return tmp_path


def check(project: Path, replace: dict[str, str]) -> list[str]:
    cfg = project / "monitor.yaml"
    text = cfg.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    cfg.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "-c", str(cfg)])
    assert result.exit_code == 1, result.output
    return [ln for ln in result.output.splitlines() if re.match(r"^\S+:\d+: ", ln)]


def line_of(project: Path, key: str) -> int:
    lines = (project / "monitor.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, ln in enumerate(lines, 1) if ln.strip().startswith(f"{key}:"))


@pytest.mark.parametrize(
    ("replace", "key", "message"),
    [
        (
            {"burst_window: 1h ": "burst_window: 5m "},
            "burst_window",
            "shorter than the normal poll interval 10m",
        ),
        ({"burst_min_count: 5 ": "burst_min_count: -3 "}, "burst_min_count", "greater than or equal to 2"),
        ({"burst_baseline: 14d ": "burst_baseline: 0d "}, "burst_baseline", "at least 2d"),
        ({"burst_window: 1h ": "burst_window: soon "}, "burst_window", "duration"),
        ({"burst_window: 1h ": "burst_window: 0s "}, "burst_window", "between 5m and 1d"),
        ({"burst_window: 1h ": "burst_bucket: 1h "}, "alerting", "replaced by burst_window"),
    ],
    ids=[
        "window-shorter-than-polls",
        "negative-count",
        "zero-baseline",
        "not-a-duration",
        "zero-window",
        "old-key",
    ],
)
def test_a_burst_config_that_cannot_work_is_a_located_error(
    project: Path, replace: dict[str, str], key: str, message: str
) -> None:
    errors = check(project, replace)
    assert errors
    for error in errors:  # every problem is listed, each at the key's line
        path, line, rest = error.split(":", 2)
        assert path.endswith("monitor.yaml") and int(line) == line_of(project, key), error
        assert f"alerting.{key}" in rest or key == "alerting"
    assert any(message in e for e in errors), errors


def test_a_source_polled_less_often_than_the_window_is_named(project: Path) -> None:
    src = project / "sources" / "slow.yaml"
    src.write_text(
        "sources:\n  - name: slow-feed\n    kind: feed\n    url: https://example.com/feed.xml\n    interval: 2h\n",
        encoding="utf-8",
    )
    errors = check(project, {})
    assert any("source slow-feed's interval 2h" in e and "alerting.burst_window" in e for e in errors), errors


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    shop = SimShop().start()
    s = Sim(tmp_path, shop)
    yield s
    s.close()
    shop.stop()


def _states(sim: Sim) -> dict[str, dict[str, object]]:
    with sim.store.session() as s:
        return {row.scope: row.state for row in s.scalars(select(m.DetectorState))}


def test_items_from_the_future_or_decades_ago_move_no_baseline(sim: Sim) -> None:
    now = local(2026, 3, 5, 12)
    sim.traffic(now - timedelta(days=3), now - HOUR, per_hour=3, negative_share=0.1)
    sim.poll(now - 30 * timedelta(minutes=1))
    before = _states(sim)
    assert before  # the store-wide scope and the rest learned from history
    for k in range(20):  # a platform clock gone wrong: a year ahead, or 1996
        sim.review(now + timedelta(days=365), COMPLAINTS[k % len(COMPLAINTS)], 1, "sku-1", "p-1")
        sim.review(local(1996, 1, 1) + k * HOUR, COMPLAINTS[k % len(COMPLAINTS)], 1, "sku-1", "p-1")
    sim.shop.now = now + timedelta(days=366)  # the shop shows the "future" ones already
    from monitor.pipeline import run_source

    for src in sim.config.sources.values():
        run_source(sim.ctx, src, now)
    assert _states(sim) == before  # nothing touched a scope: no state row was even rewritten
    with sim.store.session() as s:
        assert s.scalar(select(m.Item.id).where(m.Item.published_at > now)) is not None  # stored, though
    assert sim.alerts("burst") == []


def test_a_damaged_state_row_is_learned_again_from_history(sim: Sim) -> None:
    now = local(2026, 3, 5, 12)
    sim.traffic(now - timedelta(days=2), now, per_hour=3, negative_share=0.2)
    sim.poll(now)
    with sim.store.transaction() as s:
        for row in s.scalars(select(m.DetectorState)):
            row.state = {"detector": {"version": 2, "level": "garbage"}}
    for _ in range(3):
        sim.review(now + 5 * timedelta(minutes=1), COMPLAINTS[0], 1)
        sim.review(now + 6 * timedelta(minutes=1), PRAISE[0], 5)
    sim.poll(now + 10 * timedelta(minutes=1))
    states = _states(sim)
    assert all(
        isinstance(st.get("detector"), dict) and st["detector"].get("version") == 2 for st in states.values()
    )
    assert sim.alerts("burst") == []
