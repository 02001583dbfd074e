"""Config loading: every problem in every file, located as path:line: key: message."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.adapters import registry
from monitor.cli import main
from monitor.config import ConfigInvalid, load_config
from monitor.config.settings import mask_secrets, parse_duration
from tests.conftest import ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "monitor.yaml", tmp_path / "monitor.yaml")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "sources", tmp_path / "sources")
    return tmp_path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigInvalid) as exc:
        load_config(path, registry())
    return [str(e) for e in exc.value.errors]


def test_shipped_config_is_valid() -> None:
    cfg = load_config(ROOT / "monitor.yaml", registry())
    assert {r.id for r in cfg.rules} >= {"counterfeit", "damaged", "slow_refund", "legal_media_risk"}
    assert cfg.settings.timezone == "Asia/Shanghai"
    assert cfg.database_url.endswith("/data/monitor.db")


def test_check_reports_every_problem_with_file_and_line(project: Path) -> None:
    (project / "rules" / "bad_key.yaml").write_text(
        "rules:\n  - id: a_rule\n    title: T\n    category: c\n    keywords: [x]\n    colour: red\n",
        encoding="utf-8",
    )
    (project / "rules" / "bad_type.yaml").write_text(
        "rules:\n  - id: b_rule\n    title: T\n    category: c\n    keywords: 破损\n", encoding="utf-8"
    )
    (project / "rules" / "bad_syntax.yaml").write_text(
        "rules:\n  - id: c_rule\n    title: [unclosed\n    category: c\n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["check", "-c", str(project / "monitor.yaml")])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if re.match(r"^\S+:\d+: ", ln)]
    assert len(lines) == 3, result.output
    by_file = {Path(ln.split(":")[0]).name: ln for ln in lines}
    assert by_file["bad_key.yaml"].split(":")[1] == "6"
    assert "rules[0].colour: unknown key" in by_file["bad_key.yaml"]
    assert by_file["bad_type.yaml"].split(":")[1] == "5"
    assert "rules[0].keywords" in by_file["bad_type.yaml"]
    assert "YAML syntax error" in by_file["bad_syntax.yaml"]
    assert by_file["bad_syntax.yaml"].split(":")[1] in {"3", "4"}


def test_unknown_channel_names_both_files(project: Path) -> None:
    (project / "rules" / "routed.yaml").write_text(
        "rules:\n  - id: routed\n    title: T\n    category: c\n    keywords: [x]\n    notify: [nowhere]\n",
        encoding="utf-8",
    )
    errs = errors_of(project / "monitor.yaml")
    assert len(errs) == 1
    assert (
        "routed.yaml:2:" in errs[0] and "unknown channel 'nowhere'" in errs[0] and "monitor.yaml:" in errs[0]
    )


def test_source_errors_are_per_kind_and_strict(project: Path) -> None:
    (project / "sources" / "bad.yaml").write_text(
        """sources:
  - name: a
    kind: html
    url: http://x/
    item: div
    fields: {text: p}
    selector: oops
  - name: b
    kind: nosuchkind
  - name: a
    kind: feed
    url: http://y/
