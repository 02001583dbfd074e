"""Robots side by side: a round of notifications to one slow robot endpoint over each channel kind.

A loopback endpoint answers every POST after ``--delay`` seconds (a robot across the Internet). One
delivery round sends ``--messages`` notifications side by side (``monitor.delivery`` uses up to 8
threads); the round's wall time is compared with the plain webhook (``json://``), which has no
answer check. Before the checked robots recorded answers per thread, a global lock serialized every
DingTalk/WeCom/Feishu send: 6 messages to a 0.5 s endpoint took 3.07 s against 0.56 s.

    python bench/robots.py [--messages 6] [--delay 0.5] [--rounds 3] [--write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import table, write_section
from monitor.config.settings import Channel
from monitor.notify.message import Message
from monitor.notify.transport import send, warm_up


def endpoint(delay: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            out = json.dumps({"errcode": 0, "errmsg": "ok", "code": 0}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def round_seconds(url: str, messages: int) -> float:
    channel = Channel(urls=[url])
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=min(8, messages)) as pool:
        futures = [
            pool.submit(
                send, "bot", channel, Message(title="破损", event="firing", text=f"消息 {i}"), f"b-{i}"
            )
            for i in range(messages)
        ]
        assert all(f.result()[0] for f in futures)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=6)
    ap.add_argument("--delay", type=float, default=0.5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    args = ap.parse_args()
    warm_up()
    server = endpoint(args.delay)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    kinds = {
        "json:// (baseline)": f"json://127.0.0.1:{server.server_address[1]}/hook",
        "dingtalk://": f"dingtalk://abcdefghijklmnop/?api={base}/robot/send",
        "wecombot://": f"wecombot://abcdefghijklmnop/?api={base}/cgi-bin/webhook/send",
        "feishu://": f"feishu://abcdefghijklmnop/?api={base}/open-apis/bot/v2/hook",
    }
    medians = {}
    for name, url in kinds.items():
        medians[name] = statistics.median(round_seconds(url, args.messages) for _ in range(args.rounds))
    server.shutdown()
    base_s = medians["json:// (baseline)"]
    rows = [[name, f"{s:.2f} s", f"{s / base_s:.2f}×"] for name, s in medians.items()]
    body = (
        f"{args.messages} notifications in one delivery round to a loopback robot answering after "
        f"{args.delay:g} s; median of {args.rounds} rounds. Sends to one robot go out side by side like "
        "plain webhooks. Before (measured in issue #14, not in this run): a global lock around every checked "
        "robot send, 3.07 s over dingtalk:// against 0.56 s over json://.\n\n"
        + table(["channel kind", "round", "vs json://"], rows)
    )
    print(body)
    if args.write:
        command = f"python bench/robots.py --messages {args.messages} --delay {args.delay:g} --rounds {args.rounds} --write"
        write_section("robots", "Robots side by side (one delivery round to a slow endpoint)", command, body)


if __name__ == "__main__":
    main()
