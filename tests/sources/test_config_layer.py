"""Source configs live on the ground floor: ``monitor.config`` knows no adapter, the caller hands in
the kinds it accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.adapters import registry
from monitor.config import ConfigInvalid, load_config
from tests.conftest import write_project


def test_config_imports_no_adapter() -> None:
    code = (
        "import sys, monitor.config, monitor.config.sources; "
        "bad = sorted(m for m in sys.modules if m.startswith(('monitor.adapters', 'monitor.fetch'))); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loader_knows_only_the_kinds_it_is_handed(tmp_path: Path) -> None:
    config = write_project(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9")
    assert load_config(config, registry()).sources
    with pytest.raises(ConfigInvalid) as exc:
        load_config(config, {})
    assert "unknown source kind" in str(exc.value.errors[0])
    only_json = {"json": registry()["json"]}
    with pytest.raises(ConfigInvalid) as exc:
        load_config(config, only_json)
    assert all("known: json" in str(e) for e in exc.value.errors)
