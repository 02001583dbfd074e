"""Loopback receivers for the channel contract: an HTTP endpoint that records what robots and
webhooks post (and answers as told), and a minimal SMTP server that records the mails it gets."""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POLL = 0.05


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class HttpEndpoint:
    """Records every POST; answers HTTP 200 with ``answer`` (a robot's JSON), after ``before_answer``
    (a robot that takes its time, or waits for others) returns the answer to give."""

    answer: dict[str, Any] = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok", "code": 0})
    requests: list[Request] = field(default_factory=list)
    before_answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.requests.append(Request(self.path, dict(self.headers.items()), body))
                answer = endpoint.answer
                if endpoint.before_answer is not None:
                    answer = endpoint.before_answer(answer)
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
            target=self.server.serve_forever, kwargs={"poll_interval": POLL}, daemon=True
        ).start()

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"http://{self.base}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """Just enough SMTP (EHLO, MAIL, RCPT, DATA, QUIT) for apprise's ``mailto://`` without TLS."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 loopback ESMTP")
                while raw := self.rfile.readline():
                    verb = raw.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.reply("250-loopback")
                        self.reply("250 8BITMIME")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = b""
                        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                            data += line[1:] if line.startswith(b"..") else line
                        message = email.message_from_bytes(data, policy=email.policy.default)
                        assert isinstance(message, EmailMessage)
                        sink.mails.append(message)
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # HELO, MAIL, RCPT, RSET, NOOP
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL}, daemon=True
        ).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
