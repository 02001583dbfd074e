"""``kind: jd_vender_comments`` — a JD POP shop's reviews through JOS (京东宙斯 / 商家开放平台).

``jingdong.pop.PopCommentJsfService.getVenderCommentsForJos`` (商家评价查询) on ``api.jd.com/routerjson``,
signed ``UPPER(MD5(secret + Σ name+value + secret))``, with the shop's ``access_token`` from ``monitor auth
jd`` or ``access_token: ${VAR}``. Business parameters travel as ``360buy_param_json``: ``beginTime,
endTime, score (0 all, 3 good, 2 medium, 1 bad), skuids, page, pageSize ≤ 50``. The answer sits under
``jingdong_pop_PopCommentJsfService_getVenderCommentsForJos_responce`` (JD spells it "responce").

What JOS cannot give: the answer has no 追评 field, so follow-up reviews are not seen through this
route (the legacy public page or the back-office export shows them). Read window by window, oldest
first (``monitor.adapters.windowed``); JOS documents no per-range cap, so windows are not split.
Errors ``{"error_response": {code, zh_desc, en_desc}}``: code 19 (invalid or expired access_token)
is confirmed; the other codes are recognised by their text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from monitor.adapters.base import (
    FetchError,
    HttpRequest,
    PageFetcher,
    ParseError,
    RawItem,
    SourceError,
    register,
)
from monitor.adapters.merchant_api import (
    CHINA,
    Bans,
    MerchantApiConfig,
    MerchantCalls,
    call_json,
    china_time,
    parse_china_time,
    utc_epoch,
)
from monitor.adapters.request_signing import jos_sign
from monitor.adapters.windowed import Answer, Window, WindowedApiAdapter

API = "jingdong.pop.PopCommentJsfService.getVenderCommentsForJos"
ANSWER = "jingdong_pop_PopCommentJsfService_getVenderCommentsForJos_responce"
SCORE = {"all": 0, "good": 3, "medium": 2, "bad": 1}
_LIMIT = re.compile(r"limit|频繁|超过.*次数|调用次数|流控|限流", re.I)
_SIGN = re.compile(r"sign|签名", re.I)
_TOKEN = re.compile(r"access_token|token已过期|token.*(?:expired|invalid)", re.I)
_PERMISSION = re.compile(r"permission|权限|not authori[sz]ed|无权|未授权", re.I)
R = f"{ANSWER}.comments[]."


class JdVenderCommentsConfig(MerchantApiConfig):
    kind: Literal["jd_vender_comments"]
    platform: str = "jd"
    gateway: str = Field(default="https://api.jd.com/routerjson", pattern=r"^https?://")
    authorize_url: str = Field(default="https://open-oauth.jd.com/oauth2/to_login", pattern=r"^https?://")
    token_url: str = Field(default="https://open-oauth.jd.com/oauth2/access_token", pattern=r"^https?://")
    refresh_url: str | None = "https://open-oauth.jd.com/oauth2/refresh_token"
    score: Literal["all", "good", "medium", "bad"] = "all"
    skuids: list[str] = Field(default_factory=list, description="only these SKUs (default: the whole shop)")
    page_size: int = Field(default=50, ge=1, le=50)
    follow_up_ages: list[timedelta] = Field(default_factory=list, max_length=0, description="JOS has no 追评")


class JosCalls(MerchantCalls):
    platform = "jd"
    auth_command = "monitor auth jd"

    def error(self, err: Mapping[str, Any], now: datetime) -> SourceError:
        code = str(err.get("code", ""))
        text = f"{err.get('zh_desc') or err.get('resultMsg') or ''} {err.get('en_desc') or ''}".strip()
        detail = f"{API}: code {code} {text}".strip()
        if code == "19":  # the one JOS code confirmed: invalid or expired access_token
            return self.session_invalid(detail, now)
        if _SIGN.search(text):
            return self.credentials_rejected(detail)
        if _PERMISSION.search(text):
            return self.permission_missing(
                API, "the JOS permission 商家评价查询 (getVenderCommentsForJos)", detail
            )
        if _TOKEN.search(text):
            return self.session_invalid(detail, now)
        if _LIMIT.search(text):
            return self.rate_limited(detail, now, None)
        return FetchError(f"JOS refuses the request ({detail}); tried again at the next poll")


@register
class JdVenderCommentsAdapter(WindowedApiAdapter[JdVenderCommentsConfig]):
    kind = "jd_vender_comments"
    calls: JosCalls
    Config = JdVenderCommentsConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        f"{ANSWER}.comments": "items",
        f"{ANSWER}.totalItem": "paging",
        f"{ANSWER}.code": "'0' is success; anything else is a platform error",
        R + "commentId": "external_id",
        R + "content": "text",
        R + "creationTime": "published (UTC+8)",
        R + "score": "rating 1-5",
        R + "nickName": "author",
        R + "skuid": "sku",
        R + "skuName": "product",
        R + "orderId": "attrs.order_id (the staff look orders up)",
        R + "images[]": "attrs.images",
        R + "videos[]": "attrs.videos",
        R + "isVenderReply": "attrs.replied",
        R + "replyCount": "attrs.replies",
        R + "usefulCount": "attrs.useful_votes",
        "error_response.code": "verdict (19: re-authorise)",
        "error_response.zh_desc": "reason and verdict",
        "error_response.en_desc": "reason and verdict",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        f"{ANSWER}.page": "echo of the page asked for",
        R + "replies[]": "the shop's own replies are not customer voice",
        R + "skuImage": "product picture",
        R + "status": "moderation state, undocumented values",
        R + "imiageStatus": "image moderation state (JD's spelling), undocumented values",
        R + "pin": "the buyer's account: personal data the monitor does not need",
        R + "open_id_buyer": "the buyer's open id: personal data",
        R + "xid_buyer": "the buyer's id: personal data",
    }

    def __init__(self, config: JdVenderCommentsConfig) -> None:
        super().__init__(config)
        self.calls = JosCalls(config)

    def list_page(
        self, fetcher: PageFetcher, window: Window, page: int, want_total: bool, now: datetime
    ) -> Answer:
        c, calls = self.config, self.calls
        Bans.check(calls.ban_key, now)
        business: dict[str, Any] = {
            "beginTime": china_time(window[0]),
            "endTime": china_time(window[1]),
            "score": SCORE[c.score],
            "page": page,
            "pageSize": c.page_size,
        }
        if c.skuids:
            business["skuids"] = ",".join(c.skuids)
        params = {
            "method": API,
            "access_token": calls.token(now),
            "app_key": calls.app_key(),
            "timestamp": china_time(utc_epoch(now)),
            "v": "2.0",
            "format": "json",
            "360buy_param_json": json.dumps(business, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = jos_sign(params, calls.secret())
        fetched, doc = call_json(fetcher, c, HttpRequest(c.gateway, params=params))
        if not isinstance(doc, dict):
            raise ParseError("JOS answer is not a JSON object")
        if isinstance(doc.get("error_response"), dict):
            raise calls.error(doc["error_response"], now)
        body = doc.get(ANSWER)
        if not isinstance(body, dict):
            raise ParseError(f"JOS answer without {ANSWER} (keys: {sorted(doc)[:5]})")
        if str(body.get("code", "0")) != "0":
            raise calls.error(body, now)
        total = body.get("totalItem")
        total = int(total) if isinstance(total, int | str) and str(total).isdigit() else None
        more = total > page * c.page_size if total is not None else len(self.records(body)) == c.page_size
        return Answer(body, total, more, fetched)

    def records(self, doc: Any) -> list[Mapping[str, Any]]:
        if not isinstance(doc, dict) or not isinstance(doc.get("comments", []), list):
            raise ParseError(f"{ANSWER} without a comments list")
        return [c for c in doc.get("comments") or [] if isinstance(c, dict)]

    def items(self, record: Mapping[str, Any], follow: Any) -> list[RawItem]:
        text = str(record.get("content") or "").strip()
        if record.get("commentId") in (None, "") or not text:
            return []
        created = parse_china_time(record.get("creationTime"))
        attrs: dict[str, Any] = {
            "order_id": str(record["orderId"]) if record.get("orderId") else None,
            "images": [i.get("imgUrl") for i in record.get("images") or [] if isinstance(i, dict)],
            "videos": [v.get("videoUrl") for v in record.get("videos") or [] if isinstance(v, dict)],
            "replied": record.get("isVenderReply"),
            "replies": record.get("replyCount"),
            "useful_votes": record.get("usefulCount"),
        }
        score = record.get("score")
        return [
            RawItem(
                text=text,
                external_id=str(record["commentId"]),
                author=record.get("nickName"),
                rating=score if isinstance(score, int) and 1 <= score <= 5 else None,
                sku=str(record.get("skuid") or "") or self.config.sku,
                product=record.get("skuName"),
                published=datetime.fromtimestamp(created, CHINA) if created is not None else None,
                attrs={k: v for k, v in attrs.items() if v not in (None, [], "")},
            )
        ]

    def created_of(self, raw: RawItem) -> int | None:
        return utc_epoch(raw.published) if isinstance(raw.published, datetime) else None
