"""A loopback HTTP server that replays platform responses (fixtures in real shapes) for source tests.

Routes are keyed by (unquoted) path; each route is a list of replies served in
order, the last one repeating. A reply may be a callable of the request, for paging by query.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

FIXTURES = Path(__file__).with_name("fixtures")


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> Any:
    return json.loads(fixture_text(name))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    target: str = ""  # the request line's target (absolute-form through a proxy)


@dataclass
class Reply:
    status: int = 200
    body: str | bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"
    delay: float = 0.0
    stream_bytes: int = 0  # send this many filler bytes, chunked, without Content-Length
    etag: str | None = None  # answer 304 to a matching If-None-Match

    def payload(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else self.body.encode(self.encoding)


def jsonp(name: str, callback: str, encoding: str = "utf-8") -> Reply:
    """A fixture JSON file served as ``callback({...});`` in ``encoding``."""
    doc = json.dumps(fixture_json(name), ensure_ascii=False)
    ctype = f"text/html;charset={encoding.upper()}"
    return Reply(body=f"{callback}({doc});", content_type=ctype, encoding=encoding)


def file_reply(name: str, content_type: str = "application/json; charset=utf-8", **kw: Any) -> Reply:
    return Reply(body=fixture_text(name), content_type=content_type, **kw)


Route = Reply | Callable[[Request], Reply]


class Loopback:
    def __init__(self) -> None:
        self.routes: dict[str, list[Route]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(
                    self.command,
                    unquote(parts.path),
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    self.path,
                )
                reply = server.reply_for(req)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self._send(req, reply)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _send(self, req: Request, reply: Reply) -> None:
                if reply.etag and req.headers.get("if-none-match") == reply.etag:
                    self.send_response(304)
                    self.send_header("ETag", reply.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.stream_bytes:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"x" * 65536
                    sent = 0
                    while sent < reply.stream_bytes:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        sent += len(chunk)
                    self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                    return
                data = b"" if reply.status in (204, 304) else reply.payload()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.02,), name="loopback", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, path: str, *replies: Route) -> None:
        with self._lock:
            self.routes[path] = list(replies)

    def reply_for(self, req: Request) -> Reply:
        with self._lock:
            self.requests.append(req)
            queue = self.routes.get(req.path)
            if not queue:
                return Reply(404, "not found", "text/plain")
            route = queue.pop(0) if len(queue) > 1 else queue[0]
        return route(req) if callable(route) else route

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def start(self) -> Loopback:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    lb = Loopback().start()
    yield lb
    lb.stop()


class SleepRecorder:
    """Injected as the Fetcher's ``sleep``: records waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def write_sources(tmp_path: Path, base_url: str, sink_url: str, sources_yaml: str) -> Path:
    """A config directory (monitor.yaml, rules/) whose only sources are ``sources_yaml``."""
    from tests.conftest import write_project

    config = write_project(tmp_path, base_url, sink_url)
    (tmp_path / "sources" / "shop.yaml").write_text(sources_yaml, encoding="utf-8")
    return config
