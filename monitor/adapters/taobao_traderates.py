"""``kind: taobao_traderates`` — the ratings buyers gave a Taobao / Tmall shop, through TOP.

``taobao.traderates.get`` with ``rate_type=get, role=buyer`` on ``gw.api.taobao.com/router/rest``, signed
(``sign_method`` md5, hmac or hmac-sha256), with the shop's session from ``monitor auth taobao`` or
``access_token: ${VAR}``. TOP keeps 180 days, pages of at most 150, and at most 1,500 results per
identical time range: the poll is cut into windows that fit (``monitor.adapters.windowed``).
A rating has no id of its own: the key is ``tid:oid:role``.

Tmall stores (``tmall_feeds: true``) also ask ``tmall.traderate.feeds.get`` per child order, on first
sight and again at ``follow_up_ages``: a 追评 becomes a new revision of the rating (its ``version``
changes) and an item of its own linked to it (``<key>:append``); semantic tags and the negative
flags go to ``attrs``. Errors: ``{"error_response": {code, msg, sub_code, sub_msg}}``, mapped as
``monitor.adapters.merchant_api`` describes.
"""

from __future__ import annotations

import hashlib
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
    ban_seconds,
    call_json,
    china_time,
    parse_china_time,
    utc_epoch,
)
from monitor.adapters.request_signing import top_sign
from monitor.adapters.windowed import Answer, Window, WindowedApiAdapter

LIST_API = "taobao.traderates.get"
FEEDS_API = "tmall.traderate.feeds.get"
FIELDS = "tid,oid,role,nick,result,created,rated_nick,item_title,item_price,content,reply,num_iid,valid_score"
RATING = {"good": 5, "neutral": 3, "bad": 1}
MAX_AGE = timedelta(days=180)
T = "traderates_get_response.trade_rates.trade_rate[]."
F = "tmall_traderate_feeds_get_response.tmall_rate_info."


class TaobaoTraderatesConfig(MerchantApiConfig):
    kind: Literal["taobao_traderates"]
    platform: str = "taobao"
    gateway: str = Field(default="https://gw.api.taobao.com/router/rest", pattern=r"^https?://")
    authorize_url: str = Field(default="https://oauth.taobao.com/authorize", pattern=r"^https?://")
    token_url: str = Field(default="https://oauth.taobao.com/token", pattern=r"^https?://")
    sign_method: Literal["md5", "hmac", "hmac-sha256"] = "md5"
    result: Literal["all", "good", "neutral", "bad"] = "all"
    num_iid: str | None = Field(default=None, pattern=r"^\d+$", description="only this item's ratings")
    page_size: int = Field(default=150, ge=1, le=150)
    tmall_feeds: bool = Field(default=False, description="Tmall: read 追评 and tags per child order")

    @field_validator("backfill")
    @classmethod
    def _within_180_days(cls, v: timedelta) -> timedelta:
        if v > MAX_AGE:
            raise ValueError("TOP keeps ratings for 180 days: backfill cannot be longer")
        return v


class TopCalls(MerchantCalls):
    platform = "taobao"
    auth_command = "monitor auth taobao"

    def error(self, api: str, err: Mapping[str, Any], now: datetime) -> SourceError:
        code, sub = str(err.get("code", "")), str(err.get("sub_code") or "")
        msg, sub_msg = str(err.get("msg") or ""), str(err.get("sub_msg") or "")
        detail = f"{api}: code {code} {msg}".strip() + (f", {sub}" if sub else "")
        detail += f": {sub_msg}" if sub_msg else ""
        if code == "7" or sub.startswith("accesscontrol."):
            return self.rate_limited(detail, now, ban_seconds(f"{sub_msg} {msg}"))
        if code in ("26", "27", "53") or "session" in sub.lower():
            return self.session_invalid(detail, now)
        if code in ("11", "12", "13", "42") or sub.startswith("isv.permission"):
            return self.permission_missing(api, "the permission package (权限包) holding it", detail)
        if code in ("24", "25", "28", "29") or "signature" in msg.lower() or "app key" in msg.lower():
            return self.credentials_rejected(detail)
        if code == "31" or "timestamp" in msg.lower():
            return FetchError(
                f"TOP rejects our timestamp ({detail}): it allows ±10 min; check this host's clock"
            )
        if sub.startswith("isp.") or code in ("10", "15"):
            return FetchError(f"the platform is failing or busy ({detail}); tried again at the next poll")
        return FetchError(f"TOP refuses the request ({detail}); check the source's parameters")

    def call(self, fetcher: PageFetcher, api: str, business: Mapping[str, str], now: datetime) -> Answer:
        cfg = self.cfg
        assert isinstance(cfg, TaobaoTraderatesConfig)
        Bans.check(self.ban_key, now)
        params = {
            "method": api,
            "app_key": self.app_key(),
            "session": self.token(now),
            "timestamp": china_time(utc_epoch(now)),
            "v": "2.0",
            "format": "json",
            "sign_method": cfg.sign_method,
            **business,
        }
        params["sign"] = top_sign(params, self.secret(), cfg.sign_method)
        page, doc = call_json(fetcher, cfg, HttpRequest(cfg.gateway, params=params))
        if not isinstance(doc, dict):
            raise ParseError(f"{api}: the answer is not a JSON object")
        if isinstance(doc.get("error_response"), dict):
            raise self.error(api, doc["error_response"], now)
        key = api.removeprefix("taobao.").replace(".", "_") + "_response"
        body = doc.get(key)
        if not isinstance(body, dict):
            raise ParseError(f"{api}: answer without {key} (keys: {sorted(doc)[:5]})")
        return Answer(body, None, False, page)  # the kind's list_page fills total and more


