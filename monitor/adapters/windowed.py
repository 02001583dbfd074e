"""Paging a merchant API by time windows, oldest window first, so that nothing is lost or read twice.

The listing APIs take a time range and a page number; TOP also caps how many results one identical
range can list (1,500). A poll therefore covers ``[since, now]`` (the first poll ``[now - backfill,
now]``, never older than the platform keeps), cut into windows: a window whose first page reports
more results than the cap is split in two, recursively, and windows without results are skipped, all
inside ``fetch`` (one pipeline page is one served API page). Windows are served oldest first and
every page's cursor says how far the poll got (``since``, and ``resume`` inside a window), so a poll
cut short by the page limit, a stop or an error continues where it stopped; items newer than
everything stored never look "already known" to the pipeline's paging stop.

After the new windows, a *tail* ``[min(since - overlap, newest rating seen), since]`` is read once
(newest first): it catches ratings that show up late and always yields the newest known rating, so a
shop with no new ratings is "nothing new", never "the page came back empty".

Follow-ups (a 追评 check per review) are made on first sight and again at ``follow_up_ages`` through a
queue kept in the cursor, at most ``follow_ups_per_poll`` calls per poll.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, urldefrag, urlencode

from monitor.adapters.base import (
    Adapter,
    FetchedPage,
    HttpRequest,
    PageFetcher,
    ParsedPage,
    ParseError,
    RawItem,
)
from monitor.adapters.merchant_api import MerchantApiConfig, MerchantCalls, utc_epoch
from monitor.adapters.revisions import keep_versions, remember_versions

C = TypeVar("C", bound=MerchantApiConfig)
Window = tuple[int, int]  # epoch seconds, both ends included


@dataclass
class Answer:
    """One listing page as the platform answered it."""

    doc: Any
    total: int | None
    more: bool
    page: FetchedPage


@dataclass
class Plan:
    """Where a poll stands; carried in the page URL's fragment (never sent)."""

    queue: list[Window] = field(default_factory=list)  # oldest first; queue[0] is being served
    page: int = 1
    since: int | None = None  # every rating up to here has been read
    tail: Window | None = None
    tail_page: int = 0  # 0: the tail has not started
    served: int = 0

    def encode(self) -> str:
        data = {"q": ".".join(f"{a}-{b}" for a, b in self.queue), "p": self.page, "n": self.served}
        if self.since is not None:
            data["s"] = self.since
        if self.tail is not None:
            data["t"], data["tp"] = f"{self.tail[0]}-{self.tail[1]}", self.tail_page
        return urlencode(data)

    @classmethod
    def decode(cls, fragment: str) -> Plan:
        d = dict(parse_qsl(fragment))
        try:
            pairs = [tuple(int(x) for x in w.split("-")) for w in d.get("q", "").split(".") if w]
            tail = tuple(int(x) for x in d["t"].split("-")) if d.get("t") else None
            return cls(
                queue=[(a, b) for a, b in pairs],
                page=int(d.get("p", 1)),
                since=int(d["s"]) if d.get("s") else None,
                tail=(tail[0], tail[1]) if tail else None,
                tail_page=int(d.get("tp", 0)),
                served=int(d.get("n", 0)),
            )
        except (ValueError, KeyError, IndexError) as exc:
            raise ParseError(f"unreadable paging state {fragment!r}: {exc}") from None

    def after(self, more: bool) -> tuple[Plan, bool]:
        """The plan once the current page is read, and whether the poll is done."""
        nxt = Plan(list(self.queue), self.page, self.since, self.tail, self.tail_page, self.served + 1)
        if nxt.queue:
            if more:
                nxt.page += 1
                return nxt, False
            nxt.since = nxt.queue.pop(0)[1]
            nxt.page = 1
            return nxt, not nxt.queue and nxt.tail is None
        if nxt.tail is not None and nxt.tail_page > 0 and more:
            nxt.tail_page += 1
            return nxt, False
        return nxt, True

    def cursor(self) -> dict[str, Any]:
        resume = [*self.queue[0], self.page] if self.queue and self.page > 1 else None
        return {"since": self.since, "resume": resume}


