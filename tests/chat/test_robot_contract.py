"""The chat-payload contract: for every robot kind, what is posted to a loopback robot that checks the
platform's documented schema and limits (``tests/chat/robots.py``) is accepted, and an injection
corpus in every page-derived field (text, author, SKU, URL, title, a "source blind" page body) never
becomes a live link, an image, a tag or a mention. Links go only to the console and to the item's own
platform host. Rate limits: a wave of alerts goes as one digest; a refusal is retried, never dropped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import delivery
from monitor.adapters import registry
from monitor.config import load_config
from monitor.config.settings import Channel
from monitor.notify import robots as native
from monitor.notify.message import Checklist, Fact, Link, Mention, Message, MessageItem
from monitor.notify.transport import send
from monitor.store import Store, outbox
from monitor.store import models as m
from tests.chat.robots import Robot
from tests.conftest import NOW

CONSOLE = "http://127.0.0.1:8080/"
EVIL = [
    "[点我退款](javascript:alert(1))",
    "![图](http://evil.example/x.png)",
    '<at id=all></at> <at user_id="ou_x">x</at>',
    "<@all> <@wangxiao>",
    "@所有人 @13800000001",
    '<font color=red>红</font> <a href="http://evil.example">a</a>',
    "**粗** __下__ `代码` # 标题 > 引用 ~~删~~ | 表 |",
    "www.evil.example https://evil.example/a?b=(c)",
    "\u202e反转\u202c 零宽\u200b",
]
BLIND = "数据源失明：jd-cup（broken）页面返回：<html><img src=http://evil.example/p.png>![x](http://evil.example/y)[登录](http://evil.example/login)"


def evil_message(mentions: tuple[Mention, ...] = ()) -> Message:
    items = tuple(
        MessageItem(
            text=f"差评{i}：{e}",
            author=f"用户{e[:12]}",
            platform="jd" if i % 2 else "j[d](http://evil.example)",
            sku=f"1000[{i}](javascript:x)",
            rating=1,
            when="11-23 12:00 UTC+8",
            url=[
                "https://item.jd.com/100012043978.html#comment",
                "javascript:alert(1)",
                "https://evil.example/item.jd.com",
                "https://item.jd.com.evil.example/x",
                "http://user:pw@item.jd.com/x",
            ][i % 5],
        )
        for i, e in enumerate(EVIL)
    )
    return Message(
        title="假货质疑 · SKU [1000](javascript:alert(1)) ![i](http://evil.example/t.png)",
        event="firing",
        severity="critical",
        summary=BLIND,
        facts=(Fact(label="SKU", value="[x](http://evil.example)", untrusted=True),),
        items=items,
        item_total=len(items),
        checklist=Checklist(
            title="假货质疑 SOP", steps=("出示授权与进货凭证 — 客服",), url=CONSOLE + "incidents/3"
        ),
        links=(
            Link(label="🙋 认领/确认", url=CONSOLE + "ack/7?t=1.2.3"),
            Link(label="查看事件", url=CONSOLE + "incidents/3"),
            Link(label="静默 1 小时", url=CONSOLE + "ack/7/silence?t=1.2.3"),
        ),
        footer="告警 #7 · 关键词 · 告警 · 告警中",
        alert_id=7,
        detail_url=CONSOLE + "incidents/3",
        mentions=mentions,
    )


PLATFORMS = ["dingtalk", "wecom", "feishu"]


@pytest.fixture(params=PLATFORMS)
def robot(request: pytest.FixtureRequest) -> Iterator[Robot]:
    r = Robot(request.param)
    yield r
    r.close()


def texts(post_body: dict[str, object]) -> str:
    """Every string a person reads in a payload (text fields, titles, button labels)."""
    out: list[str] = []

    def walk(v: object, key: str = "") -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, str) and key not in (
            "actionURL",
            "url",
            "msgtype",
            "msg_type",
            "tag",
            "template",
            "type",
            "sign",
            "timestamp",
        ):
            out.append(v)

    walk(post_body)
    return "\n".join(out)


def test_every_robot_takes_the_message_and_nothing_from_a_page_is_live(robot: Robot) -> None:
    ok, error = send("oncall", Channel(urls=[robot.url()]), evil_message(), "alert-7-firing-1-oncall")
    assert (ok, error) == (True, None), [p.answer for p in robot.posts]
    [post] = robot.accepted  # the robot's schema check passed: one message, not a flood of parts
    text = texts(post.body)
    assert "差评0" in text and "ref alert-7-firing-1-oncall" in text
    assert "严重" in text and "京东" in text  # Chinese first: severity and platform names
    links = re.findall(r"\]\(([^)\s]*)\)", text)
    allowed = [u for u in links if u.startswith((CONSOLE, "https://item.jd.com/"))]
    assert links == allowed, links  # only the console and the item's own platform host
    assert "https://item.jd.com/100012043978.html" in links  # the one legitimate page link
    assert "![" not in text and "<at" not in text and "<@" not in text and "<font" not in text
    assert (
        "<img" not in text
        and "<a " not in text
        and "javascript:" not in text.replace("javascript\u200b:", "")
    )
    assert "@所有人" not in text and "@13800000001" not in text
    assert "http://evil" not in text and "https://evil" not in text and "www.evil" not in text
    buttons = re.findall(r"'(?:actionURL|url)': '([^']*)'", str(post.body))
    assert all(u.startswith(CONSOLE) for u in buttons), buttons
    if robot.platform == "dingtalk":
        at = post.body.get("at", {"atMobiles": [], "isAtAll": False})
        assert at == {"atMobiles": [], "isAtAll": False}


def test_the_person_on_duty_is_mentioned_natively(robot: Robot) -> None:
    who = (Mention(name="小王", dingtalk="13800000001", wecom="wangxiao", feishu="ou_7d8a6e6df76215"),)
    ok, _ = send("oncall", Channel(urls=[robot.url()]), evil_message(who), "k")
    assert ok
    [post] = robot.accepted
    text = texts(post.body)
    if robot.platform == "dingtalk":
        assert post.body["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}
        assert "@13800000001" in text and post.body["msgtype"] == "markdown"  # DingTalk @s only in markdown
    elif robot.platform == "wecom":
        assert text.count("<@wangxiao>") == 1 and "<@all>" not in text
    else:
        assert text.count("<at id=ou_7d8a6e6df76215></at>") == 1


def test_limits_are_counted_as_the_platform_counts_them(robot: Robot) -> None:
    huge = evil_message().model_copy(
        update={
            "items": tuple(MessageItem(text="破损" * 150, author="张*", platform="jd") for _ in range(40)),
            "item_total": 400,
        }
    )
    ok, error = send("oncall", Channel(urls=[robot.url()]), huge, "k")
    assert (ok, error) == (True, None), [p.answer for p in robot.posts]
    [post] = robot.accepted  # trimmed at item boundaries, with a link to the rest: one message
    assert "另有" in texts(post.body) and "[查看全部](http://127.0.0.1:8080/incidents/3)" in texts(post.body)


@pytest.mark.parametrize("platform", ["dingtalk", "feishu"])
def test_signed_robots_get_a_valid_signature(platform: str) -> None:
    robot = Robot(platform, secret="SECabc123")
    try:
        assert send("oncall", Channel(urls=[robot.url()]), evil_message(), "k") == (True, None)
        assert len(robot.accepted) == 1
        wrong = robot.url().replace("SECabc123", "SECwrong")
        ok, error = send("oncall", Channel(urls=[wrong]), evil_message(), "k2")
        assert not ok and error is not None and ("310000" in error or "19021" in error)
    finally:
        robot.close()


def deliver_project(tmp_path: Path, url: str) -> tuple[object, Store]:
    (tmp_path / "monitor.yaml").write_text(
        f"data_dir: data\nchannels:\n  oncall: {{urls: ['{url}']}}\nrouting: {{default: [oncall], admins: [oncall]}}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "monitor.yaml", registry())
    return config, Store.open(config.database_url)


def test_a_wave_goes_as_one_digest_and_nothing_is_dropped(tmp_path: Path) -> None:
    robot = Robot("dingtalk")
    config, store = deliver_project(tmp_path, robot.url("wave"))
    try:
        with store.transaction() as s:
            for i in range(25):
                msg = evil_message().model_copy(
                    update={"title": f"告警{i}", "detail_url": f"{CONSOLE}alerts/{i}"}
                )
                outbox.enqueue(s, "oncall", msg, f"k{i}", NOW)
        report = delivery.deliver_due(store, config, NOW)  # type: ignore[arg-type]
        assert report.sent == 25 and report.failed == 0
        [post] = robot.accepted  # one message for the 25, under DingTalk's 20 a minute
        text = texts(post.body)
        assert "25 条" in text and "告警0" in text and "另有 15 条" in text
        with store.session() as s:
            assert {r.status for r in s.scalars(select(m.Outbox))} == {"sent"}
    finally:
        robot.close()
        store.close()


def test_a_rate_limited_robot_is_retried_never_dropped(tmp_path: Path) -> None:
    robot = Robot("wecom", answer_with={"errcode": 45009, "errmsg": "api freq out of limit"})
    config, store = deliver_project(tmp_path, robot.url("busy"))
    try:
        with store.transaction() as s:
            outbox.enqueue(s, "oncall", evil_message(), "k1", NOW)
        report = delivery.deliver_due(store, config, NOW)  # type: ignore[arg-type]
        assert report.failed == 1 and "45009" in report.errors[0]
        with store.session() as s:
            [row] = s.scalars(select(m.Outbox))
            assert row.status == "pending" and row.next_attempt_at is not None and row.next_attempt_at > NOW
            retry_at = row.next_attempt_at
        robot.answer_with = None
        report = delivery.deliver_due(store, config, retry_at + timedelta(seconds=1))  # type: ignore[arg-type]
        assert report.sent == 1
        assert len(robot.accepted) == 1
    finally:
        robot.close()
        store.close()


def test_the_process_wide_bucket_defers_instead_of_flooding() -> None:
    robot = Robot("dingtalk")
    try:
        parsed = native.parse(robot.url("bucket"))
        t0 = 1000.0
        assert native.available(parsed, t0) == 20
        for _ in range(20):
            assert native.take(parsed, t0)
        assert native.available(parsed, t0 + 30) == 0 and not native.take(parsed, t0 + 30)
        assert native.available(parsed, t0 + 61) == 20
    finally:
        robot.close()
