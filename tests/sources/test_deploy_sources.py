"""The deploy files' RSSHub sources can reach the RSSHub service they are wired to.

Sources reach only public addresses unless ``fetch.allow_private`` names the host (#17); the RSSHub
service of ``deploy/`` lives on the compose / cluster network, a private address, so the shipped
configuration must name it or an admin who enables the example source gets "private address" refused.
"""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from monitor.adapters import registry
from monitor.adapters.base import build
from monitor.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICE_ADDRESS = ipaddress.ip_address("172.18.0.5")  # what a compose or cluster service name resolves to


def compose_project(tmp: Path) -> Path:
    shutil.copytree(DEPLOY / "config", tmp / "config")
    (tmp / "config" / "rules").mkdir(exist_ok=True)
    return tmp / "config" / "monitor.yaml"


def k8s_project(tmp: Path) -> Path:
    maps = {
        d["metadata"]["name"]: d["data"]
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "configmap.yaml").read_text())
    }
    root = tmp / "k8s"
    (root / "sources").mkdir(parents=True)
    (root / "rules").mkdir()
    (root / "monitor.yaml").write_text(maps["opinion-monitor-config"]["monitor.yaml"], encoding="utf-8")
    for name, text in maps["opinion-monitor-sources"].items():
        (root / "sources" / name).write_text(text, encoding="utf-8")
    return root / "monitor.yaml"


@pytest.mark.parametrize("make", [compose_project, k8s_project], ids=["compose", "k8s"])
def test_the_shipped_rsshub_source_may_reach_the_shipped_rsshub_service(
    make: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DINGTALK_TOKEN", "t")
    config = load_config(make(tmp_path), registry())  # type: ignore[operator]
    rsshub = [s for s in config.sources.values() if s.kind == "rsshub"]
    assert rsshub, "the deploy files ship an RSSHub example source"
    policy = config.settings.fetch.network
    for source in rsshub:
        url = build(source).first_url({})
        host = urlsplit(url).hostname or ""
        assert policy.url_problem(url) is None
        # at connect time the service name resolves to a private address: it must be allowed by name
        assert policy.address_problem(host, SERVICE_ADDRESS) is None, (source.name, host)
    # and only the service: other private addresses stay refused
    assert policy.address_problem("db.internal", SERVICE_ADDRESS) is not None
