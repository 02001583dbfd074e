"""Source kinds. Importing this package registers every built-in kind (one module per kind)."""

from monitor.adapters import (
    douyin_comments,
    douyin_search,
    feed,
    html,
    jd_reviews,
    jd_vender_comments,  # merchant API (JOS)
    json,
    kuaishou_comments,  # merchant API (Kuaishou)
    review_export,  # back-office export files
    rsshub,
    taobao_traderates,  # merchant API (TOP)
    tmall_reviews,
    weibo_comments,
    weibo_search,
    xhs_search,
)
from monitor.adapters.base import (
    Adapter,
    BlockedError,
    FetchedPage,
    FetchError,
    HttpRequest,
    ParsedPage,
    ParseError,
    RawItem,
    SourceError,
    build,
    registry,
)

__all__ = [
    "Adapter",
    "BlockedError",
    "FetchError",
    "FetchedPage",
    "HttpRequest",
    "ParseError",
    "ParsedPage",
    "RawItem",
    "SourceError",
    "build",
    "douyin_comments",
    "douyin_search",
    "feed",
    "html",
    "jd_reviews",
    "jd_vender_comments",
    "json",
    "kuaishou_comments",
    "registry",
    "review_export",
    "rsshub",
    "taobao_traderates",
    "tmall_reviews",
    "weibo_comments",
    "weibo_search",
    "xhs_search",
]
