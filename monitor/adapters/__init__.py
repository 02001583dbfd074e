"""Source kinds. Importing this package registers every built-in kind."""

from monitor.adapters import feed, html, json
from monitor.adapters.base import Adapter, FetchedPage, ParsedPage, RawItem, SourceConfig, build, registry

__all__ = [
    "Adapter",
    "FetchedPage",
    "ParsedPage",
    "RawItem",
    "SourceConfig",
    "build",
    "feed",
    "html",
    "json",
    "registry",
]