""",
        encoding="utf-8",
    )
    errs = errors_of(project / "monitor.yaml")
    joined = "\n".join(errs)
    assert "bad.yaml:7: sources[0].selector: unknown key" in joined
    assert "bad.yaml:9: sources[1].kind: unknown source kind 'nosuchkind'" in joined
    assert "duplicate source name 'a'" in joined


def test_settings_errors(project: Path) -> None:
    p = project / "monitor.yaml"
    p.write_text(p.read_text(encoding="utf-8") + "\nbogus: 1\n", encoding="utf-8")
    text = p.read_text(encoding="utf-8").replace("timezone: Asia/Shanghai", "timezone: Mars/Base")
    p.write_text(text, encoding="utf-8")
    errs = errors_of(p)
    assert any("bogus: unknown key" in e for e in errs)
    assert any("timezone: " in e and "unknown timezone" in e for e in errs)


def test_duplicate_yaml_keys_are_errors(project: Path) -> None:
    (project / "rules" / "dup.yaml").write_text("rules: []\nrules: []\n", encoding="utf-8")
    errs = errors_of(project / "monitor.yaml")
    assert any("dup.yaml:2:" in e and "duplicate key" in e for e in errs)


def test_missing_config_file(tmp_path: Path) -> None:
    errs = errors_of(tmp_path / "nope.yaml")
    assert any("file not found" in e for e in errs)


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), (15, 15), ("250ms", 0.25)]
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value).total_seconds() == seconds


@pytest.mark.parametrize("value", ["5 minutes", "", "-1s", None, True])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_secrets_are_masked() -> None:
    assert mask_secrets("dingtalk://${DINGTALK_TOKEN}/") == "dingtalk://${DINGTALK_TOKEN}/"
    assert "abcdef123456" not in mask_secrets("dingtalk://abcdef123456/")


def test_promotion_calendar() -> None:
    from datetime import date

    cfg = load_config(ROOT / "monitor.yaml", registry())
    assert cfg.settings.schedule.profile_for(date(2026, 11, 11))[0] == "promotion:双11"
    assert cfg.settings.schedule.profile_for(date(2026, 6, 18))[0] == "promotion:618"
    assert cfg.settings.schedule.profile_for(date(2026, 3, 3))[0] == "normal"


# ---- where sources may connect (SSRF) -----------------------------------------------------------
BAD_TARGETS = """sources:
  - name: local-file
    kind: feed
    url: file:///etc/passwd
  - name: gopher
    kind: feed
    url: gopher://127.0.0.1:6379/_FLUSHALL
  - name: metadata
    kind: json
    url: http://169.254.169.254/latest/meta-data/{page}
    items: x
    fields: {text: t}
  - name: loopback
    kind: feed
    url: http://127.0.0.1:8080/feed
  - name: named-local
    kind: feed
    url: http://localhost/feed
  - name: intranet-rsshub
    kind: rsshub
    instance: http://10.8.0.5:1200
    route: /weibo/keyword/brand
  - name: public
    kind: feed
    url: https://rsshub.example.com/weibo/keyword/brand
