"""A store on a simulated clock, polled through the product's own path.

:class:`SimShop` is a loopback review API (JSON, newest first, like a platform's review list)
whose contents are the reviews published up to the simulated ``now``. :class:`Sim` writes a
project like an admin's (``monitor.yaml``, ``sources/``, the default rule pack), then polls
with ``pipeline.run_source`` (fetch → parse → normalize → analyze → store → alert) and runs the
alert lifecycle at the simulated time, so scenarios exercise the code the daemon runs.
"""

from __future__ import annotations

import json
import random
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from sqlalchemy import select

from monitor.adapters import registry
from monitor.alerting import lifecycle
from monitor.analyze.pool import AnalysisPool
from monitor.config import Config, load_config
from monitor.fetch import Fetcher
from monitor.pipeline import Context, run_source
from monitor.store import Store
from monitor.store import models as m
from tests.conftest import LOOPBACK

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
PAGE = 500

# Reviews the default rule pack and the shipped sentiment model read as intended (checked in
# tests/bursts/test_scenarios.py): praise, complaints no rule names, and 破损 complaints.
PRAISE = [
    "东西很好，包装也结实，五星好评！",
    "质量不错，和描述一致，推荐购买。",
    "第二次回购了，家里人都喜欢。",
    "物流很快，第二天就到了，很满意。",
    "做工精致，性价比高，值得入手。",
    "客服态度很好，耐心解答问题。",
    "颜色很正，尺码合适，穿着舒服。",
    "用了一周感觉挺好，会继续支持。",
]
COMPLAINTS = [
    "不太满意，和想象中差距很大，不推荐。",
    "用起来很不顺手，设计不合理，后悔买了。",
    "感觉一般般，价格偏贵，不值这个钱。",
    "说明书看不懂，折腾半天也不会用，失望。",
    "用起来很别扭，不推荐，差评。",
    "太难用了，完全不符合我的需求，差评。",
]
DAMAGED = [
    "收到就是破损的，盒子都压扁了！",
    "外包装破损，里面的东西摔坏了，要求退货。",
    "又是破损，快递太暴力了，气死了。",
    "到手破损，裂了一条缝，没法用。",
    "商品破损严重，客服还让我自己找快递。",
    "买了两个都破损了，这质量控制太差。",
]


@dataclass
class Review:
    published: datetime | None
    text: str
    rating: int
    sku: str
    product: str
    id: str


class SimShop:
    """The reviews published up to ``now``, newest first, ``PAGE`` per page."""

    def __init__(self) -> None:
        self.reviews: list[Review] = []
        self.now = datetime(2000, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                q = parse_qs(urlparse(self.path).query)
                page = int(q.get("page", ["1"])[0])
                body = json.dumps({"comments": shop.page(page)}, ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> SimShop:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, review: Review) -> None:
        with self._lock:
            self.reviews.append(review)

    def page(self, page: int) -> list[dict[str, Any]]:
        far = datetime(1970, 1, 1, tzinfo=UTC)
        with self._lock:
            visible = [r for r in self.reviews if (r.published or self.now) <= self.now]
        visible.sort(key=lambda r: (r.published or far, r.id), reverse=True)
        part = visible[(page - 1) * PAGE : page * PAGE]
        return [
            {
                "id": r.id,
                "content": r.text,
                "score": r.rating,
                "time": r.published.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S") if r.published else None,
                "sku": r.sku,
                "product": r.product,
            }
            for r in part
        ]


class Sim:
    """A project polling a :class:`SimShop` through ``pipeline.run_source`` on a simulated clock."""

    def __init__(
        self,
        tmp: Path,
        shop: SimShop,
        db_url: str | None = None,
        extra: str = "",
        more: Sequence[SimShop] = (),
    ) -> None:
        self.shop = shop
        self.shops = [shop, *more]
        self.rng = random.Random(20261123)
        self._n = 0
        self._id_lock = threading.Lock()
        shutil.copytree(ROOT / "rules", tmp / "rules")
        (tmp / "sources").mkdir()
        db = f"database: {db_url}\n" if db_url else ""
        (tmp / "monitor.yaml").write_text(
            f"""data_dir: data
{db}timezone: Asia/Shanghai
channels:
  console: {{urls: ["console://"]}}
routing:
  default: [console]
  admins: [console]
alerting:
  group_wait: 0s
  burst_window: 1h
  burst_min_count: 5
{extra}analysis:
  workers: 0
fetch:
  min_interval: 0s
  allow_private: [127.0.0.1]
schedule:
  normal: {{interval: 10m, jitter: 0s}}
  promotion: {{interval: 10m, jitter: 0s}}
""",
            encoding="utf-8",
        )
        entries = "".join(
            f"""  - name: {"shop" if i == 0 else f"shop{i}"}
    kind: json
    platform: {("jd", "tmall")[i % 2]}
    url: "{sh.url}/reviews?page={{page}}"
    first_page: 1
    respect_robots: false
    backfill_pages: 40
    max_pages: 5
    items: comments
    fields: {{id: id, text: content, rating: score, published: time, sku: sku, product: product}}
"""
            for i, sh in enumerate(self.shops)
        )
        (tmp / "sources" / "shop.yaml").write_text(f"sources:\n{entries}", encoding="utf-8")
        self.config: Config = load_config(tmp / "monitor.yaml", registry())
        self.store = Store.open(self.config.database_url)
        self.ctx = Context(
            self.config,
            self.store,
            Fetcher(retries=0, min_interval=0, network=LOOPBACK),
            AnalysisPool(self.config.rules, self.config.priority_words, None, 0),
        )

    def close(self) -> None:
        self.ctx.fetcher.close()
        self.store.close()

    # ---- reviews
    def review(
        self,
        at: datetime | None,
        text: str,
        rating: int,
        sku: str = "sku-1",
        product: str = "p-1",
        shop: SimShop | None = None,
    ) -> None:
        with self._id_lock:
            self._n += 1
            n = self._n
        (shop or self.shop).add(Review(at, text, rating, sku, product, f"r{n}"))

    def traffic(
        self,
        start: datetime,
        end: datetime,
        per_hour: float,
        negative_share: float | Any,
        skus: list[tuple[str, str]] | None = None,
        negatives: list[str] = COMPLAINTS,
    ) -> None:
        """Reviews at ``per_hour`` (Poisson) between ``start`` and ``end``; ``negative_share`` is a
        number or a function of time."""
        skus = skus or [("sku-1", "p-1")]
        t = start
        while True:
            t += timedelta(hours=self.rng.expovariate(per_hour))
            if t >= end:
                return
            share = negative_share(t) if callable(negative_share) else negative_share
            sku, product = self.rng.choice(skus)
            if self.rng.random() < share:
                self.review(t, self.rng.choice(negatives), 1, sku, product)
            else:
                self.review(t, self.rng.choice(PRAISE), 5, sku, product)

    # ---- polling
    def poll(self, now: datetime) -> None:
        for shop in self.shops:
            shop.now = now
        for src in self.config.sources.values():
            result = run_source(self.ctx, src, now)
            assert result.verdict == "ok", (result.verdict, result.reason)
        lifecycle.tick(self.store, self.config, now)

    def run(self, start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
        """Poll from ``start`` to ``end``; yields each poll's time after it ran."""
        t = start
        while t <= end:
            self.poll(t)
            yield t
            t += every

    def alerts(self, kind: str) -> list[m.Alert]:
        with self.store.session() as s:
            return list(s.scalars(select(m.Alert).where(m.Alert.kind == kind).order_by(m.Alert.id)))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc]
