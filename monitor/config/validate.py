"""Turn pydantic validation errors into located ConfigErrors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from monitor.config.yamlload import ConfigError, LoadedYaml, dotted

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def validate(
    model: type[M], data: Any, loaded: LoadedYaml, prefix: Sequence[str | int] = ()
) -> tuple[M | None, list[ConfigError]]:
    """Validate ``data`` (found at ``prefix`` inside ``loaded``) as ``model``."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            keypath = [*prefix, *loc]
            msg = _MESSAGES.get(err["type"], err["msg"])
            if err["type"] not in _MESSAGES and "input" in err and not isinstance(err["input"], dict | list):
                msg = f"{msg} (got {err['input']!r})"
            errors.append(ConfigError(loaded.path, loaded.line_of(keypath), dotted(keypath), msg))
        return None, errors
