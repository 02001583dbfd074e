"""Schema of ``rules/*.yaml``: admin-edited keyword rules.

Besides keywords and RE2 patterns a rule can match **concept groups near each other**
(``near``: refund words and stalling words in one clause), list **other senses** of its
keywords (``senses``: 破洞 next to 做旧 is a design, not damage) and name keywords that also
match **by sound** (``pinyin``: posun, po损). Concepts are named word lists defined once per file
under ``concepts:``; a file that uses an undefined concept, defines an empty one, or names a
``pinyin`` keyword too short to match by sound is rejected with ``path:line: key: message``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from monitor.config.phonetic import pinyin_problem
from monitor.config.regex import check_pattern
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


# Markers the matcher finds by itself, usable in ``near`` like a concept.
BUILTIN_MARKERS: dict[str, str] = {
    "$sarcasm": "反讽：引号里的好话（“好”、“贴心”）、好到家了、快得感人，或句子其余部分是负面的“真是…呢”",
}
Within = Literal["clause", "sentence"] | int
_NAME = r"^[a-z][a-z0-9_]*$"


def _within_ok(v: Within) -> Within:
    if isinstance(v, int) and not 1 <= v <= 40:
        raise ValueError("within is clause, sentence or a number of characters from 1 to 40")
    return v


class Near(Strict):
    """All the groups must occur close together; the match is judged (negation, context) as one."""

    all: list[str] = Field(
        min_length=2,
        description="concept names (defined under concepts: in this file) or built-in markers "
        "($sarcasm) that must all occur",
    )
    within: Within = Field(
        default="clause",
        description="clause (no punctuation or 但是/结果 … between them), sentence, or at most N "
        "characters between consecutive groups (same sentence)",
    )
    ordered: bool = Field(default=False, description="the groups must occur in the order listed")

    _within = field_validator("within")(_within_ok)


class Sense(Strict):
    """Another meaning of some of the rule's words: with a cue nearby the hit is ``other_sense``."""

    keywords: list[str] = Field(
        min_length=1, description="words of this rule (keywords or words of its concepts)"
    )
    cues: list[str] = Field(
        default_factory=list, description="words nearby that show the other sense (做旧, 西瓜, 这本书)"
    )
    concepts: list[str] = Field(default_factory=list, description="concepts whose words are cues")
    within: Literal["clause", "sentence"] = Field(
        default="sentence", description="where the cue must be: the keyword's clause or sentence"
    )

    @model_validator(mode="after")
    def _has_cues(self) -> Sense:
        if not self.cues and not self.concepts:
            raise ValueError("a sense needs cues or concepts")
        if any(not w.strip() for w in [*self.keywords, *self.cues]):
            raise ValueError("empty word")
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
    near: list[Near] = Field(
        default_factory=list,
        description="concept groups that together make a hit, e.g. {all: [refund, stall]} for "
        "钱到现在还没回来 (negation and context apply to the whole match)",
    )
    senses: list[Sense] = Field(
        default_factory=list, description="other senses of this rule's words (decision other_sense)"
    )
    pinyin: list[str] = Field(
        default_factory=list,
        description="keywords also matched by sound: spelt in pinyin (posun, po损), and from 3 "
        "characters on with a same-sounding character (质量茶); at least 2 syllables and 5 letters",
    )
    context: bool = Field(
        default=True,
        description="context can make a hit a non-complaint: another target (隔壁, 朋友), another "
        "time (上次), a positive clause or a high rating",
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

    _concepts: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            problem = check_pattern(p)
            if problem:
                raise ValueError(f"pattern {p!r}: {problem}")
        return patterns

    @field_validator("pinyin")
    @classmethod
    def _sounds(cls, words: list[str]) -> list[str]:
        for w in words:
            problem = pinyin_problem(w)
            if problem:
                raise ValueError(problem)
        return words

    @model_validator(mode="after")
    def _something_to_match(self) -> Rule:
        if not self.keywords and not self.patterns and not self.near:
            raise ValueError("a rule needs at least one keyword, pattern or near group")
        return self

    def concept_words(self, name: str) -> tuple[str, ...]:
        """The words of a concept this rule uses (resolved when its file was loaded)."""
        if name in BUILTIN_MARKERS:
            return ()
        try:
            return self._concepts[name]
        except KeyError:
            raise KeyError(f"rule {self.id}: concept {name!r} was not resolved by its rule file") from None

    def bind_concepts(self, concepts: dict[str, list[str]]) -> None:
        """Attach the words of the concepts this rule uses (RuleFile does this at load)."""
        used = {n for g in self.near for n in g.all} | {n for s in self.senses for n in s.concepts}
        self._concepts = {n: tuple(concepts[n]) for n in sorted(used) if n in concepts}

    def words(self) -> set[str]:
        """Every word this rule can match with: its keywords and the words of its concepts."""
        out = set(self.keywords)
        for g in self.near:
            for n in g.all:
                out.update(self._concepts.get(n, ()))
        return out

    @property
    def effective_grade(self) -> int:
        return self.grade if self.grade is not None else GRADE_OF_SEVERITY[self.severity]


class RuleFile(Strict):
    concepts: dict[str, list[str]] = Field(
        default_factory=dict,
        description="named word groups used by the rules' near and senses, e.g. refund: [退款, 退钱]",
    )
    rules: list[Rule] = Field(default_factory=list)
    priority_words: list[str] = Field(
        default_factory=list,
        description="words (投诉, 12315 …) that raise the severity of a fired rule one step",
    )

    @model_validator(mode="after")
    def _resolve(self) -> RuleFile:
        """Every concept a rule names is defined here and not empty; then bind them."""
        problems: list[tuple[tuple[str | int, ...], str, str]] = []
        for name, words in self.concepts.items():
            if not re.match(_NAME, name):
                problems.append((("concepts", name), "concept name must be lower-case a-z, 0-9, _", name))
            elif not words:
                problems.append((("concepts", name), f"concept {name!r} is an empty group", name))
            elif any(not w.strip() for w in words):
                problems.append((("concepts", name), f"concept {name!r} has an empty word", name))

        def known(name: str) -> str | None:
            if name.startswith("$"):
                if name in BUILTIN_MARKERS:
                    return None
                return f"unknown built-in marker {name!r} (known: {', '.join(BUILTIN_MARKERS)})"
            if name not in self.concepts:
                return f"concept {name!r} is not defined (add it under concepts: in this file)"
            if not self.concepts[name]:
                return f"concept {name!r} is an empty group"
            return None

        for i, rule in enumerate(self.rules):
            for j, group in enumerate(rule.near):
                if all(n.startswith("$") for n in group.all):
                    problems.append(
                        (("rules", i, "near", j, "all"), "a near group needs at least one concept", "")
                    )
                for k, name in enumerate(group.all):
                    why = known(name)
                    if why:
                        problems.append((("rules", i, "near", j, "all", k), why, name))
                if len(set(group.all)) < len(group.all):
                    problems.append((("rules", i, "near", j, "all"), "a concept is listed twice", ""))
            for j, sense in enumerate(rule.senses):
                for k, name in enumerate(sense.concepts):
                    why = known(name) or ("a sense cannot use a marker" if name.startswith("$") else None)
                    if why:
                        problems.append((("rules", i, "senses", j, "concepts", k), why, name))
        if problems:
            raise _located(problems)
        for rule in self.rules:
            rule.bind_concepts(self.concepts)
        late: list[tuple[tuple[str | int, ...], str, str]] = []
        for i, rule in enumerate(self.rules):
            matchable = rule.words()
            for j, sense in enumerate(rule.senses):
                for k, w in enumerate(sense.keywords):
                    if w not in matchable:
                        late.append(
                            (
                                ("rules", i, "senses", j, "keywords", k),
                                f"{w!r} is not a keyword of this rule nor a word of its concepts",
                                w,
                            )
                        )
        if late:
            raise _located(late)
        return self


def _located(problems: list[tuple[tuple[str | int, ...], str, str]]) -> ValidationError:
    """A ValidationError whose entries point at the offending keys (path:line in the file)."""
    details: list[InitErrorDetails] = [
        InitErrorDetails(type=PydanticCustomError("rule_reference", msg), loc=loc, input=value)
        for loc, msg, value in problems
    ]
    return ValidationError.from_exception_data("RuleFile", details)


__all__ = [
    "BUILTIN_MARKERS",
    "DIMENSIONS",
    "Near",
    "Rule",
    "RuleFile",
    "Sense",
]
