"""Config loading: every problem in every file, located as path:line: key: message."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

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
        load_config(path)
    return [str(e) for e in exc.value.errors]


def test_shipped_config_is_valid() -> None:
    cfg = load_config(ROOT / "monitor.yaml")
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

    cfg = load_config(ROOT / "monitor.yaml")
    assert cfg.settings.schedule.profile_for(date(2026, 11, 11))[0] == "promotion:双11"
    assert cfg.settings.schedule.profile_for(date(2026, 6, 18))[0] == "promotion:618"
    assert cfg.settings.schedule.profile_for(date(2026, 3, 3))[0] == "normal"


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
    assert load_config(p).settings.observability.stale_after is None
