"""Daily and weekly reports: numbers, archive, outbox keys, CLI."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from monitor.reports import build_daily, build_weekly, publish, run_due
from monitor.store import models as m
from tests.conftest import NOW


def test_daily_report_numbers_and_delivery(daemon: Any, ids: dict[str, int]) -> None:
    day = NOW.astimezone(daemon.config.settings.tz).date()
    r = build_daily(daemon.store, daemon.config, day, NOW)
    assert r.data["volume"] == 2
    assert r.data["dim_sentiment"]["商品质量"]["neg"] == 1
    assert r.data["top_rules"][0][:2] == ["counterfeit", "假货质疑"] or r.data["top_rules"][0][:2] == (
        "counterfeit",
        "假货质疑",
    )
    inc = r.data["incidents"][0]
    assert (inc["pending"], inc["overdue"]) == (2, 1)
    assert "<svg" in r.html and "口碑分析日报" in r.markdown
    publish(daemon.store, daemon.config, r, NOW)
    publish(daemon.store, daemon.config, r, NOW)  # idempotent
    with daemon.store.session() as s:
        keys = list(s.scalars(select(m.Outbox.idempotency_key)))
        assert keys == [f"report-daily-{day.isoformat()}-webhook"]
        assert s.scalars(select(m.Report.period)).all() == [day.isoformat()]


def test_report_escapes_html(daemon: Any, ids: dict[str, int]) -> None:
    with daemon.store.transaction() as s:
        s.get(m.Incident, ids["incident"]).title = "<script>alert(1)</script>"
    r = build_daily(daemon.store, daemon.config, NOW.astimezone(daemon.config.settings.tz).date(), NOW)
    assert "<script>" not in r.html


def test_weekly_and_scheduled_job(daemon: Any, ids: dict[str, int]) -> None:
    w = build_weekly(daemon.store, daemon.config, "2026-W48", NOW)
    assert w.data["volume"] == 2 and w.data["departments"][0]["department"] == "法务"
    from datetime import timedelta

    monday_next = NOW + timedelta(days=7)
    done = run_due(daemon.store, daemon.config, monday_next)
    assert done == ["daily 2026-11-29", "weekly 2026-W48"]
    assert run_due(daemon.store, daemon.config, monday_next) == []


def test_cli_report(daemon: Any, ids: dict[str, int], tmp_path: Any) -> None:
    from monitor.cli.report import report_group

    runner = CliRunner()
    res = runner.invoke(report_group, ["daily", "-c", str(daemon.config_path), "--date", "2026-11-23"])
    assert res.exit_code == 0, res.output
    assert "口碑分析日报 2026-11-23" in res.output
    out = tmp_path / "w.html"
    res = runner.invoke(
        report_group, ["weekly", "-c", str(daemon.config_path), "--week", "2026-W48", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "<svg" in out.read_text(encoding="utf-8")
    res = runner.invoke(report_group, ["weekly", "-c", str(daemon.config_path), "--week", "nope"])
    assert res.exit_code == 2


def test_cli_users(daemon: Any) -> None:
    from monitor.cli.users import users_group

    runner = CliRunner()
    res = runner.invoke(
        users_group, ["add", "张三", "--role", "pr", "-c", str(daemon.config_path)], input="short\n"
    )
    assert res.exit_code == 1 and "at least" in res.output
    res = runner.invoke(
        users_group,
        ["add", "张三", "--role", "pr", "-c", str(daemon.config_path)],
        input="a long enough password\n",
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(users_group, ["token", "张三", "-c", str(daemon.config_path)])
    assert res.exit_code == 0 and res.output.startswith("mon_")
    with daemon.store.session() as s:
        u = s.scalars(select(m.User).where(m.User.name == "张三")).one()
        assert u.password_hash.startswith("$argon2id$") and "long enough" not in u.password_hash


def test_a_product_is_ranked_with_its_variants_together(daemon: Any, ids: dict[str, int]) -> None:
    """#13: a JD sku is the variant; four variants with one review each are one product with four."""
    from datetime import timedelta

    with daemon.store.transaction() as s:
        for i, sent in enumerate(["neg", "neg", "neg", "pos"]):
            it = m.Item(
                source="jd-cup",
                platform="jd",
                external_id=f"variant{i}",
                text=f"规格{i}的评价",
                rating=1 if sent == "neg" else 5,
                sku=f"V{i}",
                product="P-100",
                published_at=NOW - timedelta(hours=2),
                fetched_at=NOW - timedelta(minutes=30),
                updated_at=NOW,
                payload_hash=f"variant{i}",
            )
            s.add(it)
            s.flush()
            s.add(
                m.Analysis(
                    item_id=it.id,
                    normalized=it.text,
                    rules=[],
                    hits=[],
                    sentiment=sent,
                    sentiment_score=0.1 if sent == "neg" else 0.9,
                    dimensions=[],
                    grade=None,
                    grade_reasons=[],
                    severity=None,
                    analyzed_at=NOW,
                )
            )
    day = NOW.astimezone(daemon.config.settings.tz).date()
    r = build_daily(daemon.store, daemon.config, day, NOW)
    products = {p["sku"]: (p["items"], p["negative"]) for p in r.data["products"]}
    assert products == {"P-100": (4, 3)}  # no variant has the 3 items a SKU needs to be ranked
    assert all(not row["sku"].startswith("V") for row in r.data["skus"])
    assert "| P-100 | 4 | 3 | 75.0% |" in r.markdown
    assert "<td>P-100</td>" in r.html
    w = build_weekly(daemon.store, daemon.config, _week(day), NOW)
    assert [p["sku"] for p in w.data["products"]] == ["P-100"]


