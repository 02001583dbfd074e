"""Schema of ``rules/sops/*.yaml``: the crisis SOPs (《舆情应对SOP》) attached to alerts."""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from monitor.config.compliance import Finding, lint, money_ranges
from monitor.config.settings import Duration, OptionalDuration, Strict
from monitor.config.types import Severity

Role = Literal["客服", "公关", "运营", "仓库/供应链", "法务", "客服主管"]
Crisis = Literal["negative_burst", "media_exposure", "social_spreading", "malicious_review"]
CRISES: tuple[Crisis, ...] = ("negative_burst", "media_exposure", "social_spreading", "malicious_review")
# What a reply draft can be filled with (monitor.sop.drafts); anything else is a typo.
PLACEHOLDERS = ("customer", "product", "sku", "order", "carrier", "platform", "offer")


def _human(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s % 86400 == 0:
        return f"{s // 86400} 天"
    if s % 3600 == 0:
        return f"{s // 3600} h"
    return f"{s // 60} min"


class Step(Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    owner: Role
    deadline: OptionalDuration = Field(default=None, description="relative to `from`")
    from_: Literal["published", "alert"] = Field(default="alert", alias="from")
    required: bool = True

    def line(self) -> str:
        clock = ""
        if self.deadline is not None:
            anchor = "发布后" if self.from_ == "published" else "告警后"
            clock = f"（{anchor} {_human(self.deadline)} 内）"
        return f"{self.title} — {self.owner}{clock}"


class Compensation(Strict):
    ceiling_yuan: float = Field(ge=0, description="frontline staff may grant up to this without approval")
    coupon_ceiling_yuan: float | None = Field(
        default=None, ge=0, description="the same for coupons (券/红包); default: ceiling_yuan"
    )
    approval: str = Field(description="who approves more than the ceiling")
    options: list[str] = Field(default_factory=list, description="offered two at a time (二选一)")

    def check(self, text: str) -> list[Finding]:
        """The lint of ``text`` against this ceiling."""
        return lint(text, self.ceiling_yuan, self.coupon_ceiling_yuan, self.approval)

    @model_validator(mode="after")
    def _options_within_ceiling(self) -> Compensation:
        _raise_located({("options", i): self.check(o) + money_ranges(o) for i, o in enumerate(self.options)})
        return self


class IncidentPolicy(Strict):
    """When an alert carrying this SOP opens an incident. Bursts always do (when ``open``)."""

    open: bool = True
    min_severity: Severity = Field(default="high", description="keyword alerts of this severity or above")
    min_grade: int = Field(default=4, ge=1, le=5, description="or of this difficulty grade or above")


class AppliesTo(Strict):
    """Crisis SOPs for social posts: alerts from these platforms use this SOP instead of the category's."""

    platforms: list[str] = Field(min_length=1, description="e.g. weibo, xiaohongshu, douyin")
    categories: list[str] = Field(default_factory=list, description="only these rule categories (empty: any)")


def _raise_located(found: Mapping[tuple[str | int, ...], list[Finding]]) -> None:
    """Report lint findings at the exact key (so the loader can name the file:line)."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("sop_lint", "{problems}", {"problems": "; ".join(map(str, fs))}),
            loc=loc,
            input={},  # not a scalar: the loader then does not repeat the (long) text after the message
        )
        for loc, fs in found.items()
        if fs
    ]
    if details:
        raise ValidationError.from_exception_data("sop lint", details)


def _placeholder_problems(template: str) -> list[Finding]:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return [Finding("placeholder", template[:20], f"bad placeholder syntax: {exc}")]
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    return [Finding("placeholder", f"{{{n}}}", f"unknown placeholder (known: {known})") for n in unknown]


class Sop(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    categories: list[str] = Field(default_factory=list, description="rule categories this SOP handles")
    crisis: list[Crisis] = Field(default_factory=list)
    applies_to: AppliesTo | None = None
    # Declared before statement and replies: their lint needs the ceiling.
    compensation: Compensation
    statement: str = Field(description="对外口径: the external statement")
    steps: list[Step] = Field(min_length=1)
    replies: dict[str, str] = Field(default_factory=dict, description="reply drafts with {placeholders}")
    incident: IncidentPolicy = IncidentPolicy()
    remind_every: Duration = Field(
        default=timedelta(hours=1), description="checklist reminder while an incident has open steps"
    )
    follow_up_after: Duration = Field(
        default=timedelta(hours=24), description="回访 reminder this long after the incident closes"
    )

    @field_validator("statement")
    @classmethod
    def _statement_lint(cls, v: str, info: ValidationInfo) -> str:
        comp = info.data.get("compensation")
        _raise_located({(): comp.check(v) if isinstance(comp, Compensation) else lint(v)})
        return v

    @field_validator("replies")
    @classmethod
    def _replies_lint(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        comp = info.data.get("compensation")
        problems: dict[tuple[str | int, ...], list[Finding]] = {}
        for name, text in v.items():
            found = comp.check(text) if isinstance(comp, Compensation) else lint(text)
            found += _placeholder_problems(text)
            problems[(name,)] = found
        _raise_located(problems)
        return v

    @field_validator("steps")
    @classmethod
    def _unique_keys(cls, steps: list[Step]) -> list[Step]:
        keys = [s.key for s in steps]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate step key(s) {dupes}")
        return steps

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", f"**对外口径**：{self.statement}", "", "## 处置步骤"]
        lines += [f"- [ ] {s.line()}{'' if s.required else '（可选）'}" for s in self.steps]
        c = self.compensation
        lines += ["", f"## 补偿上限：{c.ceiling_yuan:g} 元（超出需 {c.approval} 审批）"]
        lines += [f"- {o}" for o in c.options]
        if self.replies:
            lines += ["", "## 回复话术"] + [f"- **{k}**：{v}" for k, v in self.replies.items()]
        return "\n".join(lines) + "\n"


class SopFile(Strict):
    sops: list[Sop] = Field(default_factory=list)
