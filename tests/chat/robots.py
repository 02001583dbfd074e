"""A loopback chat robot that checks each post against the platform's documented schema and limits,
records it, and answers as the platform would (errcode / code).

- DingTalk custom robot (open.dingtalk.com "自定义机器人接入"): POST ?access_token=…[&timestamp&sign],
  msgtype markdown {title, text} + at {atMobiles, isAtAll} or actionCard {title, text,
  btnOrientation, btns[{title, actionURL}]}; 20 messages a minute (errcode 130101 beyond);
  sign = urlencode(base64(HmacSHA256(key=secret, msg=timestamp + "\\n" + secret))).
- WeCom group robot ("群机器人配置说明"): POST ?key=…, msgtype markdown {content ≤ 4096 bytes}
  (errcode 40058 beyond); 20 a minute (errcode 45009 beyond).
- Feishu custom bot ("自定义机器人使用指南"): POST /hook/<token>, body ≤ 20 KB (code 9499 beyond),
  msg_type interactive {card: {header: {title: {tag: plain_text}}, elements: [div(lark_md) |
  action(buttons with url) | note | hr]}}; signed: timestamp + sign = base64(HmacSHA256(key=timestamp
  + "\\n" + secret, msg="")) (code 19021 when it does not match).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

OK = {"errcode": 0, "errmsg": "ok"}


class Invalid(Exception):
    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(json.dumps(answer, ensure_ascii=False))
        self.answer = answer


def _require(cond: bool, answer: dict[str, Any]) -> None:
    if not cond:
        raise Invalid(answer)


def _str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def check_dingtalk(query: dict[str, str], body: dict[str, Any], secret: str | None) -> None:
    bad = {"errcode": 300001, "errmsg": "param error"}
    _require(_str(query.get("access_token")), {"errcode": 300001, "errmsg": "token is not exist"})
    if secret is not None:
        ts, sign = query.get("timestamp", ""), unquote(query.get("sign", ""))
        want = base64.b64encode(
            hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        )
        _require(
            ts.isdigit() and abs(time.time() * 1000 - int(ts)) < 3_600_000,
            {"errcode": 310000, "errmsg": "timestamp"},
        )
        _require(hmac.compare_digest(sign.encode(), want), {"errcode": 310000, "errmsg": "sign not match"})
    kind = body.get("msgtype")
    _require(kind in ("markdown", "actionCard"), bad)
    allowed = {"msgtype", kind, "at"}
    _require(set(body) <= allowed, bad)
    part = body[str(kind)]
    _require(isinstance(part, dict) and _str(part.get("title")) and _str(part.get("text")), bad)
    _require(len(part["text"]) <= 5000, {"errcode": 460101, "errmsg": "message too long"})
    if kind == "markdown":
        _require(set(part) == {"title", "text"}, bad)
        at = body.get("at", {})
        _require(set(at) <= {"atMobiles", "atUserIds", "isAtAll"}, bad)
        _require(all(isinstance(x, str) and x.isdigit() for x in at.get("atMobiles", [])), bad)
        _require(isinstance(at.get("isAtAll", False), bool), bad)
    else:
        _require("at" not in body and set(part) <= {"title", "text", "btnOrientation", "btns"}, bad)
        _require(part.get("btnOrientation", "0") in ("0", "1"), bad)
        btns = part.get("btns")
        _require(isinstance(btns, list) and len(btns) >= 1, bad)
        for b in btns:
            _require(set(b) == {"title", "actionURL"} and _str(b["title"]) and _str(b["actionURL"]), bad)


def check_wecom(query: dict[str, str], body: dict[str, Any], secret: str | None) -> None:
    _require(_str(query.get("key")), {"errcode": 93000, "errmsg": "invalid webhook url"})
    _require(
        set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown",
        {"errcode": 40008, "errmsg": "invalid message type"},
    )
    md = body["markdown"]
    _require(set(md) == {"content"} and _str(md["content"]), {"errcode": 44004, "errmsg": "empty content"})
    _require(
        len(md["content"].encode("utf-8")) <= 4096,
        {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"},
    )


def check_feishu(query: dict[str, str], body: dict[str, Any], secret: str | None, size: int) -> None:
    bad = {"code": 9499, "msg": "Bad Request"}
    _require(size <= 20 * 1024, bad)
    if secret is not None:
        ts, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
        want = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        _require(
            ts.isdigit() and abs(time.time() - int(ts)) < 3600,
            {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"},
        )
        _require(hmac.compare_digest(sign, want), {"code": 19021, "msg": "sign match fail"})
    _require(
        set(body) <= {"msg_type", "card", "timestamp", "sign"} and body.get("msg_type") == "interactive", bad
    )
    card = body["card"]
    _require(set(card) <= {"config", "header", "elements"}, bad)
    title = card["header"]["title"]
    _require(title.get("tag") == "plain_text" and _str(title.get("content")), bad)
    for el in card["elements"]:
        tag = el.get("tag")
        _require(tag in ("div", "action", "note", "hr"), bad)
        if tag == "div":
            _require(el["text"]["tag"] == "lark_md" and _str(el["text"]["content"]), bad)
        if tag == "action":
            for a in el["actions"]:
                _require(a["tag"] == "button" and a["text"]["tag"] == "plain_text" and _str(a["url"]), bad)
                _require(a.get("type", "default") in ("default", "primary", "danger"), bad)


@dataclass
class Post:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    answer: dict[str, Any]


@dataclass
class Robot:
    """One loopback robot for ``platform`` (dingtalk | wecom | feishu), checking what it receives."""

    platform: str
    secret: str | None = None
    per_minute: int = 20
    answer_with: dict[str, Any] | None = None  # force this answer (a robot refusing)
    posts: list[Post] = field(default_factory=list)

    def __post_init__(self) -> None:
        robot = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                try:
                    body = json.loads(raw.decode("utf-8"))
                    _require(
                        self.headers.get("Content-Type", "").startswith("application/json"),
                        {"errcode": 40035, "errmsg": "content type"},
                    )
                    if robot.platform == "dingtalk":
                        check_dingtalk(query, body, robot.secret)
                    elif robot.platform == "wecom":
                        check_wecom(query, body, robot.secret)
                    else:
                        check_feishu(query, body, robot.secret, len(raw))
                    with lock:
                        recent = [p for p in robot.posts if p.answer in (OK, {"code": 0, "msg": "success"})]
                        if len(recent) >= robot.per_minute:
                            raise Invalid(
                                {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
                            )
                    answer: dict[str, Any] = (
                        OK if robot.platform != "feishu" else {"code": 0, "msg": "success"}
                    )
                except Invalid as exc:
                    answer, body = exc.answer, body if "body" in locals() else {}
                except (ValueError, KeyError, TypeError, AttributeError):
                    answer, body = {"errcode": 40000, "code": 9499, "errmsg": "bad request"}, {}
                if robot.answer_with is not None:
                    answer = robot.answer_with
                with lock:
                    robot.posts.append(Post(parts.path, query, body, answer))
                out = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def accepted(self) -> list[Post]:
        return [p for p in self.posts if p.answer.get("errcode", p.answer.get("code")) == 0]

    def url(self, token: str = "TOKENabc123") -> str:
        """The channel URL pointing at this robot (apprise-style scheme, ``api=`` to loopback)."""
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.platform == "dingtalk":
            who = f"{self.secret}@" if self.secret else ""
            return f"dingtalk://{who}{token}/?api={base}/robot/send"
        if self.platform == "wecom":
            return f"wecombot://{token}/?api={base}/cgi-bin/webhook/send"
        sec = f"&secret={self.secret}" if self.secret else ""
        return f"feishu://{token}/?api={base}/open-apis/bot/v2/hook{sec}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
