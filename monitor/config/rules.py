"""Schema of ``rules/*.yaml``: admin-edited keyword rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from monitor.config.settings import Strict
from monitor.config.types import Severity

Dimension = Literal["商品质量", "物流时效", "服务态度", "价格", "其他"]
DIMENSIONS: tuple[Dimension, ...] = ("商品质量", "物流时效", "服务态度", "价格", "其他")
# Grade a rule gives when it does not set one (DOMAIN.md: 1 simple misunderstanding ... 5 legal/media/fraud).
GRADE_OF_SEVERITY: dict[str, int] = {"low": 2, "medium": 3, "high": 4, "critical": 5}


class Scope(Strict):
    """Where a rule applies; empty means everywhere."""

    sources: list[str] = Field(default_factory=list, description="source names from sources/*.yaml")
    platforms: list[str] = Field(default_factory=list, description="platforms, e.g. jd, tmall, pdd, weibo")
    skus: list[str] = Field(default_factory=list, description="product SKUs")
    rating_min: int | None = Field(
        default=None, ge=1, le=5, description="lowest star rating (items without one match)"
    )
    rating_max: int | None = Field(default=None, ge=1, le=5, description="highest star rating")

    @model_validator(mode="after")
    def _range(self) -> Scope:
        if self.rating_min is not None and self.rating_max is not None and self.rating_min > self.rating_max:
            raise ValueError("rating_min is greater than rating_max")
        return self


class Rule(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="stable id; alerts and stored analyses use it")
    title: str = Field(description="what staff see in an alert, e.g. 假货质疑")
    category: str
    dimension: Dimension = Field(default="其他", description="experience dimension of the daily report")
    severity: Severity = "medium"
    grade: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="difficulty grade 1-5 of an item this rule fires on "
        "(default: from severity, low=2 ... critical=5)",
    )
    keywords: list[str] = Field(
        default_factory=list,
        description="words and colloquial variants; matched after folding "
        "(simplified, half-width, lower case)",
    )
    patterns: list[str] = Field(
        default_factory=list,
        description="regular expressions (RE2 syntax, linear time) over the folded text, for variants "
        "keywords cannot list, e.g. (物流|快递)(太|很)?慢",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="phrases that cancel a hit they overlap, e.g. 放假 cancels 假的 inside 放假的",
    )
    negatable: bool = Field(
        default=True, description="a negator before (or a denial after) the keyword cancels the hit"
    )
    post_denial: bool = Field(
        default=True,
        description="a denial right after the keyword cancels it (假货?不存在); off for rules about "
        "something missing, where 赠品也没有 is the complaint",
    )
    negation_reach: int = Field(
        default=6, ge=0, le=20, description="characters allowed between a negator and the keyword"
    )
    fire_on_questions: bool = Field(
        default=False, description="also fire inside yes/no questions (会不会是假货?, 坏了吗?)"
    )
    fire_on_hypotheticals: bool = Field(
        default=False, description="also fire after 担心/怕/以为/如果 … (threats are often conditional)"
    )
    scope: Scope = Scope()
    notify: list[str] = Field(default_factory=list, description="channel names; default: the routing tree")
    enabled: bool = True

    @field_validator("keywords", "exclude")
    @classmethod
    def _non_empty(cls, words: list[str]) -> list[str]:
        if any(not w.strip() for w in words):
            raise ValueError("empty keyword")
        return words

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        from monitor.analyze.rules import check_pattern

        for p in patterns:
            problem = check_pattern(p)
            if problem:
                raise ValueError(f"pattern {p!r}: {problem}")
        return patterns

    @model_validator(mode="after")
    def _something_to_match(self) -> Rule:
        if not self.keywords and not self.patterns:
            raise ValueError("a rule needs at least one keyword or pattern")
        return self

    @property
    def effective_grade(self) -> int:
        return self.grade if self.grade is not None else GRADE_OF_SEVERITY[self.severity]


class RuleFile(Strict):
    rules: list[Rule] = Field(default_factory=list)
    priority_words: list[str] = Field(
        default_factory=list,
        description="words (投诉, 12315 …) that raise the severity of a fired rule one step",
    )
