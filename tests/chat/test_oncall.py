"""Who is on duty (``monitor.oncall``) and what ``monitor check`` says about rotas and channel URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.adapters import registry
from monitor.config import ConfigInvalid, load_config
from monitor.oncall import chain, escalation_due, owner_for, role_for

ROTA = """
oncall:
  people:
    小王: {dingtalk: "13800000001", wecom: wangxiao}
    小李: {dingtalk: "13800000002"}
    老李: {dingtalk: "13800000003", skill: senior}
    张经理: {feishu: ou_abc}
  rotations:
    资深:
      match: {grade: [4, 5]}
      shifts: [{who: 老李, start: "00:00", end: "24:00"}]
      lead: 张经理
    客服:
      shifts:
        - {who: 小王, start: "09:00", end: "21:00", days: [mon, tue, wed, thu, fri]}
        - {who: 小李, start: "21:00", end: "09:00", days: [mon, tue, wed, thu, fri]}
        - {who: 小李, start: "09:00", end: "21:00", days: [sat, sun]}
        - {who: 小王, start: "21:00", end: "09:00", days: [sat, sun]}
      escalate_after: 15m
      escalate_to: [老李]
      lead: 张经理
"""


def project(tmp_path: Path, settings: str) -> Path:
    (tmp_path / "monitor.yaml").write_text(
        "channels:\n  console: {urls: ['console://']}\n" + settings, encoding="utf-8"
    )
    return tmp_path / "monitor.yaml"


def shanghai(day: int, hh: int, mm: int = 0) -> datetime:
    """Monday 2026-11-30 + ``day`` at hh:mm Beijing time, as a UTC datetime (00:00 Beijing is 16:00 UTC)."""
    return datetime(2026, 11, 29, 16, 0, tzinfo=UTC) + timedelta(days=day, hours=hh, minutes=mm)


def who(config: object, t: datetime) -> str:
    owner = owner_for(config, "客服", t)  # type: ignore[arg-type]
    assert owner is not None
    return owner.name


def test_owner_follows_shifts_in_the_configured_timezone_with_hand_over(tmp_path: Path) -> None:
    config = load_config(project(tmp_path, ROTA), registry())
    assert who(config, shanghai(0, 8, 59)) == "小王"  # Monday 08:59: Sunday's night shift
    assert who(config, shanghai(1, 8, 59)) == "小李"  # Tuesday 08:59: Monday's
    at_nine = owner_for(config, "客服", shanghai(0, 9, 0))
    assert at_nine is not None and at_nine.name == "小王"  # hand-over at 09:00 Beijing (01:00 UTC)
    assert at_nine.until.astimezone(config.settings.tz).strftime("%a %H:%M") == "Mon 21:00"
    assert who(config, shanghai(4, 23, 30)) == "小李"  # Friday night, past midnight too
    assert who(config, shanghai(5, 3, 0)) == "小李"
    assert who(config, shanghai(5, 12, 0)) == "小李"  # Saturday day shift
    assert who(config, shanghai(6, 22, 0)) == "小王"
    assert owner_for(config, "nobody", shanghai(0, 9)) is None


def test_grades_route_by_skill_and_escalation_runs_the_chain(tmp_path: Path) -> None:
    config = load_config(project(tmp_path, ROTA), registry())
    assert role_for(config, {"grade": 5, "kind": "keyword"}) == "资深"
    assert role_for(config, {"grade": 2, "kind": "keyword"}) == "客服"
    t = shanghai(0, 10)
    assert [n for n, _ in chain(config, "客服", t)] == ["小王", "老李", "张经理"]
    assert not escalation_due(config, "客服", 0, t, t + timedelta(minutes=14))
    assert escalation_due(config, "客服", 0, t, t + timedelta(minutes=15))
    assert not escalation_due(config, "客服", 1, t, t + timedelta(minutes=29))
    assert escalation_due(config, "客服", 1, t, t + timedelta(minutes=30))
    assert not escalation_due(config, "客服", 2, t, t + timedelta(hours=5))  # the lead is the last


@pytest.mark.parametrize(
    ("settings", "key", "words"),
    [
        (
            ROTA.replace(
                '{who: 小李, start: "21:00", end: "09:00", days: [mon, tue, wed, thu, fri]}',
                '{who: 小李, start: "20:00", end: "09:00", days: [mon, tue, wed, thu, fri]}',
            ),
            "oncall.rotations.客服.shifts",
            "overlaps",
        ),
        (
            ROTA.replace(
                '{who: 小李, start: "09:00", end: "21:00", days: [sat, sun]}',
                '{who: 小李, start: "10:00", end: "21:00", days: [sat, sun]}',
            ),
            "oncall.rotations.客服.shifts",
            "nobody is on duty sat 09:00",
        ),
        (
            ROTA.replace("张经理: {feishu: ou_abc}", "张经理: {phone: '110'}"),
            "oncall.people.张经理",
            "chat handle",
        ),
        (
            ROTA.replace("escalate_to: [老李]", "escalate_to: [老王]"),
            "oncall.rotations.客服.escalate_to[0]",
            "老王",
        ),
        ("  bad: {urls: ['wecom://abcdefghijabcdefghij']}\n", "channels.bad.urls[0]", "PushPlus"),
        ("  bad: {urls: ['wechatwork-nope://x']}\n", "channels.bad.urls[0]", "unknown channel scheme"),
    ],
    ids=["overlap", "gap", "no-handle", "unknown-person", "wecom-is-pushplus", "unknown-scheme"],
)
def test_monitor_check_names_file_line_and_key(tmp_path: Path, settings: str, key: str, words: str) -> None:
    path = project(tmp_path, settings)
    with pytest.raises(ConfigInvalid) as exc:
        load_config(path, registry())
    found = [e for e in exc.value.errors if e.key.startswith(key) and words in e.message]
    assert found, [str(e) for e in exc.value.errors]
    lines = path.read_text(encoding="utf-8").splitlines()
    line = lines[found[0].line - 1]
    assert found[0].line > 1 and (key.split(".")[-1].split("[")[0] in line or line.strip().startswith("-"))


def test_a_relay_is_a_warning_and_wecombot_is_fine(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        "  pr: {urls: ['wecombot://abcdefghij']}\n  relay: {urls: ['pushplus://abcdefghijabcdefghij']}\n",
    )
    config = load_config(path, registry())
    [warning] = [w for w in config.warnings if "relay" in w or "third party" in w]
    assert "channels.relay.urls[0]" in warning and "PushPlus" in warning and ":4:" in warning
