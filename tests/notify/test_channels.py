"""The channel contract, one table over every channel kind the product supports
(``monitor.notify.kinds.KINDS``), each sent for real to a loopback receiver in its own wire format:

- a message arrives with its title, and the idempotency key travels with it;
- review text stays text: no link, no markup, no mention can be injected;
- a long message fits the kind's limit (in its unit) or the channel's ``max_length``, in numbered parts;
- a robot that refuses with HTTP 200 and an error code is a failure, with the robot's reason;
- the checklist file goes where the service takes files, and is left out (the message still goes)
  where it does not; a report's HTML goes to e-mail as HTML.

Adding a channel kind means adding its row here (``test_every_kind_has_a_contract_row`` insists).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs

import pytest

from monitor.config.settings import Channel
from monitor.notify.kinds import KINDS, ChannelKind, kind_of
from monitor.notify.message import Attachment, Checklist, Link, Message, MessageItem
from monitor.notify.transport import send
from tests.notify.loopback import HttpEndpoint, Request, SmtpSink

EVIL = "假货！[点我退款](http://evil.example/x) **加粗** <b>x</b> @所有人 `code` www.evil.example"
KEY = "alert-7-firing-1-oncall"


@dataclass
class Received:
    title: str
    body: str  # the text a person reads (for e-mail: the HTML or plain body)
    key: str | None  # where the kind carries it out of band (payload field / header)
    files: list[str]
    buttons: list[str] = field(default_factory=list)  # robots: the URLs behind the card's buttons


@dataclass
class Receivers:
    http: HttpEndpoint
    smtp: SmtpSink


@dataclass(frozen=True)
class Row:
    kind: str
    url: Callable[[Receivers], str]
    received: Callable[[Receivers], list[Received]]
    refusal: dict[str, object] | None = None  # the robot's answer when it refuses a message
    takes_files: bool = False


def _http(parse: Callable[[Request], Received]) -> Callable[[Receivers], list[Received]]:
    return lambda r: [parse(q) for q in r.http.requests]


def _json_hook(q: Request) -> Received:
    doc = q.json()
    return Received(
        doc["title"],
        doc["message"],
        doc.get("idempotency_key"),
        [a["filename"] for a in doc.get("attachments", [])],
    )


def _form_hook(q: Request) -> Received:
    import email
    import email.policy

    ctype = q.headers["Content-Type"]
    if ctype.startswith("multipart/"):
        raw = f"Content-Type: {ctype}\r\n\r\n".encode() + q.body
        parts = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parts, EmailMessage)
        fields: dict[str, str] = {}
        files = []
        for part in parts.iter_parts():
            if part.get_filename():
                files.append(str(part.get_filename()))
            else:
                fields[str(part.get_param("name", header="content-disposition"))] = part.get_content()
    else:
        fields = {k: v[0] for k, v in parse_qs(q.body.decode()).items()}
        files = []
    return Received(fields["title"], fields["message"], fields.get("idempotency_key"), files)


def _xml_hook(q: Request) -> Received:
    text = q.body.decode("utf-8")

    def tag(name: str) -> str:
        found = re.search(rf"<{name}>(.*?)</{name}>", text, re.S)
        return found.group(1) if found else ""

    import html

    files = re.findall(r'<Attachment filename="([^"]+)"', text)
    return Received(
        html.unescape(tag("Subject")), html.unescape(tag("Message")), tag("idempotency_key"), files
    )


def _dingtalk(q: Request) -> Received:
    doc = q.json()
    if doc["msgtype"] == "actionCard":
        card = doc["actionCard"]
        return Received(card["title"], card["text"], None, [], [b["actionURL"] for b in card["btns"]])
    md = doc["markdown"]
    return Received(md["title"], md["text"], None, [])


def _wecombot(q: Request) -> Received:
    content = q.json()["markdown"]["content"]
    return Received(content.split("\n", 1)[0], content, None, [])  # the title is the body's first line


def _card(q: Request) -> Received:
    card = q.json()["card"]
    buttons = [a["url"] for el in card["elements"] if el["tag"] == "action" for a in el["actions"]]
    notes = [n["content"] for el in card["elements"] if el["tag"] == "note" for n in el["elements"]]
    body = "\n\n".join([card["elements"][0]["text"]["content"], *notes])
    return Received(card["header"]["title"]["content"], body, None, [], buttons)


def _mails(r: Receivers) -> list[Received]:
    out = []
    for mail in r.smtp.mails:
        body = mail.get_body(("html", "plain"))
        assert body is not None
        files = [str(a.get_filename()) for a in mail.iter_attachments()]
        out.append(Received(str(mail["Subject"]), body.get_content(), None, files))
    return out


def _console(capsys: pytest.CaptureFixture[str]) -> Callable[[Receivers], list[Received]]:
    def read(r: Receivers) -> list[Received]:
        printed = capsys.readouterr().out
        blocks = [b.strip("\n") for b in printed.split("─" * 60) if b.strip()]
        return [Received(b.split("\n", 1)[0], b.split("\n", 1)[1], None, []) for b in blocks]

    return read


ROBOT_OK = {"errcode": 0, "errmsg": "ok", "code": 0}
ROWS = [
    Row("console", lambda r: "console://", lambda r: []),  # read from stdout, see `received`
    Row(
        "dingtalk",
        lambda r: f"dingtalk://abcdefghijklmnop/?api=http://{r.http.base}/robot/send",
        _http(_dingtalk),
        refusal={"errcode": 310000, "errmsg": "keywords not in content"},
    ),
    Row(
        "wecombot",
        lambda r: f"wecombot://abcdefghijklmnop/?api=http://{r.http.base}/cgi-bin/webhook/send",
        _http(_wecombot),
        refusal={"errcode": 93000, "errmsg": "invalid webhook url"},
    ),
    Row(
        "feishu",
        lambda r: f"feishu://abcdefghijklmnop/?api=http://{r.http.base}/open-apis/bot/v2/hook",
        _http(_card),
        refusal={"code": 9499, "msg": "Bad Request"},
    ),
    Row(
        "lark",
        lambda r: f"lark://abcdefghijklmnop/?api=http://{r.http.base}/open-apis/bot/v2/hook",
        _http(_card),
        refusal={"code": 19001, "msg": "param invalid"},
    ),
    Row("webhook", lambda r: f"json://{r.http.base}/hook", _http(_json_hook), takes_files=True),
    Row("webhook (form)", lambda r: f"form://{r.http.base}/hook", _http(_form_hook), takes_files=True),
    Row("webhook (xml)", lambda r: f"xml://{r.http.base}/hook", _http(_xml_hook), takes_files=True),
    Row(
        "email",
        lambda r: (
            f"mailto://127.0.0.1:{r.smtp.port}?from=bot@example.com&to=oncall@example.com&mode=insecure"
        ),
        _mails,
        takes_files=True,
    ),
]
IDS = [row.kind for row in ROWS]
# apprise spaces two requests to one mail server 5.5 s apart: a split message takes that long
THROTTLED = ("email",)
SPLIT_ROWS = [
    pytest.param(r, id=r.kind, marks=[pytest.mark.slow] if r.kind in THROTTLED else []) for r in ROWS
]


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    r = Receivers(HttpEndpoint(), SmtpSink())
    yield r
    r.http.close()
    r.smtp.close()


def received(row: Row, r: Receivers, capsys: pytest.CaptureFixture[str]) -> list[Received]:
    return (_console(capsys) if row.kind == "console" else row.received)(r)


def kind(row: Row, r: Receivers) -> ChannelKind:
    return kind_of(row.url(r))


def alert_message(**changes: object) -> Message:
    base = Message(
        title="假货质疑 · 100012043978",
        event="firing",
        severity="high",
        summary="关键词「假货质疑」命中 · jd · jd-cup",
        items=(MessageItem(text=EVIL, author="维***李", platform="jd", sku="100012043978", rating=1),),
        item_total=3,
        checklist=Checklist(
            title="假货质疑 SOP", steps=("出示授权与进货凭证 — 客服",), url="http://127.0.0.1:8080/sops/x"
        ),
        links=(Link(label="✅ 确认 Acknowledge", url="http://127.0.0.1:8080/ack/7?t=abc"),),
        footer="alert #7 · keyword · firing",
        alert_id=7,
    )
    return base.model_copy(update=changes)


def test_every_kind_has_a_contract_row(receivers: Receivers) -> None:
    assert {kind(row, receivers).name for row in ROWS} == {k.name for k in KINDS}


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_a_message_arrives_with_its_title_and_its_idempotency_key(
    row: Row, receivers: Receivers, capsys: pytest.CaptureFixture[str]
) -> None:
    ok, error = send("oncall", Channel(urls=[row.url(receivers)]), alert_message(), KEY)
    assert (ok, error) == (True, None)
    [got] = received(row, receivers, capsys)
    assert "假货质疑 · 100012043978" in got.title and "【高】" in got.title  # Chinese first
    assert "关键词「假货质疑」命中" in got.body
    assert "/ack/7?t=abc" in got.body or "http://127.0.0.1:8080/ack/7?t=abc" in got.buttons
    assert f"ref {KEY}" in got.body  # in every kind, for a person reading the chat
    if kind(row, receivers).key_in_payload:
        assert got.key == KEY  # and where the receiver can drop a repeat by itself
        assert receivers.http.requests[0].headers["X-Idempotency-Key"] == KEY


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_review_text_never_becomes_a_link_markup_or_a_mention(
    row: Row, receivers: Receivers, capsys: pytest.CaptureFixture[str]
) -> None:
    ok, _ = send("oncall", Channel(urls=[row.url(receivers)]), alert_message(), KEY)
    assert ok
    [got] = received(row, receivers, capsys)
    assert "点我退款" in got.body  # the words are there …
    assert "http://evil" not in got.body and "www.evil" not in got.body  # … but no link a client would follow
    k = kind(row, receivers)
    if k.takes_html:  # e-mail: what the reader's client renders is HTML
        assert "<a " not in got.body.split("Full checklist")[0] and "<b>x</b>" not in got.body
        assert "<strong>加粗" not in got.body
    elif k.dialect == "markdown":  # webhooks: Markdown the receiver renders
        assert not re.search(r"(?<!\\)\]\(", got.body)  # no [text](link)
        assert "\\*\\*加粗\\*\\*" in got.body and "\\<b\\>x" in got.body
    elif k.native:  # robots: markup characters from a page are full-width, never markup
        assert "＊＊加粗＊＊" in got.body and "＜b＞x" in got.body and "［点我退款］" in got.body
        assert "@所有人" not in got.body and "＠所有人" in got.body
        links = re.findall(r"\]\(([^)]*)\)", got.body)  # only our own links, to the console
        assert all(u.startswith("http://127.0.0.1:8080/") for u in links), links
    if row.kind == "dingtalk":
        sent = receivers.http.requests[0].json()
        assert sent.get("at", {}).get("isAtAll", False) is False  # @所有人 in a review mentions nobody
        assert sent.get("at", {}).get("atMobiles", []) == []


@pytest.mark.parametrize("row", SPLIT_ROWS)
def test_a_long_message_fits_trimmed_at_item_boundaries_or_split_in_numbered_parts(
    row: Row, receivers: Receivers, capsys: pytest.CaptureFixture[str]
) -> None:
    """Robots get one message trimmed at item boundaries with a link to the rest (a split would spend
    their 20-a-minute budget); the others get numbered parts."""
    k = kind(row, receivers)
    text = "收到的杯子破损严重，" * 8
    items = tuple(
        MessageItem(text=text, author=f"顾客{i}", platform="jd", sku="100012043978") for i in range(5)
    )
    long = alert_message(items=items, item_total=40, detail_url="http://127.0.0.1:8080/incidents/3")
    limit = 800 if k.unit == "chars" else 1500
    ok, error = send("oncall", Channel(urls=[row.url(receivers)], max_length=limit), long, KEY)
    assert (ok, error) == (True, None)
    [got] = received(row, receivers, capsys)  # one message: trimmed, not split
    assert "共 40 条" in got.body and "另有" in got.body and got.body.count("收到的杯子") >= 1
    if k.native or (k.dialect == "markdown" and not k.takes_html):
        assert "[查看全部](http://127.0.0.1:8080/incidents/3)" in got.body
    if k.native:
        [q] = receivers.http.requests
        assert k.size(_field(row.kind, q)) <= limit, k.size(_field(row.kind, q))


@pytest.mark.parametrize(
    "row", [r for r in ROWS if r.kind in ("console", "webhook", "dingtalk")], ids=lambda r: r.kind
)
def test_a_message_too_long_even_trimmed_goes_in_numbered_parts(
    row: Row, receivers: Receivers, capsys: pytest.CaptureFixture[str]
) -> None:
    k = kind(row, receivers)
    report = Message(
        title="口碑分析日报", event="report", text="\n".join(f"第 {i} 行：差评摘要" for i in range(120))
    )
    ok, error = send("oncall", Channel(urls=[row.url(receivers)], max_length=800), report, KEY)
    assert (ok, error) == (True, None)
    parts = received(row, receivers, capsys)
    assert len(parts) > 1 and all(f"({i}/{len(parts)})" in p.body for i, p in enumerate(parts, 1))
    if k.native:
        assert all(k.size(_field(row.kind, q)) <= 800 for q in receivers.http.requests)


def _field(kind_name: str, q: Request) -> str:
    """The text field as posted, the one the platform's limit applies to."""
    doc = q.json()
    if kind_name == "dingtalk":
        return str(doc[doc["msgtype"]]["text"])
    if kind_name == "wecombot":
        return str(doc["markdown"]["content"])
    return str(doc["card"]["elements"][0]["text"]["content"])


