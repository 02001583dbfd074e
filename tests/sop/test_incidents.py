"""Incidents on a simulated clock: the storefront's 破损 burst opens one with the crisis checklist;
the CLI works it; overdue steps are escalated exactly once; closing, follow-up, timeline, drafts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor import delivery
from monitor.adapters import registry
from monitor.analyze.pool import AnalysisPool
from monitor.cli.incidents import incidents as incidents_cli
from monitor.cli.sop import sop_group
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.fetch import Fetcher
from monitor.pipeline import Context, run_source
from monitor.sop import incidents
from monitor.sop.drafts import drafts_for_item
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import LOOPBACK, NOW, write_project

ROUTING = """
channels:
  console: {{urls: ["console://"]}}
  webhook: {{urls: ["json://{hook}/hook"]}}
  senior: {{urls: ["json://{hook}/senior"]}}
routing:
  default: [webhook]
  admins: [webhook]
  routes:
    - name: bursts
      match: {{kind: [burst]}}
      channels: [webhook]
      escalate:
        - {{after: 15m, channels: [senior]}}
"""


@pytest.fixture
def project(tmp_path: Path, storefront: Storefront, sink: WebhookSink, store_url: str) -> Path:
    cfg_path = write_project(tmp_path, storefront.base_url, sink.url, db_url=store_url)
    text = cfg_path.read_text(encoding="utf-8")
    start, end = text.index("channels:"), text.index("alerting:")
    text = text[:start] + ROUTING.format(hook=sink.url.split("://")[1]).lstrip() + text[end:]
    cfg_path.write_text(text, encoding="utf-8")
    return cfg_path


@pytest.fixture
def ctx(project: Path) -> Iterator[Context]:
    config = load_config(project, registry())
    store = Store.open(config.database_url)
    c = Context(
        config,
        store,
        Fetcher(retries=0, min_interval=0, network=LOOPBACK),
        AnalysisPool(config.rules, config.priority_words, None, 0),
    )
    for src in config.sources.values():
        run_source(c, src, NOW)
    yield c
    c.fetcher.close()
    store.close()


def cli(project: Path, *args: str) -> str:
    result = CliRunner().invoke(incidents_cli, [args[0], "-c", str(project), *args[1:]])
    assert result.exit_code == 0, result.output
    return result.output


def cli_fails(project: Path, *args: str) -> str:
    result = CliRunner().invoke(incidents_cli, [args[0], "-c", str(project), *args[1:]])
    assert result.exit_code == 1, result.output
    return result.output


def burst_incident(ctx: Context) -> m.Incident:
    with ctx.store.session() as s:
        burst = s.scalars(select(m.Alert).where(m.Alert.kind == "burst")).one()
        return s.scalars(select(m.Incident).where(m.Incident.alert_id == burst.id)).one()


def run(ctx: Context, minutes: float) -> incidents.IncidentTick:
    t = NOW + timedelta(minutes=minutes)
    tick = incidents.tick(ctx.store, ctx.config, t)
    delivery.deliver_due(ctx.store, ctx.config, t)
    return tick


def incident_msgs(sink: WebhookSink, inc_id: int, what: str) -> list[tuple[str, str]]:
    prefix = f"incident-{inc_id}-{what}"
    return [(b["_path"], b["message"]) for b in sink.messages() if b["idempotency_key"].startswith(prefix)]


def test_burst_incident_checklist_cli_reminder_and_one_overdue_escalation(
    ctx: Context, project: Path, sink: WebhookSink
) -> None:
    inc = burst_incident(ctx)
    assert inc.sop == "negative_burst" and inc.state == "open"
    with ctx.store.session() as s:
        steps = {x.step_key: x for x in incidents.steps_of(s, inc.id)}
        first_pub = min(
            i.published_at
            for i in s.scalars(
                select(m.Item)
                .join(m.AlertItem, m.AlertItem.item_id == m.Item.id)
                .where(m.AlertItem.alert_id == inc.alert_id)
            )
            if i.published_at
        )
    assert list(steps) == ["triage", "private_reply", "statement", "supply_check", "review"]
    assert steps["triage"].due_at == NOW + timedelta(minutes=30)  # from the alert
    assert steps["private_reply"].due_at == first_pub + timedelta(hours=1)  # from the first publication
    assert NOW + timedelta(minutes=49) < steps["private_reply"].due_at < NOW + timedelta(minutes=51)

    shown = cli(project, "show", str(inc.id))
    tz = ctx.config.settings.tz
    assert "逐一私信差评顾客（1 小时内） — 客服" in shown
    assert f"{steps['private_reply'].due_at.astimezone(tz):%m-%d %H:%M}" in shown
    assert f"{steps['statement'].due_at.astimezone(tz):%m-%d %H:%M}" in shown
    assert f"#{inc.id}" in cli(project, "list")

    assert "triage: done by 小王" in cli(
        project, "step", str(inc.id), "triage", "--state", "done", "--by", "小王"
    )
    cli(project, "step", str(inc.id), "statement", "--state", "doing", "--by", "公关小李")
    run(ctx, 20)
    run(ctx, 45)
    assert incident_msgs(sink, inc.id, "") == []  # nothing due yet; triage (due 30 min) was done

    # The 1 h private-reply step expires: one overdue notice to the burst route and its escalation tier.
    for minutes in (51, 53, 57):
        run(ctx, minutes)
    overdue = incident_msgs(sink, inc.id, "overdue-")
    assert sorted(p for p, _ in overdue) == ["/hook", "/senior"]
    assert all("逐一私信差评顾客" in msg for _, msg in overdue)
    # staff on a phone get the incident page at the step, by name, never a shell command (#15)
    with ctx.store.session() as s:
        step_id = s.scalar(
            select(m.IncidentStep.id).where(
                m.IncidentStep.incident_id == inc.id, m.IncidentStep.step_key == "private_reply"
            )
        )
    base = ctx.config.settings.web.base_url.rstrip("/")
    assert all(f"{base}/incidents/{inc.id}#step-{step_id}" in msg for _, msg in overdue)
    assert all("步骤超时：「逐一私信差评顾客（1 小时内）」" in msg for _, msg in overdue)
    human = [msg.split("`ref ")[0] for _, msg in overdue]  # the delivery ref is the renderer's, for admins
    assert not any("monitor incidents" in msg or "overdue" in msg for msg in human)
    assert incident_msgs(sink, inc.id, "overdue-triage") == []

    # The next checklist reminder (1 h after opening) shows the CLI's done step and the overdue one.
    run(ctx, 61)
    reminders = incident_msgs(sink, inc.id, "checklist-")
    assert [p for p, _ in reminders] == ["/hook"]
    body = reminders[0][1]
    assert "✅ 确认受影响 SKU、批次与物流线路 — 运营 · 已完成 小王 " in body  # the CLI stamps the wall clock
    assert "⚠️ 逐一私信差评顾客（1 小时内） — 客服 · 已超时 1" in body and "UTC+8 完成）" in body
    assert "统一对外口径并发布公开回复 — 公关 · 进行中 公关小李" in body
    assert "monitor incidents" not in body and "done" not in body.split("`ref ")[0]
    run(ctx, 90)
    assert len(incident_msgs(sink, inc.id, "checklist-")) == 1
    assert len(incident_msgs(sink, inc.id, "overdue-private_reply")) == 2  # still once per channel
    assert set(Counter(b["idempotency_key"] for b in sink.messages()).values()) == {1}


def test_close_needs_required_steps_done_or_waived_then_one_follow_up(
    ctx: Context, project: Path, sink: WebhookSink
) -> None:
    inc = burst_incident(ctx)
    out = cli_fails(project, "close", str(inc.id), "--by", "主管")
    assert "required steps not done" in out and "triage (todo)" in out
    assert "needs a reason" in cli_fails(
        project, "step", str(inc.id), "review", "--state", "skipped", "--by", "x"
    )
    assert "no step 'nope'" in cli_fails(project, "step", str(inc.id), "nope", "--state", "done", "--by", "x")
    for key in ("triage", "private_reply", "statement", "supply_check"):
        incidents.set_step(ctx.store, inc.id, key, "done", "小王", NOW + timedelta(minutes=40))
    cli(
        project,
        "step",
        str(inc.id),
        "review",
        "--state",
        "skipped",
        "--reason",
        "并入周复盘会",
        "--by",
        "主管",
    )
    cli(project, "note", str(inc.id), "已联系 7 位顾客，5 位选择补发", "--by", "小王")
    closed_at = NOW + timedelta(hours=3)
    incidents.close(ctx.store, inc.id, "主管", closed_at)
    with pytest.raises(incidents.IncidentError):
        incidents.set_step(ctx.store, inc.id, "triage", "todo", "x", closed_at)

    for hours in (4, 26.9):
        run(ctx, hours * 60)
    assert incident_msgs(sink, inc.id, "follow-up") == []
    for hours in (27.1, 28, 40):
        run(ctx, hours * 60)
    follow = incident_msgs(sink, inc.id, "follow-up")
    assert [p for p, _ in follow] == ["/hook"] and "回访" in follow[0][1]
    assert f"/incidents/{inc.id}#notes" in follow[0][1] and "monitor incidents" not in follow[0][1]
    assert incident_msgs(sink, inc.id, "overdue-") == []  # everything was done before its clock

    out_file = project.parent / "incident.md"
    cli(project, "export", str(inc.id), "--out", str(out_file))
    md = out_file.read_text(encoding="utf-8")
    assert md.startswith(f"# 事件 #{inc.id}")
    for expected in (
        "对外口径",
        "· 评价",
        "张*",
        "破损",
        "· 告警",
        "· 步骤",
        "待办 → 已跳过：并入周复盘会",
        "· 备注",
        "- 状态：已关闭",
    ):
        assert expected in md, expected
    assert "已联系 7 位顾客" in md and "· 关闭 · 主管\n" in md and "· 回访提醒" in md
    assert not re.search(r"\b(todo|skipped|item|notified)\b|告警 alert", md), md
    assert "⏭️ 复盘并确定整改" in md


def test_which_alerts_open_incidents(ctx: Context) -> None:
    with ctx.store.session() as s:
        rows = s.execute(
            select(m.Alert, m.Incident).outerjoin(m.Incident, m.Incident.alert_id == m.Alert.id)
        ).all()
    for alert, inc in rows:
        if alert.kind == "burst":
            assert inc is not None
        elif alert.inhibited_by is not None or alert.kind != "keyword":
            assert inc is None, alert.title
        elif alert.severity in ("high", "critical") or (alert.grade or 0) >= 4:
            assert inc is not None, alert.title
        elif alert.platform not in ("weibo", "xiaohongshu", "douyin"):  # social SOPs open from medium/grade 3
            assert inc is None, alert.title
    social = {inc.sop for alert, inc in rows if inc is not None and alert.platform == "weibo"}
    assert social and social <= {"social_spreading", "media_exposure"}
    assert incidents.tick(ctx.store, ctx.config, NOW).opened == 0  # the hook opened them all already


def test_manual_incident_with_malicious_review_sop(ctx: Context, project: Path) -> None:
    with ctx.store.session() as s:
        alert = s.scalars(select(m.Alert).where(m.Alert.rule_id == "slow_delivery")).first()
    assert alert is not None
    out = cli(project, "open", str(alert.id), "--sop", "malicious_review", "--by", "主管")
    assert "SOP malicious_review" in out
    assert "already has incident" in cli_fails(project, "open", str(alert.id), "--by", "主管")


def test_reply_drafts_are_filled_masked_and_within_the_ceiling(ctx: Context, project: Path) -> None:
    with ctx.store.transaction() as s:
        item = s.scalars(select(m.Item).where(m.Item.text.contains("杯盖裂了"))).one()
        drafts = drafts_for_item(s, ctx.config, item.id)
        item.attrs = {**(item.attrs or {}), "order_id": "JD-20261123-7", "carrier": "顺丰"}
        item.author = "张三丰"
    assert {d.sop for d in drafts} == {"damaged"}
    apology = next(d for d in drafts if d.name == "apology")
    assert apology.offer == ["24 小时内补发 + 运费险", "退款 + 10 元无门槛券"]
    assert "①24 小时内补发 + 运费险，或②退款 + 10 元无门槛券" in apology.text
    assert "商品（SKU 100012043978）" in apology.text and "【订单号待补】" in apology.text
    assert apology.missing == ["order"] and apology.findings == []
    with ctx.store.session() as s:
        again = drafts_for_item(s, ctx.config, item.id, "slow_delivery")
    private = next(d for d in again if d.name == "private")
    assert "订单 JD-20261123-7" in private.text and "顺丰" in private.text
    # addressed to this customer: their own nickname, never masked (#16); a platform-masked one is left out
    assert "您好张三丰" in private.text and "张*丰" not in private.text
    assert private.missing == []
    out = CliRunner().invoke(sop_group, ["draft", "-c", str(project), str(item.id)])
    assert out.exit_code == 0, out.output
    assert "## damaged · apology" in out.output and "二选一 offer" in out.output
