"""Config errors as the console shows them: the file named relative to the config directory, the
line, the key in words (``第 2 条规则.severity``) and the message in Chinese. The CLI and the logs keep
the ``path:line: key: message`` form of ``ConfigError``."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.config import Config
from monitor.config.yamlload import ConfigError

_INDEX = re.compile(r"(\w+)\[(\d+)\]")
_SECTIONS = {"rules": "规则", "concepts": "概念组", "sops": "处置流程", "steps": "步骤", "sources": "数据源"}
# Most specific first: the generic "Input should be" comes after the comparisons and types.
_MESSAGES = [
    (re.compile(r"^YAML syntax error: "), "YAML 语法错误："),
    (re.compile(r"^unknown key\(s\) "), "不认识的字段："),
    (re.compile(r"^unknown key$"), "不认识的字段（拼写错误？）"),
    (re.compile(r"^required key is missing$"), "缺少必填字段"),
    (re.compile(r"^Input should be greater than or equal to "), "应不小于 "),
    (re.compile(r"^Input should be less than or equal to "), "应不大于 "),
    (re.compile(r"^Input should be greater than "), "应大于 "),
    (re.compile(r"^Input should be less than "), "应小于 "),
    (re.compile(r"^Input should be a valid integer.*?(?= \(got|$)"), "应为整数"),
    (re.compile(r"^Input should be a valid number.*?(?= \(got|$)"), "应为数字"),
    (re.compile(r"^Input should be a valid boolean.*?(?= \(got|$)"), "应为 true 或 false"),
    (re.compile(r"^Input should be a valid string"), "应为文本"),
    (re.compile(r"^Input should be a valid list"), "应为列表"),
    (re.compile(r"^Input should be a valid dictionary.*?(?= \(got|$)"), "应为映射（键: 值）"),
    (re.compile(r"^Input should be "), "取值应为 "),
    (re.compile(r"^String should have at least (\d+) characters?"), r"至少 \1 个字符"),
    (re.compile(r"^String should have at most (\d+) characters?"), r"最多 \1 个字符"),
    (re.compile(r"^List should have at least (\d+) items?.*?(?= \(got|$)"), r"至少 \1 项"),
    (re.compile(r"^Field required"), "缺少必填字段"),
    (re.compile(r"^Extra inputs are not permitted"), "不认识的字段（拼写错误？）"),
    (re.compile(r"^Value error, "), ""),
    (re.compile(r" or "), " 或 "),
    (re.compile(r" ?\(got (.*)\)$"), r"（实际为 \1）"),
    (re.compile(r" \(see (.*)\)$"), r"（另见 \1）"),
]
# ``path:line: key: message`` as ConfigError writes it (reload errors are kept as these lines)
_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+): (?:(?P<key>[\w.\[\]-]+): )?(?P<message>.*)$", re.S)


def readable_key(key: str) -> str:
    """``rules[1].severity`` → ``第 2 条规则.severity``: 1-based, in words."""
    return _INDEX.sub(
        lambda mt: f"第 {int(mt.group(2)) + 1} 条{_SECTIONS.get(mt.group(1), mt.group(1))}", key
    )


def zh_message(message: str) -> str:
    """The common schema and YAML messages in Chinese (a detail the checker wrote stays as written)."""
    for pattern, zh in _MESSAGES:
        message = pattern.sub(zh, message)
    return message


def shown_path(config: Config, path: str) -> str:
    """A file as the console names it: relative to the config directory, else as configured (a
    data volume elsewhere, named in monitor.yaml)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(config.root.resolve()))
    except (ValueError, OSError):
        return path


def error_text(config: Config, error: ConfigError | str, lang: str = "zh") -> str:
    """One config error (or a reload error line) as the console shows it."""
    if isinstance(error, str):
        m = _LINE.match(error)
        if m is None:
            return zh_message(error) if lang == "zh" else error
        path, line, key, message = m["path"], int(m["line"]), m["key"] or "", m["message"]
    else:
        path, line, key, message = error.path, error.line, error.key, error.message
        if error.other:
            message += f" (see {shown_path(config, error.other)})"
    shown = shown_path(config, path)
    where = f"{shown} 第 {line} 行" if lang == "zh" else f"{shown}:{line}"
    if lang != "zh":
        return f"{where}: {key + ': ' if key else ''}{message}"
    key = readable_key(key)
    return f"{where}：{key + '：' if key else ''}{zh_message(message)}"


__all__ = ["error_text", "readable_key", "shown_path", "zh_message"]
