"""The checked DingTalk / WeCom / Feishu robots send side by side: no lock held across a send."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from monitor.adapters import registry
from monitor.config import load_config
from monitor.notify.message import Message
from monitor.notify.transport import send
from tests.notify.loopback import HttpEndpoint

PARALLEL = 3


def rendezvous() -> HttpEndpoint:
    """A robot endpoint that answers only once ``PARALLEL`` requests are in flight together."""
    barrier = threading.Barrier(PARALLEL, timeout=5)

    def wait(answer: dict[str, Any]) -> dict[str, Any]:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return {"errcode": 500, "errmsg": "alone"}
        return answer

    return HttpEndpoint(before_answer=wait)


@pytest.mark.parametrize(
    "scheme", ["dingtalk://abcdefghijklmnop/", "wecombot://abcdefghijklmnop/", "feishu://abcdefghijklmnop/"]
)
def test_robot_messages_to_one_slow_endpoint_go_out_together(tmp_path: Path, scheme: str) -> None:
    front = rendezvous()
    (tmp_path / "monitor.yaml").write_text(
        f'channels:\n  bot: {{urls: ["{scheme}?api={front.url("/robot/send")}"]}}\nrouting: {{default: [bot], admins: [bot]}}\n',
        encoding="utf-8",
    )
    config = load_config(tmp_path / "monitor.yaml", registry())
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
