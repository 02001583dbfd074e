"""The checked DingTalk / WeCom / Feishu robots send side by side: no lock held across a send."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config
from monitor.notify.message import Message
from monitor.notify.transport import send

PARALLEL = 3


class Rendezvous:
    """A robot endpoint that answers only once ``PARALLEL`` requests are in flight together."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(PARALLEL, timeout=5)
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    front.barrier.wait()
                    out, status = json.dumps({"errcode": 0, "errmsg": "ok", "code": 0}).encode(), 200
                except threading.BrokenBarrierError:
                    out, status = b'{"errcode": 500, "errmsg": "alone"}', 200
                self.send_response(status)
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
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/robot/send"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "scheme", ["dingtalk://abcdefghijklmnop/", "wecombot://abcdefghijklmnop/", "feishu://abcdefghijklmnop/"]
)
def test_robot_messages_to_one_slow_endpoint_go_out_together(tmp_path: Path, scheme: str) -> None:
    front = Rendezvous()
    (tmp_path / "monitor.yaml").write_text(
        f'channels:\n  bot: {{urls: ["{scheme}?api={front.url}"]}}\nrouting: {{default: [bot], admins: [bot]}}\n',
        encoding="utf-8",
    )
    config = load_config(tmp_path / "monitor.yaml")
    try:
        with ThreadPoolExecutor(PARALLEL) as pool:
            channel = config.settings.channels["bot"]
            futures = [
                pool.submit(send, "bot", channel, Message(title="t", event="test", text=f"消息 {i}"), f"k{i}")
                for i in range(PARALLEL)
            ]
            results = [f.result() for f in futures]
    finally:
        front.close()
    assert results == [(True, None)] * PARALLEL
