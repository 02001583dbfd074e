"""`monitor alerts` from the shell: real actions, and clear errors for bad arguments."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from monitor.adapters import registry
from monitor.alerting import raise_alert
from monitor.cli import main
from monitor.clock import utcnow
from monitor.config import load_config
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import write_project


def test_alerts_commands_and_bad_arguments(tmp_path: Path, storefront: Storefront, sink: WebhookSink) -> None:
    cfg = write_project(tmp_path, storefront.base_url, sink.url)
    store = Store.open(load_config(cfg, registry()).database_url)
    with store.transaction() as s:
        alert_id = raise_alert(
            s, utcnow(), dedup_key="k", kind="keyword", severity="high", title="假货", labels={}
        ).id
    run = CliRunner().invoke

    listed = run(main, ["alerts", "list", "-c", str(cfg)])
    assert listed.exit_code == 0 and f"#{alert_id}" in listed.output and "假货" in listed.output
    config = load_config(cfg, registry())
    with store.session() as s:
        created = s.get(m.Alert, alert_id).created_at
    local = created.astimezone(config.settings.tz)
    assert f"(times in {config.settings.tz.key})" in listed.output  # one clock, labelled (#16)
    assert f"{local:%m-%d %H:%M}" in listed.output
    acked = run(main, ["alerts", "ack", str(alert_id), "--by", "小王", "-c", str(cfg)])
    assert acked.exit_code == 0 and "acknowledged" in acked.output
    with store.session() as s:
        assert s.get(m.Alert, alert_id).acked_by == "小王"

    missing = run(main, ["alerts", "ack", "999", "--by", "x", "-c", str(cfg)])
    assert missing.exit_code == 1 and "no alert #999" in missing.output
    not_a_number = run(main, ["alerts", "ack", "abc", "--by", "x", "-c", str(cfg)])
    assert not_a_number.exit_code == 2 and "abc" in not_a_number.output
    bad_matcher = run(main, ["alerts", "silence", "--match", "colour=red", "--by", "x", "-c", str(cfg)])
    assert bad_matcher.exit_code == 2 and "colour" in bad_matcher.output
    no_equals = run(main, ["alerts", "silence", "--match", "rule", "--by", "x", "-c", str(cfg)])
    assert no_equals.exit_code == 2 and "KEY=V1,V2" in no_equals.output
    bad_duration = run(
        main, ["alerts", "silence", "--match", "rule=damaged", "--for", "soon", "--by", "x", "-c", str(cfg)]
    )
    assert bad_duration.exit_code == 2 and "duration" in bad_duration.output
    assert store.count(m.Silence) == 0  # nothing half-created by the refused commands
    ok = run(
        main, ["alerts", "silence", "--match", "rule=damaged", "--for", "2h", "--by", "x", "-c", str(cfg)]
    )
    assert ok.exit_code == 0 and store.count(m.Silence) == 1
    store.close()
