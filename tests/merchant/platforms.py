"""Loopback stand-ins for the merchant open platforms, answering in their documented shapes.

Each checks the request the way the platform does (required parameters, the signature, computed
here independently of ``monitor.adapters.request_signing``, the session, the clock), filters its
reviews by the asked time range, pages them, and can be told to answer an error next. Used as
route callables of ``tests.sources.conftest.Loopback``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tests.sources.conftest import Reply, Request

CHINA = timezone(timedelta(hours=8))
Handler = Callable[[Request], Reply]


def cst(t: datetime) -> str:
    return t.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _json(doc: Any) -> Reply:
    return Reply(body=json.dumps(doc, ensure_ascii=False))


@dataclass
class TopShop:
    """``gw.api.taobao.com/router/rest`` for one shop: traderates.get and tmall.traderate.feeds.get."""

    secret: str = "top-secret"
    session: str = "6100e2session"
    now: datetime = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)  # oid -> tmall_rate_info
    errors: list[dict[str, Any]] = field(default_factory=list)  # error_response bodies, served first
    cap: int = 1500
    calls: list[dict[str, str]] = field(default_factory=list)

    def sign_ok(self, q: dict[str, str]) -> bool:
        method = q.get("sign_method", "md5")
        s = "".join(k + q[k] for k in sorted(q) if k != "sign" and q[k] != "")
        if method == "md5":
            want = hashlib.md5((self.secret + s + self.secret).encode()).hexdigest()
        else:
            algo = hashlib.md5 if method == "hmac" else hashlib.sha256
            want = hmac.new(self.secret.encode(), s.encode(), algo).hexdigest()
        return q.get("sign", "") == want.upper()

    def __call__(self, req: Request) -> Reply:
        q = req.query
        self.calls.append(q)
        for p in ("method", "app_key", "timestamp", "v", "format", "sign_method", "sign"):
            if p not in q:
                return _json(
                    {"error_response": {"code": 40, "msg": "Missing Required Arguments", "sub_msg": p}}
                )
        if not self.sign_ok(q):
            return _json({"error_response": {"code": 25, "msg": "Invalid signature"}})
        sent = datetime.strptime(q["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
        if abs(sent - self.now) > timedelta(minutes=10):
            return _json({"error_response": {"code": 31, "msg": "Invalid Timestamp"}})
        if q.get("session") != self.session:
            return _json(
                {"error_response": {"code": 27, "msg": "Invalid session", "sub_code": "invalid-sessionkey"}}
            )
        if self.errors:
            return _json({"error_response": self.errors.pop(0)})
        if q["method"] == "taobao.traderates.get":
            return self.traderates(q)
        if q["method"] == "tmall.traderate.feeds.get":
            info = self.feeds.get(q.get("child_trade_id", ""))
            body: dict[str, Any] = {"request_id": "r1"}
            if info is not None:
                body["tmall_rate_info"] = info
            return _json({"tmall_traderate_feeds_get_response": body})
        return _json({"error_response": {"code": 22, "msg": "Invalid method"}})

    def traderates(self, q: dict[str, str]) -> Reply:
        if q.get("rate_type") != "get" or q.get("role") != "buyer" or not q.get("fields"):
            return _json({"error_response": {"code": 41, "msg": "Invalid Arguments"}})
        size, page = int(q.get("page_size", 40)), int(q.get("page_no", 1))
        if size > 150 or page > 200:
            return _json(
                {
                    "error_response": {
                        "code": 41,
                        "msg": "Invalid Arguments",
                        "sub_code": "isv.invalid-parameter",
                    }
                }
            )
        start, end = q.get("start_date", "0000"), q.get("end_date", "9999")
        hits = sorted(
            (r for r in self.ratings if start <= r["created"] <= end),
            key=lambda r: r["created"],
            reverse=True,
        )
        listable = hits[: self.cap]  # TOP lists at most 1,500 per identical range
        rows = listable[(page - 1) * size : page * size]
        body: dict[str, Any] = {"trade_rates": {"trade_rate": rows}} if rows else {}
        if q.get("use_has_next") == "true":
            body["has_next"] = page * size < len(listable)
        else:
            body["total_results"] = len(hits)
        return _json({"traderates_get_response": body})


def top_rating(n: int, created: datetime, **over: Any) -> dict[str, Any]:
    base = {
        "tid": 3300000000000 + n, "oid": 3300000000000 + n, "role": "buyer", "nick": f"t***{n % 10}",
        "result": "good", "created": cst(created), "rated_nick": "示例旗舰店", "item_title": "保温杯 500ml",
        "item_price": "89.00", "content": f"第{n}条评价：杯子很好用，保温效果不错。", "reply": "",
        "num_iid": 600000000001, "valid_score": True, "ouid": f"AAH{n:06d}",
    }  # fmt: skip
    return {**base, **over}


@dataclass
class JosShop:
    """``api.jd.com/routerjson``: jingdong.pop.PopCommentJsfService.getVenderCommentsForJos."""

    secret: str = "jd-secret"
    token: str = "jd-token"
    now: datetime = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    comments: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, req: Request) -> Reply:
        q = req.query
        self.calls.append(q)
        s = "".join(k + q[k] for k in sorted(q) if k != "sign" and q[k] != "")
        if q.get("sign") != hashlib.md5((self.secret + s + self.secret).encode()).hexdigest().upper():
            return _json(
                {"error_response": {"code": "14", "zh_desc": "签名无效", "en_desc": "Invalid signature"}}
            )
        if q.get("access_token") != self.token:
            return _json(
                {
                    "error_response": {
                        "code": "19",
                        "zh_desc": "token已过期或者不存在，请重新授权访问。",
                        "en_desc": "Invalid access_token",
                    }
                }
            )
        if self.errors:
            return _json({"error_response": self.errors.pop(0)})
        p = json.loads(q["360buy_param_json"])
        size, page = int(p.get("pageSize", 10)), int(p.get("page", 1))
        if size > 50:
            return _json(
                {
                    "error_response": {
                        "code": "41",
                        "zh_desc": "pageSize最大50",
                        "en_desc": "Invalid arguments",
                    }
                }
            )
        hits = sorted(
            (c for c in self.comments if p["beginTime"] <= c["creationTime"] <= p["endTime"]),
            key=lambda c: c["creationTime"],
            reverse=True,
        )
        rows = hits[(page - 1) * size : page * size]
        body = {"code": "0", "comments": rows, "totalItem": len(hits), "page": page}
        return _json({"jingdong_pop_PopCommentJsfService_getVenderCommentsForJos_responce": body})


def jd_comment(n: int, created: datetime, **over: Any) -> dict[str, Any]:
    base = {
        "commentId": f"1700000{n:04d}", "skuid": "100038004387", "skuName": "保温杯 500ml 雾霾蓝",
        "content": f"京东第{n}条：包装完好，物流很快。", "creationTime": cst(created), "score": 5,
        "nickName": f"j***{n % 10}", "orderId": 280000000000 + n, "replyCount": 0, "usefulCount": 1,
        "isVenderReply": False, "status": 1, "imiageStatus": 0, "skuImage": "jfs/t1/abc.jpg",
        "images": [{"id": n, "imgUrl": f"//img30.360buyimg.com/n0/{n}.jpg", "imgTitle": ""}],
        "videos": [], "replies": [], "pin": "", "open_id_buyer": f"o{n}", "xid_buyer": f"x{n}",
    }  # fmt: skip
    return {**base, **over}


@dataclass
class KuaishouShop:
    """``openapi.kwaixiaodian.com``: open.comment.list.get and open.subcomment.list.get."""

    app_key: str = "ks699"
    sign_secret: str = "ks-sign-secret"
    token: str = "ks-token"
    comments: list[dict[str, Any]] = field(default_factory=list)
    subs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # root id -> sub comments
    errors: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)

    def sign_ok(self, q: dict[str, str]) -> bool:
        keys = ("method", "appkey", "access_token", "version", "signMethod", "timestamp", "param")
        s = "&".join(f"{k}={q[k]}" for k in sorted(keys) if k in q) + f"&signSecret={self.sign_secret}"
        if q.get("signMethod") == "HMAC_SHA256":
            want = base64.b64encode(
                hmac.new(self.sign_secret.encode(), s.encode(), hashlib.sha256).digest()
            ).decode()
        else:
            want = hashlib.md5(s.encode()).hexdigest()
        return q.get("sign") == want

    def __call__(self, req: Request) -> Reply:
        q = req.query
        self.calls.append(q)
        if q.get("appkey") != self.app_key or not self.sign_ok(q):
            return _json({"result": 28, "error_msg": "验签失败 sign check failed"})
        if q.get("access_token") != self.token:
            return _json(
                {"result": 100200102, "error": "access_denied", "error_msg": "鉴权失败 invalid token"}
            )
        if self.errors:
            return _json(self.errors.pop(0))
        p = json.loads(q.get("param", "{}"))
        if q["method"] == "open.subcomment.list.get":
            return _json({"result": 1, "data": {"subComment": self.subs.get(int(p["rootCommentId"]), [])}})
        limit, offset = int(p.get("limit", 20)), int(p.get("offset", 0))
        if limit > 20:
            return _json({"result": 40001, "error_msg": "limit 最大为 20"})
        hits = [
            c for c in self.comments
            if ("outOrderNo" not in p or str(c["orderId"]) == p["outOrderNo"])
            and p.get("createTimeFrom", 0) <= c["createTime"] <= p.get("createTimeTo", 10**15)
        ]  # fmt: skip
        hits.sort(key=lambda c: c["createTime"], reverse=True)
        return _json(
            {"result": 1, "data": {"rootComment": hits[offset : offset + limit], "total": len(hits)}}
        )


def ks_comment(n: int, created: datetime, **over: Any) -> dict[str, Any]:
    ms = int(created.timestamp() * 1000)
    base = {
        "commentId": 510000000 + n, "itemId": 22000001, "itemSkuId": 22000001001, "orderId": 2300000000 + n,
        "orderProductId": 2300000000 + n, "content": f"快手第{n}条：质量不错，发货快。", "replyToCommentId": 0,
        "rootCommentId": 510000000 + n, "auditStatus": "PASS", "complainStatus": "NONE", "reportStatus": "NONE",
        "cheatStatus": "NONE", "valid": True, "liked": False, "replied": False, "attached": False,
        "anonymous": True, "auto": False, "sellerReply": False, "creditScore": 5, "serviceScore": 5,
        "qualityScore": 5, "logisticsScore": 5, "imageUrl": [], "videoId": [], "videoCoverImageUrl": [],
        "createTime": ms, "attachedTime": 0, "updateTime": ms, "sourceType": 1, "showId": 0, "supplyExpireTime": 0,
    }  # fmt: skip
    return {**base, **over}


@dataclass
class OAuthServer:
    """A platform's OAuth pages: the authorisation page (which, the owner having approved, sends the
    browser back with a code) and the token endpoint, in the platform's own parameters and answer."""

    platform: str
    app_key: str
    app_secret: str
    lifetime: int = 86400  # access token seconds
    refresh_lifetime: int = 30 * 86400
    issued: int = 0
    refreshes: list[str] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)
    live_refresh: set[str] = field(default_factory=set)

    def authorize(self, req: Request) -> Reply:
        q = req.query
        target = q.get("redirect_uri", "")
        code = f"code-{len(self.codes) + 1}"
        self.codes.add(code)
        sep = "&" if "?" in target else "?"
        return Reply(302, headers={"Location": f"{target}{sep}code={code}&state={q.get('state', '')}"})

    def _params(self, req: Request) -> dict[str, str]:
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()} if req.body else {}
        return {**req.query, **form}

    def _grant(self) -> dict[str, Any]:
        self.issued += 1
        token, refresh = f"{self.platform}-access-{self.issued}", f"{self.platform}-refresh-{self.issued}"
        self.live_refresh.add(refresh)
        if self.platform == "taobao":
            return {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime, "refresh_token": refresh,
                    "re_expires_in": self.refresh_lifetime, "taobao_user_nick": "%E7%A4%BA%E4%BE%8B%E6%97%97%E8%88%B0%E5%BA%97",
                    "taobao_user_id": "2200000001", "w1_expires_in": self.lifetime, "r1_expires_in": self.lifetime}  # fmt: skip
        if self.platform == "jd":
            return {"access_token": token, "expires_in": self.lifetime, "refresh_token": refresh, "scope": "snsapi_base",
                    "open_id": "jd-open-1", "uid": "jd-shop-1", "time": 1795400000000, "token_type": "bearer", "code": 0}  # fmt: skip
        return {"result": 1, "access_token": token, "expires_in": self.lifetime, "refresh_token": refresh,
                "refresh_token_expires_in": self.refresh_lifetime, "open_id": "ks-open-1", "scopes": ["merchant_comment"]}  # fmt: skip

    def _refused(self, why: str) -> Reply:
        if self.platform == "taobao":
            return _json({"error": "invalid_grant", "error_description": why})
        if self.platform == "jd":
            return _json({"code": 402, "msg": why})
        return _json({"result": 100200105, "error": "invalid_grant", "error_msg": why})

    def token(self, req: Request) -> Reply:
        p = self._params(req)
        key = p.get("client_id") or p.get("app_key") or p.get("app_id")
        secret = p.get("client_secret") or p.get("app_secret")
        if key != self.app_key or secret != self.app_secret:
            return self._refused("invalid client")
        if p.get("grant_type") == "refresh_token":
            if p.get("refresh_token") not in self.live_refresh:
                return self._refused("refreshToken.discarded")
            self.live_refresh.discard(p["refresh_token"])
            self.refreshes.append(p["refresh_token"])
            return _json(self._grant())
        if p.get("code") not in self.codes:
            return self._refused("invalid code")
        self.codes.discard(p["code"])
        return _json(self._grant())
