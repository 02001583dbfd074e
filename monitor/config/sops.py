"""Schema of ``rules/sops/*.yaml``: the crisis SOPs (《舆情应对SOP》) attached to alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from monitor.config.settings import Strict, parse_duration

Role = Literal["客服", "公关", "运营", "仓库/供应链", "法务", "客服主管"]
CRISES = ("negative_burst", "media_exposure", "social_spreading", "malicious_review")


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
    deadline: timedelta | None = Field(default=None, description="relative to `from`")
    from_: Literal["published", "alert"] = Field(default="alert", alias="from")
    required: bool = True

    @field_validator("deadline", mode="before")
    @classmethod
    def _duration(cls, v: object) -> object:
        return None if v is None else parse_duration(v)

    def line(self) -> str:
        clock = ""
        if self.deadline is not None:
            anchor = "发布后" if self.from_ == "published" else "告警后"
            clock = f"（{anchor} {_human(self.deadline)} 内）"
        return f"{self.title} — {self.owner}{clock}"


class Compensation(Strict):
    ceiling_yuan: float = Field(ge=0, description="frontline staff may grant up to this without approval")
    approval: str = Field(description="who approves more than the ceiling")
    options: list[str] = Field(default_factory=list, description="offered two at a time (二选一)")


class Sop(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    categories: list[str] = Field(default_factory=list, description="rule categories this SOP handles")
    crisis: list[Literal["negative_burst", "media_exposure", "social_spreading", "malicious_review"]] = Field(
        default_factory=list
    )
    statement: str = Field(description="对外口径: the external statement")
    compensation: Compensation
    steps: list[Step] = Field(min_length=1)
    replies: dict[str, str] = Field(default_factory=dict, description="reply drafts with {placeholders}")

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
