"""A simulated storefront on 127.0.0.1 serving the scenario in real platform shapes:

* ``/comment/productPageComments.action`` — JD's legacy review API: JSONP in GBK;
* ``/shop/reviews?page=N`` — the store's own HTML review page;
* ``/rsshub/weibo/keyword/<kw>`` — an RSSHub Weibo keyword feed (RSS 2.0 with ``<stats>``).

Only posts whose time has come (``clock() >= post.at``) are visible, newest first.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from monitor.demo.scenario import POSTS, Post

CST = timezone(timedelta(hours=8))
PAGE_SIZE = 10

# How often the server loop looks for a stop request: stop() waits up to this long.
POLL = 0.05


class Storefront:
    def __init__(
        self,
        posts: Sequence[Post] = POSTS,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        start_wall: datetime | None = None,
    ) -> None:
        self.posts = list(posts)
        self.started = time.monotonic()
        self.started_wall = start_wall or datetime.now(UTC)
        self.clock = clock or (lambda: time.monotonic() - self.started)
        self.requests: list[str] = []
        self.delay = 0.0  # seconds to sleep before answering (slow-source tests)
        self._lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with front._lock:
                    front.requests.append(self.path)
                if front.delay:
                    time.sleep(front.delay)
                status, ctype, body = front.route(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL}, name="storefront", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Storefront:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- content -------------------------------------------------------------------------------
    def visible(self, channel: str) -> list[tuple[int, Post]]:
        now = self.clock()
        out = [(i, p) for i, p in enumerate(self.posts) if p.channel == channel and p.at <= now]
        return sorted(out, key=lambda ip: (-ip[1].at, -ip[0]))

    def published(self, post: Post) -> datetime:
        return self.started_wall + timedelta(seconds=post.at)

    def route(self, path: str) -> tuple[int, str, bytes]:
        url = urlparse(path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/comment/productPageComments.action":
            return self.jd(q)
        if url.path == "/shop/reviews":
            return self.shop(q)
        if url.path.startswith("/rsshub/weibo/keyword/"):
            return self.weibo_rss()
        return 404, "text/plain", b"not found"

    def jd(self, q: dict[str, str]) -> tuple[int, str, bytes]:
        page = int(q.get("page", "0"))
        sku = q.get("productId", "")
        posts = [(i, p) for i, p in self.visible("jd") if p.sku == sku]
        chunk = posts[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        comments: list[dict[str, Any]] = [
            {
                "id": 15_000_000_000 + i,
                "guid": f"g{i:08x}",
                "content": p.text,
                "creationTime": self.published(p).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S"),
                "score": p.rating,
                "nickname": p.author,
                "userLevelName": "PLUS会员",
                "userClientShow": "来自京东iPhone客户端",
                "isMobile": True,
                "replyCount": 0,
                "usefulVoteCount": 0,
                "imageCount": 0,
                "images": [],
                "productColor": p.color,
                "productSize": "500ml",
                "referenceId": p.sku,
                "afterUserComment": None,
                "replies": [],
            }
            for i, p in chunk
        ]
        good = sum(1 for _, p in posts if (p.rating or 0) >= 4)
        poor = sum(1 for _, p in posts if (p.rating or 5) <= 2)
        doc = {
            "productCommentSummary": {
                "skuId": int(sku) if sku.isdigit() else 0,
                "commentCount": len(posts),
                "goodCount": good,
                "generalCount": len(posts) - good - poor,
                "poorCount": poor,
                "goodRate": round(good / len(posts), 3) if posts else 0,
                "commentCountStr": str(len(posts)),
            },
            "hotCommentTagStatistics": [{"id": "1", "name": "保温效果好", "count": good}],
            "maxPage": max(1, -(-len(posts) // PAGE_SIZE)),
            "comments": comments,
        }
        cb = q.get("callback", "fetchJSON_comment98")
        body = f"{cb}({json.dumps(doc, ensure_ascii=False)});".encode("gbk")
        return 200, "text/html;charset=GBK", body

    def shop(self, q: dict[str, str]) -> tuple[int, str, bytes]:
        page = int(q.get("page", "1"))
        posts = self.visible("shop")
        chunk = posts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        rows = []
        for i, p in chunk:
            t = self.published(p).astimezone(CST)
            rows.append(
                f'<div class="review" data-id="shop-{i}">'
                f'<span class="author">{html.escape(p.author)}</span>'
                f'<span class="stars" data-score="{p.rating or ""}">{"★" * (p.rating or 0)}</span>'
                f'<span class="sku">{html.escape(p.sku or "")}</span>'
                f'<time datetime="{t.strftime("%Y-%m-%d %H:%M:%S")}">{t:%m-%d %H:%M}</time>'
                f'<p class="content">{html.escape(p.text)}</p></div>'
            )
        nxt = (
            f'<a class="next" href="/shop/reviews?page={page + 1}">下一页</a>'
            if len(posts) > page * PAGE_SIZE
            else ""
        )
        body = (
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>商品评价 - 示例旗舰店</title></head>'
            f'<body><h1>全部评价</h1><div id="reviews">{"".join(rows)}</div>{nxt}</body></html>'
        )
        return 200, "text/html; charset=utf-8", body.encode("utf-8")

    def weibo_rss(self) -> tuple[int, str, bytes]:
        items = []
        for i, p in self.visible("weibo"):
            mid = 4_900_000_000_000_000 + i
            items.append(
                "<item>"
                f"<title><![CDATA[{p.text[:30]}]]></title>"
                f'<description><![CDATA[{html.escape(p.text)}<br><img alt="[怒]" src="x.png">]]></description>'
                f"<pubDate>{format_datetime(self.published(p))}</pubDate>"
                f'<guid isPermaLink="false">https://weibo.com/1234567/{mid}</guid>'
                f"<link>https://weibo.com/1234567/{mid}</link>"
                f"<author><![CDATA[{p.author}]]></author>"
                "<stats><reposts_count>12</reposts_count><comments_count>30</comments_count>"
                "<attitudes_count>88</attitudes_count></stats>"
                "</item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>微博关键词 - 示例旗舰店</title><link>https://s.weibo.com</link>"
            "<description>示例旗舰店 - Powered by RSSHub</description>"
            f"{''.join(items)}</channel></rss>"
        )
        return 200, "application/xml; charset=utf-8", body.encode("utf-8")
