"""``monitor try-source`` for each merchant API kind, with tokens from the environment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.clock import utcnow
from tests.merchant.conftest import MakeCtx
from tests.merchant.platforms import JosShop, KuaishouShop, TopShop, jd_comment, ks_comment, top_rating
from tests.sources.conftest import Loopback

CREDS = {
    "taobao_traderates": 'app_key: "1"\n    app_secret: "${MT_TOP_SECRET}"\n    access_token: "${MT_TOP_SESSION}"\n'
    '    gateway: "{base}/router/rest"',
    "jd_vender_comments": 'app_key: jdkey\n    app_secret: "${MT_JD_SECRET}"\n    access_token: "${MT_JD_TOKEN}"\n'
    '    gateway: "{base}/routerjson"',
    "kuaishou_comments": 'app_key: ks699\n    app_secret: "${MT_KS_SECRET}"\n    sign_secret: "${MT_KS_SIGN}"\n'
    '    access_token: "${MT_KS_TOKEN}"\n    gateway: "{base}"',
}


@pytest.mark.parametrize("kind", sorted(CREDS))
def test_try_source_each_merchant_kind(kind: str, loopback: Loopback, make_ctx: MakeCtx) -> None:
    now = utcnow()  # try-source signs with the wall clock, as it would against the real platform
    if kind == "taobao_traderates":
        loopback.route("/router/rest", TopShop(now=now, ratings=[top_rating(1, now - timedelta(hours=1))]))
    elif kind == "jd_vender_comments":
        loopback.route("/routerjson", JosShop(now=now, comments=[jd_comment(1, now - timedelta(hours=1))]))
    else:
        loopback.route(
            "/open/comment/list/get", KuaishouShop(comments=[ks_comment(1, now - timedelta(hours=1))])
        )
    creds = CREDS[kind].replace("{base}", loopback.url)
    ctx = make_ctx(f"sources:\n  - name: s\n    kind: {kind}\n    {creds}\n")
    result = CliRunner().invoke(main, ["try-source", "-c", str(ctx.config.root / "monitor.yaml"), "s"])
    assert result.exit_code == 0, result.output
    assert "1 items" in result.output and "verdict: ok" in result.output and "next cursor:" in result.output
