"""``kind: kuaishou_comments`` — a 快手小店's reviews through the Kuaishou e-commerce open platform.

``open.comment.list.get`` (``GET /open/comment/list/get`` on ``openapi.kwaixiaodian.com``) with ``param``
``{offset, limit ≤ 20, createTimeFrom, createTimeTo, outItemId?}``; the answer
``{"result": 1, "data": {"rootComment": [...], "total": N}}``. Signed with the app's separate
**signSecret**: ``MD5`` (lower hex) or ``HMAC_SHA256`` (Base64) over the sorted ``k=v&…&signSecret=…``
string of the signed parameters. The access token comes from ``monitor auth kuaishou`` (scope
``merchant_comment``; tokens last 48 h and are refreshed with the 180-day refresh token) or
``access_token: ${VAR}``.

追评: a root review with ``attached: true`` has one; ``open.subcomment.list.get`` returns it. It is read on
first sight and, for reviews that had none yet, again at ``follow_up_ages`` (the root is re-read by its
order with ``outOrderNo``). It becomes a new version of the review and an item ``<id>:append``.
Unconfirmed: the unit of ``createTimeFrom/To`` (``time_unit``, default milliseconds), which score is the
overall star (``qualityScore`` is used), and the sub-comment call's parameter (``rootCommentId``) and
answer (``data.subComment``); a different shape gives a ``broken`` verdict naming the missing key.
Errors ``{"result": ≠1, "error_msg": …}`` are told apart by their text (the platform's FAQ wording).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

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
    RateLimited,
    call_json,
    env_value,
    utc_epoch,
)
from monitor.adapters.request_signing import kuaishou_sign
from monitor.adapters.windowed import Answer, Window, WindowedApiAdapter
from monitor.config.settings import ENV_REF

LIST_API = "open.comment.list.get"
SUB_API = "open.subcomment.list.get"
SCOPE = "scope merchant_comment (读取或更新店铺的评价信息)"
_QUOTA = re.compile(r"exceed quota limit", re.I)
_QPS = re.compile(r"exceed qps limit|限流|qps|频率", re.I)
_SIGN = re.compile(r"验签|签名|sign", re.I)
_SCOPE = re.compile(r"scope|权限", re.I)
_TOKEN = re.compile(r"鉴权失败|token|access_denied|授权|revoked", re.I)
R = "data.rootComment[]."


class KuaishouCommentsConfig(MerchantApiConfig):
    kind: Literal["kuaishou_comments"]
    platform: str = "kuaishou"
    gateway: str = Field(default="https://openapi.kwaixiaodian.com", pattern=r"^https?://")
    authorize_url: str = Field(default="https://open.kwaixiaodian.com/oauth/authorize", pattern=r"^https?://")
    token_url: str = Field(
        default="https://openapi.kwaixiaodian.com/oauth2/access_token", pattern=r"^https?://"
    )
    refresh_url: str | None = "https://openapi.kwaixiaodian.com/oauth2/refresh_token"
    sign_secret: str = Field(description="${VAR} holding the app's signSecret (not the appSecret)")
    sign_method: Literal["MD5", "HMAC_SHA256"] = "HMAC_SHA256"
    item_id: str | None = Field(default=None, pattern=r"^\d+$", description="only this item (outItemId)")
    page_size: int = Field(default=20, ge=1, le=20)
    time_unit: Literal["ms", "s"] = Field(default="ms", description="unit of createTimeFrom/To (unconfirmed)")

    @field_validator("sign_secret")
    @classmethod
    def _sign_secret_from_env(cls, v: str) -> str:
        if not ENV_REF.search(v):
            raise ValueError("put the signSecret in an environment variable and write ${THAT_VARIABLE} here")
        return v


def _until_midnight(now: datetime) -> int:
    local = now.astimezone(CHINA)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((midnight - local).total_seconds()) + 1


class KsCalls(MerchantCalls):
    platform = "kuaishou"
    auth_command = "monitor auth kuaishou"

    def error(self, api: str, doc: Mapping[str, Any], now: datetime) -> SourceError:
        text = f"{doc.get('error_msg') or doc.get('msg') or ''} {doc.get('error') or ''}".strip()
        detail = f"{api}: result {doc.get('result')} {text}".strip()
        if _QUOTA.search(text):
            detail += "; the daily quota resets at 00:00 UTC+8"
            return self.rate_limited(detail, now, _until_midnight(now))
        if _QPS.search(text):
            return self.rate_limited(detail, now, None)
        if _SIGN.search(text) or doc.get("result") == 100200101:
            return self.credentials_rejected(detail)
        if _SCOPE.search(text):
            return self.permission_missing(api, SCOPE, detail)
        if _TOKEN.search(text):
            return self.session_invalid(detail, now)
        return FetchError(f"Kuaishou refuses the request ({detail}); tried again at the next poll")

    def call(self, fetcher: PageFetcher, api: str, param: Mapping[str, Any], now: datetime) -> Answer:
        cfg = self.cfg
        assert isinstance(cfg, KuaishouCommentsConfig)
        Bans.check(self.ban_key, now)
        params = {
            "appkey": self.app_key(),
            "method": api,
            "version": "1",
            "access_token": self.token(now),
            "param": json.dumps(param, ensure_ascii=False, separators=(",", ":")),
            "timestamp": str(utc_epoch(now) * 1000),
            "signMethod": cfg.sign_method,
        }
        params["sign"] = kuaishou_sign(params, env_value(cfg.sign_secret, "sign_secret"), cfg.sign_method)
        url = cfg.gateway.rstrip("/") + "/" + api.replace(".", "/")
        fetched, doc = call_json(fetcher, cfg, HttpRequest(url, params=params))
        if not isinstance(doc, dict):
            raise ParseError(f"{api}: the answer is not a JSON object")
        if doc.get("result") != 1:
            raise self.error(api, doc, now)
        if not isinstance(doc.get("data"), dict):
            raise ParseError(f"{api}: answer without data")
        return Answer(doc["data"], None, False, fetched)


@register
class KuaishouCommentsAdapter(WindowedApiAdapter[KuaishouCommentsConfig]):
    kind = "kuaishou_comments"
    calls: KsCalls
    Config = KuaishouCommentsConfig
    MAPPED: ClassVar[Mapping[str, str]] = {
        "result": "1 is success; anything else is mapped to a verdict",
        "error_msg": "reason and verdict",
        "data.rootComment": "items",
        "data.total": "paging",
        R + "commentId": "external_id",
        R + "content": "text",
        R + "createTime": "published (epoch ms)",
        R + "qualityScore": "rating (商品质量 1-5; which score is the overall star is unconfirmed)",
        R + "serviceScore": "attrs.service_score",
        R + "logisticsScore": "attrs.logistics_score",
        R + "creditScore": "attrs.credit_score",
        R + "itemId": "product id (sku when no SKU)",
        R + "itemSkuId": "sku",
        R + "orderId": "attrs.order_id; the key to re-read a review for its 追评 (outOrderNo)",
        R + "attached": "has a 追评: read it with open.subcomment.list.get",
        R + "imageUrl": "attrs.images",
        R + "videoCoverImageUrl": "attrs.video_covers",
        R + "replied": "attrs.replied",
        R + "valid": "attrs.valid",
        R + "anonymous": "attrs.anonymous",
        R + "auto": "attrs.auto (a default review the platform wrote)",
        "data.subComment[].content": "追评 text: a new version of the review and an item '<id>:append'",
        "data.subComment[].createTime": "published of the 追评 item",
        "data.subComment[].sellerReply": "the shop's own replies are skipped",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        "data.hits": "search bookkeeping",
        R + "orderProductId": "order line id, the order id is kept",
        R + "replyToCommentId": "0 on root reviews",
        R + "rootCommentId": "equals commentId on root reviews",
        R + "auditStatus": "moderation state",
        R + "complainStatus": "complaint state",
        R + "reportStatus": "report state",
        R + "cheatStatus": "anti-fraud state",
        R + "liked": "the shop's like",
        R + "sellerReply": "whether the shop replied (replied is kept)",
        R + "videoId": "video ids without URLs",
        R + "attachedTime": "the 追评 carries its own time",
        R + "updateTime": "bookkeeping",
        R + "sourceType": "undocumented values",
        R + "showId": "undocumented",
        R + "supplyExpireTime": "undocumented",
    }

    def __init__(self, config: KuaishouCommentsConfig) -> None:
        super().__init__(config)
        self.calls = KsCalls(config)

    def _t(self, epoch: int) -> int:
        return epoch * 1000 if self.config.time_unit == "ms" else epoch

    def list_page(
        self, fetcher: PageFetcher, window: Window, page: int, want_total: bool, now: datetime
    ) -> Answer:
        c = self.config
        param: dict[str, Any] = {
            "offset": (page - 1) * c.page_size,
            "limit": c.page_size,
            "createTimeFrom": self._t(window[0]),
            "createTimeTo": self._t(window[1]),
        }
        if c.item_id:
            param["outItemId"] = int(c.item_id)
        answer = self.calls.call(fetcher, LIST_API, param, now)
        total = answer.doc.get("total")
        answer.total = total if isinstance(total, int) else None
        got = len(self.records(answer.doc))
        answer.more = page * c.page_size < total if isinstance(total, int) else got == c.page_size
        return answer

    def records(self, doc: Any) -> list[Mapping[str, Any]]:
        if not isinstance(doc, dict) or not isinstance(doc.get("rootComment", []), list):
            raise ParseError("open.comment.list.get answer without data.rootComment")
        if "rootComment" not in doc and "total" not in doc:
            raise ParseError("open.comment.list.get answer without data.rootComment")
        return [r for r in doc.get("rootComment") or [] if isinstance(r, dict)]

    def follow_entry(self, record: Mapping[str, Any]) -> list[Any] | None:
        created = record.get("createTime")
        if record.get("commentId") is None or not isinstance(created, int) or record.get("orderId") is None:
            return None
        seconds = created // 1000 if created > 1e11 else created
        return [str(record["commentId"]), seconds, 0, str(record["orderId"])]

    def follow_cost(self, record: Mapping[str, Any]) -> int:
        return 1 if record.get("attached") else 0  # no 追评 yet: nothing to ask on first sight

    def recheck_append(
        self, fetcher: PageFetcher, entry: Sequence[Any], record: Mapping[str, Any] | None, now: datetime
    ) -> Any:
        try:
            root = record
            if root is None:
                by_order = {"outOrderNo": entry[3], "offset": 0, "limit": 20}
                found = self.calls.call(fetcher, LIST_API, by_order, now)
                root = next((r for r in self.records(found.doc) if str(r.get("commentId")) == entry[0]), None)
                if root is None:
                    return {"root": None, "sub": []}
            subs: list[Any] = []
            if root.get("attached"):
                answer = self.calls.call(fetcher, SUB_API, {"rootCommentId": int(entry[0])}, now)
                if not isinstance(answer.doc.get("subComment"), list):
                    raise ParseError("open.subcomment.list.get answer without data.subComment")
                subs = answer.doc["subComment"]
            return {"root": None if record is not None else dict(root), "sub": subs}
        except RateLimited as exc:
            self._follow_budget = 0
            self.notes.append(f"追评 checks paused: {exc}")
            return None

    def items(self, record: Mapping[str, Any], follow: Any) -> list[RawItem]:
        text = str(record.get("content") or "").strip()
        if record.get("commentId") is None or not text:
            return []
        score = record.get("qualityScore")
        attrs = {
            "order_id": str(record["orderId"]) if record.get("orderId") else None,
            "service_score": record.get("serviceScore"),
            "logistics_score": record.get("logisticsScore"),
            "credit_score": record.get("creditScore"),
            "images": record.get("imageUrl") or None,
            "video_covers": record.get("videoCoverImageUrl") or None,
            "replied": record.get("replied"),
            "valid": record.get("valid"),
            "anonymous": record.get("anonymous"),
            "auto": record.get("auto"),
        }
        created = record.get("createTime")
        main = RawItem(
            text=text,
            external_id=str(record["commentId"]),
            author=None,
            rating=score if isinstance(score, int) and 1 <= score <= 5 else None,
            sku=str(record.get("itemSkuId") or record.get("itemId") or "") or self.config.sku,
            published=created if isinstance(created, int) else None,
            attrs={k: v for k, v in attrs.items() if v is not None},
        )
        subs = follow.get("sub") if isinstance(follow, dict) else None
        buyer = [s for s in subs or [] if isinstance(s, dict) and not s.get("sellerReply")]
        append = next((s for s in buyer if str(s.get("content") or "").strip()), None)
        if append is None:
            return [main]
        append_text = str(append["content"]).strip()
        main.version = "append:" + hashlib.sha256(append_text.encode("utf-8")).hexdigest()[:16]
        main.attrs["has_after_comment"] = True
        child = RawItem(
            text=append_text,
            external_id=f"{main.external_id}:append",
            sku=main.sku,
            published=append.get("createTime") or record.get("attachedTime") or None,
            parent_external_id=main.external_id,
            attrs={"after_comment": True},
        )
        return [main, child]

    def recheck_items(self, entry: Sequence[Any], follow: Any) -> list[RawItem]:
        root = follow.get("root") if isinstance(follow, dict) else None
        return self.items(root, follow) if isinstance(root, dict) else []

    def created_of(self, raw: RawItem) -> int | None:
        if raw.parent_external_id is None and isinstance(raw.published, int):
            return raw.published // 1000 if raw.published > 1e11 else raw.published
        return None
