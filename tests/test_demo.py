"""`monitor demo` as a newcomer runs it: a subprocess, the real daemon, a summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_demo_ends_with_the_expected_summary(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "demo",
            "--summary-json",
            str(out),
            "--workdir",
            str(tmp_path / "w"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert {"items", "alerts", "notifications_delivered", "negated_not_alerted"} <= set(summary)
    assert summary["items"] == 18
    assert summary["burst_alerts"] == 1
    # the figures the README prints: the burst arrives in one poll, so they are the same on every run
    assert (summary["alerts"], summary["keyword_alerts"], summary["inhibited_keyword_alerts"]) == (6, 5, 1)
    assert summary["negated_not_alerted"] == 5
    assert (summary["notifications_delivered"], summary["webhook_received"]) == (10, 5)
    assert summary["notifications_pending"] == 0
    assert summary["seconds"] < 120
    assert "demo summary" in proc.stdout and "burst noticed                 yes" in proc.stdout
    # Re-runnable on the same workdir: nothing is stored twice.
    proc2 = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "demo",
            "--summary-json",
            str(out),
            "--workdir",
            str(tmp_path / "w"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc2.returncode == 0, proc2.stdout[-3000:] + proc2.stderr[-3000:]


def test_loopback_storefront_and_sink_stop_at_once() -> None:
    """Tests start and stop these servers hundreds of times: a stop must not wait out a 0.5 s poll."""
    import time

    from monitor.demo.sink import WebhookSink
    from monitor.demo.storefront import Storefront

    t0 = time.monotonic()
    for _ in range(8):
        Storefront().start().stop()
        WebhookSink().start().stop()
    assert time.monotonic() - t0 < 3.0  # 16 stops: about 8 s when each waits for the poll