"""


def test_check_refuses_non_http_and_private_source_urls_with_file_and_line(project: Path) -> None:
    (project / "sources" / "targets.yaml").write_text(BAD_TARGETS, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "-c", str(project / "monitor.yaml")])
    assert result.exit_code == 1
    out = result.output
    assert "targets.yaml:4: sources[0].url: only http and https URLs can be fetched, not 'file:'" in out
    assert "targets.yaml:7: sources[1].url: only http and https URLs can be fetched, not 'gopher:'" in out
    assert "targets.yaml:10: sources[2].url: 169.254.169.254 is a private" in out
    assert "targets.yaml:15: sources[3].url: 127.0.0.1 is a private" in out
    assert "targets.yaml:18: sources[4].url: localhost (127.0.0.1) is a private" in out
    assert "targets.yaml:21: sources[5].instance: 10.8.0.5 is a private" in out
    assert "sources[6]" not in out and "6 problem(s) found" in out


def test_an_explicit_allow_list_admits_intranet_sources(project: Path) -> None:
    intranet = "sources:\n  - name: loopback\n" + BAD_TARGETS.split("  - name: loopback\n", 1)[1]
    (project / "sources" / "targets.yaml").write_text(intranet, encoding="utf-8")
    p = project / "monitor.yaml"
    p.write_text(
        p.read_text(encoding="utf-8") + "\nfetch:\n  allow_private: [127.0.0.1, localhost, 10.8.0.0/16]\n",
        encoding="utf-8",
    )
    cfg = load_config(p, registry())
    assert {"loopback", "named-local", "intranet-rsshub", "public"} <= set(cfg.sources)
    p.write_text(p.read_text(encoding="utf-8") + "  catchup_pages: 5\n", encoding="utf-8")
    bad = p.read_text(encoding="utf-8").replace("10.8.0.0/16]", "http://10.8.0.0/16]")
    p.write_text(bad, encoding="utf-8")
    errs = errors_of(p)
    assert any("fetch.allow_private[2]: Value error, 'http://10.8.0.0/16' is neither" in e for e in errs)


# ---- YAML limits --------------------------------------------------------------------------------
def billion_laughs() -> str:
    text = 'rules: []\nlol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    prev = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
        prev = name
    return text


def test_an_alias_bomb_is_refused_at_its_line_without_expanding_it(project: Path) -> None:
    """It cost 26 s and 2.3 GB before rejection, inside the daemon when saved through the rule editor."""
    import tracemalloc

    (project / "rules" / "bomb.yaml").write_text(billion_laughs(), encoding="utf-8")
    tracemalloc.start()
    try:
        errs = errors_of(project / "monitor.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(errs) == 1 and re.match(
        r".*bomb\.yaml:\d+: aliases expand this file to 490,329,066 values", errs[0]
    )
    assert peak < 30_000_000, f"{peak:,} bytes at peak"  # the file is 0.4 KB; its expansion never happens


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: &r [*r]\n", "an alias refers to the value that contains it"),
        ("rules: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than 64 levels"),
    ],
)
def test_self_referring_and_absurdly_nested_files_are_refused(project: Path, text: str, message: str) -> None:
    (project / "rules" / "odd.yaml").write_text(text, encoding="utf-8")
    errs = errors_of(project / "monitor.yaml")
    assert any("odd.yaml:1: " in e and message in e for e in errs), errs


def test_an_oversized_file_is_refused_before_it_is_parsed(project: Path) -> None:
    from monitor.config.yamlload import MAX_BYTES

    (project / "rules" / "huge.yaml").write_text("rules: []\n#" + "x" * MAX_BYTES + "\n", encoding="utf-8")
    errs = errors_of(project / "monitor.yaml")
    assert any("huge.yaml:1: file larger than 8,000,000 characters" in e for e in errs), errs


def test_anchors_used_as_intended_still_load(project: Path) -> None:
    entries = [
        f"  - {{name: feed-{i}, kind: feed, url: 'https://rsshub.example.com/{i}', headers: *h}}\n"
        for i in range(1, 50)
    ]
    first = "  - {name: feed-0, kind: feed, url: 'https://rsshub.example.com/0', headers: &h {Referer: x}}\n"
    (project / "sources" / "anchors.yaml").write_text(
        "sources:\n" + first + "".join(entries), encoding="utf-8"
    )
    sources = load_config(project / "monitor.yaml", registry()).sources
    assert [sources[f"feed-{i}"].headers for i in (0, 49)] == [{"Referer": "x"}] * 2


def test_every_duration_field_speaks_the_same_language_and_names_its_line(project: Path) -> None:
    """Durations are one annotated type: any bad one is one error at its key, in every file."""
    p = project / "monitor.yaml"
    p.write_text(
        "reload_check: [1]\nobservability: {stale_after: soon}\nweb: {session_ttl: 12 hours}\n",
        encoding="utf-8",
    )
    sop = project / "rules" / "sops" / "zz.yaml"
    sop.write_text(
        "sops:\n  - id: zz\n    title: t\n    compensation: {ceiling_yuan: 10, approval: 主管}\n"
        "    statement: 您好，我们马上处理\n    remind_every: 1 hour\n"
        "    steps:\n      - {key: a, title: 处理, owner: 客服, deadline: later}\n",
        encoding="utf-8",
    )
    errs = [e for e in errors_of(p) if "duration" in e]
    where = sorted(e.split(": ", 2)[1] for e in errs)
    assert where == [
        "observability.stale_after",
        "reload_check",
        "sops[0].remind_every",
        "sops[0].steps[0].deadline",
        "web.session_ttl",
    ], errs
    assert any("zz.yaml:8: sops[0].steps[0].deadline" in e for e in errs)


def test_a_null_optional_duration_switches_the_feature_off(project: Path) -> None:
    p = project / "monitor.yaml"
    p.write_text("observability: {stale_after: null}\n", encoding="utf-8")
    assert load_config(p, registry()).settings.observability.stale_after is None


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("  login: {max_failures: 0}\n", "web.login.max_failures: "),
        ("  login: {max_failures: many}\n", "web.login.max_failures: "),
        ("  login: {lockout: 2h, max_lockout: 15m}\n", "at most max_lockout"),
        ("  login: {lockout: 0s}\n", "at least 1s"),
        ("  login: {max_lockout: 2h, forget_after: 1h}\n", "forget_after must be at least max_lockout"),
        ("  login: {lock: 1m}\n", "web.login.lock: unknown key"),
        ("  trusted_proxies: [10.0.0.0/8, proxy.local]\n", "'proxy.local' is not an IP address or network"),
        ("  trusted_proxies: 10.0.0.1\n", "web.trusted_proxies: "),
    ],
)
def test_login_throttling_and_proxy_settings_refuse_garbage_at_their_line(
    project: Path, block: str, message: str
) -> None:
    p = project / "monitor.yaml"
    text = p.read_text(encoding="utf-8").replace("web:\n", "web:\n" + block, 1)
    p.write_text(text, encoding="utf-8")
    errs = errors_of(p)
    assert len(errs) == 1 and message in errs[0], errs
    line = text.splitlines().index(block.rstrip("\n")) + 1  # the inserted line (or the web: key above it)
    assert re.match(rf"^\S*monitor\.yaml:({line}|{line - 1}): ", errs[0]), errs


def test_login_defaults_and_a_valid_block() -> None:
    from datetime import timedelta

    from monitor.config.settings import Web

    assert Web().login.max_failures == 5 and Web().trusted_proxies == ["127.0.0.1"]
    web = Web.model_validate({"login": {"lockout": "30s", "max_lockout": "1h", "forget_after": "1d"}})
    assert web.login.lockout == timedelta(seconds=30) and web.login.forget_after == timedelta(days=1)


@pytest.mark.parametrize(
    ("under", "line", "message"),
    [
        ("schedule:\n", "  backoff_after: 0", "schedule.backoff_after: "),
        ("schedule:\n", "  backoff_after: often", "schedule.backoff_after: "),
        ("schedule:\n", "  backoff_max: soon", "schedule.backoff_max: "),
        ("schedule:\n", "  sick_share: 0", "schedule.sick_share: "),
        ("schedule:\n", "  sick_share: 1.5", "schedule.sick_share: "),
        ("schedule:\n", "  sick_share: half", "schedule.sick_share: "),
        ("schedule:\n", "  slow_after: 0s", "schedule.slow_after: "),
        ("schedule:\n", "  slow_after: later", "schedule.slow_after: "),
        ("", "switch_interval: 0s", "switch_interval: "),
        ("", "switch_interval: fast", "switch_interval: "),
        ("", "delivery_first: -1s", "delivery_first: "),
        ("", "delivery_first: 1h", "delivery_first: "),
        ("", "delivery_first: soon", "delivery_first: "),
    ],
)
def test_backoff_bulkhead_and_switch_interval_refuse_garbage_at_their_line(
    project: Path, under: str, line: str, message: str
) -> None:
    """The settings added for #18: a clear error at its line (``under``: the block it goes in; none:
    a top-level key, written before ``web:``)."""
    p = project / "monitor.yaml"
    text = p.read_text(encoding="utf-8")
    if under:
        text = text.replace(under, under + line + "\n", 1)
    else:
        text = text.replace("web:\n", line + "\nweb:\n", 1)
    p.write_text(text, encoding="utf-8")
    errs = errors_of(p)
    assert len(errs) == 1 and message in errs[0], errs
    at = text.splitlines().index(line) + 1
    assert re.match(rf"^\S*monitor\.yaml:{at}: ", errs[0]), errs