def _week(day: Any) -> str:
    iso = day.isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def test_shared_day_counts_equal_the_per_day_queries(store: Any) -> None:
    """#18: the trend and the period totals read from one grouped query over 28 days are the
    numbers the per-day window queries give, also in a zone that changes offset (DST) in the window
    and for items published exactly at local midnight."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from monitor.reports import data

    with store.transaction() as s:
        for i in range(120):
            at = NOW - timedelta(hours=7 * i, minutes=i % 3)
            if i % 10 == 0:  # exactly local midnight in each zone
                zone = ZoneInfo("Asia/Shanghai" if i % 20 else "America/New_York")
                local = at.astimezone(zone)
                at = local.replace(hour=0, minute=0, second=0, microsecond=0)
            sent = ("neg", "neu", "pos")[i % 3 if i < 60 else (i % 2) * 2]
            it = m.Item(
                source="jd-cup",
                platform="jd" if i % 4 else "tmall",
                external_id=f"dc{i}",
                text=f"评价{i}",
                product=None if i % 5 == 0 else f"P{i % 2}",
                published_at=at,
                fetched_at=NOW,
                updated_at=NOW,
                payload_hash=f"dc{i}",
            )
            s.add(it)
            s.flush()
            s.add(
                m.Analysis(
                    item_id=it.id,
                    normalized=it.text,
                    rules=[],
                    hits=[],
                    sentiment=sent,
                    sentiment_score=0.5,
                    dimensions=[],
                    grade=None,
                    grade_reasons=[],
                    severity=None,
                    analyzed_at=NOW,
                )
            )
    with store.transaction() as s:
        for name in ("Asia/Shanghai", "America/New_York"):
            tz = ZoneInfo(name)
            last = NOW.astimezone(tz).date()
            counts = data.day_counts(s, last, tz)
            assert sum(n for *_, n in counts.rows) > 60
            assert data.trend(s, last, tz, counts=counts) == data.trend(s, last, tz)
            assert data.trend(s, last, tz, 7, counts=counts) == data.trend(s, last, tz, 7)
            first = last - timedelta(days=27)  # New York leaves DST on 2026-11-01
            whole = data.sentiment_counts(s, data.day_window(first, tz)[0], data.day_window(last, tz)[1])
            assert counts.sentiments(first, last) == whole
            assert data.drifts(s, last, tz, counts=counts) == data.drifts(s, last, tz)