def _list_of(value: Any, wrapper: str) -> list[Any]:
    """TOP wraps JSON lists in an object named after the element type: ``{"trade_rate": [...]}``."""
    if isinstance(value, dict):
        value = value.get(wrapper)
    return value if isinstance(value, list) else []


def _tags(value: Any) -> list[dict[str, Any]]:
    return [
        {"name": t.get("tag_name"), "positive": t.get("posi")}
        for t in _list_of(value, "tmall_rate_tag")
        if isinstance(t, dict) and t.get("tag_name")
    ]


def _when(value: object) -> datetime | None:
    epoch = parse_china_time(value)
    return None if epoch is None else datetime.fromtimestamp(epoch, CHINA)


@register
class TaobaoTraderatesAdapter(WindowedApiAdapter[TaobaoTraderatesConfig]):
    kind = "taobao_traderates"
    calls: TopCalls
    Config = TaobaoTraderatesConfig
    max_per_window: ClassVar[int | None] = 1500
    max_age: ClassVar[timedelta | None] = MAX_AGE
    MAPPED: ClassVar[Mapping[str, str]] = {
        "traderates_get_response.total_results": "window split when over 1,500; paging",
        "traderates_get_response.has_next": "paging",
        "traderates_get_response.trade_rates": "items (TOP wraps the list: trade_rates.trade_rate)",
        T + "tid": "external_id 'tid:oid:role'",
        T + "oid": "external_id 'tid:oid:role'; the child order asked for feeds",
        T + "role": "external_id 'tid:oid:role'",
        T + "nick": "author",
        T + "result": "rating (good 5, neutral 3, bad 1) and attrs.result",
        T + "created": "published (UTC+8)",
        T + "item_title": "product",
        T + "content": "text",
        T + "reply": "attrs.replied (the shop's own answer is not customer voice)",
        T + "num_iid": "sku",
        T + "item_price": "attrs.item_price",
        T + "valid_score": "attrs.valid_score",
        F + "content": "text of a rating re-read later",
        F + "comment_time": "published of a rating re-read later",
        F + "user_nick": "author of a rating re-read later",
        F + "append_content": "追评: a new version of the rating and an item '<key>:append'",
        F + "append_time": "published of the 追评 item",
        F + "tags": "attrs.tags [{name, positive}]",
        F + "has_negtv": "attrs.negative",
        F + "append_tags": "attrs.tags of the 追评 item",
        F + "append_has_negtv": "attrs.negative of the 追评 item",
        "error_response.code": "verdict (rate limit, session, permission, signature, busy)",
        "error_response.msg": "reason",
        "error_response.sub_code": "verdict",
        "error_response.sub_msg": "reason; 'ban will last N more seconds' sets the back-off",
    }
    IGNORED: ClassVar[Mapping[str, str]] = {
        T + "ouid": "the buyer's open id: personal data the monitor does not need",
        T + "rated_nick": "the shop itself",
        "traderates_get_response.request_id": "TOP's request id, for TOP support only",
    }

    def __init__(self, config: TaobaoTraderatesConfig) -> None:
        super().__init__(config)
        self.calls = TopCalls(config)

    def list_page(
        self, fetcher: PageFetcher, window: Window, page: int, want_total: bool, now: datetime
    ) -> Answer:
        c = self.config
        business = {
            "fields": FIELDS,
            "rate_type": "get",
            "role": "buyer",
            "start_date": china_time(window[0]),
            "end_date": china_time(window[1]),
            "page_no": str(page),
            "page_size": str(c.page_size),
            "use_has_next": "false" if want_total else "true",
        }
        if c.result != "all":
            business["result"] = c.result
        if c.num_iid:
            business["num_iid"] = c.num_iid
        answer = self.calls.call(fetcher, LIST_API, business, now)
        body = answer.doc
        total = body.get("total_results") if want_total else None
        if isinstance(total, str) and total.isdigit():
            total = int(total)
        if want_total and isinstance(total, int):
            answer.total, answer.more = total, total > page * c.page_size
        else:
            answer.more = body.get("has_next") in (True, "true")
        return answer

    def records(self, doc: Any) -> list[Mapping[str, Any]]:
        if not isinstance(doc, dict):
            raise ParseError("traderates answer is not an object")
        if "trade_rates" not in doc and ("total_results" in doc or "has_next" in doc):
            return []  # TOP leaves the list out when there is nothing to list
        if not isinstance(doc.get("trade_rates"), dict | list):
            raise ParseError("traderates_get_response without trade_rates.trade_rate")
        return [r for r in _list_of(doc["trade_rates"], "trade_rate") if isinstance(r, dict)]

    def _key(self, record: Mapping[str, Any]) -> str | None:
        if record.get("tid") in (None, "") or record.get("oid") in (None, ""):
            return None
        return f"{record['tid']}:{record['oid']}:{record.get('role') or 'buyer'}"

    def follow_entry(self, record: Mapping[str, Any]) -> list[Any] | None:
        key = self._key(record)
        created = parse_china_time(record.get("created"))
        if not self.config.tmall_feeds or key is None or created is None:
            return None
        rating = RATING.get(str(record.get("result")))
        return [key, created, 0, str(record["oid"]), rating, str(record.get("num_iid") or "")]

    def recheck_append(
        self, fetcher: PageFetcher, entry: Sequence[Any], record: Mapping[str, Any] | None, now: datetime
    ) -> Any:
        try:
            answer = self.calls.call(fetcher, FEEDS_API, {"child_trade_id": str(entry[3])}, now)
        except RateLimited as exc:
            self._follow_budget = 0
            self.notes.append(f"追评 checks paused: {exc}")
            return None
        info = answer.doc.get("tmall_rate_info")
        return info if isinstance(info, dict) else {}

    def items(self, record: Mapping[str, Any], follow: Any) -> list[RawItem]:
        key = self._key(record)
        text = str(record.get("content") or "").strip()
        if key is None or not text:
            return []
        attrs: dict[str, Any] = {
            "result": record.get("result"),
            "replied": bool(record.get("reply")),
            "item_price": record.get("item_price"),
            "valid_score": record.get("valid_score"),
        }
        main = RawItem(
            text=text,
            external_id=key,
            author=record.get("nick"),
            rating=RATING.get(str(record.get("result"))),
            sku=str(record.get("num_iid") or "") or self.config.sku,
            product=record.get("item_title"),
            published=_when(record.get("created")),
            attrs={k: v for k, v in attrs.items() if v is not None},
        )
        return self._with_feed(main, follow)

    def recheck_items(self, entry: Sequence[Any], follow: Any) -> list[RawItem]:
        if not isinstance(follow, dict) or not str(follow.get("content") or "").strip():
            return []
        main = RawItem(
            text=str(follow["content"]).strip(),
            external_id=str(entry[0]),
            author=follow.get("user_nick"),
            rating=entry[4],
            sku=entry[5] or self.config.sku,
            published=_when(follow.get("comment_time")),
        )
        return self._with_feed(main, follow)

    def _with_feed(self, main: RawItem, feed: Any) -> list[RawItem]:
        if not isinstance(feed, dict):
            return [main]
        if feed.get("has_negtv") is not None:
            main.attrs["negative"] = bool(feed.get("has_negtv"))
        if tags := _tags(feed.get("tags")):
            main.attrs["tags"] = tags
        append = str(feed.get("append_content") or "").strip()
        if not append:
            return [main]
        main.version = "append:" + hashlib.sha256(append.encode("utf-8")).hexdigest()[:16]
        main.attrs["has_after_comment"] = True
        child = RawItem(
            text=append,
            external_id=f"{main.external_id}:append",
            author=main.author,
            rating=None,
            sku=main.sku,
            product=main.product,
            published=_when(feed.get("append_time")),
            parent_external_id=main.external_id,
            attrs={
                "after_comment": True,
                "negative": bool(feed.get("append_has_negtv")),
                "tags": _tags(feed.get("append_tags")),
            },
        )
        return [main, child]

    def created_of(self, raw: RawItem) -> int | None:
        if raw.parent_external_id is None and isinstance(raw.published, datetime):
            return utc_epoch(raw.published)
        return None