class WindowedApiAdapter(Adapter[C]):
    """A merchant listing API read window by window (see the module docstring)."""

    calls: MerchantCalls
    max_per_window: ClassVar[int | None] = None
    max_age: ClassVar[timedelta | None] = None

    def __init__(self, config: C) -> None:
        super().__init__(config)
        self._cursor: Mapping[str, Any] = {}
        self._emitted: set[str] = set()
        self._follow_budget = config.follow_ups_per_poll
        self.notes: list[str] = []

    # ---- what each kind provides ---------------------------------------------------------------
    @abstractmethod
    def list_page(
        self, fetcher: PageFetcher, window: Window, page: int, want_total: bool, now: datetime
    ) -> Answer:
        """Call the listing API for one page of ``window`` (signed, errors mapped to SourceErrors)."""

    @abstractmethod
    def records(self, doc: Any) -> list[Mapping[str, Any]]:
        """The review records of a listing answer; raise ParseError when the shape is not known."""

    @abstractmethod
    def items(self, record: Mapping[str, Any], follow: Any) -> list[RawItem]:
        """Raw items of one record; ``follow`` is its follow-up answer, if one was fetched."""

    def follow_entry(self, record: Mapping[str, Any]) -> list[Any] | None:
        """The follow-up queue entry ``[key, created_epoch, 0, *what a later check needs]`` of a
        record (0: checks made so far), or None when the kind has no follow-ups."""
        return None

    def recheck_append(
        self, fetcher: PageFetcher, entry: Sequence[Any], record: Mapping[str, Any] | None, now: datetime
    ) -> Any:
        """Make the follow-up call(s) for a queue entry (``record``: the listing record on first sight,
        None on a later check); the answer goes to ``items`` or ``recheck_items``. None: not checked."""
        raise NotImplementedError

    def follow_cost(self, record: Mapping[str, Any]) -> int:
        """API calls a first-sight follow-up of ``record`` makes (0: the listing already says enough)."""
        return 1

    def recheck_items(self, entry: Sequence[Any], follow: Any) -> list[RawItem]:
        """Items from a later follow-up of a record no longer in the listing."""
        return []

    # ---- paging --------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.config.gateway.rstrip("/")

    def first_url(self, cursor: Mapping[str, Any]) -> str:
        self._cursor = cursor
        return f"{self.base_url}#start"

    def plan_poll(self, now: datetime) -> Plan:
        cfg, cur = self.config, self._cursor
        end = utc_epoch(now)
        max_age = self.max_age
        floor = end - int(max_age.total_seconds()) + 3600 if max_age else None
        since = cur.get("since") if isinstance(cur.get("since"), int) else None
        start = since if since is not None else end - int(cfg.backfill.total_seconds())
        if floor is not None and start < floor:
            if since is not None:
                self.notes.append(
                    f"ratings between {since} and {floor} (epoch s) are older than the platform keeps "
                    f"({max_age.days if max_age else 0} days) and cannot be read"
                )
            start = floor
        plan = Plan(since=since)
        resume = cur.get("resume")
        if isinstance(resume, list) and len(resume) == 3 and all(isinstance(x, int) for x in resume):
            a, b, page = resume
            if floor is None or a >= floor:
                plan.queue.append((a, b))
                plan.page = page
                start = max(start, b)
        if start <= end:
            plan.queue.append((start, end))
        if since is not None:
            anchor = cur.get("anchor") if isinstance(cur.get("anchor"), int) else since
            tail_start = min(since - int(cfg.overlap.total_seconds()), anchor)
            plan.tail = (max(tail_start, floor) if floor is not None else tail_start, since)
        return plan

    def fetch(
        self, fetcher: PageFetcher, request: HttpRequest, validators: Mapping[str, str] | None, now: datetime
    ) -> FetchedPage:
        base, fragment = urldefrag(request.url)
        plan = self.plan_poll(now) if fragment == "start" else Plan.decode(fragment)
        recheck = self._rechecks(fetcher, now) if plan.served == 0 else []
        while True:
            if plan.queue:
                window, page = plan.queue[0], plan.page
                answer = self.list_page(fetcher, window, page, page == 1 and self._may_split(), now)
                if page == 1 and answer.total == 0:
                    plan.since = plan.queue.pop(0)[1]
                    continue
                if page == 1 and self._too_many(answer, window):
                    a, b = window
                    mid = (a + b) // 2
                    plan.queue[0:1] = [(a, mid), (mid, b)]
                    continue
            elif plan.tail is not None and plan.tail_page == 0:
                plan.tail_page = 1
                answer = self.list_page(fetcher, plan.tail, 1, False, now)
            elif plan.tail is not None:
                answer = self.list_page(fetcher, plan.tail, plan.tail_page, False, now)
            else:
                return self._composite(base, plan, None, recheck, {})
            # the tail holds reviews seen in earlier polls: they are not followed up again from here
            follow = self._first_sight(fetcher, answer.doc, now) if plan.queue else {}
            return self._composite(base, plan, answer, recheck, follow)

    def _may_split(self) -> bool:
        return self.max_per_window is not None

    def _too_many(self, answer: Answer, window: Window) -> bool:
        cap = self.max_per_window
        if cap is None or answer.total is None or answer.total <= cap:
            return False
        if window[1] - window[0] <= 1:
            self.notes.append(f"{answer.total} results within one second; the platform lists only {cap}")
            return False
        return True

    def _first_sight(self, fetcher: PageFetcher, doc: Any, now: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.config.follow_up_ages or self.config.follow_up_ages[0] > timedelta(0):
            return out
        for record in self.records(doc):
            entry = self.follow_entry(record)
            cost = self.follow_cost(record)
            if entry is None or self._follow_budget < cost or str(entry[0]) in out:
                continue
            self._follow_budget -= cost
            out[str(entry[0])] = self.recheck_append(fetcher, entry, record, now)
        return out

    def _rechecks(self, fetcher: PageFetcher, now: datetime) -> list[list[Any]]:
        ages, at = self.config.follow_up_ages, utc_epoch(now)
        done: list[list[Any]] = []
        for entry in self._cursor.get("follow") or []:
            if self._follow_budget <= 0:
                break
            if not isinstance(entry, list) or len(entry) < 3 or not isinstance(entry[2], int):
                continue
            n = entry[2]
            if n >= len(ages) or entry[1] + ages[n].total_seconds() > at:
                continue
            self._follow_budget -= 1
            follow = self.recheck_append(fetcher, entry, None, now)
            if follow is not None:
                done.append([entry, follow])
        return done

    def _composite(
        self, base: str, plan: Plan, answer: Answer | None, recheck: list[list[Any]], follow: dict[str, Any]
    ) -> FetchedPage:
        body = {
            "answer": answer.doc if answer else None,
            "more": bool(answer and answer.more),
            "follow": follow,
            "recheck": recheck,
            "notes": self.notes,
        }
        text = json.dumps(body, ensure_ascii=False)
        src = answer.page if answer else None
        return FetchedPage(
            url=f"{base}#{plan.encode()}",
            status=src.status if src else 200,
            headers=dict(src.headers) if src else {},
            text=text,
            final_url=src.final_url if src else base,
            elapsed_ms=src.elapsed_ms if src else 0.0,
            size=src.size if src else len(text),
        )

    def parse(self, page: FetchedPage) -> ParsedPage:
        """The page as ``fetch`` assembled it; anything else is not a page of this kind."""
        try:
            return self._parse(page)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ParseError(f"not a page this source assembled ({type(exc).__name__}: {exc})") from None

    def _parse(self, page: FetchedPage) -> ParsedPage:
        body = json.loads(page.text)
        plan = Plan.decode(urldefrag(page.url)[1])
        items: list[RawItem] = []
        seen: list[list[Any]] = []
        checked = []
        for entry, follow in body["recheck"]:  # first: a later check knows more than the listing record
            checked.append(str(entry[0]))
            items.extend(self._new(self.recheck_items(entry, follow)))
        in_tail = not plan.queue
        for record in self.records(body["answer"]) if body["answer"] is not None else []:
            entry = self.follow_entry(record)
            follow = body["follow"].get(str(entry[0])) if entry else None
            if entry is not None and not in_tail:
                seen.append([entry[0], entry[1], 1 if follow is not None else 0, *entry[3:]])
            items.extend(self._new(self.items(record, follow)))
        keep_versions(items, self._cursor)
        nxt, done = plan.after(bool(body["more"]))
        cursor = {**nxt.cursor(), "_seen": seen, "_checked": checked}
        reason = "; ".join(body.get("notes") or [])
        next_url = None if done else f"{urldefrag(page.url)[0]}#{nxt.encode()}"
        return ParsedPage(items=items, next_url=next_url, cursor=cursor, reason=reason)

    def _new(self, raws: list[RawItem]) -> list[RawItem]:
        """Windows share their boundary second; a review read twice in one poll is kept once."""
        out = []
        for r in raws:
            key = str(r.external_id)
            if key not in self._emitted:
                self._emitted.add(key)
                out.append(r)
        return out

    def next_cursor(
        self, cursor: Mapping[str, Any], items: list[RawItem], pages: list[ParsedPage]
    ) -> dict[str, Any]:
        out = {k: v for k, v in cursor.items() if k not in ("_seen", "_checked")}
        queue: dict[str, list[Any]] = {}
        for e in out.get("follow") or []:
            if isinstance(e, list) and len(e) >= 3:
                queue[str(e[0])] = list(e)
        for p in pages:
            out.update({k: v for k, v in p.cursor.items() if not k.startswith("_")})
            for key in p.cursor.get("_checked", []):
                if key in queue:
                    queue[key][2] += 1
            for entry in p.cursor.get("_seen", []):
                queue.setdefault(str(entry[0]), list(entry))
        ages = len(self.config.follow_up_ages)
        kept = sorted((e for e in queue.values() if e[2] < ages), key=lambda e: e[1], reverse=True)
        out["follow"] = kept[: self.config.follow_up_queue_max]
        remember_versions(out, items, 50_000)
        newest = [t for t in (self.created_of(r) for r in items) if t is not None]
        if newest:
            out["anchor"] = max([*newest, *([out["anchor"]] if isinstance(out.get("anchor"), int) else [])])
        return out

    def created_of(self, raw: RawItem) -> int | None:
        """Epoch seconds of a raw item's publication (for the tail's anchor)."""
        return None
