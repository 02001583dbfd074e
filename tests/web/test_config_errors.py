"""Config errors as the console lists them: Chinese, the key in words, the file as in the config
directory; English on the English console; a reload error line parsed the same way."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from monitor.config.yamlload import ConfigError
from monitor.web.config_errors import error_text


def _config(root: Path) -> Any:
    return SimpleNamespace(root=root)


def test_schema_errors_in_chinese(tmp_path: Path) -> None:
    c = _config(tmp_path)
    f = str(tmp_path / "rules" / "default.yaml")
    cases = [
        (
            ConfigError(f, 3, "rules[0].colour", "unknown key"),
            "第 1 条规则.colour：不认识的字段（拼写错误？）",
        ),
        (ConfigError(f, 4, "rules[1].title", "required key is missing"), "第 2 条规则.title：缺少必填字段"),
        (
            ConfigError(f, 5, "schedule.backoff_after", "Input should be greater than or equal to 1 (got 0)"),
            "schedule.backoff_after：应不小于 1（实际为 0）",
        ),
        (
            ConfigError(f, 6, "workers", "Input should be a valid integer, unable to parse string (got 'x')"),
            "workers：应为整数（实际为 'x'）",
        ),
        (
            ConfigError(f, 7, "severity", "Input should be 'low' or 'high' (got 'x')"),
            "severity：取值应为 'low' 或 'high'",
        ),
    ]
    for err, expected in cases:
        text = error_text(c, err)
        assert text.startswith(f"rules/default.yaml 第 {err.line} 行："), text
        assert expected in text, text
        assert str(tmp_path) not in text


def test_english_console_and_reload_lines(tmp_path: Path) -> None:
    c = _config(tmp_path)
    f = str(tmp_path / "monitor.yaml")
    err = ConfigError(f, 9, "routing.escalate_to", "unknown key")
    assert error_text(c, err, "en") == "monitor.yaml:9: routing.escalate_to: unknown key"
    # the daemon keeps a refused reload as str(ConfigError): read back into the same form
    assert error_text(c, str(err)) == "monitor.yaml 第 9 行：routing.escalate_to：不认识的字段（拼写错误？）"
    assert (
        error_text(c, f"{f}:2: YAML syntax error: bad indent")
        == "monitor.yaml 第 2 行：YAML 语法错误：bad indent"
    )
    # not in that form (a write refused by the disk): the message alone
    assert (
        error_text(c, "could not write rules/x.yaml: disk full") == "could not write rules/x.yaml: disk full"
    )
    # a file outside the config directory (a data volume) keeps the path it was configured as
    assert error_text(c, ConfigError("/srv/sops/a.yaml", 1, "", "unknown key")).startswith(
        "/srv/sops/a.yaml 第 1 行"
    )
