"""Schema of ``oncall:`` (who is on duty) and ``chat:`` (links, rates, the first poll) in monitor.yaml.

```yaml
oncall:
  people:
    小王: {dingtalk: "13800000001", wecom: wangxiao, feishu: ou_7d8a6e6df7621556ce0d21922b676706}
    老李: {dingtalk: "13800000002", skill: senior}
    张经理: {dingtalk: "13800000009"}
  rotations:
    客服:                                  # a role; the console asks owner_for(config, "客服", now)
      match: {grade: [1, 2, 3]}            # which alerts it takes (the routing match language)
      shifts:                              # Asia/Shanghai (the configured timezone); must cover the week
        - {who: 小王, start: "09:00", end: "21:00"}
        - {who: 老李, start: "21:00", end: "09:00"}   # an end before the start runs past midnight
      escalate_after: 15m                  # unclaimed this long: the next person, then the lead
      escalate_to: [老李]
      lead: 张经理
```

Shifts may be limited to ``days`` (mon … sun). A rota with a gap or an overlap, a person without any
handle, or a name nobody defined is an error naming the file, line and key (``problems``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from monitor.config.settings import Match, parse_duration

__all__ = ["DAYS", "Backfill", "Chat", "OnCall", "Person", "Rotation", "Shift", "problems"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
WEEK = 7 * 24 * 60
ALL_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    dingtalk: str | None = Field(default=None, pattern=r"^\+?\d{5,20}$", description="mobile the robot @s")
    wecom: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@-]{1,64}$", description="WeCom userid")
    feishu: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,80}$", description="open_id / user_id"
    )
    phone: str | None = Field(default=None, description="for the lead's phone tree; never sent to a chat")
    skill: Literal["junior", "senior"] = "junior"

    @model_validator(mode="after")
    def _reachable(self) -> Person:
        if not (self.dingtalk or self.wecom or self.feishu):
            raise ValueError(
                "a person needs a chat handle: dingtalk (mobile), wecom (userid) or feishu (open_id)"
            )
        return self


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _hhmm(value: object) -> int:
    """Minutes after midnight of ``HH:MM`` (24:00 allowed as an end)."""
    # YAML 1.1 reads an unquoted 09:00 as 540 (base 60)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
        return value
    if isinstance(value, str) and len(value) == 5 and value[2] == ":" and value.replace(":", "").isdigit():
        h, m = int(value[:2]), int(value[3:])
        if (h < 24 and m < 60) or (h, m) == (24, 0):
            return h * 60 + m
    raise ValueError('expected a local time "HH:MM"')


Minute = Annotated[int, BeforeValidator(_hhmm)]


class Shift(_Strict):
    who: str
    start: Minute
    end: Minute
    days: list[Day] = Field(default_factory=lambda: list(ALL_DAYS), min_length=1)

    def spans(self) -> list[tuple[int, int]]:
        """Minutes of the week [from, to) this shift holds (a night shift runs into the next day)."""
        length = (self.end - self.start) % (24 * 60) or 24 * 60
        out = []
        for d in self.days:
            a = DAYS.index(d) * 24 * 60 + self.start
            b = a + length
            out += [(a, b)] if b <= WEEK else [(a, WEEK), (0, b - WEEK)]
        return out

    def label(self) -> str:
        days = "" if len(self.days) == 7 else ",".join(self.days) + " "
        return f"{days}{_hm(self.start)}-{_hm(self.end)} {self.who}"


class Rotation(_Strict):
    match: Match = Match()
    shifts: list[Shift] = Field(min_length=1)
    escalate_after: _Duration = Field(default=timedelta(minutes=15))
    escalate_to: list[str] = Field(default_factory=list, description="the next people, in order")
    lead: str | None = None


class OnCall(_Strict):
    people: dict[str, Person] = Field(default_factory=dict)
    rotations: dict[str, Rotation] = Field(default_factory=dict)


Backfill = Literal["quiet", "summary", "alert"]


class Chat(_Strict):
    """How chat notifications behave (``monitor.notify``, ``monitor.web.ack``)."""

    ack_link_ttl: _Duration = Field(
        default=timedelta(hours=24), description="a signed 认领/确认 or 静默 link works this long"
    )
    backfill: Backfill = Field(
        default="quiet",
        description="a source's first poll (its history): quiet = store without alerting; summary = also "
        "one message with the counts; alert = alert per item as for new items",
    )
    backfill_age: _Duration = Field(
        default=timedelta(hours=24),
        description="on a source's first poll, items published longer ago than this are history",
    )
    digest_over: int = Field(
        default=3, ge=1, description="more messages than this due at once for one robot go as one digest"
    )


def problems(oncall: OnCall) -> list[tuple[list[str | int], str]]:
    """(key path, message) for every rota that cannot work: unknown names, gaps and overlaps."""
    out: list[tuple[list[str | int], str]] = []
    people = oncall.people
    for role, rot in oncall.rotations.items():
        base: list[str | int] = ["oncall", "rotations", role]
        for i, sh in enumerate(rot.shifts):
            if sh.who not in people:
                out.append(
                    (
                        [*base, "shifts", i, "who"],
                        f"unknown person {sh.who!r}; people are under oncall.people",
                    )
                )
        for i, name in enumerate(rot.escalate_to):
            if name not in people:
                out.append(([*base, "escalate_to", i], f"unknown person {name!r}"))
        if rot.lead is not None and rot.lead not in people:
            out.append(([*base, "lead"], f"unknown person {rot.lead!r}"))
        spans = sorted((a, b, i) for i, sh in enumerate(rot.shifts) for a, b in sh.spans())
        at = 0
        for a, b, i in spans:
            if a < at:
                other = next((j for x, y, j in spans if x <= a < y and j != i), i)
                out.append(
                    (
                        [*base, "shifts", i],
                        f"shift {i} ({rot.shifts[i].label()}) overlaps "
                        f"shift {other} ({rot.shifts[other].label()})",
                    )
                )
            elif a > at:
                out.append(([*base, "shifts"], f"nobody is on duty {_when(at)} – {_when(a)}"))
            at = max(at, b)
        if at < WEEK:
            out.append(([*base, "shifts"], f"nobody is on duty {_when(at)} – {_when(WEEK)}"))
    return out


def _when(minute: int) -> str:
    day = DAYS[min(minute // (24 * 60), 6)] if minute < WEEK else "sun"
    m = minute % (24 * 60) if minute < WEEK else 24 * 60
    return f"{day} {m // 60:02d}:{m % 60:02d}"
