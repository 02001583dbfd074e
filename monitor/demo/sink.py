"""A loopback webhook sink that records what apprise's ``json://`` posts (demo and tests).

It counts deliveries by idempotency key, so "exactly once" can be checked at the receiver.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# How often the server loop looks for a stop request: stop() waits up to this long.
POLL = 0.05


class WebhookSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_with: int | None = None  # answer this status instead of 200 (simulate an outage)
        self.reply: dict[str, Any] | None = None  # JSON to answer with (e.g. a DingTalk errcode)
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if sink.fail_with is not None:
                    self.send_response(sink.fail_with)
                    self.end_headers()
                    return
                try:
                    body = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    body = {"raw": raw.decode("utf-8", "replace")}
                body.setdefault("_path", self.path)
                body.setdefault("_received_at", time.time())
                body.setdefault("_idempotency_header", self.headers.get("X-Idempotency-Key"))
                with sink._lock:
                    sink.received.append(body)
                payload = json.dumps(sink.reply or {"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL}, name="webhook-sink", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookSink:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def keys(self) -> Counter[str]:
        with self._lock:
            return Counter(str(b.get("idempotency_key")) for b in self.received)

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)