@pytest.mark.parametrize("row", [r for r in ROWS if r.kind == "wecombot"], ids=["wecombot"])
def test_the_kind_limit_counts_what_the_service_counts(row: Row, receivers: Receivers) -> None:
    """WeCom's markdown robot takes 4 096 bytes: Chinese text is counted in UTF-8 bytes, not characters
    (1 600 characters of Chinese are 4 800 bytes)."""
    long = alert_message(
        items=tuple(MessageItem(text="破损" * 90, author=f"顾客{i}", platform="jd") for i in range(10)),
        item_total=10,
    )
    ok, _ = send("oncall", Channel(urls=[row.url(receivers)]), long, KEY)
    assert ok
    [q] = receivers.http.requests
    content = _field("wecombot", q)
    assert len(content) <= 4096 < len(content.encode("utf-8")) + 4096  # sanity: it is big
    assert len(content.encode("utf-8")) <= 4096 and "另有" in content


@pytest.mark.parametrize("row", [r for r in ROWS if r.refusal is not None], ids=lambda r: r.kind)
def test_a_refusal_in_an_http_200_answer_is_a_failure_with_the_reason(row: Row, receivers: Receivers) -> None:
    assert kind(row, receivers).refuses_with_200
    assert row.refusal is not None
    receivers.http.answer = dict(row.refusal)
    ok, error = send("oncall", Channel(urls=[row.url(receivers)]), alert_message(), KEY)
    assert not ok and error is not None
    code = next(str(v) for k, v in row.refusal.items() if k in ("errcode", "code"))
    assert code in error and kind(row, receivers).name in error
    receivers.http.answer = dict(ROBOT_OK)
    assert send("oncall", Channel(urls=[row.url(receivers)]), alert_message(), KEY) == (True, None)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_the_checklist_file_goes_where_files_are_taken(
    row: Row, receivers: Receivers, capsys: pytest.CaptureFixture[str]
) -> None:
    checklist = Attachment(name="checklist.md", content="# 假货质疑 SOP\n- [ ] 出示授权与进货凭证\n")
    ok, _ = send("oncall", Channel(urls=[row.url(receivers)]), alert_message(attachments=(checklist,)), KEY)
    assert ok
    [got] = received(row, receivers, capsys)
    assert got.files == (["checklist.md"] if row.takes_files else [])
    if row.kind == "webhook":
        sent = receivers.http.requests[0].json()["attachments"][0]
        assert base64.b64decode(sent["base64"]).decode("utf-8") == checklist.content


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_a_report_goes_as_html_where_html_is_taken_and_as_text_elsewhere(
    row: Row, receivers: Receivers, capsys: pytest.CaptureFixture[str]
) -> None:
    report = Message(
        title="口碑分析日报 2026-11-22",
        event="report",
        text="**负向 12 条**",
        html="<h1>日报</h1><p>负向 12 条</p>",
    )
    ok, _ = send("oncall", Channel(urls=[row.url(receivers)]), report, "report-daily-2026-11-22-oncall")
    assert ok
    [got] = received(row, receivers, capsys)
    if kind(row, receivers).takes_html:
        assert "<h1>日报</h1>" in got.body
    else:
        assert "负向 12 条" in got.body and "<h1>" not in got.body
