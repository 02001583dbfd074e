"""Every platform error shape (the fixtures in tests/sources/fixtures/merchant) to its verdict, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.adapters.base import FetchError, SourceError
from monitor.adapters.jd_vender_comments import JdVenderCommentsAdapter
from monitor.adapters.kuaishou_comments import KuaishouCommentsAdapter
from monitor.adapters.merchant_api import CredentialsRejected, PermissionMissing, RateLimited, SessionInvalid
from monitor.adapters.taobao_traderates import TaobaoTraderatesAdapter
from tests.sources.conftest import fixture_json

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in UTC+8
BASE = {"name": "s", "app_key": "k", "app_secret": "${SOME_SECRET}", "access_token": "${SOME_TOKEN}"}


def top(body: dict[str, Any]) -> SourceError:
    a = TaobaoTraderatesAdapter(
        TaobaoTraderatesAdapter.Config.model_validate({**BASE, "kind": "taobao_traderates"})
    )
    return a.calls.error("taobao.traderates.get", body["error_response"], NOW)


def jd(body: dict[str, Any]) -> SourceError:
    a = JdVenderCommentsAdapter(
        JdVenderCommentsAdapter.Config.model_validate({**BASE, "kind": "jd_vender_comments"})
    )
    return a.calls.error(body["error_response"], NOW)


def ks(body: dict[str, Any]) -> SourceError:
    cfg = {**BASE, "kind": "kuaishou_comments", "sign_secret": "${SOME_SIGN}"}
    a = KuaishouCommentsAdapter(KuaishouCommentsAdapter.Config.model_validate(cfg))
    return a.calls.error("open.comment.list.get", body, NOW)


def m(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = fixture_json(f"merchant/{name}")
    return doc


@pytest.mark.parametrize(
    ("classify", "body", "kind", "says"),
    [
        (top, m("top_error_limit.json"), RateLimited, "(71 s, as the platform says)"),
        (top, m("top_error_session.json"), SessionInvalid, "re-authorise the shop and put the new token in ${SOME_TOKEN}"),
        (top, m("top_error_permission.json"), PermissionMissing, "taobao.traderates.get needs the permission package"),
        (top, m("top_error_signature.json"), CredentialsRejected, "check that ${SOME_SECRET} holds the secret of app k"),
        (top, m("top_error_busy.json"), FetchError, "busy"),
        (top, {"error_response": {"code": 31, "msg": "Invalid Timestamp"}}, FetchError, "check this host's clock"),
        (top, {"error_response": {"code": 41, "msg": "Invalid Arguments", "sub_code": "isv.invalid-parameter"}},
         FetchError, "check the source's parameters"),
        (jd, m("jd_error_token.json"), SessionInvalid, "code 19"),
        (jd, m("jd_error_permission.json"), PermissionMissing, "商家评价查询"),
        (jd, m("jd_error_limit.json"), RateLimited, "(60 s, no duration stated: our default)"),
        (jd, m("jd_error_signature.json"), CredentialsRejected, "签名无效"),
        (jd, {"error_response": {"code": "61", "zh_desc": "应用未授权该API"}}, PermissionMissing, "needs"),
        (ks, m("ks_error_token.json"), SessionInvalid, "鉴权失败"),
        (ks, m("ks_error_scope.json"), PermissionMissing, "scope merchant_comment"),
        (ks, m("ks_error_qps.json"), RateLimited, "(60 s, no duration stated: our default)"),
        (ks, m("ks_error_quota.json"), RateLimited, "resets at 00:00 UTC+8"),
        (ks, m("ks_error_sign.json"), CredentialsRejected, "验签失败"),
    ],
)  # fmt: skip
def test_platform_errors_become_verdicts(classify: Any, body: dict[str, Any], kind: type, says: str) -> None:
    err = classify(body)
    assert type(err) is kind and says in str(err), str(err)


def test_the_daily_quota_ban_ends_at_midnight_beijing_time() -> None:
    err = ks(m("ks_error_quota.json"))
    assert isinstance(err, RateLimited)
    assert err.until == datetime(2026, 11, 23, 16, 0, 1, tzinfo=UTC)  # 00:00:01 UTC+8 the next day
    assert err.until - NOW == timedelta(hours=12, seconds=1)
