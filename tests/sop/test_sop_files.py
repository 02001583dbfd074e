"""The shipped SOPs are complete and valid; a bad SOP file is a located config error, and a
running daemon keeps its previous SOPs when one is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.adapters import registry
from monitor.config import ConfigInvalid, load_config
from monitor.config.compliance import money_ranges
from monitor.config.sops import CRISES, PLACEHOLDERS
from monitor.daemon import Daemon
from monitor.demo.sink import WebhookSink
from monitor.demo.storefront import Storefront
from tests.conftest import ROOT, write_project

CATEGORIES = (
    "counterfeit",
    "damaged",
    "slow_refund",
    "slow_delivery",
    "service_attitude",
    "quality_defect",
    "wrong_or_missing_item",
    "legal_media_risk",
)
ROLES = {"客服", "公关", "运营", "仓库/供应链", "法务", "客服主管"}


@pytest.fixture
def project(tmp_path: Path, storefront: Storefront, sink: WebhookSink) -> Path:
    return write_project(tmp_path, storefront.base_url, sink.url)


def test_one_sop_per_category_and_crisis(project: Path) -> None:
    config = load_config(project, registry())
    for cat in CATEGORIES:
        sop = config.sop_for(cat)
        assert sop is not None and cat in sop.categories, cat
    for crisis in CRISES:
        assert sum(crisis in s.crisis for s in config.sops) == 1, crisis
    for sop in config.sops:
        assert {s.owner for s in sop.steps} <= ROLES
        assert sop.statement and sop.compensation.approval and len(sop.compensation.options) >= 2
        assert any("{offer}" in r for r in sop.replies.values()), f"{sop.id}: no reply carries the offer"
        assert all(s.deadline is not None for s in sop.steps), sop.id


def test_clocks_follow_the_domain_slas(project: Path) -> None:
    config = load_config(project, registry())
    for cat in CATEGORIES:
        sop = config.sop_for(cat)
        assert sop is not None
        first = [s for s in sop.steps if s.from_ == "published"]
        assert first and first[0].deadline is not None and first[0].deadline.total_seconds() == 3600, cat
        assert sop.compensation.ceiling_yuan <= 50 and (sop.compensation.coupon_ceiling_yuan or 0) <= 30
    social = next(s for s in config.sops if "social_spreading" in s.crisis)
    contact = next(s for s in social.steps if s.from_ == "published")
    assert (
        contact.owner == "公关" and contact.deadline is not None and contact.deadline.total_seconds() == 7200
    )
    assert all(s.follow_up_after.total_seconds() == 86400 for s in config.sops)


BAD_SOP = """sops:
  - id: bad_one
    title: 坏的 SOP
    categories: [damaged]
    compensation:
      ceiling_yuan: 50
      approval: 客服主管
      options: [退款 + 10 元券, 补发]
    statement: 我们的商品绝对无质量问题。
    steps:
      - {key: a, title: 私信, owner: 客服, deadline: 1h, from: published}
    replies:
      ok: 您好{customer}，可以为您{offer}。
      cold: 已记录，请等待处理。
      rich: 补偿您 80 元，{product}。
      typo: 您好{custmer}
"""


def test_invalid_sop_file_gives_every_error_with_file_and_line(project: Path) -> None:
    (project.parent / "rules" / "sops" / "bad.yaml").write_text(BAD_SOP, encoding="utf-8")
    with pytest.raises(ConfigInvalid) as exc:
        load_config(project, registry())
    errors = [str(e) for e in exc.value.errors]
    assert any("bad.yaml:9: sops[0].statement: promise (承诺违规) 「绝对无质量问题」" in e for e in errors), (
        errors
    )
    where = {e.split(": ", 2)[1]: e.split(": ", 1)[0] for e in errors}
    assert where["sops[0].replies.cold"].endswith("bad.yaml:14")
    assert where["sops[0].replies.rich"].endswith("bad.yaml:15")
    assert where["sops[0].replies.typo"].endswith("bad.yaml:16")
    assert "ceiling" in next(e for e in errors if "replies.rich" in e)
    assert "unknown placeholder" in next(e for e in errors if "replies.typo" in e)
    assert len(errors) == 4


def test_sop_keys_and_steps_are_strict(project: Path) -> None:
    text = BAD_SOP.replace("绝对无质量问题", "问题").split("    replies:")[0]
    text = text.replace("      - {key: a,", "      - {key: a, title: x, owner: 客服}\n      - {key: a,")
    text += "    remind_evry: 1h\n"
    (project.parent / "rules" / "sops" / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigInvalid) as exc:
        load_config(project, registry())
    msgs = [str(e) for e in exc.value.errors]
    assert any("bad.yaml:10: sops[0].steps: " in e and "duplicate step key" in e for e in msgs), msgs
    assert any("bad.yaml:13: sops[0].remind_evry: unknown key" in e for e in msgs), msgs


def test_placeholders_match_what_drafts_fill() -> None:
    assert set(PLACEHOLDERS) >= {"product", "order", "carrier", "sku", "customer", "offer"}
    assert (ROOT / "rules" / "sops").is_dir()


def test_running_daemon_keeps_previous_sops_on_a_bad_file(project: Path) -> None:
    d = Daemon(project, http=False)
    d.start()
    try:
        before = d.config.sops
        ids = [s.id for s in before]
        assert "negative_burst" in ids and len(ids) == 12
        (project.parent / "rules" / "sops" / "bad.yaml").write_text(BAD_SOP, encoding="utf-8")
        assert d.reload() is False
        assert d.config.sops is before and [s.id for s in d.config.sops] == ids
        assert any("bad.yaml:9: sops[0].statement: promise" in e for e in d.reload_errors), d.reload_errors
        # fixed: the new SOP is taken
        (project.parent / "rules" / "sops" / "bad.yaml").write_text(
            BAD_SOP.split("    replies:")[0].replace("绝对无质量问题", "已安排专人跟进"), encoding="utf-8"
        )
        assert d.reload() is True
        assert "bad_one" in [s.id for s in d.config.sops]
    finally:
        d.shutdown()


def test_a_compensation_option_is_one_figure_not_a_range(project: Path) -> None:
    """#16: a draft offers one figure within the cap; "5-20 元券" is refused at its line."""
    text = BAD_SOP.split("    replies:")[0].replace("绝对无质量问题", "问题")
    text = text.replace("options: [退款 + 10 元券, 补发]", "options: [退款 + 5-20 元券, 补发, 满 200-20 元]")
    (project.parent / "rules" / "sops" / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigInvalid) as exc:
        load_config(project, registry())
    errors = [str(e) for e in exc.value.errors]
    assert len(errors) == 1, errors
    assert "bad.yaml:8: sops[0].compensation.options[0]: range (补偿数额不确定) 「5-20 元」" in errors[0], (
        errors
    )
    config = load_config(ROOT / "monitor.yaml", registry())  # the shipped SOPs hold
    assert all(not money_ranges(o) for s in config.sops for o in s.compensation.options)
